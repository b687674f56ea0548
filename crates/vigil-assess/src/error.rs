//! What can go wrong in an assessment.

use std::path::PathBuf;

/// An assessment that could not run. Messages are `what: why`, naming the file, row or
/// parameter at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssessError {
    /// The bundle did not verify.
    #[error("{dir}: {source}")]
    Bundle {
        /// The bundle directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: vigil_bundle::BundleError,
    },
    /// A file the bundle needs is not among its signed files.
    #[error("{dir}: {name} is not a signed file of the bundle")]
    Unsigned {
        /// The bundle directory.
        dir: PathBuf,
        /// The file.
        name: String,
    },
    /// The guard could not be built from the bundle.
    #[error(transparent)]
    Guard(#[from] vigil_guard::GuardError),
    /// The contract or the model is unusable.
    #[error(transparent)]
    Model(#[from] vigil_model::ModelError),
    /// A CSV file could not be read.
    #[error(transparent)]
    Table(#[from] vigil_table::TableError),
    /// A row of a CSV file is unusable.
    #[error("{file}: line {line}: {reason}")]
    Row {
        /// The file.
        file: String,
        /// Its line (1 is the header).
        line: usize,
        /// Why.
        reason: String,
    },
    /// A required column is missing.
    #[error("{file}: no column {column:?}")]
    MissingColumn {
        /// The file.
        file: String,
        /// The column.
        column: String,
    },
    /// A file had no data rows.
    #[error("{file}: no data rows")]
    Empty {
        /// The file.
        file: String,
    },
    /// tract failed on a batch.
    #[error("inference failed: {0}")]
    Inference(String),
    /// A parameter is out of its range.
    #[error("{name}: {reason}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

impl AssessError {
    pub(crate) fn parameter(name: &'static str, reason: impl Into<String>) -> AssessError {
        AssessError::Parameter {
            name,
            reason: reason.into(),
        }
    }
}

//! The one error type of this crate.

use std::path::PathBuf;

/// Why the guard could not be opened, calibrated or driven. Per-request refusals are not
/// errors: they are [`crate::Reason`]s inside a [`crate::Decision`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The bundle failed verification (signature, trust policy, limits).
    #[error("bundle {}: {source}", dir.display())]
    Bundle {
        /// The bundle directory.
        dir: PathBuf,
        /// What the bundle crate found.
        #[source]
        source: vigil_bundle::BundleError,
    },
    /// A signed file the guard needs is absent or not covered by every counted signature.
    #[error("bundle {}: {name}: not signed or missing", dir.display())]
    Unsigned {
        /// The bundle directory.
        dir: PathBuf,
        /// The file's name in the bundle.
        name: String,
    },
    /// A table or key of `vigil.toml` (or a reference file) is missing or wrong.
    #[error("{file}: {key}: {reason}")]
    Contract {
        /// The file (`vigil.toml`, `reference/guard.json`).
        file: String,
        /// The dotted key (`contract.features[3].max`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The model does not load, or does not match the contract.
    #[error("model {name}: {reason}")]
    Model {
        /// The model file's name in the bundle.
        name: String,
        /// What tract or the contract check reported.
        reason: String,
    },
    /// A CSV input is unreadable or lacks a contract column.
    #[error("{file}: line {line}: {reason}")]
    Csv {
        /// The file, as given.
        file: String,
        /// The line (1 is the header).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A CSV input is not a table (bad quoting, a ragged row, a limit) or lacks a contract
    /// column; the error names the file and the line.
    #[error(transparent)]
    Table(#[from] vigil_table::TableError),
    /// Calibration could not be done (too few rows, singular statistics...).
    #[error("calibration: {0}")]
    Calibration(String),
    /// A file could not be read (it names the file: missing, too large, not a regular file).
    #[error(transparent)]
    File(#[from] vigil_core::ReadError),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The audit sink refused an event.
    #[error("audit: {0}")]
    Audit(String),
}

impl From<vigil_model::ModelError> for GuardError {
    fn from(e: vigil_model::ModelError) -> Self {
        match e {
            vigil_model::ModelError::Contract { file, key, reason } => {
                GuardError::Contract { file, key, reason }
            }
            vigil_model::ModelError::Model { name, reason } => GuardError::Model { name, reason },
            other => GuardError::Model {
                name: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

impl GuardError {
    pub(crate) fn contract(file: &str, key: impl Into<String>, reason: impl Into<String>) -> Self {
        GuardError::Contract {
            file: file.to_string(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

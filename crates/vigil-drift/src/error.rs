//! The error type of this crate.

/// Everything that can go wrong in `vigil-drift`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// A sample was too small for the test.
    #[error("{test}: sample too small: {size} observations, need at least {min}")]
    SampleTooSmall {
        /// The test (`ks`, `cvm`, ...).
        test: &'static str,
        /// Observations given.
        size: usize,
        /// Observations needed.
        min: usize,
    },
    /// A sample held NaN or an infinity.
    #[error("{test}: non-finite value {value} at index {index}")]
    NonFinite {
        /// The test.
        test: &'static str,
        /// Position in the sample.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Samples of different dimension were given to a multivariate test.
    #[error("{test}: dimension mismatch: {left} columns against {right}")]
    DimensionMismatch {
        /// The test.
        test: &'static str,
        /// Columns of the reference.
        left: usize,
        /// Columns of the current sample.
        right: usize,
    },
    /// A parameter was outside its domain.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A CSV input could not be read (the error names the file, the line and the reason).
    #[error(transparent)]
    Table(#[from] vigil_table::TableError),
    /// A named column is missing.
    #[error("{source_name}: no column named {column:?}")]
    MissingColumn {
        /// File name or other label.
        source_name: String,
        /// The column asked for.
        column: String,
    },
    /// A test failed on one feature (column). `Display` includes the cause, which is
    /// therefore not also given as `source()` (it would be printed twice).
    #[error("feature {feature:?}: {cause}")]
    Feature {
        /// Column name.
        feature: String,
        /// What went wrong.
        cause: Box<DriftError>,
    },
    /// Reference statistics could not be read or written.
    #[error("reference statistics {path}: {reason}")]
    Reference {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

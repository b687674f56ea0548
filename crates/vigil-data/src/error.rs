//! The error type of this crate.

use std::path::PathBuf;

/// Why a data set, a manifest or a screen's input was refused. Every variant names the file,
/// and where there is one the row or the path inside a folder, so callers print it as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read or written (the path is in the message).
    #[error("{0}")]
    Io(#[from] vigil_core::ReadError),
    /// A CSV file is not a well-formed table (bad quoting, ragged row, limits...).
    #[error("{0}")]
    Table(#[from] vigil_table::TableError),
    /// A file or folder inside a data folder that cannot be a sample: a symbolic link, a FIFO,
    /// a socket, a device, a name that is not UTF-8, a tree too deep or too large.
    #[error("{}: {reason}", path.display())]
    Sample {
        /// The offending path.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// A cell of the data is not acceptable (an empty or repeated id, an empty label, a
    /// probability that is not one...).
    #[error("{file}: row {row}: {reason}")]
    Row {
        /// The input.
        file: String,
        /// 0-based data row (the first row after the header is row 0).
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// The input as a whole cannot be used (one class only, columns missing...).
    #[error("{file}: {reason}")]
    Input {
        /// The input.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A manifest's signature, statement or sidecar is not acceptable.
    #[error("{}: {reason}", path.display())]
    Manifest {
        /// The manifest (or its sidecar).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(vigil_attest::AttestError),
    /// The classifier used for out-of-fold probabilities could not be fitted.
    #[error("{file}: fitting the logistic regression failed: {reason}")]
    Fit {
        /// The input.
        file: String,
        /// The cause.
        reason: String,
    },
}

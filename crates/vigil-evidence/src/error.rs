//! The error type of this crate.

use std::path::PathBuf;

/// What went wrong while gathering evidence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A file could not be read (missing, not a regular file, too large).
    #[error(transparent)]
    File(#[from] vigil_core::ReadError),
    /// A directory could not be listed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not what it should be (an OSV record, a CycloneDX document, a triage file).
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the field where known.
        reason: String,
    },
    /// A package URL is malformed.
    #[error("purl {purl:?}: {reason}")]
    Purl {
        /// The purl.
        purl: String,
        /// What is wrong.
        reason: String,
    },
    /// A bound was exceeded.
    #[error("{what}")]
    Limit {
        /// What, with the bound.
        what: String,
    },
}

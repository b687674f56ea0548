//! The error type of this crate.

use std::fmt;
use std::path::PathBuf;

/// What went wrong while signing or verifying a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key could not be loaded, or signing failed.
    #[error(transparent)]
    Key(#[from] vigil_core::KeyError),
    /// The bundle directory is not usable as given.
    #[error("{}: {reason}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file in the bundle cannot be signed or verified (symlink, special file, bad name).
    #[error("{}: {reason}", path.display())]
    UnsupportedFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The signature file is not a well-formed model_signing / Sigstore bundle.
    #[error("{}: malformed signature: {reason}", path.display())]
    SignatureFormat {
        /// The signature file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The signature does not verify with the key.
    #[error("{}: signature check failed: {reason}", path.display())]
    SignatureInvalid {
        /// The signature file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The signed statement is well signed but its content is not acceptable.
    #[error("{}: invalid signed statement: {reason}", path.display())]
    Statement {
        /// The signature file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The files on disk do not match the signed manifest.
    #[error("{}: the files do not match the signature: {}", dir.display(), Discrepancies(.problems))]
    Mismatch {
        /// The bundle directory.
        dir: PathBuf,
        /// Every difference found, sorted by file name.
        problems: Vec<Discrepancy>,
    },
    /// The trust policy file is invalid.
    #[error("{}: invalid trust policy: {reason}", path.display())]
    PolicyFormat {
        /// The policy file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The bundle does not satisfy the trust policy.
    #[error("trust policy not satisfied: {0}")]
    PolicyUnsatisfied(String),
    /// `vigil.toml` is missing or invalid.
    #[error("{}: invalid bundle manifest: {reason}", path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A limit in [`crate::Limits`] was exceeded.
    #[error("{what} exceeds the limit of {limit}")]
    Limit {
        /// What was too large.
        what: String,
        /// The limit.
        limit: u64,
    },
}

/// One difference between the signed manifest and the files on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discrepancy {
    /// A signed file's content differs.
    Changed {
        /// The file, relative to the bundle.
        name: String,
        /// Which part differs (the whole file, or a byte range for shard signatures).
        detail: String,
    },
    /// A signed file is gone.
    Missing {
        /// The file.
        name: String,
    },
    /// A file is present that the signature does not cover.
    Unsigned {
        /// The file.
        name: String,
    },
    /// A file is present under a new name, with the content of a signed file that is missing.
    Renamed {
        /// The signed name.
        from: String,
        /// The name on disk.
        to: String,
    },
}

impl Discrepancy {
    /// The file the discrepancy is about (the new name for a rename).
    pub fn name(&self) -> &str {
        match self {
            Discrepancy::Changed { name, .. }
            | Discrepancy::Missing { name }
            | Discrepancy::Unsigned { name } => name,
            Discrepancy::Renamed { to, .. } => to,
        }
    }
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discrepancy::Changed { name, detail } => {
                write!(f, "{name}: content changed ({detail})")
            }
            Discrepancy::Missing { name } => write!(f, "{name}: signed but missing"),
            Discrepancy::Unsigned { name } => write!(f, "{name}: not covered by the signature"),
            Discrepancy::Renamed { from, to } => {
                write!(f, "{to}: renamed from {from} (signed under that name)")
            }
        }
    }
}

struct Discrepancies<'a>(&'a [Discrepancy]);

impl fmt::Display for Discrepancies<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl BundleError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> BundleError {
        BundleError::Io {
            path: path.into(),
            source,
        }
    }
}

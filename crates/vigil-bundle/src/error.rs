//! The error type of this crate.

use std::fmt;
use std::path::PathBuf;

use vigil_attest::{AttestError, PolicyError, TrustFailure};

use crate::status::SignatureReport;

/// What went wrong while signing or verifying a bundle.
///
/// `Display` is one line, "what: why", with every fact; no variant also returns its cause from
/// `source()`, so a caller printing the chain never prints a cause twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file could not be opened or read: missing, unreadable, or not a regular file (a FIFO,
    /// a device, a directory). The error names the file.
    #[error("{0}")]
    File(vigil_core::ReadError),
    /// A directory could not be listed, or a file could not be written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What kind of failure.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// A key could not be loaded, or signing failed.
    #[error("{0}")]
    Key(vigil_core::KeyError),
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
    /// The signature file does not exist.
    #[error("{}: {message}", path.display())]
    SignatureMissing {
        /// The signature file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The signature file is malformed, does not verify with the key, or signs a statement that
    /// is not acceptable; [`AttestError`] says which.
    #[error("{}: {error}", path.display())]
    Signature {
        /// The signature file.
        path: PathBuf,
        /// What is wrong with it.
        error: AttestError,
    },
    /// The files on disk do not match the signed manifest.
    #[error("{}: the files do not match the signature: {}", dir.display(), Discrepancies(.problems))]
    Mismatch {
        /// The bundle directory.
        dir: PathBuf,
        /// Every difference found, sorted by file name.
        problems: Vec<Discrepancy>,
    },
    /// The trust policy file is invalid or could not be read.
    #[error("{0}")]
    Policy(PolicyError),
    /// The bundle does not satisfy the trust policy: [`TrustFailure`] says how, and every
    /// signature file's fate is listed.
    #[error("trust policy not satisfied: {}", Untrusted { dir, failure: failure.as_ref(), signatures })]
    Untrusted {
        /// The bundle directory.
        dir: PathBuf,
        /// Why the policy is not satisfied (see also [`BundleError::trust_failure`]).
        failure: Box<TrustFailure>,
        /// Each signature file checked (not printed when the failure is about the version).
        signatures: Vec<SignatureReport>,
    },
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
    /// The verifier was configured in a way that cannot be honoured.
    #[error("{0}")]
    Usage(String),
}

impl BundleError {
    /// The trust policy failure, when the bundle failed its policy.
    pub fn trust_failure(&self) -> Option<&TrustFailure> {
        match self {
            BundleError::Untrusted { failure, .. } => Some(&**failure),
            _ => None,
        }
    }

    /// True when the error means "the bundle failed the check" (a signature that exists but
    /// fails, files that do not match, a policy not met), false when the check could not be run
    /// as asked (a file that cannot be read, a bad policy or key, a usage error).
    pub fn is_failed_check(&self) -> bool {
        match self {
            BundleError::File(_)
            | BundleError::Io { .. }
            | BundleError::Key(_)
            | BundleError::Directory { .. }
            | BundleError::Policy(_)
            | BundleError::Usage(_) => false,
            BundleError::UnsupportedFile { .. }
            | BundleError::SignatureMissing { .. }
            | BundleError::Signature { .. }
            | BundleError::Mismatch { .. }
            | BundleError::Untrusted { .. }
            | BundleError::Manifest { .. }
            | BundleError::Limit { .. } => true,
        }
    }
}

impl From<vigil_core::KeyError> for BundleError {
    fn from(e: vigil_core::KeyError) -> Self {
        BundleError::Key(e)
    }
}

impl From<PolicyError> for BundleError {
    fn from(e: PolicyError) -> Self {
        BundleError::Policy(e)
    }
}

impl From<vigil_core::ReadError> for BundleError {
    /// A file that is too large is a [`BundleError::Limit`]; anything else a [`BundleError::File`].
    fn from(e: vigil_core::ReadError) -> Self {
        match e {
            vigil_core::ReadError::TooLarge { path, max } => BundleError::Limit {
                what: format!("{}: file size", path.display()),
                limit: max,
            },
            other => BundleError::File(other),
        }
    }
}

struct Untrusted<'a> {
    dir: &'a PathBuf,
    failure: &'a TrustFailure,
    signatures: &'a [SignatureReport],
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failure {
            TrustFailure::NoSignatures => write!(
                f,
                "no signature files (model.sig, model.*.sig) in {}",
                self.dir.display()
            )?,
            TrustFailure::Rollback { version, minimum } => write!(
                f,
                "bundle version {version} is lower than the minimum {minimum} (rollback refused)"
            )?,
            TrustFailure::Unversioned { minimum } => write!(
                f,
                "the policy sets min_bundle_version {minimum} but the bundle has no signed {}",
                crate::CONFIG_FILE
            )?,
            other => write!(f, "{other}")?,
        }
        if matches!(
            self.failure,
            TrustFailure::Rollback { .. } | TrustFailure::Unversioned { .. }
        ) {
            return Ok(());
        }
        for r in self.signatures {
            write!(f, "; {}: {}", r.path.display(), r.status)?;
        }
        Ok(())
    }
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
            kind: source.kind(),
            message: source.to_string(),
        }
    }
}

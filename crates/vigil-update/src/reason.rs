//! Why an update was refused: the fixed reason codes of `vigil update install --json`.

use std::fmt;

use serde::Serialize;

/// A refusal's reason. The codes ([`Reason::code`]) are a contract: other tools match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Missing, bad or below-threshold signatures on a role other than a new root.
    TufSignature,
    /// A role's version below the trusted one.
    TufRollback,
    /// Expired metadata (a freeze attack), judged against the latest known time.
    TufExpired,
    /// A role not as the snapshot or timestamp says (mix-and-match).
    TufSnapshotMismatch,
    /// More bytes than declared (endless data), for metadata or the target.
    TufLength,
    /// The target's digest is not the one the targets metadata names (arbitrary software).
    TufHash,
    /// A bad root chain: a new root not signed by the old and the new threshold, or a
    /// version that does not follow.
    TufRoot,
    /// The repository could not be reached or lacks a file the metadata names.
    RepoUnavailable,
    /// The release archive is not a bundle Vigil unpacks (bad member, too large, ...).
    BundleArchive,
    /// The unpacked bundle's signature or trust policy fails, or it is not the release
    /// the target names.
    BundleSignature,
    /// The release is not newer than the active one.
    BundleRollback,
    /// The scanner found something at HIGH or above.
    ScanFinding,
    /// The bundle's acceptance set did not pass through the guard.
    AcceptanceFailed,
    /// The health command failed after the switch; the previous release is back.
    HealthCheckFailed,
}

impl Reason {
    /// The reason's code, as `--json` prints it.
    pub fn code(self) -> &'static str {
        match self {
            Reason::TufSignature => "tuf_signature",
            Reason::TufRollback => "tuf_rollback",
            Reason::TufExpired => "tuf_expired",
            Reason::TufSnapshotMismatch => "tuf_snapshot_mismatch",
            Reason::TufLength => "tuf_length",
            Reason::TufHash => "tuf_hash",
            Reason::TufRoot => "tuf_root",
            Reason::RepoUnavailable => "repo_unavailable",
            Reason::BundleArchive => "bundle_archive",
            Reason::BundleSignature => "bundle_signature",
            Reason::BundleRollback => "bundle_rollback",
            Reason::ScanFinding => "scan_finding",
            Reason::AcceptanceFailed => "acceptance_failed",
            Reason::HealthCheckFailed => "health_check_failed",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused update: the reason and what exactly failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The reason code.
    pub reason: Reason,
    /// What failed, for people (names the role, file, member or check).
    pub detail: String,
}

impl Refusal {
    /// A refusal for `reason`, explained by `detail`.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// Why an update command could not run at all (as opposed to a [`Refusal`], which is a
/// finished check that said no): local I/O, usage, a broken state directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// A local file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A usage error: a missing option, a bad value.
    #[error("{0}")]
    Usage(String),
    /// The state directory is not one this updater can use.
    #[error("state {path}: {reason}")]
    State {
        /// The state directory or the file in it.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The device ledger could not record a step.
    #[error("ledger: {0}")]
    Ledger(#[from] vigil_ledger::Error),
    /// A file could not be read (bounded reads).
    #[error(transparent)]
    Read(#[from] vigil_core::ReadError),
    /// The repository could not be written (publisher).
    #[error("repository {path}: {reason}")]
    Repository {
        /// The repository or key directory.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

impl UpdateError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
        move |source| UpdateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

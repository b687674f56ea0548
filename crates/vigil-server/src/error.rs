//! The gateway's error type.

use std::path::PathBuf;

/// Everything that can stop the gateway from starting or serving. Per-request failures never
/// appear here: they are answers ([`crate::Refusal`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A file could not be read or written (it names the file).
    #[error(transparent)]
    File(#[from] vigil_core::ReadError),
    /// The TLS setup failed: certificates, keys, the demo PKI.
    #[error(transparent)]
    Net(#[from] vigil_net::NetError),
    /// A signing key could not be loaded (the file is named).
    #[error(transparent)]
    Key(#[from] vigil_core::KeyError),
    /// The clients file is malformed.
    #[error("{}: {reason}", path.display())]
    Clients {
        /// The file.
        path: PathBuf,
        /// What is wrong (the entry and why).
        reason: String,
    },
    /// The serve configuration is malformed or incomplete.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file (or `command line`).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The bundle could not be opened behind the guard.
    #[error("guard refused the bundle {}: {source}", bundle.display())]
    Guard {
        /// The bundle directory.
        bundle: PathBuf,
        /// Why.
        #[source]
        source: Box<vigil_guard::GuardError>,
    },
    /// The `--upstream` address is not usable.
    #[error("upstream {url:?}: {reason}")]
    Upstream {
        /// The address given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The ledger failed.
    #[error("ledger {}: {source}", path.display())]
    Ledger {
        /// The ledger file.
        path: PathBuf,
        /// Why.
        #[source]
        source: vigil_ledger::Error,
    },
    /// A new ledger needs a key to sign its checkpoints.
    #[error("{}: the ledger does not exist; give --ledger-key to create it", path.display())]
    NoLedgerKey {
        /// The ledger file.
        path: PathBuf,
    },
}

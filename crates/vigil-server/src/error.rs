//! The gateway's error type.

use std::path::PathBuf;

/// Everything that can stop the gateway from starting or serving. Per-request failures never
/// appear here: they are answers (see the crate documentation).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is larger than the gateway reads.
    #[error("{path}: larger than {max} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        max: u64,
    },
    /// A PEM file holds no usable certificate or key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The TLS configuration was refused by rustls.
    #[error("tls configuration: {0}")]
    Tls(String),
    /// The clients file is malformed.
    #[error("{path}: {reason}")]
    Clients {
        /// The file.
        path: PathBuf,
        /// What is wrong (the entry and why).
        reason: String,
    },
    /// The configuration file is malformed.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Making the demo PKI failed.
    #[error("demo pki: {0}")]
    Pki(String),
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The listening socket failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
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
    #[error("ledger: {0}")]
    Ledger(#[from] vigil_ledger::Error),
}

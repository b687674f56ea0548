//! The crate's error type.

use std::path::PathBuf;

/// Why a TLS configuration, a demo PKI or a listening socket could not be set up. Per-connection
/// failures never appear here: the accept loop reports them as [`crate::ConnectionEvent`]s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A file could not be read (it names the file).
    #[error(transparent)]
    Read(#[from] vigil_core::ReadError),
    /// A PEM file holds no usable certificate or key.
    #[error("{}: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused a part of the configuration.
    #[error("tls configuration: {what}: {reason}")]
    Tls {
        /// The part: `client ca`, `server certificate and key`...
        what: &'static str,
        /// What rustls said.
        reason: String,
    },
    /// Making a demo certificate failed.
    #[cfg(feature = "demo-pki")]
    #[error("demo pki: {0}")]
    Pki(#[source] rcgen::Error),
}

impl NetError {
    pub(crate) fn tls(what: &'static str, reason: impl std::fmt::Display) -> NetError {
        NetError::Tls {
            what,
            reason: reason.to_string(),
        }
    }
}

//! The crate's error type.

use std::path::PathBuf;

/// Everything that can stop a scan from starting or a path from being read at all.
///
/// Problems *inside* a file are never errors: they are [`crate::Finding`]s, so the scan of
/// other files goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path could not be opened or listed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A severity name that is not CRITICAL, HIGH, MEDIUM or LOW.
    #[error("severity {0:?}: expected CRITICAL, HIGH, MEDIUM or LOW")]
    BadSeverity(String),
    /// A policy file that cannot be read or parsed.
    #[error("policy {}: {reason}", path.display())]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An allow rule that is not a dotted global or prefix.
    #[error("allow rule {0:?}: expected module.name, or a prefix ending in \".*\"")]
    BadAllowRule(String),
}

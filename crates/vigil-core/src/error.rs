//! The error type of this crate.

use std::path::{Path, PathBuf};

/// What went wrong with a key or a signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key file is larger than any key.
    #[error("{}: larger than {max} bytes, not a key file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// A problem in a named file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The problem.
        #[source]
        source: Box<KeyError>,
    },
    /// The PEM framing is wrong or holds the wrong kind of block.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// The key is well-formed but of an algorithm or curve Vigil does not support.
    #[error("unsupported key: {0}")]
    UnsupportedAlgorithm(String),
    /// The key's encoding is broken.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// The private key is encrypted and no passphrase was given.
    #[error("the private key is encrypted: a passphrase is required")]
    PassphraseRequired,
    /// The passphrase did not decrypt the key.
    #[error("the passphrase does not decrypt the private key")]
    WrongPassphrase,
    /// A signature did not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
}

impl KeyError {
    /// Attaches the file the error came from.
    pub(crate) fn in_file(self, path: &Path) -> KeyError {
        match self {
            e @ (KeyError::Io { .. } | KeyError::TooLarge { .. } | KeyError::InFile { .. }) => e,
            other => KeyError::InFile {
                path: path.to_path_buf(),
                source: Box::new(other),
            },
        }
    }
}

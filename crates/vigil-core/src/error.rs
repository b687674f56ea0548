//! The error type of this crate.

use std::path::{Path, PathBuf};

/// What went wrong with a key or a signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file could not be read: missing, not a regular file, or larger than any key. The
    /// error names the file.
    #[error(transparent)]
    File(#[from] crate::ReadError),
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
    /// A signer could not produce a signature (a hardware token or remote signer failed), or is
    /// of an algorithm the caller cannot use.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl KeyError {
    /// Attaches the file the error came from.
    pub(crate) fn in_file(self, path: &Path) -> KeyError {
        match self {
            e @ (KeyError::File(_) | KeyError::InFile { .. }) => e,
            other => KeyError::InFile {
                path: path.to_path_buf(),
                source: Box::new(other),
            },
        }
    }
}

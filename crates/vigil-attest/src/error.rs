//! The error type of this crate.

use vigil_core::KeyId;

/// Why an envelope, a Sigstore bundle or a statement was refused. The caller's own error names
/// the file; these say what is wrong with its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The Sigstore bundle or its DSSE envelope is not well formed (or of a kind not supported).
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The signature names another key than the one given.
    #[error("signature check failed: signed by key {hint}, not by the given key {key_id}")]
    WrongKey {
        /// The key hint recorded in the bundle.
        hint: String,
        /// The key that was given.
        key_id: KeyId,
    },
    /// The envelope's signature does not verify with the key.
    #[error("signature check failed: {0}")]
    BadSignature(vigil_core::KeyError),
    /// The signed statement is well signed, but its content is not acceptable.
    #[error("invalid signed statement: {0}")]
    Statement(String),
    /// The statement's predicate type is not the one expected.
    #[error("invalid signed statement: predicateType is '{found}', expected '{expected}'")]
    PredicateType {
        /// The predicate type in the statement.
        found: String,
        /// The predicate type the caller reads.
        expected: String,
    },
    /// The signer could not sign.
    #[error(transparent)]
    Signing(vigil_core::KeyError),
}

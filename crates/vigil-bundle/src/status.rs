//! Each signature file's fate in a trust decision.

use std::fmt;
use std::path::PathBuf;

use vigil_core::KeyId;

/// What happened to one signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureStatus {
    /// It verified and counts toward the threshold.
    Counted {
        /// The signer's name (the key id when verifying with a single key).
        signer: String,
        /// The signer's role (empty with a single key).
        role: String,
        /// The key.
        key_id: KeyId,
    },
    /// It verified, but the same key already counted.
    Duplicate {
        /// The key.
        key_id: KeyId,
    },
    /// It verified, but the same signer (by name) already counted with another key.
    DuplicateSigner {
        /// The signer's name.
        signer: String,
        /// The key.
        key_id: KeyId,
    },
    /// Its key is revoked.
    Revoked {
        /// The key.
        key_id: KeyId,
    },
    /// No trusted key made it.
    UnknownSigner {
        /// The key hint in the signature, if any.
        hint: Option<String>,
    },
    /// It is missing or malformed, does not verify, or the files do not match it.
    Invalid {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for SignatureStatus {
    /// A short description of the signature's fate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureStatus::Counted { role, key_id, .. } if role.is_empty() => {
                write!(f, "valid, signed by key {key_id}")
            }
            SignatureStatus::Counted {
                signer,
                role,
                key_id,
            } => write!(f, "valid, signed by {signer} ({role}, key {key_id})"),
            SignatureStatus::Duplicate { key_id } => {
                write!(f, "valid, but key {key_id} already counted")
            }
            SignatureStatus::DuplicateSigner { signer, key_id } => write!(
                f,
                "valid (key {key_id}), but signer {signer} already counted with another key"
            ),
            SignatureStatus::Revoked { key_id } => write!(f, "signed by revoked key {key_id}"),
            SignatureStatus::UnknownSigner { hint: Some(h) } => {
                write!(f, "signed by key {h}, which the policy does not list")
            }
            SignatureStatus::UnknownSigner { hint: None } => {
                f.write_str("no key in the policy verifies it")
            }
            SignatureStatus::Invalid { reason } => f.write_str(reason),
        }
    }
}

/// The outcome for one signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    /// The signature file.
    pub path: PathBuf,
    /// What happened to it.
    pub status: SignatureStatus,
}

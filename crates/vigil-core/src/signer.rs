//! The [`Signer`] trait: what bundles, ledger checkpoints and attestations sign with.
//!
//! Code that signs takes `&dyn Signer` instead of a key type, so a key in a PEM file
//! ([`SigningKey`]), a hardware token or a remote signing service can stand behind it. The
//! signature format is the algorithm's: ECDSA P-256 over SHA-256 as ASN.1 DER, Ed25519 as the
//! raw 64 bytes of RFC 8032.

use crate::{KeyAlgorithm, KeyError, PublicKey, SigningKey};

/// Something that signs messages with one key.
///
/// ```
/// use vigil_core::{KeyAlgorithm, Signer, SigningKey};
///
/// fn sign_twice(signer: &dyn Signer, message: &[u8]) -> Result<(), vigil_core::KeyError> {
///     let a = signer.sign(message)?;
///     signer.public_key().verify(message, &a)
/// }
/// sign_twice(&SigningKey::generate(KeyAlgorithm::Ed25519), b"checkpoint")?;
/// # Ok::<(), vigil_core::KeyError>(())
/// ```
pub trait Signer: Send + Sync {
    /// The public key that verifies this signer's signatures.
    fn public_key(&self) -> PublicKey;

    /// The signature algorithm.
    fn algorithm(&self) -> KeyAlgorithm {
        self.public_key().algorithm()
    }

    /// Signs `message`. A signer that cannot sign (a token that was removed) returns
    /// [`KeyError::Signing`]; it never returns an empty or made-up signature.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;
}

impl Signer for SigningKey {
    fn public_key(&self) -> PublicKey {
        SigningKey::public_key(self)
    }

    fn algorithm(&self) -> KeyAlgorithm {
        SigningKey::algorithm(self)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(SigningKey::sign(self, message))
    }
}

impl<S: Signer + ?Sized> Signer for &S {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }

    fn algorithm(&self) -> KeyAlgorithm {
        (**self).algorithm()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        (**self).sign(message)
    }
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }

    fn algorithm(&self) -> KeyAlgorithm {
        (**self).algorithm()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        (**self).sign(message)
    }
}

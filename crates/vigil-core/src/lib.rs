//! Shared pieces of Vigil: signing keys and public keys, the [`Signer`] trait every signing
//! crate takes, the bounded non-blocking read every crate uses for files from outside the
//! process, and the one atomic durable write.
//!
//! Vigil signs with ECDSA P-256 (SHA-256, DER signatures; what OpenSSF `model_signing` uses in its
//! key mode) and Ed25519 (RFC 8032). Keys are PEM files:
//!
//! * private: PKCS#8 `PRIVATE KEY`, passphrase-encrypted PKCS#8 `ENCRYPTED PRIVATE KEY` (PBES2),
//!   or SEC1 `EC PRIVATE KEY` as `openssl ecparam -genkey` writes it;
//! * public: SubjectPublicKeyInfo `PUBLIC KEY`.
//!
//! A key's id is the hex SHA-256 of its canonical public PEM, which is also the key hint
//! `model_signing` records in a signature.
//!
//! The cryptography is RustCrypto's: `p256` (ECDSA), `ed25519-dalek`, `pkcs8`/`pkcs5` (key
//! containers and their encryption), `sec1`, `spki`, `pem-rfc7468`, `sha2`. Nothing here is
//! hand-rolled beyond choosing among those crates' PEM blocks.
//!
//! # Example
//!
//! ```
//! use vigil_core::{KeyAlgorithm, PublicKey, SigningKey};
//!
//! let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
//! let public = PublicKey::from_pem(&key.public_key().to_pem())?;
//! let signature = key.sign(b"model bytes");
//! public.verify(b"model bytes", &signature)?;
//! assert!(public.verify(b"other bytes", &signature).is_err());
//! println!("key id {}", public.key_id());
//! # Ok::<(), vigil_core::KeyError>(())
//! ```

#![deny(missing_docs)]

mod error;
mod file;
mod keys;
mod panic;
mod signer;
pub mod time;

// The public interface:
// keys and signatures
pub use error::KeyError;
pub use keys::{KeyAlgorithm, KeyId, PublicKey, SigningKey, MAX_PEM_BYTES};
pub use signer::Signer;
// a fence around libraries that may panic on outside data
pub use panic::catch_panic;
// files: bounded reads of outside files, durable writes of ours
pub use file::{
    open_regular, read_bounded, read_bounded_string, sync_parent, write_atomic, write_new,
    ReadError,
};

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    /// Parses arbitrary bytes as private and public PEM keys; must never panic.
    pub fn fuzz_key_pem(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::SigningKey::from_pem(text, Some("pass"));
            let _ = crate::PublicKey::from_pem(text);
        }
        let _ = crate::PublicKey::from_spki_der(data);
    }
}

//! Loading Ed25519 keys from PEM files: PKCS#8 private keys (`openssl genpkey -algorithm
//! ed25519`, `vigil key generate`) and SPKI public keys (`openssl pkey -pubout`).

use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::error::Error;

/// Largest key file read (PEM keys are a few hundred bytes).
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_pem(path: &Path) -> Result<String, Error> {
    let key_err = |reason: String| Error::Key {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| key_err(e.to_string()))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(key_err(format!(
            "{} bytes is too large for a PEM key",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| key_err(e.to_string()))
}

/// Read an Ed25519 private key from a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, Error> {
    let pem = read_pem(path)?;
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| Error::Key {
        path: path.to_path_buf(),
        reason: format!("not an Ed25519 PKCS#8 PEM private key: {e}"),
    })
}

/// Read an Ed25519 public key from an SPKI PEM file (`-----BEGIN PUBLIC KEY-----`).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, Error> {
    let pem = read_pem(path)?;
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| Error::Key {
        path: path.to_path_buf(),
        reason: format!("not an Ed25519 SPKI PEM public key: {e}"),
    })
}

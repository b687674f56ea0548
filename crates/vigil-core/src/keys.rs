//! Signing keys and public keys: ECDSA P-256 and Ed25519, in the PEM forms OpenSSL, Python's
//! `cryptography` (and so `model_signing`) and Vigil write.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use pkcs8::der::Decode as _;
use pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// The most bytes a PEM key file may have. Real keys are a few hundred bytes.
pub const MAX_PEM_BYTES: u64 = 64 * 1024;

/// PBKDF2-HMAC-SHA256 iterations used when Vigil encrypts a private key with a passphrase.
/// OpenSSL, Python's `cryptography` and `model_signing` can all read the result.
const PBKDF2_ITERATIONS: u32 = 600_000;

const OID_EC_PUBLIC_KEY: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_ED25519: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");

/// A signature algorithm Vigil signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA over NIST P-256 with SHA-256; signatures are ASN.1 DER. What `model_signing`'s key
    /// mode uses.
    EcdsaP256,
    /// Ed25519 (RFC 8032); signatures are the raw 64 bytes.
    Ed25519,
}

impl KeyAlgorithm {
    /// The name used on the command line and in reports: `ecdsa-p256` or `ed25519`.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s {
            "ecdsa-p256" => Ok(KeyAlgorithm::EcdsaP256),
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            other => Err(KeyError::UnsupportedAlgorithm(format!(
                "'{other}' (expected ecdsa-p256 or ed25519)"
            ))),
        }
    }
}

/// A key id: the lowercase hex SHA-256 of the public key's SPKI PEM text as Vigil writes it
/// (LF line endings, 64-column base64, trailing newline).
///
/// This is exactly the `verificationMaterial.publicKey.hint` that `model_signing` writes in its
/// key mode, so a signature's hint names the key id of its signer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    /// Parses 64 hex digits (either case); stored lowercase.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(KeyId(s.to_ascii_lowercase()))
        } else {
            Err(KeyError::Malformed(format!(
                "key id '{s}' is not 64 hexadecimal digits"
            )))
        }
    }
}

/// A private signing key.
pub struct SigningKey {
    inner: SigningInner,
}

enum SigningInner {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secret material.
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.public_key().key_id())
            .finish()
    }
}

impl SigningKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate(algorithm: KeyAlgorithm) -> SigningKey {
        let inner = match algorithm {
            KeyAlgorithm::EcdsaP256 => {
                SigningInner::P256(p256::ecdsa::SigningKey::random(&mut OsRng))
            }
            KeyAlgorithm::Ed25519 => {
                SigningInner::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng))
            }
        };
        SigningKey { inner }
    }

    /// Reads a private key from a PEM file (see [`SigningKey::from_pem`]).
    pub fn load(path: &Path, passphrase: Option<&str>) -> Result<SigningKey, KeyError> {
        let text = read_pem_file(path)?;
        SigningKey::from_pem(&text, passphrase).map_err(|e| e.in_file(path))
    }

    /// Parses a private key from PEM text. Accepted forms:
    /// `PRIVATE KEY` (PKCS#8, P-256 or Ed25519), `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2, needs the
    /// passphrase), and `EC PRIVATE KEY` (SEC1, P-256), as `openssl ecparam -genkey` writes it,
    /// possibly after an `EC PARAMETERS` block.
    pub fn from_pem(text: &str, passphrase: Option<&str>) -> Result<SigningKey, KeyError> {
        let (label, der) = first_pem_block(
            text,
            &["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY"],
        )?;
        match label.as_str() {
            "EC PRIVATE KEY" => {
                let secret = p256::SecretKey::from_sec1_der(&der).map_err(|_| {
                    KeyError::Malformed(
                        "EC PRIVATE KEY is not a valid SEC1 P-256 key (other curves are not supported)"
                            .into(),
                    )
                })?;
                Ok(SigningKey {
                    inner: SigningInner::P256(secret.into()),
                })
            }
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase.ok_or(KeyError::PassphraseRequired)?;
                let info = pkcs8::EncryptedPrivateKeyInfo::from_der(&der)
                    .map_err(|e| KeyError::Malformed(format!("encrypted PKCS#8: {e}")))?;
                let doc = info
                    .decrypt(passphrase)
                    .map_err(|_| KeyError::WrongPassphrase)?;
                SigningKey::from_pkcs8_der(doc.as_bytes())
            }
            _ => SigningKey::from_pkcs8_der(&der),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        let info = pkcs8::PrivateKeyInfo::try_from(der)
            .map_err(|e| KeyError::Malformed(format!("PKCS#8: {e}")))?;
        let oid = info.algorithm.oid;
        if oid == OID_ED25519 {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map_err(|e| KeyError::Malformed(format!("Ed25519 PKCS#8: {e}")))?;
            Ok(SigningKey {
                inner: SigningInner::Ed25519(key),
            })
        } else if oid == OID_EC_PUBLIC_KEY {
            check_p256_params(&info.algorithm)?;
            let key = p256::SecretKey::from_pkcs8_der(der)
                .map_err(|e| KeyError::Malformed(format!("P-256 PKCS#8: {e}")))?;
            Ok(SigningKey {
                inner: SigningInner::P256(key.into()),
            })
        } else {
            Err(KeyError::UnsupportedAlgorithm(format!(
                "private key algorithm OID {oid}"
            )))
        }
    }

    /// The PKCS#8 PEM text of this key; with a passphrase, `ENCRYPTED PRIVATE KEY` under PBES2
    /// (PBKDF2-HMAC-SHA256, AES-256-CBC), which OpenSSL and Python's `cryptography` read.
    pub fn to_pkcs8_pem(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, KeyError> {
        let doc = match &self.inner {
            SigningInner::P256(k) => k.to_pkcs8_der(),
            SigningInner::Ed25519(k) => k.to_pkcs8_der(),
        }
        .map_err(|e| KeyError::Malformed(format!("encoding PKCS#8: {e}")))?;
        let Some(passphrase) = passphrase else {
            return doc
                .to_pem("PRIVATE KEY", LineEnding::LF)
                .map_err(|e| KeyError::Malformed(format!("encoding PEM: {e}")));
        };
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut iv);
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
                .map_err(|e| KeyError::Malformed(format!("encryption parameters: {e}")))?;
        let info = pkcs8::PrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| KeyError::Malformed(format!("PKCS#8: {e}")))?;
        let encrypted = info
            .encrypt_with_params(params, passphrase)
            .map_err(|e| KeyError::Malformed(format!("encrypting key: {e}")))?;
        encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .map_err(|e| KeyError::Malformed(format!("encoding PEM: {e}")))
    }

    /// An Ed25519 key from its 32-byte secret seed (RFC 8032), for formats and tests that hold
    /// the raw seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey {
            inner: SigningInner::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
        }
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            SigningInner::P256(_) => KeyAlgorithm::EcdsaP256,
            SigningInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let inner = match &self.inner {
            SigningInner::P256(k) => PublicInner::P256(*k.verifying_key()),
            SigningInner::Ed25519(k) => PublicInner::Ed25519(k.verifying_key()),
        };
        PublicKey { inner }
    }

    /// Signs `message`. ECDSA P-256 hashes with SHA-256 and returns the ASN.1 DER signature
    /// (as Python's `cryptography` does); Ed25519 returns the raw 64-byte signature.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.inner {
            SigningInner::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            SigningInner::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
        }
    }
}

/// A public key that verifies signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: PublicInner,
}

#[derive(Clone, PartialEq, Eq)]
enum PublicInner {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl PublicKey {
    /// Reads a public key from a PEM file (see [`PublicKey::from_pem`]).
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let text = read_pem_file(path)?;
        PublicKey::from_pem(&text).map_err(|e| e.in_file(path))
    }

    /// Parses a `PUBLIC KEY` (SubjectPublicKeyInfo) PEM block holding a P-256 or Ed25519 key.
    /// A private key given by mistake is refused with a message saying so.
    pub fn from_pem(text: &str) -> Result<PublicKey, KeyError> {
        let (_, der) = first_pem_block(text, &["PUBLIC KEY"]).map_err(|e| match e {
            KeyError::Pem(_) if text.contains("PRIVATE KEY-----") => KeyError::Malformed(
                "this is a private key; give the public key (PUBLIC KEY PEM)".into(),
            ),
            other => other,
        })?;
        PublicKey::from_spki_der(&der)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let info = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| KeyError::Malformed(format!("SubjectPublicKeyInfo: {e}")))?;
        let oid = info.algorithm.oid;
        if oid == OID_ED25519 {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(der)
                .map_err(|e| KeyError::Malformed(format!("Ed25519 public key: {e}")))?;
            Ok(PublicKey {
                inner: PublicInner::Ed25519(key),
            })
        } else if oid == OID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|_| {
                KeyError::UnsupportedAlgorithm("EC key without a named curve".into())
            })?;
            if curve != OID_P256 {
                return Err(KeyError::UnsupportedAlgorithm(format!(
                    "EC curve OID {curve} (only P-256, OID {OID_P256}, is supported)"
                )));
            }
            let key = p256::PublicKey::from_public_key_der(der)
                .map_err(|e| KeyError::Malformed(format!("P-256 public key: {e}")))?;
            Ok(PublicKey {
                inner: PublicInner::P256(key.into()),
            })
        } else {
            Err(KeyError::UnsupportedAlgorithm(format!(
                "public key algorithm OID {oid}"
            )))
        }
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            PublicInner::P256(_) => KeyAlgorithm::EcdsaP256,
            PublicInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let doc = match &self.inner {
            PublicInner::P256(k) => p256::PublicKey::from(k).to_public_key_der(),
            PublicInner::Ed25519(k) => k.to_public_key_der(),
        };
        // Encoding a valid in-memory key cannot fail; an empty result would fail every check.
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The SPKI PEM text: `-----BEGIN PUBLIC KEY-----`, 64-column base64, LF line endings.
    pub fn to_pem(&self) -> String {
        pem_rfc7468::encode_string(
            "PUBLIC KEY",
            pem_rfc7468::LineEnding::LF,
            &self.to_spki_der(),
        )
        .unwrap_or_default()
    }

    /// The key id (see [`KeyId`]).
    pub fn key_id(&self) -> KeyId {
        KeyId(hex::encode(Sha256::digest(self.to_pem().as_bytes())))
    }

    /// An Ed25519 public key from its raw 32 bytes (RFC 8032), as C2SP signed notes carry it.
    pub fn ed25519_from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|e| KeyError::Malformed(format!("Ed25519 public key: {e}")))?;
        Ok(PublicKey {
            inner: PublicInner::Ed25519(key),
        })
    }

    /// The raw 32-byte Ed25519 public key, for formats that name it directly (C2SP signed notes).
    pub fn ed25519_bytes(&self) -> Option<[u8; 32]> {
        match &self.inner {
            PublicInner::Ed25519(k) => Some(k.to_bytes()),
            PublicInner::P256(_) => None,
        }
    }

    /// Checks `signature` over `message`. ECDSA P-256 signatures must be ASN.1 DER over the
    /// SHA-256 of the message; Ed25519 signatures the raw 64 bytes, checked strictly (RFC 8032
    /// with the small-order and malleability checks of `verify_strict`).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        match &self.inner {
            PublicInner::P256(k) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| KeyError::BadSignature("not a DER ECDSA signature".into()))?;
                k.verify(message, &sig)
                    .map_err(|_| KeyError::BadSignature("ECDSA P-256 check failed".into()))
            }
            PublicInner::Ed25519(k) => {
                let bytes: [u8; 64] = signature.try_into().map_err(|_| {
                    KeyError::BadSignature(format!(
                        "an Ed25519 signature has 64 bytes, this one {}",
                        signature.len()
                    ))
                })?;
                let sig = ed25519_dalek::Signature::from_bytes(&bytes);
                k.verify_strict(message, &sig)
                    .map_err(|_| KeyError::BadSignature("Ed25519 check failed".into()))
            }
        }
    }
}

fn check_p256_params(alg: &pkcs8::AlgorithmIdentifierRef<'_>) -> Result<(), KeyError> {
    match alg.parameters_oid() {
        Ok(curve) if curve == OID_P256 => Ok(()),
        Ok(curve) => Err(KeyError::UnsupportedAlgorithm(format!(
            "EC curve OID {curve} (only P-256, OID {OID_P256}, is supported)"
        ))),
        Err(_) => Err(KeyError::UnsupportedAlgorithm(
            "EC key without a named curve".into(),
        )),
    }
}

/// Reads a file that should hold a PEM key, refusing anything larger than [`MAX_PEM_BYTES`].
fn read_pem_file(path: &Path) -> Result<String, KeyError> {
    let bytes = crate::read_bounded(path, MAX_PEM_BYTES)?;
    String::from_utf8(bytes)
        .map_err(|_| KeyError::Malformed("not a PEM file (not UTF-8 text)".into()).in_file(path))
}

/// Finds the first PEM block whose label is one of `labels` and decodes it. Other blocks (such
/// as `EC PARAMETERS` before an `EC PRIVATE KEY`) are skipped. CRLF line endings are accepted.
fn first_pem_block(text: &str, labels: &[&str]) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let text = text.replace("\r\n", "\n");
    let mut rest = text.as_str();
    let mut seen = Vec::new();
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let label_end = block["-----BEGIN ".len()..]
            .find("-----")
            .ok_or_else(|| KeyError::Pem("unterminated BEGIN line".into()))?;
        let label = block["-----BEGIN ".len().."-----BEGIN ".len() + label_end].to_string();
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| KeyError::Pem(format!("no END line for {label}")))?;
        let full = &block[..end + end_marker.len()];
        rest = &block[end + end_marker.len()..];
        if labels.contains(&label.as_str()) {
            let (found, der) = pem_rfc7468::decode_vec(full.as_bytes())
                .map_err(|e| KeyError::Pem(format!("{label} block: {e}")))?;
            return Ok((found.to_string(), Zeroizing::new(der)));
        }
        seen.push(label);
    }
    Err(KeyError::Pem(if seen.is_empty() {
        format!("no PEM block found (expected {})", labels.join(" or "))
    } else {
        format!(
            "found {} but expected {}",
            seen.join(", "),
            labels.join(" or ")
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_each_algorithm_with_and_without_passphrase() {
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
            let key = SigningKey::generate(alg);
            let public = key.public_key();
            for pass in [None, Some("correct horse")] {
                let pem = key.to_pkcs8_pem(pass).unwrap();
                let again = SigningKey::from_pem(&pem, pass).unwrap();
                assert_eq!(again.public_key(), public);
                let sig = again.sign(b"message");
                public.verify(b"message", &sig).unwrap();
                assert!(public.verify(b"massage", &sig).is_err());
            }
            let reparsed = PublicKey::from_pem(&public.to_pem()).unwrap();
            assert_eq!(reparsed.key_id(), public.key_id());
        }
    }

    #[test]
    fn encrypted_key_needs_the_right_passphrase() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
        let pem = key.to_pkcs8_pem(Some("s3cret")).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert!(matches!(
            SigningKey::from_pem(&pem, None),
            Err(KeyError::PassphraseRequired)
        ));
        assert!(matches!(
            SigningKey::from_pem(&pem, Some("wrong")),
            Err(KeyError::WrongPassphrase)
        ));
    }

    #[test]
    fn private_key_given_as_public_is_explained() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519);
        let pem = key.to_pkcs8_pem(None).unwrap();
        let err = PublicKey::from_pem(&pem).unwrap_err().to_string();
        assert!(err.contains("private key"), "{err}");
    }

    #[test]
    fn wrong_key_rejects_signature() {
        let a = SigningKey::generate(KeyAlgorithm::EcdsaP256);
        let b = SigningKey::generate(KeyAlgorithm::EcdsaP256);
        let sig = a.sign(b"x");
        assert!(b.public_key().verify(b"x", &sig).is_err());
        let e = SigningKey::generate(KeyAlgorithm::Ed25519);
        assert!(e.public_key().verify(b"x", &sig).is_err());
    }

    #[test]
    fn key_id_parses_and_rejects() {
        let id = SigningKey::generate(KeyAlgorithm::Ed25519)
            .public_key()
            .key_id();
        assert_eq!(id.as_str().parse::<KeyId>().unwrap(), id);
        assert!("abc".parse::<KeyId>().is_err());
        assert!("g".repeat(64).parse::<KeyId>().is_err());
    }

    #[test]
    fn garbage_is_refused_with_reason() {
        for text in [
            "",
            "hello",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n",
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        ] {
            let err = SigningKey::from_pem(text, None).unwrap_err();
            assert!(!err.to_string().is_empty());
        }
    }
}

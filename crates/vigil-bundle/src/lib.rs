//! Signed model bundles, interoperable with OpenSSF model signing.
//!
//! A bundle is a directory: the model file(s), `vigil.toml` (identity, version, intended use,
//! contract), `reference/` statistics, and one or more signature files. This crate signs and
//! verifies bundles in the format of the Python `model_signing` package, version 1.x, key mode:
//! a Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`) holding a DSSE
//! envelope over an in-toto Statement v1 with predicate type
//! `https://model_signing/signature/v1.0`. A signature made by `model_signing sign key`
//! verifies here, and one made here verifies with `model_signing verify key`.
//!
//! Supported: SHA-256 with the `files` and `shards` serializations, ECDSA P-256 keys (as
//! `model_signing` uses) and Ed25519 keys (a Vigil extension; `model_signing` cannot verify
//! those). Not supported: BLAKE2/BLAKE3 hash types, Sigstore keyless and certificate
//! signatures, and the pre-1.0 `Digests/v0.1` predicate (it cannot detect added files): each is
//! refused with a reason, never accepted.
//!
//! Beyond the peer:
//! * [`TrustPolicy`]: several keys with roles, k-of-n distinct signers, revoked key ids and a
//!   minimum bundle version (anti-rollback);
//! * [`VerifiedBundle`]: reads each file once, hashes those bytes and hands out the same bytes,
//!   so nothing can change between the check and its use.
//!
//! Crates that carry the rest: `vigil-core` (keys, over RustCrypto's `p256` and
//! `ed25519-dalek`), `sha2` (SHA-256, with SHA-NI where the CPU has it), `rayon` (parallel
//! hashing), `serde_json` and `toml` (formats), `semver` (versions).
//!
//! # Example
//!
//! ```
//! use vigil_bundle::{sign, verify, Limits, SignOptions};
//! use vigil_core::{KeyAlgorithm, SigningKey};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("model.onnx"), b"weights")?;
//! let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
//! sign(dir.path(), &key, &SignOptions::default(), None)?;
//!
//! let ok = verify(dir.path(), &key.public_key(), None, &Limits::default(), None)?;
//! assert_eq!(ok.manifest.resources.len(), 1);
//!
//! std::fs::write(dir.path().join("model.onnx"), b"tampered")?;
//! let err = verify(dir.path(), &key.public_key(), None, &Limits::default(), None).unwrap_err();
//! assert!(err.to_string().contains("model.onnx: content changed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod config;
mod error;
mod format;
mod hash;
mod manifest;
mod path;
mod policy;
mod trust;
mod verify;
mod walk;

// The public interface:
pub use config::{BundleConfig, CONFIG_FILE};
pub use error::{BundleError, Discrepancy};
pub use format::{BUNDLE_MEDIA_TYPE, PAYLOAD_TYPE, PREDICATE_TYPE};
pub use hash::Progress;
pub use manifest::{HashMethod, Manifest, Resource, Serialization, DEFAULT_SHARD_SIZE};
pub use path::ResourcePath;
pub use policy::{Signer, TrustPolicy};
pub use trust::{
    check_trust, describe, SignatureReport, SignatureStatus, Trust, TrustReport, VerifiedBundle,
};
pub use verify::{
    check_signature, sign, signature_path, verify, SignOptions, Signed, Verified, DEFAULT_SIGNATURE,
};
pub use walk::GIT_PATHS;

/// Bounds on what signing and verification read. Every input from outside is held to these.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest signature file accepted (default 64 MiB: about 250,000 resources).
    pub max_signature_bytes: u64,
    /// Most files in a bundle, or resources in a signature (default 1,000,000).
    pub max_files: u64,
    /// Deepest directory nesting (default 64).
    pub max_depth: usize,
    /// Most bytes [`VerifiedBundle`] keeps in memory (default 4 GiB).
    pub max_load_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_signature_bytes: 64 << 20,
            max_files: 1_000_000,
            max_depth: 64,
            max_load_bytes: 4 << 30,
        }
    }
}

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod fuzz {
    use std::path::Path;

    /// Parses bytes as a signature file and its statement; must never panic.
    pub fn fuzz_signature(data: &[u8]) {
        let path = Path::new("fuzz.sig");
        if let Ok(b) = crate::format::parse_bundle(data, path) {
            let _ = crate::format::parse_statement(&b.payload, path, &crate::Limits::default());
        }
        let _ = crate::format::parse_statement(data, path, &crate::Limits::default());
    }

    /// Parses bytes as a trust policy (keys resolved in a directory that has none).
    pub fn fuzz_policy(data: &[u8]) {
        let _ =
            crate::TrustPolicy::parse(data, Path::new("policy.toml"), Path::new("/nonexistent"));
    }

    /// Parses bytes as `vigil.toml`.
    pub fn fuzz_config(data: &[u8]) {
        let _ = crate::BundleConfig::parse(data, Path::new("vigil.toml"));
    }
}

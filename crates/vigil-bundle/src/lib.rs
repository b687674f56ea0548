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
//! The formats themselves (DSSE, the Sigstore bundle, the in-toto Statement) and the k-of-n
//! trust policy are `vigil-attest`'s; this crate adds the `model_signing` predicate, the walk and
//! hashing of a bundle directory, and the verifier.
//!
//! Beyond the peer:
//! * [`BundlePolicy`]: several keys with roles, k-of-n distinct signers, required signers and
//!   roles, revoked key ids and a minimum bundle version (anti-rollback); a policy that is not
//!   met fails with a typed [`TrustFailure`] ([`BundleError::trust_failure`]);
//! * [`VerifiedBundle`]: reads each file once, hashes those bytes and hands out the same bytes,
//!   so nothing can change between the check and its use.
//!
//! Every path from outside (signature, policy, key, the bundle's files) is opened without
//! blocking and must be a regular file: a FIFO or a device is refused, never waited on.
//!
//! Crates that carry the rest: `vigil-attest` (envelopes, statements, policies), `vigil-core`
//! (keys, over RustCrypto's `p256` and `ed25519-dalek`; bounded reads; atomic writes), `ring`
//! (SHA-256, with SHA-NI where the CPU has it), `rayon` (parallel hashing), `serde_json` and
//! `toml` (formats), `semver` (versions).
//!
//! # Example
//!
//! ```
//! use vigil_bundle::{sign, BundleVerifier, SignOptions, Trust};
//! use vigil_core::{KeyAlgorithm, SigningKey};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("model.onnx"), b"weights")?;
//! let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
//! sign(dir.path(), &key, &SignOptions::default(), None)?;
//!
//! let trust = Trust::Key(key.public_key());
//! let report = BundleVerifier::new(dir.path(), trust.clone()).check()?;
//! assert_eq!(report.manifest.resources.len(), 1);
//!
//! std::fs::write(dir.path().join("model.onnx"), b"tampered")?;
//! let err = BundleVerifier::new(dir.path(), trust).check().unwrap_err();
//! assert!(err.to_string().contains("model.onnx: content changed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod check;
mod config;
mod error;
mod hash;
mod manifest;
mod memory;
mod path;
mod policy;
mod predicate;
mod report;
mod sign;
mod status;
mod verified;
mod verifier;
mod walk;

// The public interface:
// signing
pub use sign::{sign, SignOptions, Signed};
// verifying: one builder, two outcomes (bytes kept, or streamed)
pub use check::DEFAULT_SIGNATURE;
pub use verified::VerifiedBundle;
pub use verifier::{BundleVerifier, Trust};
// trust decisions and their reports
pub use policy::BundlePolicy;
pub use report::TrustReport;
pub use status::{SignatureReport, SignatureStatus};
pub use vigil_attest::{PolicyError, TrustFailure, TrustPolicy, TrustedSigner};
// errors
pub use error::{BundleError, Discrepancy};
pub use vigil_attest::AttestError;
// what is signed
pub use config::{AcceptanceSpec, BundleConfig, DataSetRef, CONFIG_FILE};
pub use hash::Progress;
pub use manifest::{HashMethod, Manifest, Resource, Serialization, DEFAULT_SHARD_SIZE};
pub use path::ResourcePath;
pub use predicate::PREDICATE_TYPE;
pub use vigil_attest::{BUNDLE_MEDIA_TYPE, IN_TOTO_PAYLOAD_TYPE as PAYLOAD_TYPE};
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
pub mod internal {
    use std::path::Path;

    /// Parses bytes as a signature file and its statement; must never panic.
    pub fn fuzz_signature(data: &[u8]) {
        let path = Path::new("fuzz.sig");
        if let Ok(b) = vigil_attest::SigstoreBundle::parse(data) {
            let _ = crate::predicate::parse_statement(
                &b.envelope.payload,
                path,
                &crate::Limits::default(),
            );
        }
        let _ = crate::predicate::parse_statement(data, path, &crate::Limits::default());
    }

    /// Parses bytes as a trust policy (keys resolved in a directory that has none).
    pub fn fuzz_policy(data: &[u8]) {
        let _ =
            crate::BundlePolicy::parse(data, Path::new("policy.toml"), Path::new("/nonexistent"));
    }

    /// Parses bytes as `vigil.toml`.
    pub fn fuzz_config(data: &[u8]) {
        if let Ok(c) = crate::BundleConfig::parse(data, Path::new("vigil.toml")) {
            let _ = c.data_sets();
            let _ = c.acceptance();
        }
    }
}

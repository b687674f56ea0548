//! Signed statements about artifacts, in the formats OpenSSF model signing and Sigstore use, and
//! the trust policy that decides whose signatures count.
//!
//! * [`pae`] and [`Envelope`]: DSSE (Dead Simple Signing Envelope) protocol v1.0, signed through
//!   any [`vigil_core::Signer`] and checked with a [`vigil_core::PublicKey`];
//! * [`SigstoreBundle`]: the Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`)
//!   in public-key form, read and written byte for byte as `model_signing` 1.x writes it in key
//!   mode. Keyless (Fulcio certificate) and certificate bundles and transparency-log entries are
//!   not verified: certificate material is refused, never ignored;
//! * [`Statement`]: the in-toto Statement v1, generic over its predicate, so model bundles,
//!   dataset manifests and scan attestations share one reader and writer;
//! * [`TrustPolicy`]: named keys with roles, a k-of-n threshold of distinct signers, required
//!   signers and roles, revoked keys and a minimum version, whose failures are typed
//!   ([`TrustFailure`]).
//!
//! This crate reads no files besides policy and key files; its users (vigil-bundle) name the
//! files in their own errors.
//!
//! # Example
//!
//! ```
//! use vigil_attest::{SigstoreBundle, Statement, Subject};
//! use vigil_core::{KeyAlgorithm, SigningKey};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Rows {
//!     rows: u64,
//! }
//! const ROWS: &str = "https://example.invalid/rows/v1";
//!
//! let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
//! let statement = Statement {
//!     subject: vec![Subject::sha256("train.csv", &[0; 32])],
//!     predicate_type: ROWS.to_string(),
//!     predicate: Rows { rows: 569 },
//! };
//! let bundle = SigstoreBundle::sign_statement(statement.to_json()?.into_bytes(), &key)?;
//! let text = bundle.to_json();
//!
//! let read = SigstoreBundle::parse(text.as_bytes())?;
//! let payload = read.verify(&key.public_key())?;
//! let back: Statement<Rows> = Statement::parse(payload, ROWS)?;
//! assert_eq!(back.predicate.rows, 569);
//! # Ok::<(), vigil_attest::AttestError>(())
//! ```

#![deny(missing_docs)]

mod dsse;
mod error;
mod policy;
mod sigstore;
mod statement;

// The public interface:
// DSSE envelopes
pub use dsse::{pae, Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE};
// errors of envelopes, bundles and statements
pub use error::AttestError;
// Sigstore bundle v0.3, key mode
pub use sigstore::{SigstoreBundle, BUNDLE_MEDIA_TYPE};
// in-toto Statement v1
pub use statement::{Statement, Subject, STATEMENT_TYPE};
// trust policies
pub use policy::{
    Counted, PolicyError, Tally, TrustFailure, TrustPolicy, TrustedSigner, MAX_POLICY_BYTES,
};

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    use std::path::Path;

    /// Parses bytes as a Sigstore bundle and as a statement with a JSON predicate; must never
    /// panic.
    pub fn fuzz_envelope(data: &[u8]) {
        if let Ok(b) = crate::SigstoreBundle::parse(data) {
            let _ = b.to_json();
            let _ = crate::Statement::<serde_json::Value>::parse(&b.envelope.payload, "p");
        }
        let _ = crate::Statement::<serde_json::Value>::parse(data, "p");
    }

    /// Parses bytes as a trust policy (keys resolved in a directory that has none).
    pub fn fuzz_policy(data: &[u8]) {
        let _ = crate::TrustPolicy::parse_with(
            data,
            Path::new("policy.toml"),
            Path::new("/nonexistent"),
            &["signatures"],
        );
    }
}

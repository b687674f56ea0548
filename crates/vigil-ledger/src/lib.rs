//! Tamper-evident audit log: an append-only Merkle tree of canonical JSON events, stored
//! durably in SQLite, with signed checkpoints and offline-verifiable proofs.
//!
//! # Standards
//! - **RFC 9162** (Certificate Transparency 2.0) section 2.1: leaf hash `SHA-256(0x00 || entry)`,
//!   node hash `SHA-256(0x01 || left || right)`, the tree head of any size (the empty tree's is
//!   `SHA-256("")`), inclusion and consistency proofs generated and verified exactly as its
//!   algorithms say. Tested against transparency-dev/merkle's test data.
//! - **RFC 8785** (JCS): each entry is the canonical form of one JSON object. Beyond RFC 8785,
//!   input is refused (never silently changed) when it has duplicate keys, an integer whose
//!   value would change when read as an IEEE double (beyond +/-2^53 and neither exact nor
//!   the RFC 8785 form of its double), lone surrogates, or exceeds [`Limits`].
//! - **C2SP tlog-checkpoint** and **C2SP signed-note** with Ed25519 (signature type 0x01);
//!   checkpoints can carry co-signatures by more keys, as plain Ed25519 note signatures or as
//!   **C2SP tlog-cosignature** `cosignature/v1` lines (timestamped, key id type 0x04:
//!   [`Note::add_cosignature`], [`NoteVerifier::accepting_cosignature_v1`]).
//!
//! # Storage
//! SQLite (bundled) in WAL mode with `synchronous=FULL`: an append is acknowledged only after
//! its transaction is durable. The store keeps entries, leaf hashes and every complete subtree
//! hash, so a proof costs O(log n) reads. [`Ledger::open`] re-verifies the whole log first
//! (O(n), see [`audit`]) and refuses a database whose hashes or checkpoints do not match its
//! entries; [`Ledger::open_with`] and [`OpenCheck::TailSinceCheckpoint`] check only what the
//! newest signed checkpoint does not cover ([`audit_tail`]), for one-shot queries and a
//! gateway's start. Integrity failures are facts ([`IntegrityError`]: truncated, forked,
//! rewritten, leaf mismatch, with sizes and indices), so a collector or updater can tell them
//! apart.
//!
//! The store sits behind the [`Store`] trait, and [`Ledger::from_stores`] runs the same tree,
//! group-commit and proof logic over any store (PostgreSQL for a fleet collector). Feature
//! `sqlite` (default) provides [`SqliteStore`] and [`Ledger::open`]/[`Ledger::create`].
//! Checkpoints are signed through [`vigil_core::Signer`] ([`NoteSigner::from_signer`]), so a
//! key file, a token or a remote signer can sign them.
//!
//! # Crates relied on
//! `sha2` (hashing), `ed25519-dalek` (signatures, PKCS#8/SPKI PEM), `rusqlite` (storage),
//! `ryu-js` (ECMAScript number formatting), `base64`, `hex`, `serde_json` (proof JSON).
//!
//! # Example
//! ```
//! use vigil_ledger::{Ledger, NoteSigner, open_checkpoint};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
//! let log = Ledger::create(&dir.path().join("audit.db"), "example.org/device-1",
//!                          &key.verifying_key(), None)?;
//! let receipt = log.append(br#"{"event":"inference","verdict":"accept"}"#)?;
//! assert_eq!(receipt.index, 0);
//! let signer = NoteSigner::new("example.org/device-1", key)?;
//! let note = log.checkpoint(&[&signer])?;
//! let opened = open_checkpoint(note.as_bytes(), &[signer.verifier()], None)?;
//! let proof = log.prove(0, opened.checkpoint.size)?;
//! assert_eq!(proof.root, opened.checkpoint.root);
//! proof.verify()?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod audit;
mod checkpoint;
mod error;
mod event;
mod jcs;
mod ledger;
mod merkle;
mod note;
mod proof;
mod signed;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

// The public API.
pub use crate::audit::{audit, audit_tail, Audit};
pub use crate::checkpoint::{open_checkpoint, Checkpoint, VerifiedCheckpoint};
pub use crate::error::{CheckpointRef, Error, IntegrityError, JcsError, NoteError, ProofError};
pub use crate::event::{
    now_ms, AlarmDetail, ClientRefused, DriftAlarm, DriftDetail, Event, GatewayRefusal, GuardAlarm,
    Inference, Reinstated, UpdatePhase, UpdateStep, Verdict,
};
pub use crate::jcs::{canonicalize, canonicalize_event, Limits};
pub use crate::ledger::{Ledger, OpenCheck, Receipt};
pub use crate::merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, range_hash, root,
    verify_consistency, verify_inclusion, Frontier, Hash, MemoryTree, NodeSource,
};
pub use crate::note::{
    cosignature_key_hash, key_hash, Note, NoteLimits, NoteSignature, NoteSigner, NoteVerifier,
    Verification,
};
pub use crate::proof::{ConsistencyProof, InclusionProof};
pub use crate::signed::{ensure_checkpoint_key, open_or_create_signed};
#[cfg(feature = "sqlite")]
pub use crate::sqlite::SqliteStore;
pub use crate::store::{EntryVisitor, LogInfo, NodeRow, Store, StoredCheckpoint};

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    pub use crate::jcs::{format_number, lex_number, recanonicalize, NumberLexeme};

    /// Parses bytes as an audit event, as the collector parses every pushed entry; must never
    /// panic, and what parses must write back to an equal event.
    pub fn fuzz_event(data: &[u8]) {
        if let Ok(e) = crate::Event::from_json(data) {
            if let Ok(bytes) = e.to_json() {
                assert!(crate::Event::from_json(&bytes).is_ok_and(|a| a == e));
            }
        }
    }

    /// Canonicalise arbitrary bytes; if accepted, the output must be a fixed point.
    pub fn fuzz_jcs(data: &[u8]) {
        let limits = crate::Limits::default();
        if let Ok(out) = crate::canonicalize(data, &limits) {
            let again = crate::jcs::recanonicalize(&out, &limits);
            assert_eq!(
                again.as_ref(),
                Ok(&out),
                "canonical form is not a fixed point"
            );
            let value: Result<serde_json::Value, _> = serde_json::from_slice(&out);
            assert!(value.is_ok(), "canonical output is not JSON");
        }
    }

    /// Parse arbitrary bytes as a signed checkpoint note; a parsed note must re-serialise
    /// to the same bytes.
    pub fn fuzz_note(data: &[u8]) {
        if let Ok(note) = crate::Note::parse(data, &crate::NoteLimits::default()) {
            assert_eq!(note.to_text().as_bytes(), data, "note does not round-trip");
            let _ = crate::Checkpoint::parse_text(note.text());
            let key = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
            if let Ok(v) = crate::NoteVerifier::new("fuzz", key.verifying_key()) {
                assert!(note.verify(&[v]).is_err(), "forged signature verified");
            }
        }
    }

    /// Parse arbitrary bytes as inclusion or consistency proof JSON and verify it.
    pub fn fuzz_proof(data: &[u8]) {
        if let Ok(p) = crate::InclusionProof::from_json(data) {
            let _ = p.verify();
        }
        if let Ok(p) = crate::ConsistencyProof::from_json(data) {
            let _ = p.verify();
        }
    }
}

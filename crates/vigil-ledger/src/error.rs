//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong in the ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event was refused by the canonical-JSON rules.
    #[error("event refused: {0}")]
    Event(#[from] JcsError),
    /// A proof could not be made or did not verify.
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// A signed note or checkpoint is malformed or its signatures do not verify.
    #[error("note: {0}")]
    Note(#[from] NoteError),
    /// A key file could not be read or is not an Ed25519 key in the expected PEM form.
    #[error("key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The database could not be read or written.
    #[error("store {path}: {source}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// The database error (SQLite's, or another store's).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The stored log does not match itself: an entry, hash or checkpoint was altered,
    /// removed or added.
    #[error("integrity: {0}")]
    Integrity(String),
    /// An index or tree size lies beyond the log.
    #[error("out of range: {what} {value} but the log has {size} entries")]
    OutOfRange {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The log's size.
        size: u64,
    },
    /// The database already exists, or is not a vigil ledger, or has another key.
    #[error("log {path}: {reason}")]
    Log {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Event number `position` (0-based) of a batch was refused; nothing was appended.
    #[error("event {position} of the batch refused: {source}")]
    BatchEvent {
        /// Position in the batch.
        position: usize,
        /// Why.
        #[source]
        source: JcsError,
    },
    /// A commit failed; nothing of its group was acknowledged.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The background committer stopped (a previous write failed or the process is ending).
    #[error("committer stopped: {0}")]
    Closed(String),
}

/// Why an event line is not accepted as canonical JSON (RFC 8785 over I-JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct JcsError {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

/// Why a Merkle proof does not verify or cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The sizes of a consistency proof are not `old <= new` (or `0 < old` to make one).
    #[error("sizes old {old} and new {new} are not 0 < old <= new")]
    BadSizes {
        /// Older size.
        old: u64,
        /// Newer size.
        new: u64,
    },
    /// The proof has more hashes than the tree shape allows.
    #[error("proof has too many hashes")]
    TooLong,
    /// The proof has fewer hashes than the tree shape needs.
    #[error("proof has too few hashes")]
    TooShort,
    /// The recomputed root differs from the expected one.
    #[error("computed root {computed} but expected {expected}")]
    RootMismatch {
        /// Root computed from the proof (hex).
        computed: String,
        /// Root that was expected (hex).
        expected: String,
    },
    /// A hash is not 32 bytes of hex or base64.
    #[error("bad hash {0:?}")]
    BadHash(String),
    /// A complete subtree needed for the proof is missing from the store.
    #[error("missing subtree at level {level} index {index}")]
    MissingNode {
        /// Subtree level.
        level: u32,
        /// Subtree index within the level.
        index: u64,
    },
    /// Proof JSON is malformed.
    #[error("bad proof json: {0}")]
    Json(String),
}

/// Why a signed note or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is not well formed per C2SP signed-note (the reason says where).
    #[error("malformed note: {0}")]
    Malformed(String),
    /// The checkpoint body is not well formed per C2SP tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    /// A trusted key's signature does not verify.
    #[error("invalid signature for key {name}+{key_hash:08x}")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key hash.
        key_hash: u32,
    },
    /// A key the verifier requires has not signed.
    #[error("no signature by trusted key {name}+{key_hash:08x}")]
    MissingSignature {
        /// Key name.
        name: String,
        /// Key hash.
        key_hash: u32,
    },
    /// A key name is empty, holds whitespace or '+'.
    #[error("bad key name {0:?}: must be non-empty, without spaces or '+'")]
    BadKeyName(String),
    /// A verifier key string (`name+hash+base64`) is malformed.
    #[error("bad verifier key {0:?}")]
    BadVerifierKey(String),
    /// The checkpoint's origin is not the one expected.
    #[error("origin {found:?} but expected {expected:?}")]
    WrongOrigin {
        /// Origin in the checkpoint.
        found: String,
        /// Origin expected.
        expected: String,
    },
}

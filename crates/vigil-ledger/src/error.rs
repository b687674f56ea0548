//! The error type of this crate.

use std::path::PathBuf;

/// A SHA-256 hash (the same as `crate::Hash`; spelled out so errors do not import the tree).
type Hash = [u8; 32];

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
    /// The stored log does not match itself or a checkpoint: an entry, hash or checkpoint was
    /// altered, removed or added. The variant says which, with its sizes and indices.
    #[error("integrity: {0}")]
    Integrity(#[from] IntegrityError),
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
    /// Line `line` (1-based) of an appended stream was refused; the lines before it were
    /// appended, nothing after it.
    #[error("line {line}: {}", .source.reason)]
    Line {
        /// 1-based line number.
        line: u64,
        /// Why.
        #[source]
        source: JcsError,
    },
    /// Reading an appended stream failed.
    #[error("reading the input: {0}")]
    Input(#[source] std::io::Error),
    /// An event could not be written, or an entry is not an [`crate::Event`].
    #[error("event schema: {0}")]
    Schema(String),
    /// Acknowledging durable entries to the caller failed (its output closed).
    #[error("acknowledging: {0}")]
    Acknowledge(#[source] std::io::Error),
    /// A commit failed; nothing of its group was acknowledged.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The background committer stopped (a previous write failed or the process is ending).
    #[error("committer stopped: {0}")]
    Closed(String),
}

/// Which checkpoint an [`IntegrityError`] is about: one stored in the log (by row id) or one
/// given by the caller (from outside the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointRef {
    /// Stored checkpoint with this row id.
    Stored(u64),
    /// A checkpoint the caller gave (a device's last one, a witness's).
    Given,
}

impl std::fmt::Display for CheckpointRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointRef::Stored(id) => write!(f, "checkpoint #{id}"),
            CheckpointRef::Given => f.write_str("the given checkpoint"),
        }
    }
}

/// How a log fails to match itself or a signed checkpoint: facts a collector or an updater can
/// act on (a truncated log and a rewritten one are different incidents), not prose to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// A checkpoint covers more entries than the log holds: entries were removed.
    #[error("{checkpoint} has size {checkpoint_size} but the log has only {log_size} entries: the log was truncated")]
    Truncated {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// Its size.
        checkpoint_size: u64,
        /// The log's size.
        log_size: u64,
    },
    /// Two signed checkpoints of the same size have different roots.
    #[error("checkpoints #{first} and #{second} both have size {size} but different roots: the history was forked")]
    Forked {
        /// The size both sign.
        size: u64,
        /// Row id of the earlier checkpoint.
        first: u64,
        /// Row id of the later checkpoint.
        second: u64,
    },
    /// A signed checkpoint's root is not the root of the log's first `size` entries.
    #[error("{checkpoint} signs root {} for size {size} but the entries give {}: the log was rewritten", hex::encode(.signed_root), hex::encode(.computed_root))]
    Rewritten {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// Its size.
        size: u64,
        /// The root it signs.
        signed_root: Hash,
        /// The root the entries give.
        computed_root: Hash,
    },
    /// An entry does not hash to its stored leaf hash.
    #[error("entry {index} does not match its stored leaf hash (stored {}, computed {})", hex::encode(.stored), hex::encode(.computed))]
    LeafMismatch {
        /// Entry index.
        index: u64,
        /// Stored leaf hash.
        stored: Hash,
        /// Leaf hash of the stored entry.
        computed: Hash,
    },
    /// A stored subtree hash does not match the entries under it.
    #[error("subtree hash at level {level} index {index} (covering entry {entry}) does not match the entries")]
    NodeMismatch {
        /// Subtree level.
        level: u32,
        /// Subtree index in its level.
        index: u64,
        /// The entry whose append completed it.
        entry: u64,
    },
    /// An entry index is missing from the store.
    #[error("entry {index} is missing (next stored entry is {next})")]
    MissingEntry {
        /// The missing index.
        index: u64,
        /// The next stored index.
        next: u64,
    },
    /// An entry is not a canonical event.
    #[error("entry {index} is not a canonical event: {reason}")]
    NotCanonical {
        /// Entry index.
        index: u64,
        /// Why.
        reason: String,
    },
    /// Fewer entries are stored than the log's size says.
    #[error("the log claims {claimed} entries but only {stored} are stored")]
    EntryCount {
        /// The log's size.
        claimed: u64,
        /// Entries found.
        stored: u64,
    },
    /// The number of stored subtree hashes is not what the log's size implies.
    #[error("{stored} subtree hashes are stored but a log of {size} entries has {expected}")]
    NodeCount {
        /// The log's size.
        size: u64,
        /// Subtree hashes a log of that size has.
        expected: u64,
        /// Subtree hashes stored.
        stored: u64,
    },
    /// Two checkpoints of the log are not consistent with each other.
    #[error("checkpoints of sizes {old} and {new} are not consistent: {reason}")]
    Inconsistent {
        /// Older size.
        old: u64,
        /// Newer size.
        new: u64,
        /// Why the proof failed.
        reason: String,
    },
    /// A stored checkpoint's note does not open with the trusted keys, or its columns differ
    /// from its signed text.
    #[error("{checkpoint}: {reason}")]
    BadCheckpoint {
        /// Which checkpoint.
        checkpoint: CheckpointRef,
        /// Why.
        reason: String,
    },
    /// A stored value is missing or of the wrong type or length (an edited row).
    #[error("{0}")]
    Corrupt(String),
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
    /// The key cannot sign notes (C2SP signed-note signatures here are Ed25519).
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// The signer failed to sign.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The checkpoint's origin is not the one expected.
    #[error("origin {found:?} but expected {expected:?}")]
    WrongOrigin {
        /// Origin in the checkpoint.
        found: String,
        /// Origin expected.
        expected: String,
    },
}

//! The storage interface the tree logic runs on, so that another database (PostgreSQL for a
//! fleet collector) can be added without touching the Merkle code.

use crate::error::Error;
use crate::merkle::{Hash, NodeSource};

/// What a log is: its origin, its signing key name and public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    /// The origin line of its checkpoints.
    pub origin: String,
    /// The key name in its checkpoint signatures.
    pub key_name: String,
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
}

/// A checkpoint as kept by a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Row id in the store (order of storing).
    pub id: u64,
    /// Tree size it covers.
    pub size: u64,
    /// Tree head it signs.
    pub root: Hash,
    /// The signed note, byte for byte.
    pub note: String,
}

/// The visitor [`Store::scan`] calls with `(index, entry, stored leaf hash)`.
pub type EntryVisitor<'a> = dyn FnMut(u64, &[u8], &Hash) -> Result<(), Error> + 'a;

/// One newly complete subtree: `(level >= 1, index, hash)`.
pub type NodeRow = (u32, u64, Hash);

/// Durable storage for entries, leaf hashes, complete-subtree hashes and checkpoints.
///
/// Implementations must make [`Store::append`] and [`Store::add_checkpoint`] atomic and
/// durable before they return `Ok`.
pub trait Store: Send {
    /// The log's identity.
    fn info(&self) -> Result<LogInfo, Error>;
    /// Number of entries (largest index + 1).
    fn size(&self) -> Result<u64, Error>;
    /// The canonical entry at `index`.
    fn entry(&self, index: u64) -> Result<Vec<u8>, Error>;
    /// The canonical entries `from..to`, in index order. Default: [`Store::entry`] for each;
    /// a database should read them in one statement.
    fn entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, Error> {
        (from..to).map(|i| self.entry(i)).collect()
    }
    /// The stored leaf hash at `index`.
    fn leaf_hash(&self, index: u64) -> Result<Hash, Error>;
    /// The stored hash of the complete subtree `(level >= 1, index)`.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Error>;
    /// How many complete-subtree hashes (level >= 1) are stored.
    fn node_count(&self) -> Result<u64, Error>;
    /// Visit every entry in index order: `(index, entry, stored leaf hash)`.
    fn scan(&self, f: &mut EntryVisitor<'_>) -> Result<(), Error>;
    /// Visit the entries from index `from` on, in index order. Default: [`Store::scan`],
    /// skipping the earlier ones; a database should seek instead.
    fn scan_from(&self, from: u64, f: &mut EntryVisitor<'_>) -> Result<(), Error> {
        self.scan(&mut |idx, data, leaf| {
            if idx < from {
                Ok(())
            } else {
                f(idx, data, leaf)
            }
        })
    }
    /// Append `leaves` (leaf hash, entry) at indices `first..` and the subtrees they complete,
    /// in one durable transaction; fails if the log's size is not `first`.
    fn append(
        &mut self,
        first: u64,
        leaves: &[(Hash, Vec<u8>)],
        nodes: &[NodeRow],
    ) -> Result<(), Error>;
    /// Start reading from one consistent snapshot (until [`Store::end_snapshot`]), so that a
    /// whole-log audit is not confused by a concurrent writer. Default: nothing.
    fn begin_snapshot(&self) -> Result<(), Error> {
        Ok(())
    }
    /// End the snapshot begun by [`Store::begin_snapshot`].
    fn end_snapshot(&self) -> Result<(), Error> {
        Ok(())
    }
    /// All stored checkpoints in storing order.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, Error>;
    /// Store a checkpoint durably (its `id` is ignored).
    fn add_checkpoint(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), Error>;
}

/// A [`Store`] seen as a [`NodeSource`]: level 0 reads leaf hashes.
pub(crate) struct StoreNodes<'a>(pub(crate) &'a dyn Store);

impl NodeSource for StoreNodes<'_> {
    fn node(&self, level: u32, index: u64) -> Result<Hash, Error> {
        if level == 0 {
            self.0.leaf_hash(index)
        } else {
            self.0.node(level, index)
        }
    }
}

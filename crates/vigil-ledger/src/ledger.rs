//! The shared ledger handle and its group-commit writer thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::audit::{audit, audit_tail, Audit};
use crate::checkpoint::Checkpoint;
use crate::error::{Error, JcsError};
use crate::jcs::{canonicalize_event, Limits};
use crate::merkle::{self, leaf_hash, Frontier, Hash};
use crate::note::{NoteSigner, NoteVerifier};
use crate::proof::{ConsistencyProof, InclusionProof};
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;
use crate::store::{LogInfo, Store, StoreNodes, StoredCheckpoint};

/// Most entries committed in one transaction.
const MAX_GROUP: usize = 1 << 16;

/// How much of a stored log is checked when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OpenCheck {
    /// Re-verify every entry, subtree hash and checkpoint ([`audit`]): O(n), about 2.4 s per
    /// million entries. What `vigil log verify` does, and the default.
    #[default]
    Full,
    /// Verify every stored checkpoint against the stored tree, and re-hash only the entries
    /// after the newest checkpoint ([`audit_tail`]). For one-shot queries and a gateway's
    /// start on a large log; the full audit stays `vigil log verify`'s job.
    TailSinceCheckpoint,
}

/// Proof that an appended entry is durable: its index and leaf hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Index of the entry in the log (0-based).
    pub index: u64,
    /// `SHA-256(0x00 || canonical entry)`.
    pub leaf_hash: Hash,
}

enum Request {
    Append {
        entries: Vec<Vec<u8>>,
        reply: mpsc::SyncSender<Result<Vec<Receipt>, Error>>,
    },
    Checkpoint {
        signers: Vec<NoteSigner>,
        reply: mpsc::SyncSender<Result<String, Error>>,
    },
}

struct Committed {
    size: u64,
    root: Hash,
}

struct Inner {
    path: PathBuf,
    info: LogInfo,
    limits: Limits,
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    reader: Mutex<Box<dyn Store>>,
    committed: Arc<Mutex<Committed>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it finishes what it holds.
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut w) = self.worker.lock() {
            if let Some(handle) = w.take() {
                let _ = handle.join();
            }
        }
    }
}

/// A tamper-evident log: a cheap, cloneable handle that many threads share.
///
/// Appends from all clones go to one writer thread that commits whatever is waiting as one
/// SQLite transaction (group commit); each append returns only once its transaction is
/// durable.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.inner.path)
            .field("origin", &self.inner.info.origin)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, Error> {
    m.lock()
        .map_err(|_| Error::Closed("a thread panicked while holding the ledger".into()))
}

impl Ledger {
    /// Create a new SQLite log at `path` (refusing an existing file), named `origin`, whose
    /// checkpoints are signed by `key` under `key_name` (the origin unless given).
    #[cfg(feature = "sqlite")]
    pub fn create(
        path: &Path,
        origin: &str,
        key: &ed25519_dalek::VerifyingKey,
        key_name: Option<&str>,
    ) -> Result<Ledger, Error> {
        if origin.is_empty() || origin.contains('\n') || origin.chars().any(char::is_control) {
            return Err(Error::Log {
                path: path.to_path_buf(),
                reason: format!("origin {origin:?} must be one non-empty line"),
            });
        }
        let key_name = key_name.unwrap_or(origin);
        NoteVerifier::new(key_name, *key)?;
        let info = LogInfo {
            origin: origin.to_string(),
            key_name: key_name.to_string(),
            public_key: key.to_bytes(),
        };
        let store = SqliteStore::create(path, &info)?;
        drop(store);
        Ledger::open(path)
    }

    /// Open an existing SQLite log, verifying it in full first (see [`audit`] for the cost): a
    /// database whose stored hashes or checkpoints do not match its entries is refused.
    #[cfg(feature = "sqlite")]
    pub fn open(path: &Path) -> Result<Ledger, Error> {
        Ledger::open_with(path, OpenCheck::Full)
    }

    /// Open an existing SQLite log with the named check (see [`OpenCheck`]).
    #[cfg(feature = "sqlite")]
    pub fn open_with(path: &Path, check: OpenCheck) -> Result<Ledger, Error> {
        let writer = SqliteStore::open(path)?;
        let reader = SqliteStore::open(path)?;
        Ledger::from_stores(Box::new(writer), Box::new(reader), path, check)
    }

    /// A ledger over any [`Store`]: `writer` receives the group commits, `reader` serves
    /// proofs and entries (two handles on the same log, so reads do not wait for commits).
    /// `name` labels the log in errors (a file path, or a database and device id). The log is
    /// checked first as `check` says.
    pub fn from_stores(
        writer: Box<dyn Store>,
        reader: Box<dyn Store>,
        name: &Path,
        check: OpenCheck,
    ) -> Result<Ledger, Error> {
        let report = match check {
            OpenCheck::Full => audit(writer.as_ref(), &[], &[])?,
            OpenCheck::TailSinceCheckpoint => audit_tail(writer.as_ref())?,
        };
        Ledger::with_stores(writer, reader, name, report)
    }

    fn with_stores(
        writer: Box<dyn Store>,
        reader: Box<dyn Store>,
        path: &Path,
        report: Audit,
    ) -> Result<Ledger, Error> {
        let info = writer.info()?;
        let frontier = Frontier::load(&StoreNodes(writer.as_ref()), report.size)?;
        let committed = Arc::new(Mutex::new(Committed {
            size: report.size,
            root: frontier.root(),
        }));
        let (tx, rx) = mpsc::channel();
        let shared = Arc::clone(&committed);
        let origin = info.origin.clone();
        let worker = std::thread::Builder::new()
            .name("vigil-ledger-commit".into())
            .spawn(move || writer_loop(writer, frontier, rx, shared, origin))
            .map_err(|e| Error::Closed(format!("cannot start the writer thread: {e}")))?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                info,
                limits: Limits::default(),
                tx: Mutex::new(Some(tx)),
                worker: Mutex::new(Some(worker)),
                reader: Mutex::new(reader),
                committed,
            }),
        })
    }

    /// The log's origin, key name and public key.
    pub fn info(&self) -> &LogInfo {
        &self.inner.info
    }

    /// Number of durable entries.
    pub fn size(&self) -> u64 {
        self.inner.committed.lock().map(|c| c.size).unwrap_or(0)
    }

    /// Tree head over all durable entries.
    pub fn root(&self) -> Hash {
        self.inner
            .committed
            .lock()
            .map(|c| c.root)
            .unwrap_or_else(|_| merkle::empty_root())
    }

    fn send(&self, req: Request) -> Result<(), Error> {
        let tx = lock(&self.inner.tx)?
            .clone()
            .ok_or_else(|| Error::Closed("ledger is closing".into()))?;
        tx.send(req)
            .map_err(|_| Error::Closed("the writer thread has stopped".into()))
    }

    /// Append one JSON event (refused unless it is an object within the RFC 8785 rules);
    /// returns once it is durable.
    pub fn append(&self, event: &[u8]) -> Result<Receipt, Error> {
        let canonical = canonicalize_event(event, &self.inner.limits)?;
        let mut r = self.append_canonical(vec![canonical])?;
        r.pop()
            .ok_or_else(|| Error::Commit("no receipt returned".into()))
    }

    /// Append several events atomically (all or none), in order; returns once durable. If
    /// one is refused, none is appended.
    pub fn append_batch<I, E>(&self, events: I) -> Result<Vec<Receipt>, Error>
    where
        I: IntoIterator<Item = E>,
        E: AsRef<[u8]>,
    {
        let mut entries = Vec::new();
        for (position, e) in events.into_iter().enumerate() {
            entries.push(
                canonicalize_event(e.as_ref(), &self.inner.limits)
                    .map_err(|source| Error::BatchEvent { position, source })?,
            );
        }
        self.append_canonical(entries)
    }

    /// Append entries already in canonical form (checked by the caller with
    /// [`crate::canonicalize_event`]); returns once durable.
    pub fn append_canonical(&self, entries: Vec<Vec<u8>>) -> Result<Vec<Receipt>, Error> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = mpsc::sync_channel(1);
        self.send(Request::Append { entries, reply })?;
        rx.recv()
            .map_err(|_| Error::Closed("the writer thread stopped before committing".into()))?
    }

    /// Append one JSON event per line of `input`, pipelined: a thread reads and canonicalises
    /// lines while the previous batch commits, and each durable batch's receipts go to `ack`
    /// in order (a fast producer gets large transactions, a slow one each line acknowledged at
    /// once). Blank lines are skipped. Returns the number of entries appended.
    ///
    /// A line that is refused (not a canonical-JSON object, or longer than the limit) stops
    /// the stream with [`Error::Line`] after every line before it was committed and
    /// acknowledged; nothing after it is appended.
    pub fn append_stream<R, A>(&self, input: R, mut ack: A) -> Result<u64, Error>
    where
        R: std::io::Read + Send + 'static,
        A: FnMut(&[Receipt]) -> std::io::Result<()>,
    {
        let (tx, rx) = mpsc::sync_channel::<Line>(4 * STREAM_BATCH);
        let limits = self.inner.limits;
        let reader = std::thread::Builder::new()
            .name("vigil-ledger-read".into())
            .spawn(move || read_lines(input, &limits, &tx))
            .map_err(|e| Error::Closed(format!("cannot start the reader thread: {e}")))?;
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(STREAM_BATCH);
        let mut stop: Option<Error> = None;
        let mut appended = 0u64;
        // Block for one line, then take whatever else is already parsed.
        'outer: while let Ok(first) = rx.recv() {
            let mut item = Some(first);
            while let Some(it) = item.take() {
                match it {
                    Line::Entry(e) => batch.push(e),
                    Line::Refused { line, source } => {
                        stop = Some(Error::Line { line, source });
                        break;
                    }
                    Line::Failed(e) => {
                        stop = Some(Error::Input(e));
                        break;
                    }
                }
                if batch.len() >= STREAM_BATCH {
                    break;
                }
                item = rx.try_recv().ok();
            }
            if !batch.is_empty() {
                // Lines before a refused one are committed and acknowledged first.
                let receipts = match self.append_canonical(std::mem::take(&mut batch)) {
                    Ok(r) => r,
                    Err(e) => {
                        stop = Some(e);
                        break 'outer;
                    }
                };
                appended += receipts.len() as u64;
                if let Err(e) = ack(&receipts) {
                    stop = Some(Error::Acknowledge(e));
                    break;
                }
            }
            if stop.is_some() {
                break;
            }
        }
        drop(rx);
        let _ = reader.join();
        match stop {
            Some(e) => Err(e),
            None => Ok(appended),
        }
    }

    /// Sign a checkpoint of the current tree with `signer` (and any co-signers), store it and
    /// return the signed note.
    pub fn checkpoint(&self, signers: &[&NoteSigner]) -> Result<String, Error> {
        let own = self.inner.info.public_key;
        if !signers
            .iter()
            .any(|s| s.verifier().key().to_bytes() == own && s.name() == self.inner.info.key_name)
        {
            return Err(Error::Log {
                path: self.inner.path.clone(),
                reason: format!(
                    "the signing key is not the log's key {}",
                    self.inner.info.key_name
                ),
            });
        }
        let (reply, rx) = mpsc::sync_channel(1);
        self.send(Request::Checkpoint {
            signers: signers.iter().map(|s| (*s).clone()).collect(),
            reply,
        })?;
        rx.recv()
            .map_err(|_| Error::Closed("the writer thread stopped before signing".into()))?
    }

    fn check_size(&self, what: &'static str, value: u64) -> Result<u64, Error> {
        let size = self.size();
        if value > size {
            return Err(Error::OutOfRange { what, value, size });
        }
        Ok(size)
    }

    /// Tree head of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        self.check_size("size", size)?;
        let reader = lock(&self.inner.reader)?;
        merkle::root(&StoreNodes(reader.as_ref()), size)
    }

    /// The canonical entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        let size = self.size();
        if index >= size {
            return Err(Error::OutOfRange {
                what: "index",
                value: index,
                size,
            });
        }
        lock(&self.inner.reader)?.entry(index)
    }

    /// The canonical entries `from..to` (`from <= to <=` size), read in one go.
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, Error> {
        self.check_size("to", to)?;
        if from > to {
            return Err(Error::OutOfRange {
                what: "from",
                value: from,
                size: to,
            });
        }
        lock(&self.inner.reader)?.entries(from, to)
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries (`index < size <=`
    /// current size); O(log n) reads.
    pub fn prove(&self, index: u64, size: u64) -> Result<InclusionProof, Error> {
        self.check_size("size", size)?;
        let reader = lock(&self.inner.reader)?;
        let src = StoreNodes(reader.as_ref());
        let proof = merkle::inclusion_proof(&src, index, size)?;
        Ok(InclusionProof {
            index,
            size,
            leaf_hash: reader.leaf_hash(index)?,
            proof,
            root: merkle::root(&src, size)?,
        })
    }

    /// Consistency proof between the trees of `old` and `new` entries (`0 < old <= new <=`
    /// current size); O(log n) reads.
    pub fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof, Error> {
        self.check_size("new size", new)?;
        let reader = lock(&self.inner.reader)?;
        let src = StoreNodes(reader.as_ref());
        let proof = merkle::consistency_proof(&src, old, new)?;
        Ok(ConsistencyProof {
            old,
            new,
            proof,
            old_root: merkle::root(&src, old)?,
            new_root: merkle::root(&src, new)?,
        })
    }

    /// All stored checkpoints.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, Error> {
        lock(&self.inner.reader)?.checkpoints()
    }

    /// Re-verify the whole log from its entries (see [`audit`]).
    pub fn verify(&self, trusted: &[NoteVerifier]) -> Result<Audit, Error> {
        let reader = lock(&self.inner.reader)?;
        audit(reader.as_ref(), trusted, &[])
    }
}

/// Most entries committed in one transaction by [`Ledger::append_stream`].
const STREAM_BATCH: usize = 32 * 1024;

/// One line read by [`read_lines`].
enum Line {
    Entry(Vec<u8>),
    Refused { line: u64, source: JcsError },
    Failed(std::io::Error),
}

fn read_lines<R: std::io::Read>(input: R, limits: &Limits, tx: &mpsc::SyncSender<Line>) {
    use std::io::{BufRead as _, Read as _};
    let mut input = std::io::BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        line += 1;
        let cap = (limits.max_bytes + 2) as u64;
        match (&mut input).take(cap).read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if n as u64 == cap && buf.last() != Some(&b'\n') {
                    let _ = tx.send(Line::Refused {
                        line,
                        source: JcsError {
                            offset: limits.max_bytes,
                            reason: format!("line is longer than {} bytes", limits.max_bytes),
                        },
                    });
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Line::Failed(e));
                return;
            }
        }
        if buf.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let item = match canonicalize_event(&buf, limits) {
            Ok(c) => Line::Entry(c),
            Err(source) => Line::Refused { line, source },
        };
        let refused = matches!(item, Line::Refused { .. });
        if tx.send(item).is_err() || refused {
            return;
        }
    }
}

fn writer_loop(
    mut store: Box<dyn Store>,
    mut frontier: Frontier,
    rx: mpsc::Receiver<Request>,
    committed: Arc<Mutex<Committed>>,
    origin: String,
) {
    let mut created = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut count = 0usize;
        loop {
            if count >= MAX_GROUP {
                break;
            }
            match rx.try_recv() {
                Ok(r) => {
                    if let Request::Append { entries, .. } = &r {
                        count += entries.len();
                    }
                    group.push(r);
                }
                Err(_) => break,
            }
        }
        // Commit runs of appends as one transaction; checkpoints in their order.
        let mut iter = group.into_iter().peekable();
        while iter.peek().is_some() {
            let mut appends = Vec::new();
            while let Some(Request::Append { .. }) = iter.peek() {
                if let Some(Request::Append { entries, reply }) = iter.next() {
                    appends.push((entries, reply));
                }
            }
            if !appends.is_empty() {
                commit_appends(
                    &mut *store,
                    &mut frontier,
                    &mut created,
                    appends,
                    &committed,
                );
            }
            if let Some(Request::Checkpoint { signers, reply }) = iter.next() {
                let result = sign_checkpoint(&mut *store, &frontier, &origin, &signers);
                let _ = reply.send(result);
            }
        }
    }
}

type AppendReply = (Vec<Vec<u8>>, mpsc::SyncSender<Result<Vec<Receipt>, Error>>);

fn commit_appends(
    store: &mut dyn Store,
    frontier: &mut Frontier,
    created: &mut Vec<(u32, u64, Hash)>,
    appends: Vec<AppendReply>,
    committed: &Mutex<Committed>,
) {
    let backup = frontier.clone();
    let first = frontier.size();
    created.clear();
    let mut leaves = Vec::new();
    let mut receipts: Vec<Vec<Receipt>> = Vec::with_capacity(appends.len());
    let mut replies = Vec::with_capacity(appends.len());
    for (entries, reply) in appends {
        let mut r = Vec::with_capacity(entries.len());
        for data in entries {
            let leaf = leaf_hash(&data);
            r.push(Receipt {
                index: frontier.size(),
                leaf_hash: leaf,
            });
            frontier.push(leaf, created);
            leaves.push((leaf, data));
        }
        receipts.push(r);
        replies.push(reply);
    }
    match store.append(first, &leaves, created) {
        Ok(()) => {
            if let Ok(mut c) = committed.lock() {
                c.size = frontier.size();
                c.root = frontier.root();
            }
            for (reply, r) in replies.into_iter().zip(receipts) {
                let _ = reply.send(Ok(r));
            }
        }
        Err(e) => {
            *frontier = backup;
            let msg = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(Error::Commit(msg.clone())));
            }
        }
    }
}

fn sign_checkpoint(
    store: &mut dyn Store,
    frontier: &Frontier,
    origin: &str,
    signers: &[NoteSigner],
) -> Result<String, Error> {
    let cp = Checkpoint {
        origin: origin.to_string(),
        size: frontier.size(),
        root: frontier.root(),
        extensions: Vec::new(),
    };
    let refs: Vec<&NoteSigner> = signers.iter().collect();
    let note = cp.sign(&refs)?;
    store.add_checkpoint(&StoredCheckpoint {
        id: 0,
        size: cp.size,
        root: cp.root,
        note: note.clone(),
    })?;
    Ok(note)
}

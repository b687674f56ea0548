//! The SQLite store: WAL journal, `synchronous=FULL`, one transaction per group commit.
//!
//! Schema (format `vigil-ledger/1`):
//!
//! ```sql
//! CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
//! CREATE TABLE entries(idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL);
//! CREATE TABLE nodes(id INTEGER PRIMARY KEY, hash BLOB NOT NULL);   -- id = level << 56 | index
//! CREATE TABLE checkpoints(id INTEGER PRIMARY KEY, size INTEGER NOT NULL,
//!                          root BLOB NOT NULL, note TEXT NOT NULL);
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::{Error, IntegrityError};
use crate::merkle::Hash;
use crate::store::{EntryVisitor, LogInfo, NodeRow, Store, StoredCheckpoint};

const FORMAT: &str = "vigil-ledger/1";
const MAX_LEVEL: u32 = 63;

/// A log kept in one SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

fn corrupt(what: String) -> Error {
    Error::Integrity(IntegrityError::Corrupt(what))
}

/// A database error. A stored value of the wrong type (an edited row) is an integrity failure,
/// not an I/O error: the log was altered.
fn store_err(path: &Path, source: rusqlite::Error) -> Error {
    match &source {
        rusqlite::Error::InvalidColumnType(_, name, ty) => {
            return corrupt(format!(
                "stored column {name} holds a {ty}, not the type the log writes"
            ));
        }
        rusqlite::Error::FromSqlConversionFailure(_, ty, e) => {
            return corrupt(format!("a stored {ty} value is invalid: {e}"));
        }
        rusqlite::Error::IntegralValueOutOfRange(_, v) => {
            return corrupt(format!("stored integer {v} is out of range"));
        }
        _ => {}
    }
    Error::Store {
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

fn node_id(level: u32, index: u64) -> Option<i64> {
    if level == 0 || level > MAX_LEVEL || index >= (1u64 << 56) || level >= 128 {
        return None;
    }
    i64::try_from((u64::from(level) << 56) | index).ok()
}

fn to_i64(v: u64) -> Result<i64, Error> {
    i64::try_from(v).map_err(|_| corrupt(format!("value {v} does not fit the store")))
}

fn to_hash(bytes: Vec<u8>, what: &str) -> Result<Hash, Error> {
    bytes
        .try_into()
        .map_err(|_| corrupt(format!("{what}: stored hash is not 32 bytes")))
}

impl SqliteStore {
    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        |source| store_err(&self.path, source)
    }

    fn configure(conn: &Connection, path: &Path) -> Result<(), Error> {
        let e = |source| store_err(path, source);
        conn.busy_timeout(Duration::from_secs(10)).map_err(e)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(e)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Log {
                path: path.to_path_buf(),
                reason: format!("cannot use WAL journal (got {mode})"),
            });
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(e)?;
        Ok(())
    }

    /// Create a new, empty log database; refuses an existing file.
    pub fn create(path: &Path, info: &LogInfo) -> Result<Self, Error> {
        if path.exists() {
            return Err(Error::Log {
                path: path.to_path_buf(),
                reason: "already exists".into(),
            });
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| store_err(path, source))?;
        Self::configure(&conn, path)?;
        let e = |source| store_err(path, source);
        let tx = conn.transaction().map_err(e)?;
        tx.execute_batch(
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE entries(idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL);
             CREATE TABLE nodes(id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
             CREATE TABLE checkpoints(id INTEGER PRIMARY KEY, size INTEGER NOT NULL,
                                      root BLOB NOT NULL, note TEXT NOT NULL);",
        )
        .map_err(e)?;
        for (k, v) in [
            ("format", FORMAT.as_bytes()),
            ("origin", info.origin.as_bytes()),
            ("key_name", info.key_name.as_bytes()),
            ("public_key", &info.public_key[..]),
        ] {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Open an existing log database (no integrity check: see [`crate::audit`]).
    pub fn open(path: &Path) -> Result<Self, Error> {
        if !path.is_file() {
            return Err(Error::Log {
                path: path.to_path_buf(),
                reason: "no such log database".into(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| store_err(path, source))?;
        Self::configure(&conn, path)?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        let format = store.meta("format")?;
        if format.as_deref() != Some(FORMAT.as_bytes()) {
            return Err(Error::Log {
                path: path.to_path_buf(),
                reason: format!("not a {FORMAT} database"),
            });
        }
        Ok(store)
    }

    /// Open a log database for reading only: nothing is written to it or its folder, so a
    /// read-only copy in a read-only folder can be verified, and a file that is not a ledger
    /// (an empty file, say) is refused without being turned into a database.
    ///
    /// Without a write-ahead log beside it the file is opened `immutable` (SQLite reads it as a
    /// plain file: no lock, no `-shm`); with one, it is opened read-only so that the entries the
    /// `-wal` file holds are read too.
    pub fn open_read_only(path: &Path) -> Result<Self, Error> {
        let not_ledger = |reason: &str| Error::Log {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(|_| not_ledger("no such log database"))?;
        if !meta.is_file() {
            return Err(not_ledger("not a regular file"));
        }
        if meta.len() == 0 {
            return Err(not_ledger(&format!("empty file, not a {FORMAT} database")));
        }
        let mut wal = path.as_os_str().to_os_string();
        wal.push("-wal");
        let has_wal = std::fs::metadata(&wal)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        let conn = if has_wal {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else {
            Connection::open_with_flags(
                immutable_uri(path),
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        }
        .map_err(|source| store_err(path, source))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|source| store_err(path, source))?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        let format = store.meta("format").map_err(|e| match e {
            // A file that is not SQLite at all.
            Error::Store { .. } => not_ledger(&format!("not a {FORMAT} database")),
            other => other,
        })?;
        if format.as_deref() != Some(FORMAT.as_bytes()) {
            return Err(not_ledger(&format!("not a {FORMAT} database")));
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                // An edited row may hold text or a number: read the bytes of text, and let a
                // number fail as an integrity error (see `store_err`).
                match r.get_ref(0)? {
                    rusqlite::types::ValueRef::Text(t) => Ok(t.to_vec()),
                    _ => r.get(0),
                }
            })
            .optional()
            .or_else(|e| match e {
                // A file without our tables is "not a vigil ledger", not an I/O error.
                rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => {
                    Ok(None)
                }
                other => Err(other),
            })
            .map_err(self.err())
    }
}

/// `file:PATH?immutable=1`, with the path percent-encoded as RFC 3986 and SQLite's URI rules
/// ask (only unreserved characters and `/` stay as they are).
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

impl Store for SqliteStore {
    fn info(&self) -> Result<LogInfo, Error> {
        let get = |k: &str| -> Result<Vec<u8>, Error> {
            self.meta(k)?
                .ok_or_else(|| corrupt(format!("meta {k} is missing")))
        };
        let text = |k: &str| -> Result<String, Error> {
            String::from_utf8(get(k)?).map_err(|_| corrupt(format!("meta {k} is not UTF-8")))
        };
        let public_key: [u8; 32] = get("public_key")?
            .try_into()
            .map_err(|_| corrupt("meta public_key is not 32 bytes".into()))?;
        Ok(LogInfo {
            origin: text("origin")?,
            key_name: text("key_name")?,
            public_key,
        })
    }

    fn size(&self) -> Result<u64, Error> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(idx) FROM entries", [], |r| r.get(0))
            .map_err(self.err())?;
        match max {
            None => Ok(0),
            Some(m) => u64::try_from(m)
                .map(|m| m + 1)
                .map_err(|_| corrupt(format!("negative entry index {m}"))),
        }
    }

    fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        let mut st = self
            .conn
            .prepare_cached("SELECT data FROM entries WHERE idx = ?1")
            .map_err(self.err())?;
        st.query_row([to_i64(index)?], |r| r.get(0))
            .optional()
            .map_err(self.err())?
            .ok_or_else(|| corrupt(format!("entry {index} is missing")))
    }

    fn entries(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, Error> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT idx, data FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(self.err())?;
        let mut rows = st.query([to_i64(from)?, to_i64(to)?]).map_err(self.err())?;
        let mut out = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
        let mut want = from;
        while let Some(row) = rows.next().map_err(self.err())? {
            let idx: i64 = row.get(0).map_err(self.err())?;
            if u64::try_from(idx).ok() != Some(want) {
                return Err(corrupt(format!("entry {want} is missing")));
            }
            out.push(row.get(1).map_err(self.err())?);
            want += 1;
        }
        if want < to {
            return Err(corrupt(format!("entry {want} is missing")));
        }
        Ok(out)
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash, Error> {
        let mut st = self
            .conn
            .prepare_cached("SELECT leaf_hash FROM entries WHERE idx = ?1")
            .map_err(self.err())?;
        let h: Vec<u8> = st
            .query_row([to_i64(index)?], |r| r.get(0))
            .optional()
            .map_err(self.err())?
            .ok_or_else(|| corrupt(format!("entry {index} is missing")))?;
        to_hash(h, &format!("leaf {index}"))
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, Error> {
        let id = node_id(level, index)
            .ok_or_else(|| corrupt(format!("subtree level {level} index {index} out of range")))?;
        let mut st = self
            .conn
            .prepare_cached("SELECT hash FROM nodes WHERE id = ?1")
            .map_err(self.err())?;
        let h: Vec<u8> = st
            .query_row([id], |r| r.get(0))
            .optional()
            .map_err(self.err())?
            .ok_or_else(|| {
                corrupt(format!(
                    "subtree hash at level {level} index {index} is missing"
                ))
            })?;
        to_hash(h, &format!("subtree level {level} index {index}"))
    }

    fn node_count(&self) -> Result<u64, Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM nodes", [], |r| r.get(0))
            .map_err(self.err())?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn scan(&self, f: &mut EntryVisitor<'_>) -> Result<(), Error> {
        self.scan_from(0, f)
    }

    fn scan_from(&self, from: u64, f: &mut EntryVisitor<'_>) -> Result<(), Error> {
        let mut st = self
            .conn
            .prepare("SELECT idx, data, leaf_hash FROM entries WHERE idx >= ?1 ORDER BY idx")
            .map_err(self.err())?;
        let mut rows = st.query([to_i64(from)?]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let idx: i64 = row.get(0).map_err(self.err())?;
            let idx =
                u64::try_from(idx).map_err(|_| corrupt(format!("negative entry index {idx}")))?;
            let data = row.get_ref(1).map_err(self.err())?;
            let data = match data {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
                _ => return Err(corrupt(format!("entry {idx} is not a blob"))),
            };
            let leaf: Vec<u8> = row.get(2).map_err(self.err())?;
            let leaf = to_hash(leaf, &format!("leaf {idx}"))?;
            f(idx, data, &leaf)?;
        }
        Ok(())
    }

    fn append(
        &mut self,
        first: u64,
        leaves: &[(Hash, Vec<u8>)],
        nodes: &[NodeRow],
    ) -> Result<(), Error> {
        let path = self.path.clone();
        let e = |source| store_err(&path, source);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        let max: Option<i64> = tx
            .query_row("SELECT MAX(idx) FROM entries", [], |r| r.get(0))
            .map_err(e)?;
        let size = max.map_or(0, |m| m.saturating_add(1));
        if size != to_i64(first)? {
            return Err(Error::Commit(format!(
                "log has {size} entries but this writer expected {first}: another process wrote to it"
            )));
        }
        {
            let mut ins = tx
                .prepare_cached("INSERT INTO entries(idx, leaf_hash, data) VALUES (?1, ?2, ?3)")
                .map_err(e)?;
            for (i, (leaf, data)) in leaves.iter().enumerate() {
                ins.execute(params![to_i64(first + i as u64)?, &leaf[..], data])
                    .map_err(e)?;
            }
            let mut ins = tx
                .prepare_cached("INSERT INTO nodes(id, hash) VALUES (?1, ?2)")
                .map_err(e)?;
            for (level, index, hash) in nodes {
                let id = node_id(*level, *index).ok_or_else(|| {
                    Error::Commit(format!("subtree level {level} index {index} out of range"))
                })?;
                ins.execute(params![id, &hash[..]]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    fn begin_snapshot(&self) -> Result<(), Error> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(self.err())
    }

    fn end_snapshot(&self) -> Result<(), Error> {
        self.conn.execute_batch("COMMIT").map_err(self.err())
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, Error> {
        let mut st = self
            .conn
            .prepare("SELECT id, size, root, note FROM checkpoints ORDER BY id")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, size, root, note) = row.map_err(self.err())?;
            let id = u64::try_from(id).unwrap_or(0);
            out.push(StoredCheckpoint {
                id,
                size: u64::try_from(size)
                    .map_err(|_| corrupt(format!("checkpoint #{id} has negative size {size}")))?,
                root: to_hash(root, &format!("checkpoint #{id}"))?,
                note,
            });
        }
        Ok(out)
    }

    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO checkpoints(size, root, note) VALUES (?1, ?2, ?3)",
                params![to_i64(cp.size)?, &cp.root[..], cp.note],
            )
            .map_err(self.err())?;
        Ok(())
    }
}

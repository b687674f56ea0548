//! The fleet store: PostgreSQL, shared by several collector processes.
//!
//! The schema is the SQLite store's (see [`crate::SqliteStore`]) with PostgreSQL types
//! (`BIGINT`, `BYTEA`, `BOOLEAN`, `DOUBLE PRECISION`), except for the entries: PostgreSQL
//! keeps them in **entry bundles** of up to 256 consecutive entries of one
//! device, one row each, as the C2SP `tlog-tiles` specification keeps a log's entries:
//!
//! ```sql
//! CREATE TABLE vc_entry_bundles(device TEXT NOT NULL, start BIGINT NOT NULL,
//!     count INTEGER NOT NULL, entries BYTEA NOT NULL, leaf_hashes BYTEA NOT NULL,
//!     PRIMARY KEY(device, start));
//! ```
//!
//! `entries` holds the bundle's `count` entries in index order, each as its length (4 bytes,
//! big-endian) and then its exact bytes; `leaf_hashes` their `count` 32-byte leaf hashes;
//! the bundle holds indices `start..start + count`, and a device's bundles follow each other
//! with no gap or overlap (reading checks it: anything else is [`StoreError::Corrupt`]).
//! `entries` is compressed with LZ4 where the server supports it (else stored uncompressed):
//! a push of 20,000 entries is about 80 bundles instead of 20,000 rows and index entries,
//! which is what lets the collector store entries faster than PostgreSQL inserts rows.
//! A database made before bundles (one `vc_entries` row per entry) is converted at start.
//!
//! Migrations run at start under a
//! session advisory lock, so collectors started at once on an empty database all come up. Each
//! push is one transaction holding a transaction-level advisory lock on its device, so pushes of
//! one device are serialised across processes (even its first push, before it has a row); a
//! collector killed mid-push leaves its transaction rolled back, never half a push.

use std::sync::{Condvar, Mutex};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::{Client, NoTls, Transaction};

use crate::store::{
    accepted_from_row, drift_detail, entry_alarms, fork_detail, to_hash, to_i64, to_u64, AlarmKind,
    AlarmRow, Change, CheckpointRow, CollectorStore, DeviceRow, DriftPoint, EntryRow, PushView,
    StoreError,
};
use crate::witness::Accepted;
use vigil_ledger::Hash;

/// The advisory lock key that serialises migrations ("vigil" in ASCII).
const MIGRATION_LOCK: i64 = 0x7669_6769_6c00;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vc_devices(id TEXT PRIMARY KEY, model TEXT, version TEXT,
    size BIGINT NOT NULL, root BYTEA NOT NULL, frontier BYTEA NOT NULL, note TEXT NOT NULL,
    accepted_at BIGINT, last_seen BIGINT);
CREATE TABLE IF NOT EXISTS vc_checkpoints(id BIGSERIAL PRIMARY KEY, device TEXT NOT NULL,
    size BIGINT NOT NULL, root BYTEA NOT NULL, note TEXT NOT NULL, time BIGINT NOT NULL,
    accepted BOOLEAN NOT NULL);
CREATE INDEX IF NOT EXISTS vc_checkpoints_device ON vc_checkpoints(device, id);
DO $$ BEGIN
  IF to_regclass('vc_entry_bundles') IS NULL THEN
    CREATE TABLE vc_entry_bundles(device TEXT NOT NULL, start BIGINT NOT NULL,
      count INTEGER NOT NULL, entries BYTEA NOT NULL, leaf_hashes BYTEA NOT NULL,
      PRIMARY KEY(device, start));
    -- Hashes do not compress: kept out of line as they are.
    ALTER TABLE vc_entry_bundles ALTER COLUMN leaf_hashes SET STORAGE EXTERNAL;
    BEGIN
      EXECUTE 'ALTER TABLE vc_entry_bundles ALTER COLUMN entries SET COMPRESSION lz4';
    EXCEPTION WHEN OTHERS THEN
      -- A server built without LZ4 (or older than 14): uncompressed, which is faster than pglz.
      ALTER TABLE vc_entry_bundles ALTER COLUMN entries SET STORAGE EXTERNAL;
    END;
  END IF;
  -- A database from before entry bundles: one row per entry, converted once.
  IF to_regclass('vc_entries') IS NOT NULL THEN
    INSERT INTO vc_entry_bundles(device, start, count, entries, leaf_hashes)
      SELECT device, min(idx), count(*)::INTEGER,
             string_agg(int4send(length(entry)) || entry, ''::BYTEA ORDER BY idx),
             string_agg(leaf_hash, ''::BYTEA ORDER BY idx)
      -- Bundles of BUNDLE_ENTRIES (256) entries, as pushes write them (a test checks it).
      FROM vc_entries GROUP BY device, idx / 256;
    DROP TABLE vc_entries;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS vc_alarms(id BIGSERIAL PRIMARY KEY, device TEXT NOT NULL,
    kind TEXT NOT NULL, time BIGINT NOT NULL, open BOOLEAN NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vc_drift(id BIGSERIAL PRIMARY KEY, device TEXT NOT NULL,
    feature TEXT NOT NULL, test TEXT NOT NULL, statistic DOUBLE PRECISION NOT NULL,
    p_value DOUBLE PRECISION, drift BOOLEAN NOT NULL, time BIGINT NOT NULL);
";

/// A collector store in a PostgreSQL database, with a small pool of connections.
pub struct PostgresStore {
    url: String,
    idle: Mutex<Vec<Client>>,
    open: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the URL: it may hold a password.
        f.debug_struct("PostgresStore")
            .field("max", &self.max)
            .finish()
    }
}

fn db(e: postgres::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl Drop for PostgresStore {
    /// The synchronous client closes its connection by blocking on its own runtime, which
    /// panics on a Tokio worker (the server drops the store there at shutdown): inside a
    /// runtime, the idle connections are closed on a plain thread instead.
    fn drop(&mut self) {
        let idle = match self.idle.get_mut() {
            Ok(idle) => std::mem::take(idle),
            Err(poisoned) => std::mem::take(poisoned.into_inner()),
        };
        if idle.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            // Not dropped here even if the thread cannot be made (the closure is dropped then).
            let idle = std::mem::ManuallyDrop::new(idle);
            let closer = std::thread::Builder::new()
                .name("vc-pg-close".into())
                .spawn(move || drop(std::mem::ManuallyDrop::into_inner(idle)));
            if let Err(e) = closer {
                // No thread: leak the connections rather than panic; the server closes them
                // when this process ends.
                tracing::warn!(error = %e, "cannot close PostgreSQL connections");
            }
        }
    }
}

/// A connection borrowed from the pool; returned when dropped (unless it broke).
struct Pooled<'a> {
    store: &'a PostgresStore,
    client: Option<Client>,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if client.is_closed() {
                if let Ok(mut open) = self.store.open.lock() {
                    *open = open.saturating_sub(1);
                }
            } else if let Ok(mut idle) = self.store.idle.lock() {
                idle.push(client);
            }
            self.store.freed.notify_one();
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`), keeping at most `max`
    /// connections, and runs the migrations under an advisory lock.
    pub fn connect(url: &str, max: usize) -> Result<PostgresStore, StoreError> {
        let store = PostgresStore {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
            open: Mutex::new(0),
            freed: Condvar::new(),
            max: max.max(1),
        };
        let mut conn = store.get()?;
        let client = conn.client()?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .map_err(db)?;
        let migrated = client.batch_execute(SCHEMA).map_err(db);
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .map_err(db);
        migrated?;
        unlocked?;
        drop(conn);
        Ok(store)
    }

    fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let poisoned = || StoreError::Database("a thread panicked holding the pool".into());
        loop {
            if let Some(client) = self.idle.lock().map_err(|_| poisoned())?.pop() {
                return Ok(Pooled {
                    store: self,
                    client: Some(client),
                });
            }
            let mut open = self.open.lock().map_err(|_| poisoned())?;
            if *open < self.max {
                *open += 1;
                drop(open);
                return match Client::connect(&self.url, NoTls) {
                    Ok(client) => Ok(Pooled {
                        store: self,
                        client: Some(client),
                    }),
                    Err(e) => {
                        if let Ok(mut open) = self.open.lock() {
                            *open = open.saturating_sub(1);
                        }
                        Err(StoreError::Database(format!("connecting: {e}")))
                    }
                };
            }
            // Wait for a connection to come back, then look again.
            let _unused = self
                .freed
                .wait_timeout(open, std::time::Duration::from_millis(50))
                .map_err(|_| poisoned())?;
        }
    }
}

impl PostgresStore {
    /// Calls `each(start, count, entries, leaf_hashes)` for the device's bundles from the one
    /// holding `from` (the last starting at or before it) to the last starting before `to`, in
    /// order, and returns the device's stored size (or, for entries of a device without a
    /// row, the end of its last bundle), all in one statement, so one snapshot. `entries` is
    /// empty unless `with_entries` (the column is then never decompressed).
    fn read_bundles(
        &self,
        device: &str,
        from: u64,
        to: u64,
        with_entries: bool,
        mut each: impl FnMut(u64, usize, &[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        if from >= to {
            return Ok(0);
        }
        let (from_i, to_i) = (to_i64(from)?, to_i64(to)?);
        let rows = self
            .get()?
            .client()?
            .query(
                "SELECT s.stored, b.start, b.count,
                        CASE WHEN $4 THEN b.entries ELSE ''::BYTEA END, b.leaf_hashes
                 FROM (SELECT COALESCE((SELECT size FROM vc_devices WHERE id = $1),
                         (SELECT max(start + count) FROM vc_entry_bundles WHERE device = $1),
                         0) AS stored) s
                 LEFT JOIN vc_entry_bundles b ON b.device = $1 AND b.start < $3
                   AND b.start >= COALESCE(
                     (SELECT max(start) FROM vc_entry_bundles WHERE device = $1 AND start <= $2), 0)
                 ORDER BY b.start",
                &[&device, &from_i, &to_i, &with_entries],
            )
            .map_err(db)?;
        let mut stored = 0u64;
        for r in &rows {
            stored = to_u64(r.try_get(0).map_err(db)?, "device size")?;
            let Some(start) = r.try_get::<_, Option<i64>>(1).map_err(db)? else {
                continue;
            };
            let start = to_u64(start, "bundle start")?;
            let count: i32 = r.try_get(2).map_err(db)?;
            let count = usize::try_from(count)
                .map_err(|_| StoreError::Corrupt(format!("bundle at {start}: count {count}")))?;
            each(
                start,
                count,
                r.try_get(3).map_err(db)?,
                r.try_get(4).map_err(db)?,
            )?;
        }
        Ok(stored)
    }
}

impl Pooled<'_> {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Database("connection already returned".into()))
    }
}

struct View<'a, 'b> {
    tx: std::cell::RefCell<&'a mut Transaction<'b>>,
    device: &'a str,
    accepted: Option<Accepted>,
}

impl PushView for View<'_, '_> {
    fn accepted(&self) -> Option<&Accepted> {
        self.accepted.as_ref()
    }

    fn accepted_before(&self, note: &str) -> bool {
        let Ok(mut tx) = self.tx.try_borrow_mut() else {
            return false;
        };
        tx.query_opt(
            "SELECT 1 FROM vc_checkpoints WHERE device = $1 AND accepted AND note = $2 LIMIT 1",
            &[&self.device, &note],
        )
        .ok()
        .flatten()
        .is_some()
    }
}

fn read_accepted(tx: &mut Transaction<'_>, device: &str) -> Result<Option<Accepted>, StoreError> {
    let Some(row) = tx
        .query_opt(
            "SELECT size, root, frontier, note FROM vc_devices WHERE id = $1",
            &[&device],
        )
        .map_err(db)?
    else {
        return Ok(None);
    };
    let size: i64 = row.try_get(0).map_err(db)?;
    let root: Vec<u8> = row.try_get(1).map_err(db)?;
    let frontier: Vec<u8> = row.try_get(2).map_err(db)?;
    let note: String = row.try_get(3).map_err(db)?;
    accepted_from_row(device, size, &root, &frontier, note).map(Some)
}

impl CollectorStore for PostgresStore {
    fn push<'a>(
        &self,
        device: &str,
        model: Option<(&str, &str)>,
        now: u64,
        decide: &mut dyn FnMut(&dyn PushView) -> Change<'a>,
    ) -> Result<(), StoreError> {
        let now_i = to_i64(now)?;
        let mut conn = self.get()?;
        let client = conn.client()?;
        let mut tx = client.transaction().map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&device])
            .map_err(db)?;
        let accepted = read_accepted(&mut tx, device)?;
        let change = {
            let view = View {
                tx: std::cell::RefCell::new(&mut tx),
                device,
                accepted,
            };
            decide(&view)
        };
        let (name, version) = (model.map(|m| m.0), model.map(|m| m.1));
        match change {
            Change::Extend {
                accepted,
                first,
                entries,
                leaves,
            } => {
                if entries.len() != leaves.len() {
                    return Err(StoreError::Database(format!(
                        "{} entries but {} leaf hashes",
                        entries.len(),
                        leaves.len()
                    )));
                }
                for (kind, detail) in entry_alarms(first, entries) {
                    tx.execute(
                        "INSERT INTO vc_alarms(device, kind, time, open, detail) VALUES ($1, $2, $3, TRUE, $4)",
                        &[&device, &kind.code(), &now_i, &detail],
                    )
                    .map_err(db)?;
                }
                // The new entries in bundles, with one binary COPY inside the push's transaction:
                // no statement per row, no array to build; a failure rolls the push back.
                let sink = tx
                    .copy_in(
                        "COPY vc_entry_bundles(device, start, count, entries, leaf_hashes) FROM STDIN (FORMAT binary)",
                    )
                    .map_err(db)?;
                let mut writer = BinaryCopyInWriter::new(
                    sink,
                    &[Type::TEXT, Type::INT8, Type::INT4, Type::BYTEA, Type::BYTEA],
                );
                let mut at = 0usize;
                for bundle in bundles(entries) {
                    let (start, count) = (to_i64(first + at as u64)?, bundle.count);
                    let hashes = leaves.get(at..at + count).unwrap_or_default().concat();
                    let n = i32::try_from(count)
                        .map_err(|_| StoreError::Database("bundle too large".into()))?;
                    writer
                        .write(&[
                            &device,
                            &start,
                            &n,
                            &bundle.bytes.as_slice(),
                            &hashes.as_slice(),
                        ])
                        .map_err(db)?;
                    at += count;
                }
                writer.finish().map_err(db)?;
                let frontier: Vec<u8> = accepted.frontier.hashes().concat();
                let size = to_i64(accepted.size)?;
                let root = accepted.root.to_vec();
                tx.execute(
                    "INSERT INTO vc_devices(id, model, version, size, root, frontier, note, accepted_at, last_seen)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                     ON CONFLICT(id) DO UPDATE SET model = COALESCE(EXCLUDED.model, vc_devices.model),
                       version = COALESCE(EXCLUDED.version, vc_devices.version), size = EXCLUDED.size,
                       root = EXCLUDED.root, frontier = EXCLUDED.frontier, note = EXCLUDED.note,
                       accepted_at = EXCLUDED.accepted_at, last_seen = EXCLUDED.last_seen",
                    &[&device, &name, &version, &size, &root, &frontier, &accepted.note, &now_i],
                )
                .map_err(db)?;
                tx.execute(
                    "INSERT INTO vc_checkpoints(device, size, root, note, time, accepted) VALUES ($1, $2, $3, $4, $5, TRUE)",
                    &[&device, &size, &root, &accepted.note, &now_i],
                )
                .map_err(db)?;
            }
            Change::Nothing => {}
            Change::Seen => {
                tx.execute(
                    "UPDATE vc_devices SET last_seen = $2, model = COALESCE($3, model), version = COALESCE($4, version) WHERE id = $1",
                    &[&device, &now_i, &name, &version],
                )
                .map_err(db)?;
            }
            Change::Fork {
                kind,
                note,
                size,
                root,
            } => {
                let size_i = to_i64(size)?;
                tx.execute(
                    "INSERT INTO vc_checkpoints(device, size, root, note, time, accepted) VALUES ($1, $2, $3, $4, $5, FALSE)",
                    &[&device, &size_i, &root.to_vec(), &note, &now_i],
                )
                .map_err(db)?;
                let detail = fork_detail(kind, size);
                tx.execute(
                    "INSERT INTO vc_alarms(device, kind, time, open, detail) VALUES ($1, 'fork', $2, TRUE, $3)",
                    &[&device, &now_i, &detail],
                )
                .map_err(db)?;
                tx.execute(
                    "UPDATE vc_devices SET last_seen = $2 WHERE id = $1",
                    &[&device, &now_i],
                )
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn add_drift(&self, points: &[DriftPoint]) -> Result<(), StoreError> {
        let mut conn = self.get()?;
        let mut tx = conn.client()?.transaction().map_err(db)?;
        for p in points {
            let time = to_i64(p.time)?;
            tx.execute(
                "INSERT INTO vc_drift(device, feature, test, statistic, p_value, drift, time) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&p.device, &p.feature, &p.test, &p.statistic, &p.p_value, &p.drift, &time],
            )
            .map_err(db)?;
            if p.drift {
                let detail = drift_detail(p);
                tx.execute(
                    "INSERT INTO vc_alarms(device, kind, time, open, detail) VALUES ($1, 'drift', $2, TRUE, $3)",
                    &[&p.device, &time, &detail],
                )
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn add_alarm(
        &self,
        device: &str,
        kind: AlarmKind,
        time: u64,
        detail: &str,
    ) -> Result<(), StoreError> {
        let time = to_i64(time)?;
        self.get()?
            .client()?
            .execute(
                "INSERT INTO vc_alarms(device, kind, time, open, detail) VALUES ($1, $2, $3, TRUE, $4)",
                &[&device, &kind.code(), &time, &detail],
            )
            .map_err(db)?;
        Ok(())
    }

    fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        let rows = self
            .get()?
            .client()?
            .query(
                "SELECT d.id, d.model, d.version, d.size, d.root, d.accepted_at, d.last_seen,
                        (SELECT COUNT(*) FROM vc_alarms a WHERE a.device = d.id AND a.open)
                 FROM vc_devices d ORDER BY d.id",
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let root: Vec<u8> = r.try_get(4).map_err(db)?;
                Ok(DeviceRow {
                    id: r.try_get(0).map_err(db)?,
                    model: r.try_get(1).map_err(db)?,
                    version: r.try_get(2).map_err(db)?,
                    size: to_u64(r.try_get(3).map_err(db)?, "device size")?,
                    root: hex::encode(root),
                    last_checkpoint_time: r
                        .try_get::<_, Option<i64>>(5)
                        .map_err(db)?
                        .and_then(|t| u64::try_from(t).ok()),
                    last_seen: r
                        .try_get::<_, Option<i64>>(6)
                        .map_err(db)?
                        .and_then(|t| u64::try_from(t).ok()),
                    open_alarms: to_u64(r.try_get(7).map_err(db)?, "alarm count")?,
                })
            })
            .collect()
    }

    fn accepted_head(&self, device: &str) -> Result<Option<(u64, Hash)>, StoreError> {
        let row = self
            .get()?
            .client()?
            .query_opt(
                "SELECT size, root FROM vc_devices WHERE id = $1",
                &[&device],
            )
            .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let root: Vec<u8> = row.try_get(1).map_err(db)?;
        Ok(Some((
            to_u64(row.try_get(0).map_err(db)?, "device size")?,
            to_hash(&root, "device root")?,
        )))
    }

    fn close_alarm(&self, id: u64) -> Result<bool, StoreError> {
        let n = self
            .get()?
            .client()?
            .execute(
                "UPDATE vc_alarms SET open = FALSE WHERE id = $1",
                &[&to_i64(id)?],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn checkpoints(&self, device: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        let rows = self
            .get()?
            .client()?
            .query(
                "SELECT size, root, time, accepted, note FROM vc_checkpoints WHERE device = $1 ORDER BY id",
                &[&device],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let root: Vec<u8> = r.try_get(1).map_err(db)?;
                Ok(CheckpointRow {
                    size: to_u64(r.try_get(0).map_err(db)?, "checkpoint size")?,
                    root: hex::encode(root),
                    time: to_u64(r.try_get(2).map_err(db)?, "checkpoint time")?,
                    accepted: r.try_get(3).map_err(db)?,
                    note: r.try_get(4).map_err(db)?,
                })
            })
            .collect()
    }

    fn entries(&self, device: &str, from: u64, to: u64) -> Result<Vec<EntryRow>, StoreError> {
        let mut out = Vec::new();
        let stored =
            self.read_bundles(device, from, to, true, |start, count, entries, leaves| {
                out.extend(
                    unbundle(start, count, entries, leaves)?
                        .into_iter()
                        .filter(|e| e.index >= from && e.index < to),
                );
                Ok(())
            })?;
        whole(device, from, to.min(stored), out.iter().map(|e| e.index))?;
        Ok(out)
    }

    fn leaf_hashes(&self, device: &str, size: u64) -> Result<Vec<Hash>, StoreError> {
        let mut out: Vec<(u64, Hash)> = Vec::new();
        let stored = self.read_bundles(device, 0, size, false, |start, count, _, leaves| {
            out.extend(
                (start..)
                    .zip(bundle_leaves(start, count, leaves)?)
                    .filter(|&(index, _)| index < size),
            );
            Ok(())
        })?;
        if stored < size {
            return Err(StoreError::Corrupt(format!(
                "device {device}: {size} leaf hashes asked for, {stored} entries stored"
            )));
        }
        whole(device, 0, size, out.iter().map(|&(index, _)| index))?;
        Ok(out.into_iter().map(|(_, leaf)| leaf).collect())
    }

    fn alarms(&self, since: u64) -> Result<Vec<AlarmRow>, StoreError> {
        let since = to_i64(since)?;
        let rows = self
            .get()?
            .client()?
            .query(
                "SELECT id, device, kind, time, open, detail FROM vc_alarms WHERE time >= $1 ORDER BY time DESC, id DESC",
                &[&since],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(2).map_err(db)?;
                Ok(AlarmRow {
                    id: to_u64(r.try_get(0).map_err(db)?, "alarm id")?,
                    device: r.try_get(1).map_err(db)?,
                    kind: AlarmKind::from_code(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("alarm kind {kind:?}")))?,
                    time: to_u64(r.try_get(3).map_err(db)?, "alarm time")?,
                    open: r.try_get(4).map_err(db)?,
                    detail: r.try_get(5).map_err(db)?,
                })
            })
            .collect()
    }

    fn drift(
        &self,
        device: Option<&str>,
        feature: Option<&str>,
    ) -> Result<Vec<DriftPoint>, StoreError> {
        let rows = self
            .get()?
            .client()?
            .query(
                "SELECT device, feature, test, statistic, p_value, drift, time FROM vc_drift
                 WHERE ($1::TEXT IS NULL OR device = $1) AND ($2::TEXT IS NULL OR feature = $2)
                 ORDER BY time, id",
                &[&device, &feature],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(DriftPoint {
                    device: r.try_get(0).map_err(db)?,
                    feature: r.try_get(1).map_err(db)?,
                    test: r.try_get(2).map_err(db)?,
                    statistic: r.try_get(3).map_err(db)?,
                    p_value: r.try_get(4).map_err(db)?,
                    drift: r.try_get(5).map_err(db)?,
                    time: to_u64(r.try_get(6).map_err(db)?, "drift time")?,
                })
            })
            .collect()
    }
}

/// Checks that a read of a device's entries got exactly the indices `from..end` in order: a gap
/// or an overlap between bundles, or bundles missing below the stored size, is a corrupt store,
/// never a short read.
fn whole(
    device: &str,
    from: u64,
    end: u64,
    indices: impl ExactSizeIterator<Item = u64>,
) -> Result<(), StoreError> {
    let end = end.max(from);
    let mut indices = indices;
    if indices.len() as u64 == end - from && indices.by_ref().zip(from..).all(|(i, want)| i == want)
    {
        return Ok(());
    }
    Err(StoreError::Corrupt(format!(
        "device {device}: stored entries {from}..{end} are not all in its entry bundles once"
    )))
}

/// Most entries in one bundle (as `tlog-tiles` entry bundles).
pub(crate) const BUNDLE_ENTRIES: usize = 256;

/// A bundle is closed early once its entries pass this many bytes.
const BUNDLE_BYTES: usize = 1 << 20;

/// One entry bundle's `entries` column and how many entries it holds.
#[derive(Debug, PartialEq, Eq)]
struct Bundle {
    count: usize,
    bytes: Vec<u8>,
}

/// Cuts `entries` into bundles (see the module documentation): at most [`BUNDLE_ENTRIES`]
/// entries, closed after the entry that passes [`BUNDLE_BYTES`].
fn bundles(entries: &[Vec<u8>]) -> impl Iterator<Item = Bundle> + '_ {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut count = 0;
        let mut size = 0;
        for e in rest.iter().take(BUNDLE_ENTRIES) {
            count += 1;
            size += 4 + e.len();
            if size >= BUNDLE_BYTES {
                break;
            }
        }
        let (now, later) = rest.split_at(count.min(rest.len()));
        rest = later;
        let mut bytes = Vec::with_capacity(size);
        for e in now {
            // An entry is at most a push body (far below 4 GiB).
            let len = u32::try_from(e.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(e);
        }
        Some(Bundle { count, bytes })
    })
}

/// The `count` leaf hashes of the bundle at `start`, from its `leaf_hashes` column; anything
/// but `count` whole hashes is corrupt.
fn bundle_leaves(start: u64, count: usize, leaves: &[u8]) -> Result<Vec<Hash>, StoreError> {
    if leaves.len() != count.saturating_mul(32) {
        return Err(StoreError::Corrupt(format!(
            "entry bundle at {start}: leaf hashes do not match the count"
        )));
    }
    leaves
        .chunks_exact(32)
        .map(|leaf| to_hash(leaf, "leaf hash"))
        .collect()
}

/// The entries of the bundle at `start` holding `count` entries: each length-prefixed entry
/// in `entries` with its hash in `leaves`. Anything that does not add up is corrupt.
fn unbundle(
    start: u64,
    count: usize,
    entries: &[u8],
    leaves: &[u8],
) -> Result<Vec<EntryRow>, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("entry bundle at {start}: {why}"));
    let leaves = bundle_leaves(start, count, leaves)?;
    let mut out = Vec::with_capacity(count);
    let mut rest = entries;
    for (i, leaf_hash) in leaves.into_iter().enumerate() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("entries end early"))?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return Err(corrupt("an entry runs past the bundle"));
        }
        let (entry, tail) = tail.split_at(len);
        rest = tail;
        out.push(EntryRow {
            index: start + i as u64,
            entry: entry.to_vec(),
            leaf_hash,
        });
    }
    if !rest.is_empty() {
        return Err(corrupt("bytes after the last entry"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_bundles_as_many_entries_as_a_push() {
        // The schema is a literal: its conversion of one-row-per-entry tables must cut bundles
        // at the size pushes use.
        assert!(SCHEMA.contains(&format!("GROUP BY device, idx / {BUNDLE_ENTRIES};")));
    }

    fn entries(n: usize, len: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![(i % 251) as u8; len + i % 3]).collect()
    }

    fn round_trip(es: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut at = 0u64;
        let mut out = Vec::new();
        for b in bundles(es) {
            assert!(b.count >= 1 && b.count <= BUNDLE_ENTRIES);
            let leaves = vec![7u8; 32 * b.count];
            let rows = unbundle(at, b.count, &b.bytes, &leaves).unwrap();
            for (k, r) in rows.iter().enumerate() {
                assert_eq!(r.index, at + k as u64);
            }
            at += b.count as u64;
            out.extend(rows.into_iter().map(|r| r.entry));
        }
        out
    }

    /// Bundling and reading back gives the entries, in order, for small, empty, large and
    /// oversized entries and counts around the bundle size.
    #[test]
    fn bundles_round_trip() {
        for (n, len) in [
            (0, 10),
            (1, 0),
            (255, 5),
            (256, 5),
            (257, 5),
            (1000, 300),
            (3, 2 << 20),
        ] {
            let es = entries(n, len);
            assert_eq!(round_trip(&es), es, "{n} entries of {len} bytes");
        }
        // Large entries close a bundle early.
        assert_eq!(bundles(&entries(10, 600_000)).count(), 5);
        assert_eq!(bundles(&entries(600, 10)).count(), 3);
    }

    /// Bundles that do not add up are corrupt, never read short or long.
    #[test]
    fn a_damaged_bundle_is_corrupt() {
        let es = entries(3, 4);
        let b = bundles(&es).next().unwrap();
        let leaves = vec![0u8; 96];
        assert!(unbundle(0, 3, &b.bytes, &leaves[..64]).is_err());
        assert!(unbundle(0, 2, &b.bytes, &leaves[..64]).is_err());
        assert!(unbundle(0, 3, &b.bytes[..b.bytes.len() - 1], &leaves).is_err());
        let mut long = b.bytes.clone();
        long.push(0);
        assert!(unbundle(0, 3, &long, &leaves).is_err());
        assert!(unbundle(0, 0, &[], &[]).unwrap().is_empty());
    }
}

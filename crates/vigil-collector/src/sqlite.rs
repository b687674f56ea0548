//! The single-site store: one SQLite database (WAL, `synchronous=FULL`).
//!
//! Schema (`vigil-collector/1`):
//! ```sql
//! CREATE TABLE devices(id TEXT PRIMARY KEY, model TEXT, version TEXT, size INTEGER NOT NULL,
//!                      root BLOB NOT NULL, frontier BLOB NOT NULL, note TEXT NOT NULL,
//!                      accepted_at INTEGER, last_seen INTEGER);
//! CREATE TABLE checkpoints(id INTEGER PRIMARY KEY, device TEXT NOT NULL, size INTEGER NOT NULL,
//!                          root BLOB NOT NULL, note TEXT NOT NULL, time INTEGER NOT NULL,
//!                          accepted INTEGER NOT NULL);
//! CREATE TABLE entries(device TEXT NOT NULL, idx INTEGER NOT NULL, entry BLOB NOT NULL,
//!                      leaf_hash BLOB NOT NULL, PRIMARY KEY(device, idx));
//! CREATE TABLE alarms(id INTEGER PRIMARY KEY, device TEXT NOT NULL, kind TEXT NOT NULL,
//!                     time INTEGER NOT NULL, open INTEGER NOT NULL, detail TEXT NOT NULL);
//! CREATE TABLE drift(id INTEGER PRIMARY KEY, device TEXT NOT NULL, feature TEXT NOT NULL,
//!                    test TEXT NOT NULL, statistic REAL NOT NULL, p_value REAL,
//!                    drift INTEGER NOT NULL, time INTEGER NOT NULL);
//! ```
//! `frontier` is the right border of the device's tree at `size`: the concatenated 32-byte
//! complete-subtree hashes, largest first.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::store::{
    accepted_from_row, drift_detail, entry_alarms, fork_detail, to_hash, to_i64, to_u64, AlarmKind,
    AlarmRow, Change, CheckpointRow, CollectorStore, DeviceRow, DriftPoint, EntryRow, PushView,
    StoreError,
};
use crate::witness::Accepted;
use vigil_ledger::Hash;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS devices(id TEXT PRIMARY KEY, model TEXT, version TEXT,
    size INTEGER NOT NULL, root BLOB NOT NULL, frontier BLOB NOT NULL, note TEXT NOT NULL,
    accepted_at INTEGER, last_seen INTEGER);
CREATE TABLE IF NOT EXISTS checkpoints(id INTEGER PRIMARY KEY, device TEXT NOT NULL,
    size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL, time INTEGER NOT NULL,
    accepted INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS checkpoints_device ON checkpoints(device, id);
CREATE TABLE IF NOT EXISTS entries(device TEXT NOT NULL, idx INTEGER NOT NULL,
    entry BLOB NOT NULL, leaf_hash BLOB NOT NULL, PRIMARY KEY(device, idx));
CREATE TABLE IF NOT EXISTS alarms(id INTEGER PRIMARY KEY, device TEXT NOT NULL,
    kind TEXT NOT NULL, time INTEGER NOT NULL, open INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS drift(id INTEGER PRIMARY KEY, device TEXT NOT NULL,
    feature TEXT NOT NULL, test TEXT NOT NULL, statistic REAL NOT NULL, p_value REAL,
    drift INTEGER NOT NULL, time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 'vigil-collector/1');
";

/// A collector store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "{}: cannot use WAL journal (got {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        let format: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                r.get(0)
            })
            .map_err(db)?;
        if format != "vigil-collector/1" {
            return Err(StoreError::Corrupt(format!(
                "{}: a {format} database, not vigil-collector/1",
                path.display()
            )));
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Database("a thread panicked holding the database".into()))
    }
}

struct View<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    device: &'a str,
    accepted: Option<Accepted>,
}

impl PushView for View<'_> {
    fn accepted(&self) -> Option<&Accepted> {
        self.accepted.as_ref()
    }

    fn accepted_before(&self, note: &str) -> bool {
        self.tx
            .query_row(
                "SELECT 1 FROM checkpoints WHERE device = ?1 AND accepted = 1 AND note = ?2 LIMIT 1",
                params![self.device, note],
                |_| Ok(()),
            )
            .optional()
            .ok()
            .flatten()
            .is_some()
    }
}

fn read_accepted(
    tx: &rusqlite::Transaction<'_>,
    device: &str,
) -> Result<Option<Accepted>, StoreError> {
    let row = tx
        .query_row(
            "SELECT size, root, frontier, note FROM devices WHERE id = ?1",
            [device],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()
        .map_err(db)?;
    let Some((size, root, frontier, note)) = row else {
        return Ok(None);
    };
    accepted_from_row(device, size, &root, &frontier, note).map(Some)
}

impl CollectorStore for SqliteStore {
    fn push<'a>(
        &self,
        device: &str,
        model: Option<(&str, &str)>,
        now: u64,
        decide: &mut dyn FnMut(&dyn PushView) -> Change<'a>,
    ) -> Result<(), StoreError> {
        let now_i = to_i64(now)?;
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let accepted = read_accepted(&tx, device)?;
        let view = View {
            tx: &tx,
            device,
            accepted,
        };
        let change = decide(&view);
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
                {
                    let mut ins = tx
                        .prepare_cached(
                            "INSERT INTO entries(device, idx, entry, leaf_hash) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .map_err(db)?;
                    for (i, (entry, leaf)) in entries.iter().zip(leaves).enumerate() {
                        ins.execute(params![device, to_i64(first + i as u64)?, entry, &leaf[..]])
                            .map_err(db)?;
                    }
                }
                for (kind, detail) in entry_alarms(first, entries) {
                    tx.execute(
                        "INSERT INTO alarms(device, kind, time, open, detail) VALUES (?1, ?2, ?3, 1, ?4)",
                        params![device, kind.code(), now_i, detail],
                    )
                    .map_err(db)?;
                }
                let frontier: Vec<u8> = accepted.frontier.hashes().concat();
                tx.execute(
                    "INSERT INTO devices(id, model, version, size, root, frontier, note, accepted_at, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                     ON CONFLICT(id) DO UPDATE SET model = COALESCE(excluded.model, model),
                       version = COALESCE(excluded.version, version), size = excluded.size,
                       root = excluded.root, frontier = excluded.frontier, note = excluded.note,
                       accepted_at = excluded.accepted_at, last_seen = excluded.last_seen",
                    params![
                        device,
                        model.map(|m| m.0),
                        model.map(|m| m.1),
                        to_i64(accepted.size)?,
                        &accepted.root[..],
                        frontier,
                        accepted.note,
                        now_i
                    ],
                )
                .map_err(db)?;
                tx.execute(
                    "INSERT INTO checkpoints(device, size, root, note, time, accepted) VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                    params![device, to_i64(accepted.size)?, &accepted.root[..], accepted.note, now_i],
                )
                .map_err(db)?;
            }
            Change::Nothing => {}
            Change::Seen => {
                tx.execute(
                    "UPDATE devices SET last_seen = ?2, model = COALESCE(?3, model), version = COALESCE(?4, version) WHERE id = ?1",
                    params![device, now_i, model.map(|m| m.0), model.map(|m| m.1)],
                )
                .map_err(db)?;
            }
            Change::Fork {
                kind,
                note,
                size,
                root,
            } => {
                tx.execute(
                    "INSERT INTO checkpoints(device, size, root, note, time, accepted) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                    params![device, to_i64(size)?, &root[..], note, now_i],
                )
                .map_err(db)?;
                tx.execute(
                    "INSERT INTO alarms(device, kind, time, open, detail) VALUES (?1, 'fork', ?2, 1, ?3)",
                    params![
                        device,
                        now_i,
                        fork_detail(kind, size)
                    ],
                )
                .map_err(db)?;
                tx.execute(
                    "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
                    params![device, now_i],
                )
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn add_drift(&self, points: &[DriftPoint]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        for p in points {
            tx.execute(
                "INSERT INTO drift(device, feature, test, statistic, p_value, drift, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![p.device, p.feature, p.test, p.statistic, p.p_value, p.drift, to_i64(p.time)?],
            )
            .map_err(db)?;
            if p.drift {
                tx.execute(
                    "INSERT INTO alarms(device, kind, time, open, detail) VALUES (?1, 'drift', ?2, 1, ?3)",
                    params![
                        p.device,
                        to_i64(p.time)?,
                        drift_detail(p)
                    ],
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
        self.conn()?
            .execute(
                "INSERT INTO alarms(device, kind, time, open, detail) VALUES (?1, ?2, ?3, 1, ?4)",
                params![device, kind.code(), to_i64(time)?, detail],
            )
            .map_err(db)?;
        Ok(())
    }

    fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare(
                "SELECT d.id, d.model, d.version, d.size, d.root, d.accepted_at, d.last_seen,
                        (SELECT COUNT(*) FROM alarms a WHERE a.device = d.id AND a.open = 1)
                 FROM devices d ORDER BY d.id",
            )
            .map_err(db)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, model, version, size, root, accepted, seen, alarms) = row.map_err(db)?;
            out.push(DeviceRow {
                size: to_u64(size, "device size")?,
                root: hex::encode(root),
                last_checkpoint_time: accepted.and_then(|t| u64::try_from(t).ok()),
                last_seen: seen.and_then(|t| u64::try_from(t).ok()),
                open_alarms: to_u64(alarms, "alarm count")?,
                id,
                model,
                version,
            });
        }
        Ok(out)
    }

    fn accepted_head(&self, device: &str) -> Result<Option<(u64, Hash)>, StoreError> {
        let row = self
            .conn()?
            .query_row(
                "SELECT size, root FROM devices WHERE id = ?1",
                params![device],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(db)?;
        row.map(|(size, root)| Ok((to_u64(size, "device size")?, to_hash(&root, "device root")?)))
            .transpose()
    }

    fn close_alarm(&self, id: u64) -> Result<bool, StoreError> {
        let n = self
            .conn()?
            .execute(
                "UPDATE alarms SET open = 0 WHERE id = ?1",
                params![to_i64(id)?],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn checkpoints(&self, device: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare(
                "SELECT size, root, time, accepted, note FROM checkpoints WHERE device = ?1 ORDER BY id",
            )
            .map_err(db)?;
        let rows = st
            .query_map([device], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (size, root, time, accepted, note) = row.map_err(db)?;
            out.push(CheckpointRow {
                size: to_u64(size, "checkpoint size")?,
                root: hex::encode(root),
                time: to_u64(time, "checkpoint time")?,
                accepted,
                note,
            });
        }
        Ok(out)
    }

    fn entries(&self, device: &str, from: u64, to: u64) -> Result<Vec<EntryRow>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "SELECT idx, entry, leaf_hash FROM entries WHERE device = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![device, to_i64(from)?, to_i64(to)?], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (index, entry, leaf) = row.map_err(db)?;
            out.push(EntryRow {
                index: to_u64(index, "entry index")?,
                entry,
                leaf_hash: to_hash(&leaf, "leaf hash")?,
            });
        }
        Ok(out)
    }

    fn leaf_hashes(&self, device: &str, size: u64) -> Result<Vec<Hash>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "SELECT idx, leaf_hash FROM entries WHERE device = ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![device, to_i64(size)?], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (index, leaf) = row.map_err(db)?;
            if to_u64(index, "entry index")? != out.len() as u64 {
                break;
            }
            out.push(to_hash(&leaf, "leaf hash")?);
        }
        if out.len() as u64 != size {
            return Err(StoreError::Corrupt(format!(
                "device {device}: {size} leaf hashes asked for, the first {} stored in order",
                out.len()
            )));
        }
        Ok(out)
    }

    fn alarms(&self, since: u64) -> Result<Vec<AlarmRow>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare(
                "SELECT id, device, kind, time, open, detail FROM alarms WHERE time >= ?1 ORDER BY time DESC, id DESC",
            )
            .map_err(db)?;
        let rows = st
            .query_map([to_i64(since)?], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, device, kind, time, open, detail) = row.map_err(db)?;
            out.push(AlarmRow {
                id: to_u64(id, "alarm id")?,
                kind: AlarmKind::from_code(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("alarm kind {kind:?}")))?,
                time: to_u64(time, "alarm time")?,
                device,
                open,
                detail,
            });
        }
        Ok(out)
    }

    fn drift(
        &self,
        device: Option<&str>,
        feature: Option<&str>,
    ) -> Result<Vec<DriftPoint>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare(
                "SELECT device, feature, test, statistic, p_value, drift, time FROM drift
                 WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR feature = ?2) ORDER BY time, id",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![device, feature], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (device, feature, test, statistic, p_value, drift, time) = row.map_err(db)?;
            out.push(DriftPoint {
                device,
                feature,
                test,
                statistic,
                p_value,
                drift,
                time: to_u64(time, "drift time")?,
            });
        }
        Ok(out)
    }
}

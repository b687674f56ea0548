//! What the collector keeps, behind one trait so that SQLite (one site) and PostgreSQL (a fleet)
//! run the same push logic.

use vigil_ledger::{AlarmDetail, DriftDetail, Event, Frontier, Hash};

use vigil_core::time::rfc3339;

use crate::witness::{Accepted, ForkKind};

/// A size for the database's signed 64-bit integers.
pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Database(format!("{v} does not fit the store")))
}

/// A stored signed integer that must not be negative.
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({v})")))
}

/// A stored hash that must be 32 bytes.
pub(crate) fn to_hash(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::try_from(bytes).map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

/// A device's accepted state from its stored row: size, root, the concatenated frontier
/// hashes (largest subtree first) and the note.
pub(crate) fn accepted_from_row(
    device: &str,
    size: i64,
    root: &[u8],
    frontier: &[u8],
    note: String,
) -> Result<Accepted, StoreError> {
    let size = to_u64(size, "device size")?;
    let hashes = frontier
        .chunks(32)
        .map(|c| to_hash(c, "frontier hash"))
        .collect::<Result<Vec<_>, _>>()?;
    let frontier = Frontier::from_parts(size, hashes).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "device {device}: frontier does not match size {size}"
        ))
    })?;
    Ok(Accepted {
        note,
        size,
        root: to_hash(root, "device root")?,
        frontier,
    })
}

/// The text of a fork alarm.
pub(crate) fn fork_detail(kind: ForkKind, size: u64) -> String {
    format!(
        "checkpoint of size {size} contradicts the accepted history ({})",
        kind.code()
    )
}

/// The text of a drift alarm.
pub(crate) fn drift_detail(p: &DriftPoint) -> String {
    format!(
        "{} drift on {} (statistic {})",
        p.test, p.feature, p.statistic
    )
}

/// The alarms that the new entries of an accepted push raise, with their texts: a
/// `guard.alarm` with extraction detail raises an `extraction` alarm, a `drift.alarm` a
/// `drift` alarm. Entries that are not Vigil events (or other events) raise nothing. `first` is
/// the index of the first entry.
pub(crate) fn entry_alarms(first: u64, entries: &[Vec<u8>]) -> Vec<(AlarmKind, String)> {
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        // Canonical JSON: an alarm event names its type as `"guard.alarm"` or `"drift.alarm"`;
        // the many inference events are not parsed at all.
        if !may_be_alarm(entry) {
            continue;
        }
        let index = first.saturating_add(i as u64);
        match Event::from_json(entry) {
            Ok(Event::GuardAlarm(a)) => {
                if let AlarmDetail::Extraction {
                    signal,
                    statistic,
                    queries,
                } = &a.alarm
                {
                    out.push((
                        AlarmKind::Extraction,
                        format!(
                            "entry {index}: extraction alarm ({signal} {statistic}) for client {:?} after {queries} queries, device time {}",
                            a.client,
                            rfc3339(a.time_ms)
                        ),
                    ));
                }
            }
            Ok(Event::DriftAlarm(a)) => {
                let what = match &a.alarm {
                    DriftDetail::WindowDrift {
                        stream,
                        test,
                        statistic,
                        p_value,
                        window,
                        ..
                    } => format!(
                        "{test} drift on {stream} (statistic {statistic}, p {p_value}, window {window})"
                    ),
                    _ => "drift".to_string(),
                };
                out.push((
                    AlarmKind::Drift,
                    format!("entry {index}: {what}, device time {}", rfc3339(a.time_ms)),
                ));
            }
            _ => {}
        }
    }
    out
}

/// Whether an entry holds `.alarm"` (the standard library's substring search, vectorised;
/// entries are UTF-8, checked by the canonical-form scan).
fn may_be_alarm(entry: &[u8]) -> bool {
    std::str::from_utf8(entry).is_ok_and(|t| t.contains(".alarm\""))
}

/// Why the store failed. A failed push stores nothing (its transaction is rolled back).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (connection, I/O, a constraint).
    #[error("database: {0}")]
    Database(String),
    /// A stored row is not what the collector writes (edited by hand, or another schema).
    #[error("stored data: {0}")]
    Corrupt(String),
}

/// A device as the fleet table shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceRow {
    /// The device id (its certificate's CN).
    pub id: String,
    /// Model name from its newest push, if it said.
    pub model: Option<String>,
    /// Model version from its newest push, if it said.
    pub version: Option<String>,
    /// Size of its newest accepted checkpoint.
    pub size: u64,
    /// Root of its newest accepted checkpoint (hex).
    pub root: String,
    /// When that checkpoint was accepted (Unix milliseconds).
    pub last_checkpoint_time: Option<u64>,
    /// When the device last pushed (Unix milliseconds), accepted or not.
    pub last_seen: Option<u64>,
    /// Alarms about it still open.
    pub open_alarms: u64,
}

/// A checkpoint a device pushed, accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointRow {
    /// Tree size.
    pub size: u64,
    /// Root (hex).
    pub root: String,
    /// When it was received (Unix milliseconds).
    pub time: u64,
    /// Whether it was accepted.
    pub accepted: bool,
    /// The note, byte for byte.
    pub note: String,
}

/// One stored entry of a device's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    /// Its index in the device's log.
    pub index: u64,
    /// The exact canonical bytes hashed.
    pub entry: Vec<u8>,
    /// `SHA-256(0x00 || entry)`.
    pub leaf_hash: Hash,
}

/// The kinds of alarm the collector raises or records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlarmKind {
    /// A device's history contradicts what the collector accepted.
    Fork,
    /// A drift test reported drift.
    Drift,
    /// A device's guard raised an extraction alarm.
    Extraction,
    /// A device refused an update.
    UpdateRefused,
}

impl AlarmKind {
    /// The stable name used in the API and the database.
    pub fn code(self) -> &'static str {
        match self {
            AlarmKind::Fork => "fork",
            AlarmKind::Drift => "drift",
            AlarmKind::Extraction => "extraction",
            AlarmKind::UpdateRefused => "update_refused",
        }
    }

    /// The kind with this stable name.
    pub fn from_code(code: &str) -> Option<AlarmKind> {
        [
            AlarmKind::Fork,
            AlarmKind::Drift,
            AlarmKind::Extraction,
            AlarmKind::UpdateRefused,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// An alarm.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlarmRow {
    /// Its id.
    pub id: u64,
    /// The device.
    pub device: String,
    /// What kind.
    pub kind: AlarmKind,
    /// When it was raised (Unix milliseconds).
    pub time: u64,
    /// Whether it is still open.
    pub open: bool,
    /// What happened, for people.
    pub detail: String,
}

/// One drift test result reported by a device.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DriftPoint {
    /// The device.
    pub device: String,
    /// The feature tested.
    pub feature: String,
    /// The test (`ks`, `cvm`, ...).
    pub test: String,
    /// Its statistic.
    pub statistic: f64,
    /// Its p-value, where the test has one.
    pub p_value: Option<f64>,
    /// Whether drift was found.
    pub drift: bool,
    /// When it was received (Unix milliseconds).
    pub time: u64,
}

/// What a push changes, decided by the witness inside the store's transaction. The entries
/// are borrowed from the push: nothing is copied between the decision and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    /// Store the new entries and make `accepted` the device's state.
    Extend {
        /// The new state.
        accepted: Accepted,
        /// Index of the first new entry.
        first: u64,
        /// The new entries, exactly the bytes hashed, in index order.
        entries: &'a [Vec<u8>],
        /// Their leaf hashes (as many as `entries`).
        leaves: &'a [Hash],
    },
    /// Nothing new: only `last_seen` (and the model, if given) move.
    Seen,
    /// A refused push: nothing at all is written.
    Nothing,
    /// Keep the refused checkpoint as evidence and raise a fork alarm.
    Fork {
        /// How the history contradicts the accepted one.
        kind: ForkKind,
        /// The refused note.
        note: String,
        /// Its size.
        size: u64,
        /// Its root.
        root: Hash,
    },
}

/// The facts a push's decision reads: the device's accepted state and whether a note was
/// accepted for it before.
pub trait PushView {
    /// The device's newest accepted state.
    fn accepted(&self) -> Option<&Accepted>;
    /// Whether `note` was accepted for this device at some time.
    fn accepted_before(&self, note: &str) -> bool;
}

/// Durable storage for a collector. Implementations make [`CollectorStore::push`] one
/// transaction that serialises pushes of the same device, even across collector processes
/// sharing a database: nothing acknowledged is lost, nothing is stored twice.
pub trait CollectorStore: Send + Sync {
    /// Runs one push of `device` at `now` (Unix milliseconds): reads the device's state,
    /// calls `decide`, applies what it returns, all in one transaction that is durable before
    /// this returns. `model` is `(name, version)` if the push said.
    fn push<'a>(
        &self,
        device: &str,
        model: Option<(&str, &str)>,
        now: u64,
        decide: &mut dyn FnMut(&dyn PushView) -> Change<'a>,
    ) -> Result<(), StoreError>;

    /// Records drift results reported with a push; a result with `drift` raises a drift alarm.
    fn add_drift(&self, points: &[DriftPoint]) -> Result<(), StoreError>;

    /// Records an alarm a device reported (extraction, refused update).
    fn add_alarm(
        &self,
        device: &str,
        kind: AlarmKind,
        time: u64,
        detail: &str,
    ) -> Result<(), StoreError>;

    /// Every device, by id.
    fn devices(&self) -> Result<Vec<DeviceRow>, StoreError>;

    /// One device's accepted size and root (`None` before its first accepted push): what
    /// `GET /v1/state` answers, one indexed row instead of the whole fleet.
    fn accepted_head(&self, device: &str) -> Result<Option<(u64, Hash)>, StoreError>;

    /// A device's checkpoints, accepted and refused, in the order received.
    fn checkpoints(&self, device: &str) -> Result<Vec<CheckpointRow>, StoreError>;

    /// A device's entries with `from <= index < to`, in index order.
    fn entries(&self, device: &str, from: u64, to: u64) -> Result<Vec<EntryRow>, StoreError>;

    /// The leaf hashes of a device's first `size` entries, in index order (what a proof is
    /// computed from), without the entries; an error unless all `size` are stored.
    fn leaf_hashes(&self, device: &str, size: u64) -> Result<Vec<Hash>, StoreError>;

    /// Closes (acknowledges) alarm `id`; closing a closed one again changes nothing. `false`
    /// when there is no such alarm.
    fn close_alarm(&self, id: u64) -> Result<bool, StoreError>;

    /// Alarms raised at or after `since` (Unix milliseconds), newest first.
    fn alarms(&self, since: u64) -> Result<Vec<AlarmRow>, StoreError>;

    /// Drift results, optionally of one device and one feature, oldest first.
    fn drift(
        &self,
        device: Option<&str>,
        feature: Option<&str>,
    ) -> Result<Vec<DriftPoint>, StoreError>;
}

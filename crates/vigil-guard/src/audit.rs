//! Where the guard's events go: the audit ledger and the drift monitor, behind two small traits
//! so that any durable store and any drift monitor plug in. Events are `vigil-ledger`'s typed
//! [`Event`]s.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vigil_ledger::Event;

use crate::error::GuardError;
use crate::monitor::Alarm;

/// Receives audit events. `record` returns only when the event is durable: an error makes the
/// guard abstain with `audit_unavailable` instead of answering.
pub trait AuditSink: Send + Sync {
    /// Records one event durably.
    fn record(&self, event: &Event) -> Result<(), GuardError>;
}

/// Receives the features and confidence of each request the guard is about to accept, for
/// drift monitoring, and answers with the drift alarms that observation raised: they go into
/// that request's [`crate::Decision`] and audit events, never to another request.
pub trait DriftFeed: Send + Sync {
    /// One request: its input values (contract order) and top-class probability.
    fn observe(&self, features: &[f32], confidence: f32) -> Vec<Alarm>;
}

/// Keeps events in memory, up to a bound (then refuses, so the guard abstains).
#[derive(Debug)]
pub struct MemoryAudit {
    events: Mutex<Vec<Event>>,
    max: usize,
}

impl MemoryAudit {
    /// A sink holding at most `max` events.
    pub fn new(max: usize) -> Self {
        MemoryAudit {
            events: Mutex::new(Vec::new()),
            max,
        }
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, event: &Event) -> Result<(), GuardError> {
        let mut events = self
            .events
            .lock()
            .map_err(|_| GuardError::Audit("memory sink lock poisoned".into()))?;
        if events.len() >= self.max {
            return Err(GuardError::Audit(format!(
                "memory sink full ({} events)",
                self.max
            )));
        }
        events.push(event.clone());
        Ok(())
    }
}

/// Appends one JSON line per event to a file, synced to disk before `record` returns.
#[derive(Debug)]
pub struct JsonLinesAudit {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonLinesAudit {
    /// Opens (creating or appending to) `path`.
    pub fn open(path: &Path) -> Result<Self, GuardError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| GuardError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(JsonLinesAudit {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }
}

impl AuditSink for JsonLinesAudit {
    fn record(&self, event: &Event) -> Result<(), GuardError> {
        let mut line = event
            .to_json()
            .map_err(|e| GuardError::Audit(e.to_string()))?;
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| GuardError::Audit("audit file lock poisoned".into()))?;
        let io = |source| GuardError::Io {
            path: self.path.clone(),
            source,
        };
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

/// Drops every event. For offline evaluation and benchmarks only: nothing is audited.
#[derive(Debug, Default, Clone, Copy)]
pub struct DangerousNoAudit;

impl AuditSink for DangerousNoAudit {
    fn record(&self, _event: &Event) -> Result<(), GuardError> {
        Ok(())
    }
}

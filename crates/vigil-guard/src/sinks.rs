//! The ledger and the drift monitor plugged into the guard's [`AuditSink`] and [`DriftFeed`].

use std::sync::{Arc, Mutex};

use vigil_drift::{DriftAlarm, ReferenceStats, StreamKind, WindowedMonitor};
use vigil_ledger::Ledger;

use crate::audit::{AuditSink, DriftFeed};
use crate::contract::Contract;
use crate::error::GuardError;

/// The tamper-evident ledger (`vigil-ledger`) as the guard's audit sink: each event is appended
/// as RFC 8785 canonical JSON, and `record` returns only once the ledger says it is durable.
#[derive(Debug)]
pub struct LedgerAudit {
    ledger: Ledger,
}

impl LedgerAudit {
    /// Records into `ledger`.
    pub fn new(ledger: Ledger) -> Self {
        LedgerAudit { ledger }
    }

    /// The ledger (for checkpoints and proofs).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

impl AuditSink for LedgerAudit {
    fn record(&self, event: &serde_json::Value) -> Result<(), GuardError> {
        let bytes = serde_json::to_vec(event).map_err(|e| GuardError::Audit(e.to_string()))?;
        self.ledger
            .append(&bytes)
            .map(|_| ())
            .map_err(|e| GuardError::Audit(format!("ledger: {e}")))
    }
}

/// The drift crate's windowed monitor (`vigil-drift`) fed with each accepted request: its
/// streams are the contract's features in order, plus one more for the top-class probability
/// if the monitor's reference has it. Drift alarms are recorded to `alarms_to` (the ledger) as
/// `drift.alarm` events and kept for [`DriftMonitorFeed::take_alarms`].
pub struct DriftMonitorFeed {
    monitor: Mutex<WindowedMonitor>,
    alarms: Mutex<Vec<DriftAlarm>>,
    alarms_to: Option<Arc<dyn AuditSink>>,
    /// Where each stream's value comes from (`None`: features in order, then confidence).
    sources: Option<Vec<Source>>,
}

/// The value a monitor stream is fed with.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The contract's feature at this index.
    Feature(usize),
    /// The top-class probability.
    Confidence,
}

impl std::fmt::Debug for DriftMonitorFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriftMonitorFeed").finish_non_exhaustive()
    }
}

impl DriftMonitorFeed {
    /// Feeds `monitor`; drift alarms also go to `alarms_to` when given.
    pub fn new(monitor: WindowedMonitor, alarms_to: Option<Arc<dyn AuditSink>>) -> Self {
        DriftMonitorFeed {
            monitor: Mutex::new(monitor),
            alarms: Mutex::new(Vec::new()),
            alarms_to,
            sources: None,
        }
    }

    /// A [`WindowedMonitor`] over `reference` (`window` observations, a KS test every
    /// `check_every`, level `alpha` after Bonferroni across streams), its streams matched to
    /// `contract` by name: a `feature` stream takes the contract feature of the same name, a
    /// `confidence` stream the top-class probability. Refuses a reference with a stream the
    /// guard cannot feed (an `output` stream, or a feature the contract does not have, such as
    /// a `label` column), so that a mismatch is an error before any request rather than a
    /// silent monitor.
    pub fn for_contract(
        reference: ReferenceStats,
        window: usize,
        check_every: u64,
        alpha: f64,
        contract: &Contract,
        alarms_to: Option<Arc<dyn AuditSink>>,
    ) -> Result<Self, GuardError> {
        let bad = |key: String, reason: String| GuardError::Contract {
            file: "drift reference".into(),
            key,
            reason,
        };
        let mut sources = Vec::with_capacity(reference.streams.len());
        for stream in &reference.streams {
            let (name, kind) = (stream.name.as_str(), stream.kind);
            let source = match kind {
                StreamKind::Confidence => Source::Confidence,
                StreamKind::Feature => contract
                    .features
                    .iter()
                    .position(|f| f.name == name)
                    .map(Source::Feature)
                    .ok_or_else(|| {
                        bad(
                            name.to_string(),
                            "not a feature of the contract: build the reference from the \
                             contract's feature columns only"
                                .into(),
                        )
                    })?,
                _ => {
                    return Err(bad(
                        name.to_string(),
                        "an output stream: the guard feeds features and confidence only".into(),
                    ))
                }
            };
            sources.push(source);
        }
        if sources.is_empty() {
            return Err(bad(String::new(), "no streams".into()));
        }
        let monitor = WindowedMonitor::new(reference, window, check_every, alpha)
            .map_err(|e| bad(String::new(), e.to_string()))?;
        let mut feed = DriftMonitorFeed::new(monitor, alarms_to);
        feed.sources = Some(sources);
        Ok(feed)
    }

    /// The drift alarms raised since the last call.
    pub fn take_alarms(&self) -> Vec<DriftAlarm> {
        self.alarms
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }
}

impl DriftFeed for DriftMonitorFeed {
    fn observe(&self, features: &[f32], confidence: f32) {
        let Ok(mut monitor) = self.monitor.lock() else {
            return;
        };
        let values: Vec<f64> = match &self.sources {
            Some(sources) => {
                let mut values = Vec::with_capacity(sources.len());
                for s in sources {
                    match s {
                        Source::Feature(j) => match features.get(*j) {
                            Some(v) => values.push(f64::from(*v)),
                            None => return,
                        },
                        Source::Confidence => values.push(f64::from(confidence)),
                    }
                }
                values
            }
            None => {
                let streams = monitor.streams().len();
                let mut values: Vec<f64> = features.iter().map(|v| f64::from(*v)).collect();
                if streams == values.len() + 1 {
                    values.push(f64::from(confidence));
                }
                values
            }
        };
        // A monitor built for other streams reports a dimension error: nothing to feed.
        let Ok(raised) = monitor.observe(&values) else {
            return;
        };
        drop(monitor);
        for alarm in &raised {
            if let (Some(sink), Ok(detail)) = (&self.alarms_to, serde_json::to_value(alarm)) {
                let _ = sink.record(&serde_json::json!({"type": "drift.alarm", "alarm": detail}));
            }
        }
        if let Ok(mut a) = self.alarms.lock() {
            a.extend(raised);
        }
    }
}

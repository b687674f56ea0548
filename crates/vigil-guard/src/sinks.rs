//! The ledger and the drift monitor plugged into the guard's [`AuditSink`] and [`DriftFeed`].

use std::sync::Mutex;

use vigil_drift::{DriftAlarm, ReferenceStats, StreamKind, WindowedMonitor};
use vigil_ledger::{DriftDetail, Event, Ledger};

use crate::audit::{AuditSink, DriftFeed};
use crate::contract::Contract;
use crate::error::GuardError;
use crate::monitor::Alarm;

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
    fn record(&self, event: &Event) -> Result<(), GuardError> {
        self.ledger
            .record(event)
            .map(|_| ())
            .map_err(|e| GuardError::Audit(format!("ledger: {e}")))
    }
}

/// The drift crate's windowed monitor (`vigil-drift`) fed with each accepted request: its
/// streams are the contract's features in order, plus one more for the top-class probability
/// if the monitor's reference has it. The alarms an observation raises are returned to the
/// guard, which puts them in that request's decision and records them as `drift.alarm`.
pub struct DriftMonitorFeed {
    monitor: Mutex<WindowedMonitor>,
    /// Where each stream's value comes from (`None`: features in order, then confidence).
    sources: Option<Vec<Source>>,
}

/// Largest drift reference file read.
const MAX_DRIFT_REFERENCE_BYTES: u64 = 64 << 20;

/// How the guard builds its drift monitor ([`crate::GuardOptions::drift`]): the reference
/// (`vigil drift reference`'s `drift.json`) and the monitor's window, test interval and level.
#[derive(Debug, Clone)]
pub struct DriftSettings {
    /// Names the reference in errors: its file, or `drift reference`.
    label: String,
    reference: ReferenceStats,
    window: usize,
    check_every: u64,
    alpha: f64,
}

impl DriftSettings {
    /// A monitor over `reference` with the gateway's defaults: a window of 200 observations,
    /// a KS test every 50, level 0.01 after Bonferroni across streams.
    pub fn new(reference: ReferenceStats) -> Self {
        DriftSettings {
            label: "drift reference".into(),
            reference,
            window: 200,
            check_every: 50,
            alpha: 0.01,
        }
    }

    /// Reads a reference file (`vigil drift reference`'s `drift.json`, at most 64 MiB) with
    /// the defaults of [`DriftSettings::new`].
    pub fn load(path: &std::path::Path) -> Result<Self, GuardError> {
        let bytes = vigil_core::read_bounded(path, MAX_DRIFT_REFERENCE_BYTES)?;
        let reference =
            ReferenceStats::from_json(&bytes, &path.display().to_string()).map_err(|e| {
                GuardError::Contract {
                    file: path.display().to_string(),
                    key: String::new(),
                    reason: e.to_string(),
                }
            })?;
        Ok(DriftSettings {
            label: path.display().to_string(),
            ..DriftSettings::new(reference)
        })
    }

    /// Observations per window.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }

    /// Observations between tests.
    pub fn check_every(mut self, n: u64) -> Self {
        self.check_every = n;
        self
    }

    /// Test level, before the Bonferroni correction.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// The monitor for `contract` ([`DriftMonitorFeed::for_contract`]).
    pub fn build(self, contract: &Contract) -> Result<DriftMonitorFeed, GuardError> {
        DriftMonitorFeed::for_contract(
            self.reference,
            self.window,
            self.check_every,
            self.alpha,
            contract,
        )
        .map_err(|e| match e {
            GuardError::Contract { key, reason, .. } => GuardError::Contract {
                file: self.label.clone(),
                key,
                reason,
            },
            other => other,
        })
    }
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
    /// Feeds `monitor` with the features in order, then the confidence if it has one more
    /// stream.
    pub fn new(monitor: WindowedMonitor) -> Self {
        DriftMonitorFeed {
            monitor: Mutex::new(monitor),
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
        let mut feed = DriftMonitorFeed::new(monitor);
        feed.sources = Some(sources);
        Ok(feed)
    }
}

impl DriftFeed for DriftMonitorFeed {
    fn observe(&self, features: &[f32], confidence: f32) -> Vec<Alarm> {
        let Ok(mut monitor) = self.monitor.lock() else {
            return Vec::new();
        };
        let values: Vec<f64> = match &self.sources {
            Some(sources) => {
                let mut values = Vec::with_capacity(sources.len());
                for s in sources {
                    match s {
                        Source::Feature(j) => match features.get(*j) {
                            Some(v) => values.push(f64::from(*v)),
                            None => return Vec::new(),
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
            return Vec::new();
        };
        raised.into_iter().filter_map(alarm).collect()
    }
}

/// A window alarm as the guard's [`Alarm::Drift`]. The guard's monitor has feature and
/// confidence streams only, so performance alarms (which need labels) never arise here.
fn alarm(a: DriftAlarm) -> Option<Alarm> {
    match a {
        DriftAlarm::WindowDrift {
            stream,
            test,
            statistic,
            p_value,
            window,
            observation,
        } => Some(Alarm::Drift(DriftDetail::WindowDrift {
            stream,
            test,
            statistic,
            p_value,
            window,
            observation,
        })),
        _ => None,
    }
}

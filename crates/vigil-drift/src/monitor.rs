//! Monitors that run on the device: reference statistics stored in a bundle's `reference/`
//! folder, a windowed monitor comparing the last N observations of each feature (and of the
//! model's outputs and confidences) with the reference, performance detectors once labels
//! arrive, and the alarm events they raise for the audit ledger.

use std::collections::VecDeque;
use std::path::Path;

use crate::error::DriftError;
use crate::ks::{ks_sorted, KsMethod};
use crate::online::{Adwin, PageHinkley};

/// File name of the reference statistics inside a bundle's `reference/` folder.
pub const REFERENCE_FILE: &str = "drift.json";

/// Format version of [`ReferenceStats`].
pub const REFERENCE_FORMAT: u32 = 1;

/// Reference statistics of one stream (an input feature, an output score or a confidence).
///
/// Wire format (JSON): `{"name": str, "kind": "feature"|"output"|"confidence",
/// "sample": [float...], "mean": float, "std": float}` where `sample` is the sorted reference
/// sample (at most `max_sample` values, an evenly spaced subsample of the sorted data when the
/// reference is larger) on which window tests run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamReference {
    /// Stream name (a feature name, or an output label).
    pub name: String,
    /// What the stream is.
    pub kind: StreamKind,
    /// Sorted reference sample.
    pub sample: Vec<f64>,
    /// Mean of the full reference.
    pub mean: f64,
    /// Population standard deviation of the full reference.
    pub std: f64,
}

/// What a monitored stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// A model input feature.
    Feature,
    /// A model output (score or logit).
    Output,
    /// The model's confidence (top probability).
    Confidence,
}

/// Everything the monitors need, stored as `reference/drift.json` in a bundle.
///
/// Wire format (JSON): `{"format": 1, "streams": [StreamReference...]}`; unknown fields are
/// rejected, so that a newer format is not half-read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceStats {
    /// Format version, currently 1.
    pub format: u32,
    /// One entry per monitored stream.
    pub streams: Vec<StreamReference>,
}

impl ReferenceStats {
    /// Build reference statistics from named streams, keeping at most `max_sample` values each.
    pub fn build(
        streams: &[(&str, StreamKind, &[f64])],
        max_sample: usize,
    ) -> Result<Self, DriftError> {
        let mut out = Vec::new();
        for (name, kind, values) in streams {
            crate::result::check_sample("reference", values, 1)?;
            let mut sorted = values.to_vec();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len() as f64;
            let mean = sorted.iter().sum::<f64>() / n;
            let var = sorted.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            let sample = if sorted.len() <= max_sample.max(1) {
                sorted
            } else {
                let k = max_sample.max(1);
                (0..k)
                    .map(|i| sorted[i * (sorted.len() - 1) / (k - 1).max(1)])
                    .collect()
            };
            out.push(StreamReference {
                name: (*name).to_owned(),
                kind: *kind,
                sample,
                mean,
                std: var.sqrt(),
            });
        }
        Ok(ReferenceStats {
            format: REFERENCE_FORMAT,
            streams: out,
        })
    }

    /// Write to `dir/drift.json` durably (temporary file, fsync, rename, fsync of the folder).
    pub fn save(&self, dir: &Path) -> Result<(), DriftError> {
        let path = dir.join(REFERENCE_FILE);
        let err = |reason: String| DriftError::Reference {
            path: path.display().to_string(),
            reason,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        vigil_core::write_atomic(&path, &json).map_err(|e| err(e.reason()))?;
        Ok(())
    }

    /// Read `dir/drift.json`, refusing files over `max_bytes`.
    pub fn load(dir: &Path, max_bytes: u64) -> Result<Self, DriftError> {
        ReferenceStats::load_file(&dir.join(REFERENCE_FILE), max_bytes)
    }

    /// Read a reference file at `path` (bounded: regular files of at most `max_bytes`).
    pub fn load_file(path: &Path, max_bytes: u64) -> Result<Self, DriftError> {
        let bytes =
            vigil_core::read_bounded(path, max_bytes).map_err(|e| DriftError::Reference {
                path: path.display().to_string(),
                reason: match e {
                    vigil_core::ReadError::TooLarge { max, .. } => {
                        format!("larger than the limit of {max} bytes")
                    }
                    other => other.reason(),
                },
            })?;
        ReferenceStats::from_json(&bytes, &path.display().to_string())
    }

    /// Parse and validate the JSON form (format 1; non-empty, finite, sorted samples); `label`
    /// names the input in errors. serde_json bounds nesting depth; callers bound the size.
    pub fn from_json(bytes: &[u8], label: &str) -> Result<Self, DriftError> {
        let err = |reason: String| DriftError::Reference {
            path: label.to_owned(),
            reason,
        };
        let stats: ReferenceStats =
            serde_json::from_slice(bytes).map_err(|e| err(e.to_string()))?;
        if stats.format != REFERENCE_FORMAT {
            return Err(err(format!(
                "format {} is not the supported {REFERENCE_FORMAT}",
                stats.format
            )));
        }
        if let Some(s) = stats.streams.iter().find(|s| !valid_sample(&s.sample)) {
            return Err(err(format!(
                "stream {:?} has an empty, unsorted or non-finite sample",
                s.name
            )));
        }
        Ok(stats)
    }
}

fn valid_sample(sample: &[f64]) -> bool {
    !sample.is_empty()
        && sample.iter().all(|x| x.is_finite())
        && sample.windows(2).all(|w| w[0] <= w[1])
}

/// Fuzzing entry point for the reference statistics parser: must never panic.
#[doc(hidden)]
pub fn fuzz_reference(data: &[u8]) {
    if let Ok(stats) = ReferenceStats::from_json(data, "fuzz") {
        if let Ok(mut m) = WindowedMonitor::new(stats, 2, 1, 0.05) {
            let values = vec![0.5; m.streams().len()];
            let _ = m.observe(&values);
            let _ = m.observe(&values);
        }
    }
}

/// An alarm raised by a monitor: a serde-serialisable event for the audit ledger.
///
/// Wire format (JSON, tagged by `"type"`):
/// `{"type":"window_drift","stream":str,"test":"ks","statistic":f,"p_value":f,"window":n,"observation":n}`,
/// `{"type":"performance_change","detector":"adwin"|"page_hinkley","stream":str,"observation":n,"estimate":f}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DriftAlarm {
    /// The last `window` observations of a stream differ from its reference.
    WindowDrift {
        /// Stream name.
        stream: String,
        /// Test used.
        test: String,
        /// Its statistic.
        statistic: f64,
        /// Its p-value (Bonferroni-adjusted across the streams checked together).
        p_value: f64,
        /// Window length.
        window: usize,
        /// Count of observations seen when the alarm fired.
        observation: u64,
    },
    /// A performance detector signalled a change.
    PerformanceChange {
        /// `adwin` or `page_hinkley`.
        detector: String,
        /// Stream name (for instance `error` or `error/site=B`).
        stream: String,
        /// Count of observations seen when the alarm fired.
        observation: u64,
        /// ADWIN's window mean after the cut (Page-Hinkley: the last value).
        estimate: f64,
    },
}

/// Compares the last `window` observations of each stream with its reference by the two-sample
/// KS test, every `check_every` observations once the window is full, with a Bonferroni
/// correction across streams.
#[derive(Debug, Clone)]
pub struct WindowedMonitor {
    reference: ReferenceStats,
    windows: Vec<VecDeque<f64>>,
    window: usize,
    check_every: u64,
    alpha: f64,
    seen: u64,
}

impl WindowedMonitor {
    /// A monitor over the streams of `reference` (as [`ReferenceStats::build`] or
    /// [`ReferenceStats::load`] give it: sorted, finite, non-empty samples).
    pub fn new(
        reference: ReferenceStats,
        window: usize,
        check_every: u64,
        alpha: f64,
    ) -> Result<Self, DriftError> {
        if window < 2 {
            return Err(DriftError::InvalidParameter {
                name: "window",
                reason: format!("{window} is below 2"),
            });
        }
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(DriftError::InvalidParameter {
                name: "alpha",
                reason: format!("{alpha} is not strictly between 0 and 1"),
            });
        }
        if let Some(s) = reference.streams.iter().find(|s| !valid_sample(&s.sample)) {
            return Err(DriftError::InvalidParameter {
                name: "reference",
                reason: format!(
                    "stream {:?} has an empty, unsorted or non-finite sample",
                    s.name
                ),
            });
        }
        let windows = vec![VecDeque::with_capacity(window); reference.streams.len()];
        Ok(WindowedMonitor {
            reference,
            windows,
            window,
            check_every: check_every.max(1),
            alpha,
            seen: 0,
        })
    }

    /// Stream names, in the order [`WindowedMonitor::observe`] expects values.
    pub fn streams(&self) -> Vec<&str> {
        self.reference
            .streams
            .iter()
            .map(|s| s.name.as_str())
            .collect()
    }

    /// Add one observation: one value per stream, in [`WindowedMonitor::streams`] order
    /// (features, then outputs and confidences as the reference lists them). Returns the alarms
    /// raised by this observation, if it triggered a check.
    pub fn observe(&mut self, values: &[f64]) -> Result<Vec<DriftAlarm>, DriftError> {
        if values.len() != self.windows.len() {
            return Err(DriftError::DimensionMismatch {
                test: "window",
                left: self.windows.len(),
                right: values.len(),
            });
        }
        crate::result::check_sample("window", values, 0)?;
        for (w, &v) in self.windows.iter_mut().zip(values) {
            if w.len() == self.window {
                w.pop_front();
            }
            w.push_back(v);
        }
        self.seen += 1;
        let full = self.windows.first().is_some_and(|w| w.len() == self.window);
        if !full || self.seen % self.check_every != 0 {
            return Ok(Vec::new());
        }
        let m = self.windows.len() as f64;
        let mut alarms = Vec::new();
        for (w, r) in self.windows.iter().zip(&self.reference.streams) {
            // The reference sample is stored sorted (checked on load); only the window is sorted.
            let mut cur: Vec<f64> = w.iter().copied().collect();
            crate::sort::sort_floats(&mut cur);
            let o = ks_sorted(&r.sample, &cur, KsMethod::Auto);
            let p = (o.p_value * m).min(1.0);
            if p < self.alpha {
                alarms.push(DriftAlarm::WindowDrift {
                    stream: r.name.clone(),
                    test: "ks".into(),
                    statistic: o.statistic,
                    p_value: p,
                    window: self.window,
                    observation: self.seen,
                });
            }
        }
        Ok(alarms)
    }
}

/// Performance monitoring once labels arrive: ADWIN and Page-Hinkley on the error stream
/// (1 = wrong, 0 = right), overall and per subgroup.
#[derive(Debug, Clone, Default)]
pub struct PerformanceMonitor {
    detectors: std::collections::BTreeMap<String, (Adwin, PageHinkley)>,
    seen: u64,
}

impl PerformanceMonitor {
    /// A monitor with River's default detector settings.
    pub fn new() -> Self {
        PerformanceMonitor::default()
    }

    /// Record whether one prediction was correct; `subgroup` (such as `("site", "B")`) adds the
    /// observation to that subgroup's detectors as well as the overall ones.
    pub fn observe(&mut self, correct: bool, subgroup: Option<(&str, &str)>) -> Vec<DriftAlarm> {
        self.seen += 1;
        let x = if correct { 0.0 } else { 1.0 };
        let mut keys = vec!["error".to_owned()];
        if let Some((col, val)) = subgroup {
            keys.push(format!("error/{col}={val}"));
        }
        let mut alarms = Vec::new();
        for key in keys {
            let (adwin, ph) = self.detectors.entry(key.clone()).or_default();
            if adwin.update(x) {
                alarms.push(DriftAlarm::PerformanceChange {
                    detector: "adwin".into(),
                    stream: key.clone(),
                    observation: self.seen,
                    estimate: adwin.estimation(),
                });
            }
            if ph.update(x) {
                alarms.push(DriftAlarm::PerformanceChange {
                    detector: "page_hinkley".into(),
                    stream: key,
                    observation: self.seen,
                    estimate: x,
                });
            }
        }
        alarms
    }
}

/// Classification performance of one subgroup.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SubgroupPerformance {
    /// Subgroup value (`*` for everyone).
    pub group: String,
    /// Labelled predictions in the group.
    pub n: usize,
    /// Fraction correct.
    pub accuracy: f64,
    /// For binary labels (`positive` given): true positive rate; NaN without positives.
    pub sensitivity: f64,
    /// For binary labels: true negative rate; NaN without negatives.
    pub specificity: f64,
}

/// Accuracy, sensitivity and specificity overall (`*`) and per subgroup value, to surface
/// performance gaps between groups (model bias).
pub fn performance_by_subgroup(
    labels: &[String],
    predictions: &[String],
    groups: &[String],
    positive: &str,
) -> Result<Vec<SubgroupPerformance>, DriftError> {
    if labels.len() != predictions.len() || labels.len() != groups.len() {
        return Err(DriftError::DimensionMismatch {
            test: "performance",
            left: labels.len(),
            right: predictions.len().min(groups.len()),
        });
    }
    let mut names: Vec<&str> = groups.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for g in std::iter::once("*").chain(names) {
        let (mut n, mut ok, mut tp, mut p, mut tn, mut neg) = (0usize, 0usize, 0, 0, 0, 0);
        for ((l, pr), gr) in labels.iter().zip(predictions).zip(groups) {
            if g != "*" && gr != g {
                continue;
            }
            n += 1;
            ok += usize::from(l == pr);
            if l == positive {
                p += 1;
                tp += usize::from(pr == positive);
            } else {
                neg += 1;
                tn += usize::from(pr != positive);
            }
        }
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                f64::NAN
            } else {
                a as f64 / b as f64
            }
        };
        out.push(SubgroupPerformance {
            group: g.to_owned(),
            n,
            accuracy: ratio(ok, n),
            sensitivity: ratio(tp, p),
            specificity: ratio(tn, neg),
        });
    }
    Ok(out)
}

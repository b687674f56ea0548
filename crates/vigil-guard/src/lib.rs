//! The on-device runtime guard: every inference of a model bundle goes through it.
//!
//! [`Guard::open`] verifies a signed bundle (`vigil-bundle`: signature or trust policy,
//! load-what-you-verified), parses the guard tables of its `vigil.toml` ([`GuardConfig`]),
//! loads the model with tract from the verified bytes (shapes and types checked against the
//! contract), and reads the calibrated detector statistics from `reference/guard.json`.
//! [`Guard::infer`] then runs each request through this pipeline, in this order:
//!
//! 1. caller identity (passed in by the caller: the gateway maps mutual-TLS certificates);
//! 2. per-client token-bucket rate limit, then query budget;
//! 3. payload bound (`[limits] max_payload_values`);
//! 4. contract: tensor name, dtype, shape, finite values, physical ranges (the reason names
//!    the feature);
//! 5. detectors and inference: the model runs once on the raw row and its squeezed versions (one
//!    batch); class-conditional Mahalanobis distance on inputs and hidden features (Lee et al.,
//!    NeurIPS 2018, shared covariance, with shrinkage; optionally on the logarithm of skewed
//!    non-negative features, `[detectors] input_log`, and with several k-means centres per
//!    class, `[detectors] input_centres`), feature squeezing (Xu et al., NDSS 2018:
//!    bit-depth reduction, and median smoothing for signals) and a low-confidence margin; no
//!    output is released unless every score is under its calibrated threshold;
//! 6. output policy: full, top-k, rounded, or label only;
//! 7. extraction monitor for the client: PRADA (Juuti et al., EuroS&P 2019: Shapiro-Wilk W of
//!    the minimum distances to the client's earlier queries, alarm under delta) plus the share
//!    of recent queries the detectors flagged, plus volume budget alarms;
//! 8. drift feed ([`DriftFeed`], built by the guard from [`DriftSettings`] for its contract):
//!    the alarms an accepted request raises come back in its own [`Decision`] as
//!    [`Alarm::Drift`]; then the audit events ([`AuditSink`], `vigil-ledger`'s typed
//!    [`vigil_ledger::Event`]: model digest, salted input digest, verdict, reason, scores,
//!    client, never raw values). If an event cannot be made durable the answer becomes an
//!    abstention.
//!
//! The answer is a [`Decision`]: [`Verdict::Accept`] with the output, or [`Verdict::Abstain`]
//! with a [`Reason`] whose stable code (`out_of_range`, `ood_input`, `rate_limited`...) the
//! gateway maps to HTTP. [`calibrate`] fits the statistics and thresholds at a stated
//! false-positive rate by cross-validation on clean rows; [`calibrate_with_reference`] also
//! fits the Gaussians on further reference rows (such as the training rows), never the
//! thresholds.
//!
//! Standards and references: ONNX (opset as tract 0.21 supports), Shapiro-Wilk by Royston 1995
//! (AS R94, as `scipy.stats.shapiro`; W only, no p-value). Crates relied on: `tract-onnx`
//! (inference), `vigil-bundle` (verification), `vigil-ledger` ([`LedgerAudit`]: the audit
//! sink for devices), `vigil-drift` ([`DriftMonitorFeed`]: its windowed monitor), `csv`,
//! `serde_json`, `toml`, `sha2`.
//!
//! The contract and the tract engine live in `vigil-model` (re-exported here: [`Contract`],
//! [`Feature`], [`Signal`]), so that `vigil assess` and the data screens run models the same
//! way. This crate has no `unsafe`.
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use vigil_bundle::{Trust, BundlePolicy};
//! use vigil_guard::{Guard, GuardOptions, MemoryAudit, RequestOptions, Verdict};
//!
//! let device = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer");
//! let policy = BundlePolicy::load(&device.join("policy.toml"))?;
//! let audit = Arc::new(MemoryAudit::new(1000));
//! let guard = Guard::open(&device.join("bundle"), &Trust::Policy(policy), GuardOptions::new(audit.clone()))?;
//!
//! // A row of 30 features, far outside the physical range of the first one.
//! let mut row = vec![1.0f32; 30];
//! row[0] = 1e6;
//! let mut shape = [0; 2];
//! let decision = guard.infer("clinic-7", &guard.row(&row, &mut shape), &RequestOptions::new());
//! match &decision.verdict {
//!     Verdict::Abstain { reason } => assert_eq!(reason.wire(), "out_of_range:mean radius"),
//!     Verdict::Accept { .. } => unreachable!("out-of-contract rows never get an answer"),
//! }
//! assert_eq!(audit.events().len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod audit;
mod calibrate;
mod contract;
mod detect;
mod error;
mod guard;
mod monitor;
mod overrides;
mod reason;
mod rows;
#[cfg(feature = "sinks")]
mod sinks;
mod stats;
mod swilk;

// The public interface:
pub use audit::{AuditSink, DangerousNoAudit, DriftFeed, JsonLinesAudit, MemoryAudit};
pub use calibrate::{calibrate, calibrate_with_reference, Calibration};
pub use contract::{
    Action, AlarmResponse, Contract, DetectorSettings, ExtractionSettings, Feature, GuardConfig,
    GuardLimits, OutputMode, OutputPolicy, Signal,
};
pub use detect::{DetectorKind, REFERENCE_FILE};
pub use error::GuardError;
pub use guard::{
    Decision, Guard, GuardOptions, Input, Output, RequestOptions, Scores, Screening, Values,
    Verdict,
};
pub use monitor::Alarm;
pub use overrides::ClientOverrides;
pub use reason::Reason;
pub use rows::{parse_csv, CsvLimits, CsvRow};
#[cfg(feature = "sinks")]
pub use sinks::{DriftMonitorFeed, DriftSettings, LedgerAudit};
pub use swilk::shapiro_wilk;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    /// Parses bytes as a `vigil.toml` and checks its guard tables; must never panic.
    pub fn fuzz_contract(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(doc) = text.parse::<toml::Table>() {
                let _ = crate::GuardConfig::from_document(&doc);
            }
        }
    }

    /// Parses bytes as a `reference/guard.json`; when it parses, scores a few rows with its
    /// Gaussians (short, long, hostile values); must never panic.
    pub fn fuzz_reference(data: &[u8]) {
        let Ok(r) = crate::detect::Reference::parse(data) else {
            return;
        };
        for g in [&r.input, &r.hidden].into_iter().flatten() {
            for x in [
                &[][..],
                &[1.0f32, -1.0][..],
                &[0.5f32; 40][..],
                &[f32::MAX; 300][..],
                &[f32::MIN_POSITIVE; 8][..],
            ] {
                let _ = g.score(x);
            }
        }
    }

    /// Parses bytes as a CSV of rows for a small signal contract; must never panic.
    pub fn fuzz_csv(data: &[u8]) {
        const DOC: &str = r#"
[contract]
inputs = [{ name = "x", dtype = "float32", shape = [-1, 4] }]
output = { name = "p", labels = ["a", "b"] }
features = [
  { name = "f0", unit = "1", min = 0, max = 1 },
  { name = "f1", unit = "1", min = 0, max = 1 },
  { name = "label", unit = "1", min = 0, max = 1 },
  { name = "f 3", unit = "1", min = -1, max = 1 },
]
[detectors]
mahalanobis_hidden = false
[output]
[extraction]
[limits]
"#;
        let Ok(doc) = DOC.parse::<toml::Table>() else {
            return;
        };
        let Ok(config) = crate::GuardConfig::from_document(&doc) else {
            return;
        };
        let _ = crate::parse_csv(
            data,
            "fuzz.csv",
            &config.contract,
            &crate::CsvLimits::default(),
        );
    }
}

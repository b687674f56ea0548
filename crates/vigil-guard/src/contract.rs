//! The guard's tables of `vigil.toml`: `[contract]`, `[detectors]`, `[output]`, `[extraction]`
//! and `[limits]`, parsed into checked values. Every key is documented in `docs/guard.md`.

use serde::Deserialize;

use crate::error::GuardError;
use vigil_model::{de, table};

pub use vigil_model::{Contract, Feature, Signal};

const FILE: &str = "vigil.toml";

/// Most k-means centres per class for the input Mahalanobis detector.
const MAX_INPUT_CENTRES: usize = 32;

/// `[detectors]`: which detectors run, and how calibration fits them.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSettings {
    /// Target false-positive rate of all detectors together.
    pub fpr: f64,
    /// Class-conditional Mahalanobis distance on the inputs.
    pub mahalanobis_input: bool,
    /// The same on the hidden output (needs `contract.output.hidden`).
    pub mahalanobis_hidden: bool,
    /// Bit depth of the squeezed input (0 = off).
    pub squeeze_bits: u32,
    /// Median smoothing window over signal samples (0 = off; odd, signals only).
    pub median_window: usize,
    /// Low-confidence margin check (top-1 minus top-2 probability).
    pub margin: bool,
    /// Covariance shrinkage towards the identity, in [0, 1).
    pub shrinkage: f64,
    /// Centres per class of the input Mahalanobis detector: 1 for the class mean, more for
    /// k-means centres of each class's whitened rows (for classes that are not one cloud).
    pub input_centres: usize,
    /// Fit the input Mahalanobis detector on the logarithm of each feature (shifted by its
    /// contract minimum less 1% of its spread), for skewed non-negative measurements.
    pub input_log: bool,
    /// Folds of the cross-validation that sets thresholds.
    pub folds: usize,
}

/// `[output]`: what an accepted answer reveals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Every class probability.
    Full,
    /// The k most probable classes.
    TopK(usize),
    /// The label alone.
    Label,
}

/// `[output]`: output policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputPolicy {
    /// What is revealed.
    pub mode: OutputMode,
    /// Probabilities rounded to this many decimals (`None`: not rounded).
    pub decimals: Option<u32>,
}

/// `[extraction]`: the per-client extraction monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractionSettings {
    /// PRADA on/off.
    pub prada: bool,
    /// Alarm when the Shapiro-Wilk W of the distances falls under delta.
    pub delta: f64,
    /// Test the logarithm of the distances (true) or the distances themselves.
    pub log_distances: bool,
    /// Distances needed before the test runs.
    pub min_queries: usize,
    /// Queries kept per client for distances (older ones are dropped).
    pub history: usize,
    /// Distances tested (the most recent, at most 5000).
    pub window: usize,
    /// Run the test every this many queries.
    pub test_every: usize,
    /// Second signal: recent queries considered.
    pub ood_window: usize,
    /// Second signal: alarm when at least this share of them was flagged by a detector.
    pub ood_share: f64,
}

/// `[limits]`: per-request and per-client bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardLimits {
    /// Token-bucket refill rate per client.
    pub rate_per_second: f64,
    /// Token-bucket capacity per client.
    pub burst: f64,
    /// Queries a client may make in the guard's lifetime.
    pub query_budget: u64,
    /// Warn (`volume` alarm) when a client has used this share of its budget.
    pub budget_alarm_share: f64,
    /// Distinct clients tracked at once.
    pub max_clients: usize,
    /// Values accepted in one request.
    pub max_payload_values: usize,
    /// Longest client id, in bytes.
    pub max_client_id_bytes: usize,
}

/// Every guard table of `vigil.toml`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// `[contract]`.
    pub contract: Contract,
    /// `[detectors]`.
    pub detectors: DetectorSettings,
    /// `[output]`.
    pub output: OutputPolicy,
    /// `[extraction]`.
    pub extraction: ExtractionSettings,
    /// `[limits]`.
    pub limits: GuardLimits,
    /// `[alarm_response]` (optional table): what a client's alarm does to that client.
    pub alarm_response: AlarmResponse,
}

/// What an alarm does to the client that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Record the alarm; keep answering.
    Record,
    /// Record it, and divide the client's rate and remaining budget by
    /// `alarm_response.tighten_factor` until an operator reinstates it.
    Tighten,
    /// Record it, and answer nothing more to the client (`client_suspended`, the device falls
    /// back to its safe state) until an operator reviews and reinstates it.
    Suspend,
}

impl Action {
    /// `record`, `tighten` or `suspend`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Record => "record",
            Action::Tighten => "tighten",
            Action::Suspend => "suspend",
        }
    }
}

/// `[alarm_response]`: the response to each kind of client alarm. Drift alarms concern the
/// population, not one client, and are only recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlarmResponse {
    /// On an `extraction` alarm (default `suspend`).
    pub extraction: Action,
    /// On a `volume` alarm (default `record`).
    pub volume: Action,
    /// Divisor of a tightened client's rate and remaining budget (> 1, default 10).
    pub tighten_factor: f64,
}

impl Default for AlarmResponse {
    fn default() -> Self {
        AlarmResponse {
            extraction: Action::Suspend,
            volume: Action::Record,
            tighten_factor: 10.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlarmResponse {
    #[serde(default)]
    extraction: Option<Action>,
    #[serde(default)]
    volume: Option<Action>,
    #[serde(default)]
    tighten_factor: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDetectors {
    fpr: f64,
    mahalanobis_input: bool,
    mahalanobis_hidden: bool,
    squeeze_bits: u32,
    median_window: usize,
    margin: bool,
    shrinkage: f64,
    input_log: bool,
    input_centres: usize,
    folds: usize,
}

impl Default for RawDetectors {
    fn default() -> Self {
        RawDetectors {
            fpr: 0.05,
            mahalanobis_input: true,
            mahalanobis_hidden: true,
            squeeze_bits: 5,
            median_window: 0,
            margin: true,
            shrinkage: 0.1,
            input_log: false,
            input_centres: 1,
            folds: 5,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOutputPolicy {
    mode: String,
    top_k: usize,
    decimals: Option<u32>,
}

impl Default for RawOutputPolicy {
    fn default() -> Self {
        RawOutputPolicy {
            mode: "full".into(),
            top_k: 1,
            decimals: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawExtraction {
    prada: bool,
    delta: f64,
    log_distances: bool,
    min_queries: usize,
    history: usize,
    window: usize,
    test_every: usize,
    ood_window: usize,
    ood_share: f64,
}

impl Default for RawExtraction {
    fn default() -> Self {
        RawExtraction {
            prada: false,
            delta: 0.95,
            log_distances: true,
            min_queries: 100,
            history: 3000,
            window: 1000,
            test_every: 10,
            ood_window: 50,
            ood_share: 0.5,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    rate_per_second: f64,
    burst: f64,
    query_budget: u64,
    budget_alarm_share: f64,
    max_clients: usize,
    max_payload_values: usize,
    max_client_id_bytes: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            rate_per_second: 100.0,
            burst: 200.0,
            query_budget: 100_000,
            budget_alarm_share: 0.8,
            max_clients: 10_000,
            max_payload_values: 65_536,
            max_client_id_bytes: 256,
        }
    }
}

impl GuardConfig {
    /// Parses and checks the guard tables of a `vigil.toml` document. All five tables must be
    /// present (keys inside `[detectors]`, `[output]`, `[extraction]`, `[limits]` have
    /// documented defaults); `[contract]` must be complete.
    pub fn from_document(doc: &toml::Table) -> Result<GuardConfig, GuardError> {
        let contract = Contract::from_document(doc)?;
        let d: RawDetectors = de(table(doc, "detectors")?, "detectors")?;
        let o: RawOutputPolicy = de(table(doc, "output")?, "output")?;
        let e: RawExtraction = de(table(doc, "extraction")?, "extraction")?;
        let l: RawLimits = de(table(doc, "limits")?, "limits")?;

        if !(d.fpr > 0.0 && d.fpr < 0.5) {
            return Err(GuardError::contract(
                FILE,
                "detectors.fpr",
                "must be in (0, 0.5)",
            ));
        }
        if !(0.0..1.0).contains(&d.shrinkage) {
            return Err(GuardError::contract(
                FILE,
                "detectors.shrinkage",
                "must be in [0, 1)",
            ));
        }
        if !(1..=MAX_INPUT_CENTRES).contains(&d.input_centres) {
            return Err(GuardError::contract(
                FILE,
                "detectors.input_centres",
                format!("must be in 1..={MAX_INPUT_CENTRES}"),
            ));
        }
        if !(2..=20).contains(&d.folds) {
            return Err(GuardError::contract(
                FILE,
                "detectors.folds",
                "must be 2 to 20",
            ));
        }
        if d.squeeze_bits > 16 {
            return Err(GuardError::contract(
                FILE,
                "detectors.squeeze_bits",
                "must be 0 to 16",
            ));
        }
        if d.median_window != 0 && (d.median_window % 2 == 0 || d.median_window > 63) {
            return Err(GuardError::contract(
                FILE,
                "detectors.median_window",
                "must be 0 (off) or odd, at most 63",
            ));
        }
        if d.median_window != 0 && contract.signal.is_none() {
            return Err(GuardError::contract(
                FILE,
                "detectors.median_window",
                "median smoothing needs a [contract.signal] input",
            ));
        }
        if d.mahalanobis_hidden && contract.hidden.is_none() {
            return Err(GuardError::contract(
                FILE,
                "detectors.mahalanobis_hidden",
                "needs contract.output.hidden",
            ));
        }
        let mode = match o.mode.as_str() {
            "full" => OutputMode::Full,
            "label" => OutputMode::Label,
            "top_k" => {
                if o.top_k == 0 || o.top_k > contract.labels.len() {
                    return Err(GuardError::contract(
                        FILE,
                        "output.top_k",
                        format!("must be 1 to {}", contract.labels.len()),
                    ));
                }
                OutputMode::TopK(o.top_k)
            }
            other => {
                return Err(GuardError::contract(
                    FILE,
                    "output.mode",
                    format!("{other:?}: expected \"full\", \"top_k\" or \"label\""),
                ))
            }
        };
        if o.decimals.is_some_and(|n| n > 9) {
            return Err(GuardError::contract(
                FILE,
                "output.decimals",
                "must be 0 to 9",
            ));
        }
        if !(e.delta > 0.0 && e.delta < 1.0) {
            return Err(GuardError::contract(
                FILE,
                "extraction.delta",
                "must be in (0, 1)",
            ));
        }
        if e.min_queries < 20 || e.window < e.min_queries || e.window > 5000 {
            return Err(GuardError::contract(
                FILE,
                "extraction.window",
                "need 20 <= min_queries <= window <= 5000",
            ));
        }
        if e.history == 0 || e.history > 100_000 || e.test_every == 0 {
            return Err(GuardError::contract(
                FILE,
                "extraction.history",
                "history must be 1 to 100000 and test_every positive",
            ));
        }
        if e.ood_window == 0 || e.ood_window > 100_000 || !(e.ood_share > 0.0 && e.ood_share <= 1.0)
        {
            return Err(GuardError::contract(
                FILE,
                "extraction.ood_share",
                "ood_window must be 1 to 100000 and ood_share in (0, 1]",
            ));
        }
        let rate_ok = l.rate_per_second.is_finite() && l.rate_per_second > 0.0;
        let burst_ok = l.burst.is_finite() && l.burst >= 1.0;
        if !rate_ok || !burst_ok {
            return Err(GuardError::contract(
                FILE,
                "limits.rate_per_second",
                "rate_per_second must be positive and burst at least 1",
            ));
        }
        if l.query_budget == 0 || l.max_clients == 0 || l.max_client_id_bytes == 0 {
            return Err(GuardError::contract(
                FILE,
                "limits.query_budget",
                "query_budget, max_clients and max_client_id_bytes must be positive",
            ));
        }
        if !(l.budget_alarm_share > 0.0 && l.budget_alarm_share <= 1.0) {
            return Err(GuardError::contract(
                FILE,
                "limits.budget_alarm_share",
                "must be in (0, 1]",
            ));
        }
        if l.max_payload_values < contract.width() {
            return Err(GuardError::contract(
                FILE,
                "limits.max_payload_values",
                format!(
                    "{} is below the contract's {} values",
                    l.max_payload_values,
                    contract.width()
                ),
            ));
        }
        let alarm_response = match doc.get("alarm_response") {
            None => AlarmResponse::default(),
            Some(v) => {
                let r: RawAlarmResponse = de(v, "alarm_response")?;
                let d = AlarmResponse::default();
                let factor = r.tighten_factor.unwrap_or(d.tighten_factor);
                if !(factor.is_finite() && factor > 1.0) {
                    return Err(GuardError::contract(
                        FILE,
                        "alarm_response.tighten_factor",
                        format!("{factor}: must be a finite number above 1"),
                    ));
                }
                AlarmResponse {
                    extraction: r.extraction.unwrap_or(d.extraction),
                    volume: r.volume.unwrap_or(d.volume),
                    tighten_factor: factor,
                }
            }
        };
        Ok(GuardConfig {
            alarm_response,
            contract,
            detectors: DetectorSettings {
                fpr: d.fpr,
                mahalanobis_input: d.mahalanobis_input,
                mahalanobis_hidden: d.mahalanobis_hidden,
                squeeze_bits: d.squeeze_bits,
                median_window: d.median_window,
                margin: d.margin,
                shrinkage: d.shrinkage,
                input_log: d.input_log,
                input_centres: d.input_centres,
                folds: d.folds,
            },
            output: OutputPolicy {
                mode,
                decimals: o.decimals,
            },
            extraction: ExtractionSettings {
                prada: e.prada,
                delta: e.delta,
                log_distances: e.log_distances,
                min_queries: e.min_queries,
                history: e.history,
                window: e.window,
                test_every: e.test_every,
                ood_window: e.ood_window,
                ood_share: e.ood_share,
            },
            limits: GuardLimits {
                rate_per_second: l.rate_per_second,
                burst: l.burst,
                query_budget: l.query_budget,
                budget_alarm_share: l.budget_alarm_share,
                max_clients: l.max_clients,
                max_payload_values: l.max_payload_values,
                max_client_id_bytes: l.max_client_id_bytes,
            },
        })
    }
}

//! The guard: opens a verified bundle and runs every request through the pipeline.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use vigil_bundle::{BundleConfig, BundleVerifier, Limits, Trust, VerifiedBundle};
use vigil_ledger::{
    AlarmDetail, Event, GuardAlarm, Inference, Reinstated, Verdict as LedgerVerdict,
};

use crate::audit::{AuditSink, DriftFeed};
use crate::contract::{Action, Contract, GuardConfig, OutputMode};
use crate::detect::{batch_size, forward, DetectorKind, Reference, REFERENCE_FILE};
use crate::error::GuardError;
use crate::monitor::{Alarm, ClientState};
use crate::overrides::{Admission, ClientOverrides};
use crate::reason::Reason;
use vigil_model::Engine;

/// Detector scores of one request, by [`DetectorKind::code`].
pub type Scores = BTreeMap<&'static str, f64>;

/// The element values of a request tensor.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Values<'a> {
    /// float32, the only type a contract accepts today.
    F32(&'a [f32]),
    /// float64 (refused with `wrong_dtype`).
    F64(&'a [f64]),
    /// int64 (refused with `wrong_dtype`).
    I64(&'a [i64]),
}

impl Values<'_> {
    fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::I64(v) => v.len(),
        }
    }

    fn dtype(&self) -> &'static str {
        match self {
            Values::F32(_) => "float32",
            Values::F64(_) => "float64",
            Values::I64(_) => "int64",
        }
    }
}

/// One request: a named tensor with its shape and values.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Tensor name (the contract's input).
    pub name: &'a str,
    /// Shape: `[1, width]` or `[width]`.
    pub shape: &'a [usize],
    /// Values, row-major.
    pub values: Values<'a>,
}

/// What an accepted request reveals, under the output policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The predicted label.
    pub label: String,
    /// Its index in the contract's labels.
    pub class: usize,
    /// Labels with (rounded) probabilities: all, the top k, or none (label only).
    pub probabilities: Vec<(String, f64)>,
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The input passed every check; here is the answer under the output policy.
    Accept {
        /// The answer.
        output: Output,
    },
    /// No prediction: the reason says why.
    Abstain {
        /// Why.
        reason: Reason,
    },
}

/// The result of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Accept or abstain.
    pub verdict: Verdict,
    /// Detector scores computed for this request (empty if it stopped earlier).
    pub scores: Scores,
    /// Monitor alarms raised at this request.
    pub alarms: Vec<Alarm>,
    /// The audit event's id.
    pub event_id: u64,
}

impl Decision {
    /// The abstention reason, if any.
    pub fn reason(&self) -> Option<&Reason> {
        match &self.verdict {
            Verdict::Abstain { reason } => Some(reason),
            Verdict::Accept { .. } => None,
        }
    }
}

/// A stateless check of one input (contract, detectors, model), without client state or
/// audit: for evaluation. Devices use [`Guard::infer`].
#[derive(Debug, Clone, PartialEq)]
pub struct Screening {
    /// Why the guard would abstain; `None` if it would accept.
    pub reason: Option<Reason>,
    /// Detector scores.
    pub scores: Scores,
    /// The model's class on the raw input, if the model ran (even when the guard abstains).
    pub class: Option<usize>,
    /// The model's probabilities on the raw input, if it ran.
    pub probabilities: Option<Vec<f32>>,
}

/// How a guard is built: the audit sink is required, the rest optional.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use vigil_guard::{GuardOptions, MemoryAudit};
/// let options = GuardOptions::new(Arc::new(MemoryAudit::new(1000))).salt([7; 32]);
/// ```
#[derive(Clone)]
pub struct GuardOptions {
    audit: Arc<dyn AuditSink>,
    drift: Option<Drift>,
    salt: Option<[u8; 32]>,
    bundle_limits: Limits,
}

/// Where the guard's drift observations go.
#[derive(Clone)]
enum Drift {
    Feed(Arc<dyn DriftFeed>),
    #[cfg(feature = "sinks")]
    Monitor(crate::sinks::DriftSettings),
}

impl GuardOptions {
    /// Options with this audit sink (see `vigil-ledger`) and defaults otherwise.
    pub fn new(audit: Arc<dyn AuditSink>) -> Self {
        GuardOptions {
            audit,
            drift: None,
            salt: None,
            bundle_limits: Limits::default(),
        }
    }

    /// Feed accepted requests to a drift monitor the guard builds for its contract once the
    /// bundle is open (streams matched to the contract's features by name).
    #[cfg(feature = "sinks")]
    pub fn drift(mut self, settings: crate::sinks::DriftSettings) -> Self {
        self.drift = Some(Drift::Monitor(settings));
        self
    }

    /// Feed accepted requests to `feed`.
    pub fn drift_feed(mut self, feed: Arc<dyn DriftFeed>) -> Self {
        self.drift = Some(Drift::Feed(feed));
        self
    }

    /// The salt of the input digests in audit events (random by default; fix it only to
    /// compare two runs).
    pub fn salt(mut self, salt: [u8; 32]) -> Self {
        self.salt = Some(salt);
        self
    }

    /// Bounds for reading the bundle.
    pub fn bundle_limits(mut self, limits: Limits) -> Self {
        self.bundle_limits = limits;
        self
    }
}

impl std::fmt::Debug for GuardOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardOptions")
            .field("drift", &self.drift.is_some())
            .field("bundle_limits", &self.bundle_limits)
            .finish_non_exhaustive()
    }
}

/// How one request is run: the caller's overrides of the bundle's limits (a gateway's clients
/// file) and the time it arrived. `Default`: the bundle's limits, now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOptions {
    overrides: ClientOverrides,
    at: Option<Duration>,
}

impl RequestOptions {
    /// The bundle's limits, at the current time.
    pub fn new() -> Self {
        RequestOptions::default()
    }

    /// This caller's limits where they differ from the bundle's.
    pub fn overrides(mut self, overrides: ClientOverrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// The request arrives `at` after the guard opened, not now: for replaying a recorded
    /// stream at its own pace.
    pub fn at(mut self, at: Duration) -> Self {
        self.at = Some(at);
        self
    }
}

/// The runtime guard of one model bundle. `Send + Sync`: share it (`Arc<Guard>`) between
/// threads.
pub struct Guard {
    config: GuardConfig,
    engine: Engine,
    reference: Reference,
    enabled: Vec<(DetectorKind, f64)>,
    bundle_digest: String,
    name: String,
    version: String,
    salt: [u8; 32],
    clients: Mutex<HashMap<String, Arc<Mutex<ClientState>>>>,
    audit: Arc<dyn AuditSink>,
    drift: Option<Arc<dyn DriftFeed>>,
    next_event: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("bundle_digest", &self.bundle_digest)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Verifies the bundle in `dir` under `trust`, then builds the guard from the verified
    /// bytes only: `vigil.toml`'s guard tables, the model (checked against the contract by
    /// tract) and `reference/guard.json` (checked against the model's digest).
    pub fn open(dir: &Path, trust: &Trust, options: GuardOptions) -> Result<Guard, GuardError> {
        let bundle = BundleVerifier::new(dir, trust.clone())
            .limits(options.bundle_limits.clone())
            .verify()
            .map_err(|source| GuardError::Bundle {
                dir: dir.to_path_buf(),
                source,
            })?;
        Guard::from_verified(&bundle, options)
    }

    /// Builds the guard from a bundle already verified (the updater verifies a staged
    /// release once, then builds its guard from the same bytes).
    pub fn from_verified(
        bundle: &VerifiedBundle,
        options: GuardOptions,
    ) -> Result<Guard, GuardError> {
        let unsigned = |name: &str| GuardError::Unsigned {
            dir: bundle.dir().to_path_buf(),
            name: name.to_string(),
        };
        let config = bundle
            .config()
            .ok_or_else(|| unsigned(vigil_bundle::CONFIG_FILE))?;
        let model = bundle
            .file(&config.model)
            .ok_or_else(|| unsigned(&config.model))?;
        let reference = bundle.file(REFERENCE_FILE);
        Guard::build(
            config,
            model,
            reference,
            hex::encode(bundle.digest()),
            options,
        )
    }

    /// Builds a guard from the files in `dir` WITHOUT verifying any signature: for
    /// calibration and evaluation on a build machine only, never on a device.
    pub fn dangerous_open_unverified(
        dir: &Path,
        options: GuardOptions,
    ) -> Result<Guard, GuardError> {
        let files = read_unverified(dir, &options.bundle_limits)?;
        Guard::build(
            &files.config,
            &files.model,
            files.reference.as_deref(),
            hex::encode(Sha256::digest(&files.model)),
            options,
        )
    }

    fn build(
        bundle: &BundleConfig,
        model: &[u8],
        reference: Option<&[u8]>,
        bundle_digest: String,
        options: GuardOptions,
    ) -> Result<Guard, GuardError> {
        let config = GuardConfig::from_document(&bundle.document)?;
        let engine = Engine::load(
            &bundle.model,
            model,
            &config.contract,
            batch_size(&config.detectors),
        )?;
        let missing = || {
            GuardError::contract(
                REFERENCE_FILE,
                "",
                "missing or unsigned: run `vigil guard calibrate`, then sign the bundle",
            )
        };
        let reference = Reference::parse(reference.ok_or_else(missing)?)?;
        let model_sha = hex::encode(Sha256::digest(model));
        let bad = |key: &str, reason: String| GuardError::contract(REFERENCE_FILE, key, reason);
        if reference.model_sha256 != model_sha {
            return Err(bad(
                "model_sha256",
                format!(
                    "statistics are for model {}, the bundle's is {model_sha}: calibrate again",
                    reference.model_sha256
                ),
            ));
        }
        let d = &config.detectors;
        if reference.squeeze_bits != d.squeeze_bits || reference.median_window != d.median_window {
            return Err(bad(
                "squeeze_bits",
                "calibrated with other squeezing settings: calibrate again".into(),
            ));
        }
        if d.mahalanobis_input
            && reference
                .input
                .as_ref()
                .is_some_and(|g| g.log_shift.is_some() != d.input_log)
        {
            return Err(bad(
                "input.log_shift",
                "calibrated with another detectors.input_log: calibrate again".into(),
            ));
        }
        if reference.distance_mean.len() != config.contract.width() {
            return Err(bad(
                "distance_mean",
                "width differs from the contract".into(),
            ));
        }
        let mut enabled = Vec::new();
        for kind in DetectorKind::ALL {
            if !kind.enabled(d) {
                continue;
            }
            let t = reference
                .thresholds
                .get(kind.code())
                .copied()
                .ok_or_else(|| {
                    bad(
                        &format!("thresholds.{}", kind.code()),
                        "missing: calibrate again".into(),
                    )
                })?;
            let (gaussian, width) = match kind {
                DetectorKind::MahalanobisInput => (&reference.input, Some(config.contract.width())),
                DetectorKind::MahalanobisHidden => (&reference.hidden, engine.hidden_width()),
                _ => (&None, None),
            };
            if let Some(w) = width {
                match gaussian {
                    Some(g) if g.dim() == w => {}
                    _ => {
                        return Err(bad(
                            kind.code(),
                            format!("statistics missing or not of width {w}"),
                        ))
                    }
                }
            }
            enabled.push((kind, t));
        }
        let salt = match options.salt {
            Some(s) => s,
            None => {
                let mut s = [0u8; 32];
                use rand_core::RngCore as _;
                rand_core::OsRng
                    .try_fill_bytes(&mut s)
                    .map_err(|e| GuardError::Audit(format!("no randomness for the salt: {e}")))?;
                s
            }
        };
        let drift: Option<Arc<dyn DriftFeed>> = match options.drift {
            None => None,
            Some(Drift::Feed(feed)) => Some(feed),
            #[cfg(feature = "sinks")]
            Some(Drift::Monitor(settings)) => Some(Arc::new(settings.build(&config.contract)?)),
        };
        Ok(Guard {
            config,
            engine,
            reference,
            enabled,
            bundle_digest,
            name: bundle.name.clone(),
            version: bundle.version.to_string(),
            salt,
            clients: Mutex::new(HashMap::new()),
            audit: options.audit,
            drift,
            next_event: AtomicU64::new(1),
            epoch: Instant::now(),
        })
    }

    /// The bundle's name (`[bundle] name` of its signed `vigil.toml`).
    pub fn bundle_name(&self) -> &str {
        &self.name
    }

    /// The bundle's version (`[bundle] version`).
    pub fn bundle_version(&self) -> &str {
        &self.version
    }

    /// The checked guard configuration.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// The input contract.
    pub fn contract(&self) -> &Contract {
        &self.config.contract
    }

    /// Each feature's population standard deviation over the calibration rows
    /// (`distance_scale` of `reference/guard.json`), in contract order: the unit in which
    /// `vigil assess` states attack budgets.
    pub fn distance_scale(&self) -> &[f64] {
        &self.reference.distance_scale
    }

    /// The detectors in force with their thresholds, in checking order.
    pub fn thresholds(&self) -> &[(DetectorKind, f64)] {
        &self.enabled
    }

    /// One row as an [`Input`] of the contract's tensor, shape `[1, width]`.
    pub fn row<'a>(&'a self, values: &'a [f32], shape: &'a mut [usize; 2]) -> Input<'a> {
        *shape = [1, values.len()];
        Input {
            name: &self.config.contract.input,
            shape,
            values: Values::F32(values),
        }
    }

    /// Runs one request of `client` through the whole pipeline.
    ///
    /// ```no_run
    /// # use vigil_guard::{ClientOverrides, Guard, RequestOptions};
    /// # fn demo(guard: &Guard, row: &[f32]) {
    /// let load_test = ClientOverrides { unlimited: true, extraction_monitor: Some(false), ..Default::default() };
    /// let mut shape = [1, row.len()];
    /// let request = RequestOptions::new().overrides(load_test);
    /// let decision = guard.infer("bench-client", &guard.row(row, &mut shape), &request);
    /// # }
    /// ```
    pub fn infer(&self, client: &str, input: &Input<'_>, request: &RequestOptions) -> Decision {
        let at = request.at.unwrap_or_else(|| self.epoch.elapsed());
        let mut alarms = Vec::new();
        let mut scores = Scores::new();
        let verdict = match self.pipeline(
            client,
            &request.overrides,
            input,
            at,
            &mut scores,
            &mut alarms,
        ) {
            (Verdict::Accept { output }, Some((x, confidence))) => {
                if let Some(drift) = &self.drift {
                    alarms.extend(drift.observe(x, confidence));
                }
                Verdict::Accept { output }
            }
            (verdict, _) => verdict,
        };
        let (verdict, responses) = self.respond(client, &request.overrides, &alarms, verdict);
        let event_id = self.next_event.fetch_add(1, Ordering::Relaxed);
        let raised: Vec<(&Alarm, Action)> = alarms
            .iter()
            .enumerate()
            .map(|(i, a)| (a, responses.get(i).copied().unwrap_or(Action::Record)))
            .collect();
        let verdict = match self.record(client, input, event_id, &verdict, &scores, &raised) {
            Ok(()) => verdict,
            Err(_) => Verdict::Abstain {
                reason: Reason::AuditUnavailable,
            },
        };
        Decision {
            verdict,
            scores,
            alarms,
            event_id,
        }
    }

    /// Applies `[alarm_response]` (or the caller's overrides) to the alarms `client` raised
    /// at this request. A client an alarm suspends gets no answer to that request either.
    fn respond(
        &self,
        client: &str,
        overrides: &ClientOverrides,
        alarms: &[Alarm],
        verdict: Verdict,
    ) -> (Verdict, Vec<Action>) {
        let client_alarm = |a: &Alarm| matches!(a, Alarm::Extraction { .. } | Alarm::Volume { .. });
        if !alarms.iter().any(client_alarm) {
            return (verdict, vec![Action::Record; alarms.len()]);
        }
        let internal = || {
            (
                Verdict::Abstain {
                    reason: Reason::Internal,
                },
                vec![Action::Record; alarms.len()],
            )
        };
        let Ok(clients) = self.clients.lock() else {
            return internal();
        };
        let Some(state) = clients.get(client).cloned() else {
            return internal();
        };
        drop(clients);
        let Ok(mut st) = state.lock() else {
            return internal();
        };
        let budget = (!overrides.unlimited).then(|| {
            overrides
                .query_budget
                .unwrap_or(self.config.limits.query_budget)
        });
        let actions = st.respond(
            alarms,
            &self.config.alarm_response,
            overrides.extraction_response,
            overrides.volume_response,
            budget,
        );
        if st.suspended() {
            let verdict = Verdict::Abstain {
                reason: Reason::ClientSuspended,
            };
            return (verdict, actions);
        }
        (verdict, actions)
    }

    /// Lifts the suspension or tightening that alarms put on `client`, on the word of the
    /// operator `by`; the reinstatement is recorded durably first (a `guard.reinstated`
    /// event). `Ok(false)` when the client was neither suspended nor tightened.
    pub fn reinstate(&self, client: &str, by: &str) -> Result<bool, GuardError> {
        let state = {
            let clients = self
                .clients
                .lock()
                .map_err(|_| GuardError::Audit("the client table's lock is poisoned".into()))?;
            clients.get(client).cloned()
        };
        let Some(state) = state else {
            return Ok(false);
        };
        let mut st = state
            .lock()
            .map_err(|_| GuardError::Audit("the client's lock is poisoned".into()))?;
        if !st.suspended() && !st.is_tightened() {
            return Ok(false);
        }
        self.audit.record(&Event::Reinstated(Reinstated {
            time_ms: vigil_ledger::now_ms(),
            model: self.bundle_digest.clone(),
            client: client.chars().take(256).collect(),
            by: by.chars().take(256).collect(),
        }))?;
        Ok(st.reinstate())
    }

    fn client(
        &self,
        client: &str,
        admission: &Admission,
    ) -> Result<Arc<Mutex<ClientState>>, Reason> {
        let limits = &self.config.limits;
        if client.is_empty()
            || client.len() > limits.max_client_id_bytes
            || client.chars().any(char::is_control)
        {
            return Err(Reason::InvalidClient);
        }
        let mut clients = self.clients.lock().map_err(|_| Reason::Internal)?;
        if let Some(c) = clients.get(client) {
            return Ok(c.clone());
        }
        if clients.len() >= limits.max_clients {
            return Err(Reason::TooManyClients);
        }
        let state = Arc::new(Mutex::new(ClientState::new(
            admission,
            self.epoch.elapsed().as_secs_f64(),
        )));
        clients.insert(client.to_string(), state.clone());
        Ok(state)
    }

    fn pipeline<'a>(
        &self,
        client: &str,
        overrides: &ClientOverrides,
        input: &Input<'a>,
        at: Duration,
        scores: &mut Scores,
        alarms: &mut Vec<Alarm>,
    ) -> (Verdict, Option<(&'a [f32], f32)>) {
        let abstain = |reason| Verdict::Abstain { reason };
        // 1-2. identity, rate limit and budget.
        let admission = match overrides.admission(&self.config.limits) {
            Ok(a) => a,
            Err(reason) => return (abstain(reason), None),
        };
        let state = match self.client(client, &admission) {
            Ok(s) => s,
            Err(reason) => return (abstain(reason), None),
        };
        {
            let Ok(mut st) = state.lock() else {
                return (abstain(Reason::Internal), None);
            };
            if let Err(reason) = st.admit(&admission, at.as_secs_f64(), alarms) {
                return (abstain(reason), None);
            }
        }
        // 3-6. payload, contract, detectors, inference.
        let s = match self.screen_inner(input, scores) {
            Err(reason) => return (abstain(reason), None),
            Ok(s) => s,
        };
        let x = s.x;
        let flagged = s.reason.is_some();
        // 7. extraction monitor (every request that passed the contract), unless the
        // caller's operator lifted it (a load generator).
        if overrides.monitored() {
            let scaled: Vec<f32> = x
                .iter()
                .zip(&self.reference.distance_mean)
                .zip(&self.reference.distance_scale)
                .map(|((v, m), sd)| ((f64::from(*v) - m) / sd) as f32)
                .collect();
            let Ok(mut st) = state.lock() else {
                return (abstain(Reason::Internal), None);
            };
            {
                st.observe(
                    &self.config.extraction,
                    &scaled,
                    (!flagged).then_some(s.class),
                    self.engine.classes(),
                    flagged,
                    alarms,
                );
            }
        }
        if let Some(reason) = s.reason {
            return (abstain(reason), None);
        }
        let confidence = s.probabilities.get(s.class).copied().unwrap_or(0.0);
        let output = self.policy(&s.probabilities, s.class);
        (Verdict::Accept { output }, Some((x, confidence)))
    }

    /// Contract checks, then detectors and the model. `Err` for a refusal before the model.
    fn screen_inner<'a>(
        &self,
        input: &Input<'a>,
        scores: &mut Scores,
    ) -> Result<Screened<'a>, Reason> {
        let limits = &self.config.limits;
        let contract = &self.config.contract;
        let width = contract.width();
        if input.values.len() > limits.max_payload_values {
            return Err(Reason::PayloadTooLarge {
                values: input.values.len(),
                max: limits.max_payload_values,
            });
        }
        if input.name != contract.input {
            return Err(Reason::WrongInput {
                name: input.name.chars().take(256).collect(),
            });
        }
        let Values::F32(x) = input.values else {
            return Err(Reason::WrongDtype {
                found: input.values.dtype(),
            });
        };
        let shape_ok = matches!(input.shape, [1, w] | [w] if *w == width);
        if !shape_ok || x.len() != width {
            return Err(Reason::WrongShape {
                found: input.shape.iter().take(8).copied().collect(),
            });
        }
        contract.check_values(x).map_err(Reason::from)?;
        let fwd = forward(&self.engine, &self.config.detectors, &contract.features, x)
            .map_err(|_| Reason::InferenceFailed)?;
        let mut reason = None;
        for &(kind, threshold) in &self.enabled {
            let score = match kind {
                DetectorKind::MahalanobisInput => self.reference.input.as_ref().map(|g| g.score(x)),
                DetectorKind::MahalanobisHidden => self
                    .reference
                    .hidden
                    .as_ref()
                    .zip(fwd.hidden.as_deref())
                    .map(|(g, h)| g.score(h)),
                DetectorKind::Squeezing => fwd.squeezing,
                DetectorKind::LowConfidence => Some(fwd.low_confidence),
                #[allow(unreachable_patterns)]
                _ => None,
            };
            let Some(score) = score else {
                reason.get_or_insert(Reason::InferenceFailed);
                continue;
            };
            scores.insert(kind.code(), score);
            if (score > threshold || score.is_nan()) && reason.is_none() {
                reason = Some(Reason::Detector {
                    detector: kind.code(),
                    score,
                    threshold,
                });
            }
        }
        let class = fwd.class();
        Ok(Screened {
            x,
            reason,
            class,
            probabilities: fwd.probabilities,
        })
    }

    /// A stateless check of one input: contract, detectors and model, with no client state,
    /// no monitor and no audit event. For evaluation.
    pub fn screen(&self, input: &Input<'_>) -> Screening {
        let mut scores = Scores::new();
        match self.screen_inner(input, &mut scores) {
            Err(reason) => Screening {
                reason: Some(reason),
                scores,
                class: None,
                probabilities: None,
            },
            Ok(s) => Screening {
                reason: s.reason,
                scores,
                class: Some(s.class),
                probabilities: Some(s.probabilities),
            },
        }
    }

    fn policy(&self, p: &[f32], class: usize) -> Output {
        let labels = &self.config.contract.labels;
        let policy = &self.config.output;
        let round = |v: f32| -> f64 {
            let v = f64::from(v);
            match policy.decimals {
                Some(n) => {
                    let f = 10f64.powi(n as i32);
                    (v * f).round() / f
                }
                None => v,
            }
        };
        let mut ranked: Vec<(usize, f32)> = p.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let keep = match policy.mode {
            OutputMode::Full => ranked.len(),
            OutputMode::TopK(k) => k,
            OutputMode::Label => 0,
        };
        let probabilities = ranked
            .iter()
            .take(keep)
            .map(|(i, v)| (labels.get(*i).cloned().unwrap_or_default(), round(*v)))
            .collect();
        Output {
            label: labels.get(class).cloned().unwrap_or_default(),
            class,
            probabilities,
        }
    }

    fn digest_input(&self, input: &Input<'_>) -> String {
        salted_digest(&self.salt, input)
    }

    fn record(
        &self,
        client: &str,
        input: &Input<'_>,
        event_id: u64,
        verdict: &Verdict,
        scores: &Scores,
        alarms: &[(&Alarm, Action)],
    ) -> Result<(), GuardError> {
        let time_ms = vigil_ledger::now_ms();
        let client: String = client.chars().take(256).collect();
        let model = &self.bundle_digest;
        for &(alarm, action) in alarms {
            let response = action.name().to_string();
            let event = match alarm {
                Alarm::Extraction {
                    signal,
                    statistic,
                    queries,
                } => Event::GuardAlarm(GuardAlarm {
                    event_id,
                    time_ms,
                    model: model.clone(),
                    client: client.clone(),
                    alarm: AlarmDetail::Extraction {
                        signal: (*signal).to_string(),
                        statistic: *statistic,
                        queries: *queries,
                    },
                    response,
                }),
                Alarm::Volume { used, budget } => Event::GuardAlarm(GuardAlarm {
                    event_id,
                    time_ms,
                    model: model.clone(),
                    client: client.clone(),
                    alarm: AlarmDetail::Volume {
                        used: *used,
                        budget: *budget,
                    },
                    response,
                }),
                Alarm::Drift(detail) => Event::DriftAlarm(vigil_ledger::DriftAlarm {
                    event_id,
                    time_ms,
                    model: model.clone(),
                    alarm: detail.clone(),
                }),
            };
            self.audit.record(&event)?;
        }
        let (v, reason, label) = match verdict {
            Verdict::Accept { output } => (LedgerVerdict::Accept, None, Some(output.label.clone())),
            Verdict::Abstain { reason } => (LedgerVerdict::Abstain, Some(reason.wire()), None),
        };
        self.audit.record(&Event::GuardInference(Inference {
            event_id,
            time_ms,
            model: model.clone(),
            client,
            input_sha256: self.digest_input(input),
            verdict: v,
            reason,
            label,
            scores: scores
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.is_finite().then_some(*v)))
                .collect(),
            alarms: alarms.iter().map(|(a, _)| a.code().to_string()).collect(),
        }))
    }
}

struct Screened<'a> {
    x: &'a [f32],
    reason: Option<Reason>,
    class: usize,
    probabilities: Vec<f32>,
}

/// Bundle files read without verification (calibration, evaluation).
pub(crate) struct Unverified {
    pub(crate) config: BundleConfig,
    pub(crate) model: Vec<u8>,
    pub(crate) reference: Option<Vec<u8>>,
}

pub(crate) fn read_unverified(dir: &Path, limits: &Limits) -> Result<Unverified, GuardError> {
    let path = dir.join(vigil_bundle::CONFIG_FILE);
    let bytes = vigil_core::read_bounded(&path, 16 << 20)?;
    let config = BundleConfig::parse(&bytes, &path).map_err(|source| GuardError::Bundle {
        dir: dir.to_path_buf(),
        source,
    })?;
    let model = vigil_core::read_bounded(&dir.join(&config.model), limits.max_load_bytes)?;
    let rpath = dir.join(REFERENCE_FILE);
    let reference = if rpath.exists() {
        Some(vigil_core::read_bounded(
            &rpath,
            crate::detect::MAX_REFERENCE_BYTES as u64,
        )?)
    } else {
        None
    };
    Ok(Unverified {
        config,
        model,
        reference,
    })
}

// The guard is shared between threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Guard>();
};

/// SHA-256 over the salt, the input's name (length-prefixed), shape and values (little endian),
/// as lowercase hex.
fn salted_digest(salt: &[u8; 32], input: &Input<'_>) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update((input.name.len() as u64).to_le_bytes());
    h.update(input.name.as_bytes());
    for d in input.shape {
        h.update((*d as u64).to_le_bytes());
    }
    // The same byte stream as one update per value, fed 512 bytes at a time.
    let mut buf = [0u8; 512];
    let mut fill = 0;
    let mut put = |h: &mut Sha256, bytes: &[u8]| {
        if fill + bytes.len() > buf.len() {
            h.update(buf.get(..fill).unwrap_or_default());
            fill = 0;
        }
        if let Some(dst) = buf.get_mut(fill..fill + bytes.len()) {
            dst.copy_from_slice(bytes);
            fill += bytes.len();
        }
    };
    match input.values {
        Values::F32(v) => v.iter().for_each(|x| put(&mut h, &x.to_le_bytes())),
        Values::F64(v) => v.iter().for_each(|x| put(&mut h, &x.to_le_bytes())),
        Values::I64(v) => v.iter().for_each(|x| put(&mut h, &x.to_le_bytes())),
    }
    h.update(buf.get(..fill).unwrap_or_default());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod digest_tests {
    use super::*;

    #[test]
    fn the_buffered_digest_equals_one_update_per_value() {
        let salt = [7u8; 32];
        let naive = |input: &Input<'_>| {
            let mut h = Sha256::new();
            h.update(salt);
            h.update((input.name.len() as u64).to_le_bytes());
            h.update(input.name.as_bytes());
            for d in input.shape {
                h.update((*d as u64).to_le_bytes());
            }
            match input.values {
                Values::F32(v) => v.iter().for_each(|x| h.update(x.to_le_bytes())),
                Values::F64(v) => v.iter().for_each(|x| h.update(x.to_le_bytes())),
                Values::I64(v) => v.iter().for_each(|x| h.update(x.to_le_bytes())),
            }
            hex::encode(h.finalize())
        };
        for n in [0usize, 1, 127, 128, 129, 1000] {
            let f: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let d: Vec<f64> = (0..n).map(|i| i as f64 * 0.25).collect();
            let l: Vec<i64> = (0..n).map(|i| i as i64 - 9).collect();
            let shape = [1, n];
            for values in [Values::F32(&f), Values::F64(&d), Values::I64(&l)] {
                let input = Input {
                    name: "input",
                    shape: &shape,
                    values,
                };
                assert_eq!(salted_digest(&salt, &input), naive(&input), "n {n}");
            }
        }
    }
}

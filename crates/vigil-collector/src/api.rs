//! The collector's HTTP interface: the device push protocol and the operators' API, as an
//! axum router ([`crate::router`], which adds the dashboard's pages). Who is calling comes from the connection (mutual TLS): the TLS layer puts a
//! [`Caller`] in each request's extensions; a request without one is refused.
//!
//! Device routes (role `device`):
//! - `GET /v1/state` -> `{"device","size","root"}`: what the collector accepted last for the
//!   calling device, so it knows which entries and which proof to send.
//! - `POST /v1/push` with [`PushBody`] -> [`PushAnswer`], status 200 (accepted, repeat), 409
//!   (replay, fork), 400/403/422 (refused: nothing stored).
//!
//! Operator routes (role `operator`; a device certificate gets 403). Errors are
//! `{"error":"..."}`; times are RFC 3339 (UTC):
//! - `GET /api/devices`, `GET /api/devices/{id}/checkpoints`,
//!   `GET /api/devices/{id}/entries?from=&to=` (from inclusive, to exclusive, at most 10,000 a
//!   page, 1,000 when `to` is left out), `GET /api/devices/{id}/proof?index=I&size=N` (N the
//!   size of an accepted checkpoint; the answer is what `vigil log prove --json` prints),
//!   `GET /api/alarms?since=` (RFC 3339 or Unix milliseconds), `POST /api/alarms/{id}/close`
//!   (with `Content-Type: application/json`; answers `{"id","open":false}`, 404 when unknown),
//!   `GET /api/drift?device=&feature=`.
//! - `GET /metrics` (operators too): Prometheus text (pushes by outcome, entries stored, forks, push latency).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use vigil_ledger::{inclusion_proof, root, MemoryTree};

use crate::collector::Collector;
use crate::store::{DriftPoint, StoreError};
use crate::witness::Push;
use vigil_core::time::{parse_time, rfc3339};

/// Largest push body: 20,000 entries of about 800 bytes fit with room to spare.
pub const MAX_PUSH_BYTES: usize = 64 << 20;
/// Most entries one page of `GET /api/devices/{id}/entries` returns.
pub const MAX_PAGE: u64 = 10_000;

/// What a caller may do, from its certificate's entry in `clients.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A device: pushes its own log.
    Device,
    /// An operator: reads the fleet.
    Operator,
}

/// The authenticated caller of a request: its certificate's common name and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The certificate's CN (for a device, its id).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// The body of `POST /v1/push`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    /// The device's newest signed checkpoint, byte for byte.
    pub checkpoint: String,
    /// Index of the first entry sent (the collector's accepted size, from `GET /v1/state`).
    pub first: u64,
    /// The canonical entries from `first` to the checkpoint's size, each exactly the bytes
    /// hashed (canonical JSON is UTF-8, so a JSON string carries it exactly).
    pub entries: Vec<String>,
    /// The consistency proof from `first` to the new size, hex hashes (empty if none).
    pub proof: Vec<String>,
    /// The model the device runs.
    #[serde(default)]
    pub model: Option<ModelRef>,
    /// What `vigil drift test --json` printed, if the device reports drift.
    #[serde(default)]
    pub drift: Option<DriftSummary>,
}

/// A model name and version.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
}

/// The part of `vigil drift test --json` the collector keeps.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DriftSummary {
    /// One result per feature and test.
    pub results: Vec<DriftResult>,
}

/// One drift test result.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DriftResult {
    /// Feature name.
    pub feature: String,
    /// Test name.
    pub test: String,
    /// Statistic.
    pub statistic: f64,
    /// p-value, where the test has one.
    #[serde(default)]
    pub p_value: Option<f64>,
    /// Whether drift was found.
    pub drift: bool,
}

/// The answer to a push.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PushAnswer {
    /// `accepted`, `repeat`, `replay`, `fork` or the refusal's code.
    pub code: String,
    /// The device's accepted size after the push.
    pub size: u64,
    /// Entries stored by this push.
    pub stored: u64,
    /// The checkpoint with the collector's cosignature/v1 (accepted and repeat only).
    pub cosigned_checkpoint: Option<String>,
    /// Why it was refused.
    pub error: Option<String>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    repeated: AtomicU64,
    refused: AtomicU64,
    forks: AtomicU64,
    entries: AtomicU64,
    latency_us_sum: AtomicU64,
    pushes: AtomicU64,
}

#[derive(Clone)]
struct AppState {
    collector: Arc<Collector>,
    metrics: Arc<Metrics>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn store_error(e: &StoreError) -> Response {
    tracing::error!(error = %e, "collector store failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("store unavailable: {e}"),
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A refused call: its status and message (`{"error": ...}`).
pub(crate) struct Refused(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

pub(crate) fn require(caller: Option<&Caller>, role: Role) -> Result<&Caller, Refused> {
    match caller {
        None => Err(Refused(
            StatusCode::UNAUTHORIZED,
            "a client certificate is required".into(),
        )),
        Some(c) if c.role == role => Ok(c),
        Some(c) => Err(Refused(
            StatusCode::FORBIDDEN,
            format!(
                "{} is a {} and may not call this route",
                c.name,
                match c.role {
                    Role::Device => "device",
                    Role::Operator => "operator",
                }
            ),
        )),
    }
}

/// The device and operator API routes over `collector`, counting into `metrics` (the
/// dashboard's pages are added by [`crate::router`]).
pub(crate) fn api_routes(collector: Arc<Collector>, metrics: Arc<Metrics>) -> Router {
    let state = AppState { collector, metrics };
    Router::new()
        .route("/v1/state", get(device_state))
        .route(
            "/v1/push",
            post(push).layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)),
        )
        .route("/api/devices", get(devices))
        .route("/api/devices/{id}/checkpoints", get(checkpoints))
        .route("/api/devices/{id}/entries", get(entries))
        .route("/api/devices/{id}/proof", get(proof))
        .route("/api/alarms", get(alarms))
        .route("/api/alarms/{id}/close", post(close_alarm))
        .route("/api/drift", get(drift))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(store_error(&e)),
        Err(e) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )),
    }
}

async fn device_state(State(s): State<AppState>, caller: Option<Extension<Caller>>) -> Response {
    let caller = match require(caller.as_deref(), Role::Device) {
        Ok(c) => c.clone(),
        Err(r) => return r.into_response(),
    };
    let c = s.collector.clone();
    let name = caller.name.clone();
    match blocking(move || c.store().accepted_head(&name)).await {
        Ok(head) => {
            let (size, root) =
                head.map_or((0, None), |(size, root)| (size, Some(hex::encode(root))));
            Json(serde_json::json!({"device": caller.name, "size": size, "root": root}))
                .into_response()
        }
        Err(r) => r,
    }
}

fn decode_hashes(hexes: &[String]) -> Result<Vec<vigil_ledger::Hash>, String> {
    hexes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            hex::decode(h)
                .ok()
                .and_then(|b| vigil_ledger::Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| format!("proof[{i}] is not 32 bytes of hex"))
        })
        .collect()
}

/// Whether the request says `Content-Type: application/json` (or another `+json` type).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .is_some_and(|t| {
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        })
}

/// What a push body holds, parsed.
type ParsedPush = (Push, Option<ModelRef>, Option<DriftSummary>);

/// Parses a push body: serde_json straight from the bytes (tens of MiB; run off the async
/// workers). A syntax error is 400, JSON of the wrong shape 422, a proof hash that is not 32
/// bytes of hex 400.
fn parse_push(body: &[u8]) -> Result<ParsedPush, (StatusCode, String)> {
    let b: PushBody = serde_json::from_slice(body).map_err(|e| {
        let status = match e.classify() {
            serde_json::error::Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, format!("bad push: {e}"))
    })?;
    let proof = decode_hashes(&b.proof).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    let push = Push {
        checkpoint: b.checkpoint,
        first: b.first,
        entries: b.entries.into_iter().map(String::into_bytes).collect(),
        proof,
    };
    Ok((push, b.model, b.drift))
}

async fn push(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let started = Instant::now();
    let caller = match require(caller.as_deref(), Role::Device) {
        Ok(c) => c.clone(),
        Err(r) => return r.into_response(),
    };
    let refused = |status: StatusCode, message: String| {
        s.metrics.refused.fetch_add(1, Ordering::Relaxed);
        error(status, message)
    };
    if !is_json(&headers) {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad push: expected Content-Type: application/json".into(),
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return refused(e.status(), format!("bad push: {}", e.body_text())),
    };
    let (push, model, drift) = match tokio::task::spawn_blocking(move || parse_push(&body)).await {
        Ok(Ok(parsed)) => parsed,
        Ok(Err((status, message))) => return refused(status, message),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal error: {e}"),
            )
        }
    };
    let c = s.collector.clone();
    let device = caller.name.clone();
    let result = blocking(move || {
        let now = now_ms();
        let reply = c.push(
            &device,
            &push,
            model
                .as_ref()
                .map(|m| (m.name.as_str(), m.version.as_str())),
            now,
        )?;
        if let (Some(d), true) = (drift, reply.status == 200) {
            let points: Vec<DriftPoint> = d
                .results
                .into_iter()
                .map(|r| DriftPoint {
                    device: device.clone(),
                    feature: r.feature,
                    test: r.test,
                    statistic: r.statistic,
                    p_value: r.p_value,
                    drift: r.drift,
                    time: now,
                })
                .collect();
            c.store().add_drift(&points)?;
        }
        Ok(reply)
    })
    .await;
    let reply = match result {
        Ok(r) => r,
        Err(r) => return r,
    };
    let m = &s.metrics;
    m.pushes.fetch_add(1, Ordering::Relaxed);
    m.latency_us_sum.fetch_add(
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    match reply.code {
        "accepted" => {
            m.accepted.fetch_add(1, Ordering::Relaxed);
            m.entries.fetch_add(reply.stored, Ordering::Relaxed);
        }
        "repeat" => {
            m.repeated.fetch_add(1, Ordering::Relaxed);
        }
        "fork" => {
            m.forks.fetch_add(1, Ordering::Relaxed);
            m.refused.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            m.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST);
    let answer = PushAnswer {
        code: reply.code.to_string(),
        size: reply.size,
        stored: reply.stored,
        cosigned_checkpoint: reply.cosigned,
        error: reply.error,
    };
    (status, Json(answer)).into_response()
}

async fn devices(State(s): State<AppState>, caller: Option<Extension<Caller>>) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    let c = s.collector.clone();
    match blocking(move || c.store().devices()).await {
        Ok(rows) => {
            let devices: Vec<_> = rows
                .into_iter()
                .map(|d| {
                    serde_json::json!({
                        "id": d.id, "model": d.model, "version": d.version, "size": d.size,
                        "root": d.root,
                        "last_checkpoint_time": d.last_checkpoint_time.map(rfc3339),
                        "last_seen": d.last_seen.map(rfc3339),
                        "open_alarms": d.open_alarms,
                    })
                })
                .collect();
            Json(serde_json::json!({ "devices": devices })).into_response()
        }
        Err(r) => r,
    }
}

async fn checkpoints(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    let c = s.collector.clone();
    match blocking(move || c.store().checkpoints(&id)).await {
        Ok(rows) => {
            let checkpoints: Vec<_> = rows
                .into_iter()
                .map(|c| {
                    serde_json::json!({"size": c.size, "root": c.root, "time": rfc3339(c.time),
                                       "accepted": c.accepted, "note": c.note})
                })
                .collect();
            Json(serde_json::json!({ "checkpoints": checkpoints })).into_response()
        }
        Err(r) => r,
    }
}

/// Query of `GET /api/devices/{id}/entries`.
#[derive(Debug, Deserialize)]
struct Range {
    from: Option<u64>,
    to: Option<u64>,
}

async fn entries(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    Query(range): Query<Range>,
) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    let from = range.from.unwrap_or(0);
    let to = range.to.unwrap_or(from.saturating_add(1000));
    if to < from {
        return error(
            StatusCode::BAD_REQUEST,
            format!("to {to} is below from {from}"),
        );
    }
    let to = to.min(from.saturating_add(MAX_PAGE));
    let c = s.collector.clone();
    match blocking(move || c.store().entries(&id, from, to)).await {
        Ok(rows) => {
            let mut out = Vec::with_capacity(rows.len());
            for e in rows {
                let Ok(entry) = String::from_utf8(e.entry) else {
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("stored entry {} is not UTF-8", e.index),
                    );
                };
                out.push(serde_json::json!({"index": e.index, "entry": entry,
                                            "leaf_hash": hex::encode(e.leaf_hash)}));
            }
            Json(serde_json::json!({ "entries": out })).into_response()
        }
        Err(r) => r,
    }
}

/// `POST /api/alarms/{id}/close`: an operator acknowledges an alarm. The request must say
/// `Content-Type: application/json` (a cross-site HTML form cannot, so a page elsewhere cannot
/// close alarms with the operator's browser certificate).
async fn close_alarm(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "closing an alarm needs Content-Type: application/json",
        );
    }
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::NOT_FOUND, format!("no alarm {id:?}"));
    };
    let c = s.collector.clone();
    match blocking(move || c.store().close_alarm(id)).await {
        Ok(true) => Json(serde_json::json!({"id": id, "open": false})).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no alarm {id}")),
        Err(r) => r,
    }
}

/// Query of `GET /api/devices/{id}/proof`.
#[derive(Debug, Deserialize)]
struct ProofQuery {
    index: u64,
    size: u64,
}

async fn proof(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    Query(q): Query<ProofQuery>,
) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    if q.index >= q.size {
        return error(
            StatusCode::BAD_REQUEST,
            format!("index {} is not below size {}", q.index, q.size),
        );
    }
    let c = s.collector.clone();
    let result = blocking(move || {
        let accepted = c
            .store()
            .checkpoints(&id)?
            .into_iter()
            .any(|cp| cp.accepted && cp.size == q.size);
        if !accepted {
            return Ok(None);
        }
        Ok(Some(MemoryTree::new(c.store().leaf_hashes(&id, q.size)?)))
    })
    .await;
    let tree = match result {
        Ok(Some(t)) => t,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no accepted checkpoint of size {} for this device", q.size),
            )
        }
        Err(r) => return r,
    };
    if tree.size() != q.size {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the stored entries do not cover the checkpoint",
        );
    }
    let made = (|| {
        let path = inclusion_proof(&tree, q.index, q.size)?;
        let head = root(&tree, q.size)?;
        let leaf = vigil_ledger::NodeSource::node(&tree, 0, q.index)?;
        Ok::<_, vigil_ledger::Error>((path, head, leaf))
    })();
    match made {
        Ok((path, head, leaf)) => Json(serde_json::json!({
            "index": q.index, "size": q.size, "leaf_hash": hex::encode(leaf),
            "proof": path.iter().map(hex::encode).collect::<Vec<_>>(), "root": hex::encode(head),
        }))
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Query of `GET /api/alarms`.
#[derive(Debug, Deserialize)]
struct Since {
    since: Option<String>,
}

async fn alarms(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Query(q): Query<Since>,
) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(t) => match parse_time(t) {
            Some(ms) => ms,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("since {t:?} is neither RFC 3339 nor Unix milliseconds"),
                )
            }
        },
    };
    let c = s.collector.clone();
    match blocking(move || c.store().alarms(since)).await {
        Ok(rows) => {
            let alarms: Vec<_> = rows
                .into_iter()
                .map(|a| {
                    serde_json::json!({"id": a.id, "device": a.device, "kind": a.kind.code(),
                                       "time": rfc3339(a.time), "open": a.open, "detail": a.detail})
                })
                .collect();
            Json(serde_json::json!({ "alarms": alarms })).into_response()
        }
        Err(r) => r,
    }
}

/// Query of `GET /api/drift`.
#[derive(Debug, Deserialize)]
struct DriftQuery {
    device: Option<String>,
    feature: Option<String>,
}

async fn drift(
    State(s): State<AppState>,
    caller: Option<Extension<Caller>>,
    Query(q): Query<DriftQuery>,
) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    let c = s.collector.clone();
    match blocking(move || c.store().drift(q.device.as_deref(), q.feature.as_deref())).await {
        Ok(points) => {
            let points: Vec<_> = points
                .into_iter()
                .map(|p| {
                    serde_json::json!({"device": p.device, "feature": p.feature, "test": p.test,
                                       "statistic": p.statistic, "p_value": p.p_value,
                                       "drift": p.drift, "time": rfc3339(p.time)})
                })
                .collect();
            Json(serde_json::json!({ "points": points })).into_response()
        }
        Err(r) => r,
    }
}

async fn metrics_text(State(s): State<AppState>, caller: Option<Extension<Caller>>) -> Response {
    if let Err(r) = require(caller.as_deref(), Role::Operator) {
        return r.into_response();
    }
    let m = &s.metrics;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let text = format!(
        "# HELP vigil_collector_pushes_total Pushes by outcome.\n\
         # TYPE vigil_collector_pushes_total counter\n\
         vigil_collector_pushes_total{{outcome=\"accepted\"}} {}\n\
         vigil_collector_pushes_total{{outcome=\"repeat\"}} {}\n\
         vigil_collector_pushes_total{{outcome=\"refused\"}} {}\n\
         # HELP vigil_collector_entries_total Entries stored.\n\
         # TYPE vigil_collector_entries_total counter\n\
         vigil_collector_entries_total {}\n\
         # HELP vigil_collector_forks_total Forked device histories caught.\n\
         # TYPE vigil_collector_forks_total counter\n\
         vigil_collector_forks_total {}\n\
         # HELP vigil_collector_push_seconds Time spent handling pushes.\n\
         # TYPE vigil_collector_push_seconds summary\n\
         vigil_collector_push_seconds_sum {}\n\
         vigil_collector_push_seconds_count {}\n",
        get(&m.accepted),
        get(&m.repeated),
        get(&m.refused),
        get(&m.entries),
        get(&m.forks),
        get(&m.latency_us_sum) as f64 / 1e6,
        get(&m.pushes),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

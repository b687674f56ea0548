//! The HTTP side: routes of the Open Inference Protocol, authorisation by client certificate,
//! overload control, metrics and the ledger endpoints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::backend::InferenceBackend;
use crate::clients::{Caller, Clients};
use crate::ledger::AuditLog;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::oip;
use crate::refusal::{Action, Counted, Refusal};
use vigil_net::PeerIdentity;

/// Options of a [`Gateway`] beyond its backend and clients.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    /// Bounds on connections, requests and parsing.
    pub limits: Limits,
    /// Where refusals are recorded and checkpoints come from (none: refusals are only
    /// logged, and the ledger endpoints answer 404).
    pub audit: Option<AuditLog>,
}

pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn InferenceBackend>,
    pub(crate) clients: Clients,
    pub(crate) limits: Limits,
    pub(crate) metrics: Metrics,
    pub(crate) audit: Option<AuditLog>,
    in_flight: Arc<Semaphore>,
}

/// The gateway: a backend, the clients allowed to reach it, and the routes that serve it.
/// Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("model", &self.shared.backend.model().name)
            .field("clients", &self.shared.clients.len())
            .finish()
    }
}

/// Per-connection facts the connection loop adds to each request.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionFacts {
    pub(crate) remote: std::net::SocketAddr,
    /// Set once this connection's denial has been recorded, so a refused client that keeps
    /// its connection open cannot grow the ledger.
    pub(crate) denial_recorded: Arc<AtomicBool>,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl Shared {
    /// The answer for `refusal`: counted in its metrics family, then its status and error
    /// body. (`elapsed`: time in the backend, for verdicts.)
    pub(crate) fn refuse(&self, refusal: &Refusal, elapsed: std::time::Duration) -> Response {
        match refusal.counted() {
            Counted::Refusal(code) => self.metrics.refusal(code),
            Counted::Verdict(code) => self.metrics.verdict(code, elapsed),
            _ => {}
        }
        json_response(refusal.status(), refusal.body())
    }
}

impl IntoResponse for Refusal {
    /// The status and error body, uncounted (the gateway's handlers count through
    /// `Shared::refuse`).
    fn into_response(self) -> Response {
        json_response(self.status(), self.body())
    }
}

fn route_name(path: &str) -> &'static str {
    if path.ends_with("/infer") {
        "infer"
    } else if path.starts_with("/v2/health") {
        "health"
    } else if path.starts_with("/v2/models") || path == "/v2" {
        "metadata"
    } else if path == "/metrics" {
        "metrics"
    } else if path.starts_with("/vigil/ledger") {
        "ledger"
    } else {
        "other"
    }
}

impl Gateway {
    /// A gateway serving `backend` to the clients named in `clients`.
    pub fn new(
        backend: Arc<dyn InferenceBackend>,
        clients: Clients,
        options: GatewayOptions,
    ) -> Gateway {
        let in_flight = Arc::new(Semaphore::new(options.limits.max_in_flight));
        Gateway {
            shared: Arc::new(Shared {
                backend,
                clients,
                limits: options.limits,
                metrics: Metrics::default(),
                audit: options.audit,
                in_flight,
            }),
        }
    }

    /// The metrics (as `/metrics` serves them).
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// The routes, for in-process use (`tower::ServiceExt::oneshot`) and for the connection
    /// loop. Each request must carry a [`PeerIdentity`] in its extensions (the connection
    /// loop adds the TLS peer's); a request without one is refused with `401`.
    pub fn router(&self) -> Router {
        let state = self.shared.clone();
        let authorised = Router::new()
            .route("/v2", get(server_metadata))
            .route("/v2/health/live", get(live))
            .route("/v2/health/ready", get(ready))
            .route("/v2/models/{name}", get(model_metadata))
            .route(
                "/v2/models/{name}/versions/{version}",
                get(model_metadata_v),
            )
            .route("/v2/models/{name}/ready", get(model_ready))
            .route(
                "/v2/models/{name}/versions/{version}/ready",
                get(model_ready_v),
            )
            .route("/v2/models/{name}/infer", post(infer))
            .route("/v2/models/{name}/versions/{version}/infer", post(infer_v))
            .route("/metrics", get(metrics))
            .route("/vigil/ledger/checkpoint", get(checkpoint))
            .route("/vigil/ledger/proof", get(proof))
            .route("/vigil/clients/{client}/reinstate", post(reinstate))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(middleware::from_fn_with_state(state.clone(), authorise))
            .layer(middleware::from_fn_with_state(state.clone(), admit))
            .layer(middleware::from_fn_with_state(state.clone(), observe));
        authorised.with_state(state)
    }
}

/// Outermost: time and count every answer.
async fn observe(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = route_name(req.uri().path());
    let resp = next.run(req).await;
    s.metrics
        .request(route, resp.status().as_u16(), start.elapsed());
    resp
}

/// Bounded concurrency: one request over the limit is answered `503` at once.
async fn admit(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Ok(permit) = s.in_flight.clone().try_acquire_owned() else {
        tracing::warn!(
            limit = s.limits.max_in_flight,
            "overloaded: request refused"
        );
        return s.refuse(
            &Refusal::Overloaded {
                in_flight: s.limits.max_in_flight,
            },
            std::time::Duration::ZERO,
        );
    };
    s.metrics.in_flight(1);
    let resp = next.run(req).await;
    s.metrics.in_flight(-1);
    drop(permit);
    resp
}

/// The peer's certificate must name a client of the clients file that is not revoked.
async fn authorise(State(s): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let Some(peer) = req.extensions().get::<PeerIdentity>().cloned() else {
        return s.refuse(&Refusal::NoClientCertificate, std::time::Duration::ZERO);
    };
    match s.clients.authorise(&peer) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(denial) => {
            let facts = req.extensions().get::<ConnectionFacts>().cloned();
            let first = facts
                .as_ref()
                .is_none_or(|f| !f.denial_recorded.swap(true, Ordering::SeqCst));
            if first {
                let remote = facts.map(|f| f.remote.to_string());
                tracing::warn!(
                    code = denial.code(),
                    client = peer.common_name.as_deref().unwrap_or(""),
                    cert_sha256 = %peer.sha256,
                    remote = remote.as_deref().unwrap_or(""),
                    "client refused"
                );
                if let Some(audit) = &s.audit {
                    audit
                        .record_denial(&peer, &denial, remote.as_deref().unwrap_or(""))
                        .await;
                }
            }
            s.refuse(&Refusal::NotAuthorised(denial), std::time::Duration::ZERO)
        }
    }
}

async fn not_found(req: Request) -> Refusal {
    Refusal::NotFound {
        path: req.uri().path().to_string(),
    }
}

async fn method_not_allowed(req: Request) -> Refusal {
    Refusal::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
    }
}

async fn server_metadata() -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&serde_json::json!({
            "name": "vigil",
            "version": env!("CARGO_PKG_VERSION"),
            "extensions": ["binary_tensor_data"],
        }))
        .unwrap_or_default(),
    )
}

async fn live() -> StatusCode {
    StatusCode::OK
}

async fn ready(State(s): State<Arc<Shared>>) -> StatusCode {
    if s.backend.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

fn check_model(s: &Shared, name: &str, version: Option<&str>) -> Result<(), Refusal> {
    let model = s.backend.model();
    if name != model.name {
        return Err(Refusal::UnknownModel {
            name: name.to_string(),
            serving: model.name.clone(),
        });
    }
    if let Some(v) = version {
        if v != model.version {
            return Err(Refusal::UnknownVersion {
                name: name.to_string(),
                version: v.to_string(),
                serving: model.version.clone(),
            });
        }
    }
    Ok(())
}

async fn model_metadata(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    metadata_of(&s, &name, None)
}

async fn model_metadata_v(
    State(s): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    metadata_of(&s, &name, Some(&version))
}

fn metadata_of(s: &Shared, name: &str, version: Option<&str>) -> Response {
    if let Err(r) = check_model(s, name, version) {
        return s.refuse(&r, std::time::Duration::ZERO);
    }
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&oip::model_metadata(&s.backend.model())).unwrap_or_default(),
    )
}

async fn model_ready(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    ready_of(&s, &name, None)
}

async fn model_ready_v(
    State(s): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    ready_of(&s, &name, Some(&version))
}

fn ready_of(s: &Shared, name: &str, version: Option<&str>) -> Response {
    if let Err(r) = check_model(s, name, version) {
        return s.refuse(&r, std::time::Duration::ZERO);
    }
    if s.backend.ready() {
        StatusCode::OK.into_response()
    } else {
        s.refuse(&Refusal::ModelNotReady, std::time::Duration::ZERO)
    }
}

async fn infer(
    State(s): State<Arc<Shared>>,
    Path(name): Path<String>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_of(&s, &name, None, &caller, &headers, body).await
}

async fn infer_v(
    State(s): State<Arc<Shared>>,
    Path((name, version)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_of(&s, &name, Some(&version), &caller, &headers, body).await
}

async fn read_body(s: &Shared, headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
    let max = s.limits.max_body_bytes;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max as u64 {
            return Err(Refusal::BodyTooLarge { max });
        }
    }
    let limited = http_body_util::Limited::new(body, max);
    match tokio::time::timeout(s.limits.body_read_timeout, limited.collect()).await {
        Err(_) => Err(Refusal::BodyTimeout {
            after: s.limits.body_read_timeout,
        }),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(Refusal::BodyTooLarge { max })
            } else {
                Err(Refusal::BodyUnreadable {
                    reason: e.to_string(),
                })
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// An inference request: every answer but an accepted one is a [`Refusal`], counted, logged
/// and, when the backend has not recorded it, recorded in the ledger (one durable entry per
/// guarded request, accepted or not).
async fn infer_of(
    s: &Shared,
    name: &str,
    version: Option<&str>,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let (refusal, recorded, elapsed) = match answer(s, name, version, caller, headers, body).await {
        Ok(response) => return response,
        Err(Refused::Early(r)) => (r, false, std::time::Duration::ZERO),
        Err(Refused::Backend(a, elapsed)) => {
            let recorded = a.recorded;
            (Refusal::Abstained(a.reason), recorded, elapsed)
        }
    };
    match &refusal {
        Refusal::Abstained(a) => {
            tracing::info!(client = %caller.id, reason = %a.wire(), "abstained")
        }
        Refusal::Malformed { message } => {
            tracing::info!(client = %caller.id, %message, "malformed request")
        }
        other => tracing::info!(client = %caller.id, code = other.code(), "request refused"),
    }
    if !recorded {
        if let Some(audit) = &s.audit {
            audit
                .record_refusal(&caller.id, &s.backend.model().name, &refusal)
                .await;
        }
    }
    s.refuse(&refusal, elapsed)
}

/// How an inference request was refused: before the backend, or by it.
enum Refused {
    Early(Refusal),
    Backend(crate::refusal::Abstention, std::time::Duration),
}

impl From<Refusal> for Refused {
    fn from(r: Refusal) -> Refused {
        Refused::Early(r)
    }
}

async fn answer(
    s: &Shared,
    name: &str,
    version: Option<&str>,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    check_model(s, name, version)?;
    if !caller.role.may_infer() {
        return Err(Refusal::RoleForbidden {
            client: caller.id.clone(),
            role: caller.role,
            action: Action::Infer,
        }
        .into());
    }
    let header_length = match headers.get(oip::HEADER_LENGTH) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(n) => Some(n),
            None => return Err(Refusal::BadHeaderLength.into()),
        },
    };
    let bytes = read_body(s, headers, body).await?;
    let req = oip::parse_infer(&bytes, header_length, &s.limits)
        .and_then(|r| oip::check_outputs(&r, &s.backend.model()).map(|()| r))
        .map_err(|message| Refusal::Malformed { message })?;
    let start = Instant::now();
    let result = s.backend.infer_async(caller, &req.inputs).await;
    let elapsed = start.elapsed();
    let alarms = match &result {
        Ok(answer) => &answer.alarms,
        Err(abstention) => &abstention.alarms,
    };
    for a in alarms {
        s.metrics.alarm(a);
        tracing::warn!(client = %caller.id, alarm = %a, "monitor alarm");
    }
    let answer = result.map_err(|a| Refused::Backend(a, elapsed))?;
    s.metrics.verdict("accept", elapsed);
    let encoded = oip::encode_response(&s.backend.model(), &req, &answer);
    let mut r = Response::new(Body::from(encoded.body));
    match encoded.header_length {
        None => {
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        Some(n) => {
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            r.headers_mut()
                .insert(oip::HEADER_LENGTH, HeaderValue::from(n));
        }
    }
    Ok(r)
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let mut r = Response::new(Body::from(s.metrics.render(&s.backend.model().name)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// `POST /vigil/clients/{client}/reinstate` (role `admin`): lift the suspension or tightening
/// alarms put on `client` (a client name, or a site of the clients file). Answers
/// `{"client": "...", "reinstated": bool}`; the reinstatement is a ledger event.
async fn reinstate(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(client): Path<String>,
) -> Response {
    if caller.role != vigil_net::Role::Admin {
        let r = Refusal::RoleForbidden {
            client: caller.id.clone(),
            role: caller.role,
            action: Action::Reinstate,
        };
        return s.refuse(&r, std::time::Duration::ZERO);
    }
    let backend = s.backend.clone();
    let (who, by) = (client.clone(), caller.id.clone());
    let done = tokio::task::spawn_blocking(move || backend.reinstate(&who, &by)).await;
    match done.unwrap_or_else(|e| Err(e.to_string())) {
        Ok(reinstated) => {
            tracing::warn!(client = %client, by = %caller.id, reinstated, "client reinstated");
            json_response(
                StatusCode::OK,
                serde_json::to_vec(
                    &serde_json::json!({"client": client, "reinstated": reinstated}),
                )
                .unwrap_or_default(),
            )
        }
        Err(reason) => s.refuse(
            &Refusal::ReinstateFailed { reason },
            std::time::Duration::ZERO,
        ),
    }
}

fn auditor(s: &Shared, caller: &Caller) -> Result<AuditLog, Refusal> {
    if !caller.role.may_audit() {
        return Err(Refusal::RoleForbidden {
            client: caller.id.clone(),
            role: caller.role,
            action: Action::ReadLedger,
        });
    }
    s.audit.clone().ok_or(Refusal::NoLedger)
}

async fn checkpoint(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let audit = match auditor(&s, &caller) {
        Ok(a) => a,
        Err(r) => return s.refuse(&r, std::time::Duration::ZERO),
    };
    match audit.latest_checkpoint().await {
        Ok(Some(note)) => {
            let mut r = Response::new(Body::from(note));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        Ok(None) => Refusal::NoCheckpoint.into_response(),
        Err(e) => Refusal::LedgerFailed {
            reason: e.to_string(),
        }
        .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ProofQuery {
    index: u64,
    #[serde(default)]
    size: Option<u64>,
}

async fn proof(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<ProofQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let audit = match auditor(&s, &caller) {
        Ok(a) => a,
        Err(r) => return s.refuse(&r, std::time::Duration::ZERO),
    };
    let Ok(Query(q)) = query else {
        return Refusal::BadProofQuery.into_response();
    };
    match audit.prove(q.index, q.size).await {
        Ok(p) => json_response(StatusCode::OK, serde_json::to_vec(&p).unwrap_or_default()),
        Err(e) => Refusal::ProofRefused {
            reason: e.to_string(),
        }
        .into_response(),
    }
}

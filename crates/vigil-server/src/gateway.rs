//! The HTTP side: routes of the Open Inference Protocol, authorisation by client certificate,
//! overload control, metrics and the ledger endpoints.

// Helpers return `Result<_, Response>`: the error is the answer itself, built once per request.
#![allow(clippy::result_large_err)]

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

/// The protocol's error answer: `status` with `{"error": message}`.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, oip::error_body(message))
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
        s.metrics.refusal("overloaded");
        tracing::warn!(
            limit = s.limits.max_in_flight,
            "overloaded: request refused"
        );
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "overloaded: {} requests in flight, try again later",
                s.limits.max_in_flight
            ),
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
        s.metrics.refusal("no_client_certificate");
        return error_response(
            StatusCode::UNAUTHORIZED,
            "client not authenticated: no client certificate",
        );
    };
    match s.clients.authorise(&peer) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(denial) => {
            s.metrics.refusal(denial.code());
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
                    let event = serde_json::json!({
                        "event": "client_refused",
                        "reason": denial.code(),
                        "client": peer.common_name.as_deref().unwrap_or(""),
                        "cert_sha256": peer.sha256,
                        "remote": remote.unwrap_or_default(),
                    });
                    audit.record(event).await;
                }
            }
            error_response(StatusCode::FORBIDDEN, &denial.message())
        }
    }
}

async fn not_found(req: Request) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("not found: {}", req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "method {} not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
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

fn check_model(s: &Shared, name: &str, version: Option<&str>) -> Result<(), Response> {
    let model = s.backend.model();
    if name != model.name {
        return Err(error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "unknown model {name:?}: this gateway serves {:?}",
                model.name
            ),
        ));
    }
    if let Some(v) = version {
        if v != model.version {
            return Err(error_response(
                StatusCode::NOT_FOUND,
                &format!(
                    "unknown version {v:?} of model {name:?}: this gateway serves version {:?}",
                    model.version
                ),
            ));
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
        return r;
    }
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&oip::model_metadata(s.backend.model())).unwrap_or_default(),
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
        return r;
    }
    if s.backend.ready() {
        StatusCode::OK.into_response()
    } else {
        error_response(StatusCode::SERVICE_UNAVAILABLE, "model not ready")
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

async fn read_body(s: &Shared, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let max = s.limits.max_body_bytes;
    let too_large = || {
        s.metrics.refusal("body_too_large");
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body is larger than {max} bytes"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max as u64 {
            return Err(too_large());
        }
    }
    let limited = http_body_util::Limited::new(body, max);
    match tokio::time::timeout(s.limits.body_read_timeout, limited.collect()).await {
        Err(_) => {
            s.metrics.refusal("body_timeout");
            Err(error_response(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "request body not received within {} s",
                    s.limits.body_read_timeout.as_secs_f64()
                ),
            ))
        }
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large())
            } else {
                Err(error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot read the request body: {e}"),
                ))
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

async fn infer_of(
    s: &Shared,
    name: &str,
    version: Option<&str>,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    if let Err(r) = check_model(s, name, version) {
        return r;
    }
    if !caller.role.may_infer() {
        s.metrics.refusal("role");
        return error_response(
            StatusCode::FORBIDDEN,
            &format!(
                "client not authorised: role {:?} of {:?} may not run inference",
                caller.role.name(),
                caller.id
            ),
        );
    }
    let header_length = match headers.get(oip::HEADER_LENGTH) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(n) => Some(n),
            None => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("{}: not a byte count", oip::HEADER_LENGTH),
                )
            }
        },
    };
    let bytes = match read_body(s, headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let req = match oip::parse_infer(&bytes, header_length, &s.limits)
        .and_then(|r| oip::check_outputs(&r, s.backend.model()).map(|()| r))
    {
        Ok(r) => r,
        Err(message) => {
            s.metrics
                .verdict("malformed_request", std::time::Duration::ZERO);
            tracing::info!(client = %caller.id, %message, "malformed request");
            return error_response(StatusCode::BAD_REQUEST, &message);
        }
    };
    let start = Instant::now();
    let result = s.backend.infer_async(caller, &req.inputs).await;
    let elapsed = start.elapsed();
    match result {
        Ok(answer) => {
            s.metrics.verdict("accept", elapsed);
            for a in &answer.alarms {
                s.metrics.alarm(a);
                tracing::warn!(client = %caller.id, alarm = %a, "monitor alarm");
            }
            let encoded = oip::encode_response(s.backend.model(), &req, &answer);
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
            r
        }
        Err(refusal) => {
            s.metrics.verdict(&refusal.code, elapsed);
            for a in &refusal.alarms {
                s.metrics.alarm(a);
                tracing::warn!(client = %caller.id, alarm = %a, "monitor alarm");
            }
            tracing::info!(client = %caller.id, reason = %refusal.wire, "abstained");
            let status = StatusCode::from_u16(refusal.http_status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            error_response(status, &refusal.message())
        }
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let mut r = Response::new(Body::from(s.metrics.render(&s.backend.model().name)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

fn auditor(s: &Shared, caller: &Caller) -> Result<AuditLog, Response> {
    if !caller.role.may_audit() {
        s.metrics.refusal("role");
        return Err(error_response(
            StatusCode::FORBIDDEN,
            &format!(
                "client not authorised: role {:?} of {:?} may not read the ledger",
                caller.role.name(),
                caller.id
            ),
        ));
    }
    s.audit
        .clone()
        .ok_or_else(|| error_response(StatusCode::NOT_FOUND, "this gateway keeps no ledger"))
}

async fn checkpoint(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let audit = match auditor(&s, &caller) {
        Ok(a) => a,
        Err(r) => return r,
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
        Ok(None) => error_response(StatusCode::NOT_FOUND, "no checkpoint signed yet"),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("ledger: {e}")),
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
        Err(r) => return r,
    };
    let Ok(Query(q)) = query else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "query must be ?index=I[&size=N] with integers",
        );
    };
    match audit.prove(q.index, q.size).await {
        Ok(p) => json_response(StatusCode::OK, serde_json::to_vec(&p).unwrap_or_default()),
        Err(e) => error_response(StatusCode::BAD_REQUEST, &format!("ledger: {e}")),
    }
}

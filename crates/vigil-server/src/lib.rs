//! The Vigil gateway: a mutual-TLS HTTPS server that speaks the Open Inference Protocol
//! (KServe V2 REST), so existing inference clients reach a guarded model unchanged.
//!
//! Every connection is TLS 1.3 with a client certificate that must chain to the configured
//! client CA (rustls `WebPkiClientVerifier`, ring provider); its subject CN must name a client of
//! the clients file ([`Clients`]) that is not revoked. Each request then goes through the
//! [`InferenceBackend`] (the guard, in `vigil serve`) with the client id as caller identity.
//!
//! # Standards
//! - **Open Inference Protocol / KServe V2 REST**: `GET /v2`, `/v2/health/live`,
//!   `/v2/health/ready`, `/v2/models/{name}[/versions/{v}]`, `.../ready`, `POST .../infer`
//!   with JSON tensors (flat or nested `data`), and **Triton's binary tensor data extension**
//!   (`Inference-Header-Content-Length`, `binary_data_size`, `binary_data_output`), which
//!   `tritonclient.http` uses by default. Errors are `{"error": "<message>"}`. Not
//!   implemented: the `BYTES` and `FP16` datatypes, the shared-memory, statistics, repository
//!   and trace extensions, the gRPC protocol, and compressed bodies.
//! - **TLS 1.3** only (RFC 8446), ALPN `h2` and `http/1.1`; HTTP/1.0, 1.1 (keep-alive) and 2.
//! - **Prometheus text exposition format** 0.0.4 at `/metrics`.
//!
//! # Answers
//! | case | status | body |
//! |------|--------|------|
//! | accepted | 200 | protocol response (`model_name`, `model_version`, `id`, `outputs`) |
//! | abstention | the reason's 4xx (5xx for device faults) | `{"error":"abstain: <reason>"}` |
//! | malformed request | 400 | `{"error":"<field>: <why>"}` |
//! | body over the limit | 413 | `{"error":"request body is larger than N bytes"}` |
//! | body too slow | 408 | `{"error":"request body not received within N s"}` |
//! | unknown, revoked or CN-less client | 403 | `{"error":"client not authorised: ..."}` |
//! | overloaded | 503 | `{"error":"overloaded: ..."}` |
//! | no client certificate, another CA, TLS 1.2 | TLS alert | (handshake refused) |
//!
//! Refusals are logged with `tracing`; unauthorised clients (which hold a certificate of the
//! CA) are also recorded in the ledger, once per connection. Handshake failures are only
//! logged and counted: an unauthenticated peer must not be able to grow the ledger.
//!
//! # Crates relied on
//! `vigil-net` (mutual TLS, peer identities, the accept loop, the demo PKI), `axum` and
//! `hyper` (HTTP), `tokio`, `vigil-guard` (the guard), `vigil-ledger` (audit).
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use tower::ServiceExt;
//! use vigil_server::{Clients, Gateway, GatewayOptions, PeerIdentity, ToyBackend};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clients = Clients::parse("[[client]]\nname = \"ward-7\"\nrole = \"infer\"\n")?;
//! let gateway = Gateway::new(Arc::new(ToyBackend::new()), clients, GatewayOptions::default());
//! let mut req = axum::http::Request::post("/v2/models/toy/infer").body(axum::body::Body::from(
//!     r#"{"id":"1","inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[0,1,0,1]}]}"#,
//! ))?;
//! // The connection loop adds the TLS peer's identity; in-process callers add it themselves.
//! req.extensions_mut().insert(PeerIdentity::for_tests("ward-7"));
//! let resp = gateway.router().oneshot(req).await?;
//! assert_eq!(resp.status(), 200);
//! # Ok(()) }
//! ```
//! To serve over the network: [`server_config`] then [`Gateway::serve`], which runs
//! vigil-net's accept loop (handshake deadline, bounded connections, header and idle
//! timeouts, graceful shutdown).

#![deny(missing_docs)]

mod backend;
pub mod client;
mod clients;
mod config;
#[cfg(feature = "demo-pki")]
mod demo;
mod error;
mod gateway;
mod guarded;
mod ledger;
mod limits;
mod metrics;
mod oip;
mod refusal;
mod serve;
mod upstream;
mod wire;

// The public interface:
pub use backend::{
    Answer, DataType, InferenceBackend, ModelInfo, Tensor, TensorData, TensorSpec, ToyBackend,
};
pub use clients::{Caller, ClientPolicy, Clients, Denial, MAX_CLIENTS_FILE_BYTES};
pub use config::{state_dir, ServeConfig, MAX_CONFIG_BYTES};
#[cfg(feature = "demo-pki")]
pub use demo::{write_demo_pki, DEMO_CLIENTS_TOML, DEMO_FILES, DEMO_README};
pub use error::ServerError;
pub use gateway::{Gateway, GatewayOptions};
pub use guarded::{guard_client, overrides, GuardBackend};
pub use ledger::AuditLog;
pub use limits::Limits;
pub use metrics::{CollectorPush, Metrics};
pub use refusal::{Abstain, Abstention, Action, Counted, Refusal};
// Mutual TLS is vigil-net's: its configurations, peer identities and roles, named here too
// because the gateway's API takes and gives them.
pub use upstream::{UpstreamBackend, MAX_UPSTREAM_BODY};
pub use vigil_net::{
    read_certs, read_key, server_config, server_config_from, shutdown_signal, PeerIdentity, Role,
    TlsFiles, ALPN, MAX_PEM_BYTES,
};
#[cfg(feature = "demo-pki")]
pub use vigil_net::{DemoCa, Issued};

/// The wire parsers and writers, for the fuzz targets in `fuzz/`, tests and the load
/// generator; not part of the API.
#[doc(hidden)]
pub mod internal {
    pub use crate::oip::{
        check_outputs, encode_response, error_body, model_metadata, parse_infer, Encoded,
        InferRequest, OutputRequest, HEADER_LENGTH,
    };
    pub use crate::upstream::parse_answer;

    /// Parse arbitrary bytes as an upstream server's answer (proxy mode); must never panic,
    /// and what it returns respects the bounds.
    pub fn fuzz_server_upstream_answer(data: &[u8]) {
        if let Ok(values) = parse_answer(data) {
            assert!(values.len() <= (1 << 16) + 1, "value bound exceeded");
        }
    }

    /// Parse arbitrary bytes as an inference request body, with and without the binary
    /// extension; a parsed request must respect the limits and encode a response.
    pub fn fuzz_server_infer_body(data: &[u8]) {
        let limits = crate::Limits {
            max_elements: 4096,
            ..crate::Limits::default()
        };
        let split = data.first().map(|b| usize::from(*b) * 4);
        for header in [None, split] {
            if let Ok(req) = parse_infer(data, header, &limits) {
                let total: usize = req.inputs.iter().map(|t| t.data.len()).sum();
                assert!(total <= limits.max_elements, "element limit exceeded");
                for t in &req.inputs {
                    let n: usize = t.shape.iter().product();
                    assert_eq!(n, t.data.len(), "shape and data disagree");
                }
                let model = crate::InferenceBackend::model(&crate::ToyBackend::new()).clone();
                let answer = crate::Answer {
                    outputs: req.inputs.clone(),
                    parameters: serde_json::Map::new(),
                    alarms: Vec::new(),
                };
                let _ = encode_response(&model, &req, &answer);
            }
        }
    }
}

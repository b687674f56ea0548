//! The device side over the network: one push of a device's ledger to a collector over mutual
//! TLS (`vigil collector push`): `GET /v1/state` tells what the collector accepted, then
//! `POST /v1/push` sends the newest signed checkpoint, the entries since and a consistency
//! proof ([`crate::build_push`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde::{Deserialize, Serialize};
use vigil_ledger::{Event, Ledger};

use crate::api::{DriftSummary, ModelRef, PushAnswer, PushBody, MAX_PUSH_BYTES};
use crate::device::{build_push, open_for_push};

/// Largest answer read from a collector.
const MAX_ANSWER_BYTES: usize = 4 << 20;
/// Largest drift summary read.
pub const MAX_DRIFT_BYTES: u64 = 16 << 20;
/// Entries searched, newest first, for the guard event whose model the push names.
const MODEL_SEARCH: u64 = 10_000;

/// Why a push could not be made (the collector's refusals are a [`PushReport`], not this).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushClientError {
    /// The collector URL is not `https://HOST[:PORT][/PATH]`.
    #[error("--collector {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The device's ledger could not be read.
    #[error("{}: {source}", path.display())]
    Ledger {
        /// The ledger.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: vigil_ledger::Error,
    },
    /// The ledger has no signed checkpoint to push.
    #[error("{}: no signed checkpoint to push (run `vigil log checkpoint`)", path.display())]
    NoCheckpoint {
        /// The ledger.
        path: std::path::PathBuf,
    },
    /// The push is larger than a collector accepts.
    #[error(
        "the push is {bytes} bytes, more than the collector's {MAX_PUSH_BYTES}: push more often"
    )]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// The drift summary could not be read.
    #[error("{}: {reason}", path.display())]
    Drift {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// Connecting, TLS, or HTTP failed, or the collector's answer is not the protocol's.
    #[error("{0}")]
    Network(String),
}

/// A collector's address: `https://HOST[:PORT][/PATH]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorUrl {
    host: String,
    port: u16,
    base: String,
}

impl CollectorUrl {
    /// Parses `https://HOST[:PORT][/PATH]` (HOST a name, an IPv4 address or `[IPv6]`; port
    /// 443 by default).
    pub fn parse(url: &str) -> Result<CollectorUrl, PushClientError> {
        let bad = |reason: &str| PushClientError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = url.strip_prefix("https://").ok_or_else(|| {
            bad("must start with https:// (the collector speaks mutual TLS only)")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') || path.contains(['?', '#']) {
            return Err(bad("no user, query or fragment"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after ]")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => 443,
            Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
        };
        Ok(CollectorUrl {
            host,
            port,
            base: path.trim_end_matches('/').to_string(),
        })
    }

    /// `HOST[:PORT]` as sent in the Host header (the port left out when it is 443).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// One push: where, what, and with which TLS identity.
#[derive(Debug, Clone)]
pub struct PushOptions<'a> {
    /// The collector.
    pub collector: CollectorUrl,
    /// The device's ledger.
    pub ledger: &'a Path,
    /// TLS: the CA that the collector's certificate chains to, and the device's certificate
    /// and key ([`vigil_net::client_config`]).
    pub tls: Arc<rustls::ClientConfig>,
    /// The model the device runs; `None`: see [`default_model`].
    pub model: Option<ModelRef>,
    /// What `vigil drift test --json` printed, to report with the push.
    pub drift: Option<DriftSummary>,
    /// Time for the whole push (default 5 minutes).
    pub timeout: Duration,
}

/// How a push ended, as `vigil collector push --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    /// Accepted (or a repeat of the newest accepted checkpoint).
    pub ok: bool,
    /// The collector's HTTP status.
    pub status: u16,
    /// The device, as the collector knows it (its certificate's CN).
    pub device: String,
    /// The device's accepted size after the push.
    pub size: u64,
    /// Entries sent.
    pub entries_sent: u64,
    /// The checkpoint with the collector's cosignature/v1 line (when ok).
    pub cosigned_checkpoint: Option<String>,
    /// Why it was refused (the collector's code and message).
    pub error: Option<String>,
}

/// Reads a drift summary (what `vigil drift test --json` prints).
pub fn read_drift(path: &Path) -> Result<DriftSummary, PushClientError> {
    let bad = |reason: String| PushClientError::Drift {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = vigil_core::read_bounded(path, MAX_DRIFT_BYTES).map_err(|e| bad(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a drift summary: {e}")))
}

/// The model named by the newest guard event in the ledger (among its last 10,000 entries):
/// guard events record the bundle's subject digest, not its name, so this is
/// `{"name": "bundle", "version": "sha256:<digest>"}`. `None` without guard events.
pub fn default_model(ledger: &Ledger) -> Result<Option<ModelRef>, vigil_ledger::Error> {
    let size = ledger.size();
    let mut i = size;
    while i > size.saturating_sub(MODEL_SEARCH) {
        i -= 1;
        let entry = ledger.entry(i)?;
        let digest = match Event::from_json(&entry) {
            Ok(Event::GuardInference(e)) => e.model,
            Ok(Event::GuardAlarm(e)) => e.model,
            Ok(Event::DriftAlarm(e)) => e.model,
            _ => continue,
        };
        if !digest.is_empty() {
            return Ok(Some(ModelRef {
                name: "bundle".into(),
                version: format!("sha256:{digest}"),
            }));
        }
    }
    Ok(None)
}

/// The answer to `GET /v1/state`.
#[derive(Debug, Deserialize)]
struct State {
    device: String,
    size: u64,
}

/// The error text of a non-protocol answer: its `{"error"}` or its first bytes.
fn error_text(status: StatusCode, body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    format!("{status}: {text}")
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn call(
    send: &mut Sender,
    url: &CollectorUrl,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, Bytes), PushClientError> {
    let net = |what: &str, e: &dyn std::fmt::Display| {
        PushClientError::Network(format!("{} {}{path}: {what}: {e}", method, url.authority()))
    };
    let req = Request::builder()
        .method(method.clone())
        .uri(format!("{}{path}", url.base))
        .header(hyper::header::HOST, url.authority())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| net("request", &e))?;
    send.ready().await.map_err(|e| net("connection", &e))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| net("request", &e))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| net("answer", &e))?
        .to_bytes();
    Ok((status, body))
}

/// Pushes the ledger once. A refusal by the collector (403, 409 fork or replay, 4xx) is a
/// [`PushReport`] with `ok: false`; a ledger, URL or network failure is an error.
pub async fn push_once(options: &PushOptions<'_>) -> Result<PushReport, PushClientError> {
    match tokio::time::timeout(options.timeout, push_inner(options)).await {
        Ok(r) => r,
        Err(_) => Err(PushClientError::Network(format!(
            "no answer from {} within {} s",
            options.collector.authority(),
            options.timeout.as_secs()
        ))),
    }
}

async fn push_inner(options: &PushOptions<'_>) -> Result<PushReport, PushClientError> {
    let url = &options.collector;
    let ledger_path = options.ledger.to_path_buf();
    let ledger_err = |source| PushClientError::Ledger {
        path: ledger_path.clone(),
        source,
    };
    // Open the ledger first: a broken ledger is reported without touching the network.
    let path = options.ledger.to_path_buf();
    let ledger = tokio::task::spawn_blocking(move || open_for_push(&path))
        .await
        .map_err(|e| PushClientError::Network(format!("internal: {e}")))?
        .map_err(ledger_err)?;
    let ledger = Arc::new(ledger);

    let net =
        |e: &dyn std::fmt::Display| PushClientError::Network(format!("{}: {e}", url.authority()));
    let server_name = ServerName::try_from(url.host.clone()).map_err(|e| net(&e))?;
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| net(&e))?;
    let _ = tcp.set_nodelay(true);
    let tls = tokio_rustls::TlsConnector::from(options.tls.clone())
        .connect(server_name, tcp)
        .await
        .map_err(|e| net(&format!("TLS: {e}")))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| net(&e))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = exchange(options, &ledger, &mut send).await;
    driver.abort();
    result
}

async fn exchange(
    options: &PushOptions<'_>,
    ledger: &Arc<Ledger>,
    send: &mut Sender,
) -> Result<PushReport, PushClientError> {
    let url = &options.collector;
    let refused = |status: StatusCode, body: &[u8]| PushReport {
        ok: false,
        status: status.as_u16(),
        device: String::new(),
        size: 0,
        entries_sent: 0,
        cosigned_checkpoint: None,
        error: Some(error_text(status, body)),
    };
    let (status, body) = call(send, url, Method::GET, "/v1/state", Vec::new()).await?;
    if status != StatusCode::OK {
        if status.is_client_error() {
            return Ok(refused(status, &body));
        }
        return Err(PushClientError::Network(format!(
            "GET /v1/state: {}",
            error_text(status, &body)
        )));
    }
    let state: State = serde_json::from_slice(&body).map_err(|e| {
        PushClientError::Network(format!("GET /v1/state: not the collector's answer: {e}"))
    })?;

    let ledger_path = options.ledger.to_path_buf();
    let (model, drift) = (options.model.clone(), options.drift.clone());
    let l = ledger.clone();
    let accepted = state.size;
    let built = tokio::task::spawn_blocking(move || {
        let model = match model {
            Some(m) => Some(m),
            None => default_model(&l)?,
        };
        let push = build_push(&l, accepted, model)?;
        Ok::<_, vigil_ledger::Error>(push.map(|mut p| {
            p.drift = drift;
            p
        }))
    })
    .await
    .map_err(|e| PushClientError::Network(format!("internal: {e}")))?
    .map_err(|source| PushClientError::Ledger {
        path: ledger_path.clone(),
        source,
    })?;
    let Some(push): Option<PushBody> = built else {
        return Err(PushClientError::NoCheckpoint { path: ledger_path });
    };
    let entries_sent = push.entries.len() as u64;
    // Tens of MiB at most: serialised on a blocking thread, off the runtime's workers (a
    // gateway pushing from its own runtime keeps serving).
    let bytes = tokio::task::spawn_blocking(move || serde_json::to_vec(&push))
        .await
        .map_err(|e| PushClientError::Network(format!("internal: {e}")))?
        .map_err(|e| PushClientError::Network(format!("internal: {e}")))?;
    if bytes.len() > MAX_PUSH_BYTES {
        return Err(PushClientError::TooLarge { bytes: bytes.len() });
    }
    let (status, body) = call(send, url, Method::POST, "/v1/push", bytes).await?;
    let answer: Option<PushAnswer> = serde_json::from_slice(&body).ok();
    match answer {
        Some(a) => {
            let ok = status == StatusCode::OK && matches!(a.code.as_str(), "accepted" | "repeat");
            Ok(PushReport {
                ok,
                status: status.as_u16(),
                device: state.device,
                size: a.size,
                entries_sent,
                cosigned_checkpoint: if ok { a.cosigned_checkpoint } else { None },
                error: a.error.map(|e| format!("{}: {e}", a.code)),
            })
        }
        None if status.is_client_error() => Ok(PushReport {
            device: state.device,
            entries_sent,
            ..refused(status, &body)
        }),
        None => Err(PushClientError::Network(format!(
            "POST /v1/push: {}",
            error_text(status, &body)
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn collector_urls() {
        let u = CollectorUrl::parse("https://collector.example").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.base.as_str()),
            ("collector.example", 443, "")
        );
        assert_eq!(u.authority(), "collector.example");
        let u = CollectorUrl::parse("https://127.0.0.1:8444/fleet/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.base.as_str()),
            ("127.0.0.1", 8444, "/fleet")
        );
        assert_eq!(u.authority(), "127.0.0.1:8444");
        let u = CollectorUrl::parse("https://[::1]:9000").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert_eq!(u.authority(), "[::1]:9000");
        for bad in [
            "http://collector.example",
            "collector.example:443",
            "https://",
            "https://:443",
            "https://host:notaport",
            "https://host:70000",
            "https://user@host",
            "https://host/path?q=1",
            "https://[::1",
            "https://[::1]x",
        ] {
            assert!(CollectorUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_texts_are_bounded() {
        let long = vec![b'x'; 10_000];
        assert!(error_text(StatusCode::BAD_GATEWAY, &long).len() < 300);
        assert_eq!(
            error_text(StatusCode::FORBIDDEN, br#"{"error":"no"}"#),
            "403 Forbidden: no"
        );
    }
}

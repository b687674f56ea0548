//! Proxy mode: the guard in front of an upstream Open Inference Protocol server (for example a
//! Triton or KServe server on the device's internal side) instead of the model in process.
//!
//! Every request runs the whole guard first (identity, limits, contract, detectors on the
//! verified local model, extraction monitor, audit event); only an accepted request is
//! forwarded. The upstream's answer is then checked against the guard's own run of the same
//! verified model: the class must agree and each probability the output policy reveals must
//! agree within the policy's rounding. An answer altered on the way, or by a tampered upstream
//! model, is refused with `502 {"error":"abstain: upstream_mismatch"}`; an upstream that
//! cannot be reached or answers malformed JSON gives `502 upstream_unavailable`. The client
//! always receives the guard's answer (its output policy), never the upstream's raw tensor.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::backend::{Answer, InferenceBackend, ModelInfo, Tensor, TensorData};
use crate::clients::Caller;
use crate::error::ServerError;
use crate::guarded::GuardBackend;
use crate::refusal::{Abstain, Abstention};

/// Largest upstream answer read.
pub const MAX_UPSTREAM_BODY: usize = 1 << 20;
/// Connections kept alive to the upstream.
const POOL: usize = 64;

/// The guard, then the upstream server for accepted requests.
pub struct UpstreamBackend {
    guard: Arc<GuardBackend>,
    authority: String,
    path: String,
    pool: tokio::sync::Mutex<Vec<SendRequest<Full<Bytes>>>>,
    timeout: Duration,
    tolerance: f64,
}

impl std::fmt::Debug for UpstreamBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBackend")
            .field("upstream", &self.authority)
            .finish_non_exhaustive()
    }
}

/// `http://HOST:PORT` (an optional trailing `/`), nothing else: the upstream is the device's
/// internal side; TLS to it is not offered.
fn authority(url: &str) -> Result<String, ServerError> {
    let bad = |reason: &str| ServerError::Upstream {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http://HOST:PORT is supported"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad("expected http://HOST:PORT with no path"));
    }
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| bad("the port is required"))?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad("expected http://HOST:PORT"));
    }
    Ok(rest.to_string())
}

impl UpstreamBackend {
    /// Guard with `guard`, forward to `url` (`http://HOST:PORT`) as model `guard.model().name`.
    pub fn new(guard: GuardBackend, url: &str) -> Result<UpstreamBackend, ServerError> {
        let authority = authority(url)?;
        let path = format!("/v2/models/{}/infer", guard.model().name);
        let tolerance = match guard.guard().config().output.decimals {
            Some(d) => 0.5 * 10f64.powi(-i32::try_from(d).unwrap_or(i32::MAX)) + 1e-4,
            None => 1e-4,
        };
        Ok(UpstreamBackend {
            guard: Arc::new(guard),
            authority,
            path,
            pool: tokio::sync::Mutex::new(Vec::new()),
            timeout: Duration::from_secs(10),
            tolerance,
        })
    }

    async fn connection(&self) -> std::io::Result<SendRequest<Full<Bytes>>> {
        while let Some(mut c) = self.pool.lock().await.pop() {
            if c.ready().await.is_ok() {
                return Ok(c);
            }
        }
        let tcp = tokio::net::TcpStream::connect(&self.authority).await?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// POST the accepted input upstream; the first output's values.
    async fn forward(&self, inputs: &[Tensor]) -> Result<Vec<f64>, String> {
        let tensors: Vec<serde_json::Value> = inputs
            .iter()
            .map(|t| {
                let data = match &t.data {
                    TensorData::F32(v) => serde_json::json!(v),
                    TensorData::F64(v) => serde_json::json!(v),
                    TensorData::Int(v) => serde_json::json!(v),
                    TensorData::Uint(v) => serde_json::json!(v),
                    TensorData::Bool(v) => serde_json::json!(v),
                };
                serde_json::json!({"name": t.name, "shape": t.shape,
                                   "datatype": t.datatype.name(), "data": data})
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "inputs": tensors }))
            .map_err(|e| e.to_string())?;
        let mut conn = self.connection().await.map_err(|e| e.to_string())?;
        let req = axum::http::Request::post(self.path.as_str())
            .header("host", self.authority.as_str())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = conn.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_UPSTREAM_BODY)
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        let mut pool = self.pool.lock().await;
        if pool.len() < POOL {
            pool.push(conn);
        }
        drop(pool);
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        parse_answer(&bytes)
    }

    /// The guard's accepted answer agrees with the upstream's values.
    fn agrees(&self, answer: &Answer, upstream: &[f64]) -> bool {
        let labels = &self.guard.model().labels;
        let Some(label) = answer.parameters.get("label").and_then(|l| l.as_str()) else {
            return false;
        };
        let argmax = upstream
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        if upstream.len() != labels.len()
            || argmax.and_then(|i| labels.get(i)).map(String::as_str) != Some(label)
        {
            return false;
        }
        let revealed = answer
            .parameters
            .get("labels")
            .and_then(|l| l.as_array())
            .cloned()
            .unwrap_or_default();
        let Some(TensorData::F32(local)) = answer.outputs.first().map(|t| &t.data) else {
            return revealed.is_empty();
        };
        revealed.iter().zip(local).all(|(l, p)| {
            let i = labels.iter().position(|x| Some(x.as_str()) == l.as_str());
            i.and_then(|i| upstream.get(i))
                .is_some_and(|u| (u - f64::from(*p)).abs() <= self.tolerance)
        })
    }
}

/// The first output's values of an upstream's JSON inference answer (bounded: at most
/// [`MAX_UPSTREAM_BODY`] bytes are read, nesting depth 8, 65 536 values).
pub fn parse_answer(bytes: &[u8]) -> Result<Vec<f64>, String> {
    if bytes.len() > MAX_UPSTREAM_BODY {
        return Err("answer too large".into());
    }
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("json: {e}"))?;
    let out = v["outputs"]
        .as_array()
        .and_then(|o| o.first())
        .ok_or("no outputs")?;
    let mut values = Vec::new();
    flatten(&out["data"], &mut values, 0)?;
    Ok(values)
}

/// Row-major values of a flat or nested JSON array of numbers (depth bounded).
fn flatten(v: &serde_json::Value, out: &mut Vec<f64>, depth: usize) -> Result<(), String> {
    if depth > 8 || out.len() > 1 << 16 {
        return Err("output too deep or too large".into());
    }
    match v {
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out, depth + 1)),
        serde_json::Value::Number(n) => {
            out.push(n.as_f64().ok_or("not a number")?);
            Ok(())
        }
        _ => Err("output data is not numbers".into()),
    }
}

impl InferenceBackend for UpstreamBackend {
    fn model(&self) -> std::sync::Arc<ModelInfo> {
        self.guard.model()
    }

    fn reinstate(&self, client: &str, by: &str) -> Result<bool, String> {
        self.guard.reinstate(client, by)
    }

    /// Proxy mode is asynchronous only: a synchronous call is refused (fail closed).
    fn infer(&self, _caller: &Caller, _inputs: &[Tensor]) -> Result<Answer, Abstention> {
        Err(Abstention::early(Abstain::UpstreamUnavailable))
    }

    fn infer_async<'a>(
        &'a self,
        caller: &'a Caller,
        inputs: &'a [Tensor],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, Abstention>> + Send + 'a>>
    {
        Box::pin(async move {
            let mut answer = self.guard.infer_async(caller, inputs).await?;
            // The guard recorded the request as accepted; the gateway records the refusal.
            let refuse = |reason: Abstain, why: &str| {
                tracing::warn!(code = reason.code(), upstream = %self.authority, reason = why, "upstream answer refused");
                Abstention {
                    reason,
                    alarms: answer.alarms.clone(),
                    recorded: false,
                }
            };
            let upstream = match tokio::time::timeout(self.timeout, self.forward(inputs)).await {
                Ok(Ok(v)) => v,
                Ok(Err(why)) => return Err(refuse(Abstain::UpstreamUnavailable, &why)),
                Err(_) => return Err(refuse(Abstain::UpstreamUnavailable, "timeout")),
            };
            if !self.agrees(&answer, &upstream) {
                return Err(refuse(
                    Abstain::UpstreamMismatch,
                    "differs from the verified model",
                ));
            }
            answer
                .parameters
                .insert("upstream".into(), serde_json::Value::Bool(true));
            Ok(answer)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn answers_are_parsed_flat_or_nested_and_bounded() {
        let ok = br#"{"outputs":[{"name":"p","data":[[0.25,0.75]]},{"data":[9]}]}"#;
        assert_eq!(super::parse_answer(ok).unwrap(), vec![0.25, 0.75]);
        for bad in [
            &br#"{"outputs":[]}"#[..],
            br#"{"outputs":[{"data":["a"]}]}"#,
            br#"{"outputs":[{"data":[[[[[[[[[[1]]]]]]]]]]}]}"#,
            b"not json",
        ] {
            assert!(super::parse_answer(bad).is_err());
        }
    }

    #[test]
    fn only_plain_host_and_port() {
        assert_eq!(
            authority("http://127.0.0.1:8000").unwrap(),
            "127.0.0.1:8000"
        );
        assert_eq!(authority("http://triton:8000/").unwrap(), "triton:8000");
        for bad in [
            "https://x:1",
            "http://x",
            "http://x:0",
            "http://x:1/v2",
            "http://u@x:1",
            "x:1",
            "http://:1",
        ] {
            assert!(authority(bad).is_err(), "{bad}");
        }
    }
}

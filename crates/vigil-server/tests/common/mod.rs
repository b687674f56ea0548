//! What the in-process gateway tests share: one request through the router.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vigil_server::{Gateway, PeerIdentity};

/// One request through the gateway's router, as client `who` (`None`: no certificate): the
/// status, the body as JSON (`Null` if it is not JSON), the headers and the raw body.
pub async fn call(
    g: &Gateway,
    who: Option<&str>,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, Value, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body))
        .unwrap();
    if let Some(who) = who {
        req.extensions_mut().insert(PeerIdentity::for_tests(who));
    }
    let resp = g.router().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, headers, bytes)
}

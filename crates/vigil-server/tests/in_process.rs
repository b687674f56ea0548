//! The routes driven in-process with `tower::ServiceExt::oneshot`: every documented answer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use common::call;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vigil_server::{Clients, Gateway, GatewayOptions, Limits, PeerIdentity, ToyBackend};

const CLIENTS: &str = r#"
[[client]]
name = "ward"
role = "infer"
[[client]]
name = "auditor"
role = "audit"
[[client]]
name = "gone"
role = "infer"
revoked = true
[[client]]
name = "frozen"
role = "infer"
rate_per_second = 0.0
"#;

fn gateway(limits: Limits) -> Gateway {
    Gateway::new(
        Arc::new(ToyBackend::new()),
        Clients::parse(CLIENTS).unwrap(),
        GatewayOptions {
            limits,
            audit: None,
        },
    )
}

fn infer_body(data: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": "req-1", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": data}]})).unwrap()
}

#[tokio::test]
async fn health_and_metadata() {
    let g = gateway(Limits::default());
    assert_eq!(
        call(&g, Some("ward"), "GET", "/v2/health/live", vec![])
            .await
            .0,
        200
    );
    assert_eq!(
        call(&g, Some("ward"), "GET", "/v2/health/ready", vec![])
            .await
            .0,
        200
    );
    assert_eq!(
        call(&g, Some("ward"), "GET", "/v2/models/toy/ready", vec![])
            .await
            .0,
        200
    );
    let (s, v, ..) = call(&g, Some("ward"), "GET", "/v2/models/toy", vec![]).await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"name": "toy", "versions": ["1"], "platform": "vigil_toy",
               "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
               "outputs": [{"name": "p", "datatype": "FP32", "shape": [-1, 2]}]})
    );
    let (s, v, ..) = call(&g, Some("ward"), "GET", "/v2/models/nope", vec![]).await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("unknown model"));
    let (s, v, ..) = call(&g, Some("ward"), "GET", "/v2", vec![]).await;
    assert_eq!(s, 200);
    assert_eq!(v["name"], "vigil");
    let (s, v, ..) = call(&g, Some("ward"), "DELETE", "/v2/models/toy", vec![]).await;
    assert_eq!(s, 405);
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn accepted_inference_follows_the_protocol() {
    let g = gateway(Limits::default());
    let (s, v, h, _) = call(
        &g,
        Some("ward"),
        "POST",
        "/v2/models/toy/infer",
        infer_body(json!([0.5, 1.0, -0.25, 2.0])),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(v["model_name"], "toy");
    assert_eq!(v["model_version"], "1");
    assert_eq!(v["id"], "req-1");
    let out = &v["outputs"][0];
    assert_eq!(out["name"], "p");
    assert_eq!(out["datatype"], "FP32");
    assert_eq!(out["shape"], json!([1, 2]));
    let want = ToyBackend::expected(&[0.5, 1.0, -0.25, 2.0]);
    let got: Vec<f32> = out["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(got, want.to_vec());
    // Versioned route and nested data give the same answer.
    let body = serde_json::to_vec(&json!({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [[0.5, 1.0, -0.25, 2.0], [0, 0, 0, 0]]}]})).unwrap();
    let (s, v, ..) = call(
        &g,
        Some("ward"),
        "POST",
        "/v2/models/toy/versions/1/infer",
        body,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["outputs"][0]["shape"], json!([2, 2]));
    assert!(v.get("id").is_none());
}

#[tokio::test]
async fn binary_extension_in_and_out() {
    let g = gateway(Limits::default());
    let json = br#"{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}}"#;
    let mut body = json.to_vec();
    for x in [0.5f32, 1.0, -0.25, 2.0] {
        body.extend_from_slice(&x.to_le_bytes());
    }
    let mut req = Request::post("/v2/models/toy/infer")
        .header("Inference-Header-Content-Length", json.len())
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(PeerIdentity::for_tests("ward"));
    let resp = g.router().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let n: usize = resp.headers()["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let head: Value = serde_json::from_slice(&bytes[..n]).unwrap();
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 8);
    let p0 = f32::from_le_bytes(bytes[n..n + 4].try_into().unwrap());
    assert_eq!(p0, ToyBackend::expected(&[0.5, 1.0, -0.25, 2.0])[0]);
}

#[tokio::test]
async fn abstentions_and_malformed_requests() {
    let g = gateway(Limits::default());
    let path = "/v2/models/toy/infer";
    // Out of range: the backend abstains with its reason.
    let (s, v, ..) = call(
        &g,
        Some("ward"),
        "POST",
        path,
        infer_body(json!([50, 0, 0, 0])),
    )
    .await;
    assert_eq!(
        (s, v.clone()),
        (422, json!({"error": "abstain: out_of_range:x[0]"}))
    );
    // NaN cannot be written in JSON: strings and nulls are malformed.
    for bad in [
        json!(["NaN", 0, 0, 0]),
        json!([null, 0, 0, 0]),
        json!([0, "Infinity", 0, 0]),
    ] {
        let (s, v, ..) = call(&g, Some("ward"), "POST", path, infer_body(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("expected a number for FP32"),
            "{v}"
        );
    }
    // Numbers beyond f32 become infinite and the backend abstains: not finite.
    let (s, v, ..) = call(
        &g,
        Some("ward"),
        "POST",
        path,
        infer_body(json!([1e39, 0, 0, 0])),
    )
    .await;
    assert_eq!((s, v), (422, json!({"error": "abstain: not_finite:x[0]"})));
    // Wrong shape and dtype reach the backend, which abstains.
    let body = serde_json::to_vec(
        &json!({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}),
    )
    .unwrap();
    let (s, v, ..) = call(&g, Some("ward"), "POST", path, body).await;
    assert_eq!((s, v), (400, json!({"error": "abstain: wrong_shape"})));
    let body = serde_json::to_vec(&json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT32", "data": [1, 2, 3, 4]}]})).unwrap();
    let (s, v, ..) = call(&g, Some("ward"), "POST", path, body).await;
    assert_eq!((s, v), (400, json!({"error": "abstain: wrong_dtype"})));
    // Malformed JSON, data that does not match the shape, unknown outputs.
    for (body, want) in [
        (b"{not json".to_vec(), "malformed request JSON"),
        (b"[]".to_vec(), "malformed request JSON"),
        (
            serde_json::to_vec(&json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2]}]})).unwrap(),
            "has 2 values but shape [1, 4] needs 4",
        ),
        (
            serde_json::to_vec(&json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "outputs": [{"name": "secret_hidden"}]})).unwrap(),
            "the model has no output \"secret_hidden\"",
        ),
    ] {
        let (s, v, ..) = call(&g, Some("ward"), "POST", path, body).await;
        assert_eq!(s, 400);
        assert!(v["error"].as_str().unwrap().contains(want), "{v}");
    }
    let m = g.metrics();
    assert_eq!(m.verdict_count("out_of_range"), 1);
    assert_eq!(m.verdict_count("malformed_request"), 7);
}

#[tokio::test]
async fn huge_bodies_are_refused() {
    let g = gateway(Limits {
        max_body_bytes: 1000,
        ..Limits::default()
    });
    let mut big = infer_body(json!([0, 0, 0, 0]));
    big.resize(5000, b' ');
    let (s, v, ..) = call(&g, Some("ward"), "POST", "/v2/models/toy/infer", big).await;
    assert_eq!(
        (s, v),
        (
            413,
            json!({"error": "request body is larger than 1000 bytes"})
        )
    );
    // A shape that claims more elements than the limit, in a small body.
    let g = gateway(Limits::default());
    let body = serde_json::to_vec(&json!({"inputs": [{"name": "x", "shape": [4000000000u64, 4], "datatype": "FP32", "data": [1]}]})).unwrap();
    let (s, v, ..) = call(&g, Some("ward"), "POST", "/v2/models/toy/infer", body).await;
    assert_eq!(s, 400);
    assert!(
        v["error"].as_str().unwrap().contains("more than the limit"),
        "{v}"
    );
}

#[tokio::test]
async fn unknown_revoked_and_anonymous_clients_are_refused() {
    let g = gateway(Limits::default());
    let body = infer_body(json!([0, 0, 0, 0]));
    let (s, v, ..) = call(&g, None, "POST", "/v2/models/toy/infer", body.clone()).await;
    assert_eq!(
        (s, v),
        (
            401,
            json!({"error": "client not authenticated: no client certificate"})
        )
    );
    let (s, v, ..) = call(&g, Some("stranger"), "GET", "/v2/health/ready", vec![]).await;
    assert_eq!(s, 403);
    assert_eq!(
        v["error"],
        "client not authorised: \"stranger\" is not in the clients file"
    );
    let (s, v, ..) = call(
        &g,
        Some("gone"),
        "POST",
        "/v2/models/toy/infer",
        body.clone(),
    )
    .await;
    assert_eq!(s, 403);
    assert!(v["error"].as_str().unwrap().contains("is revoked"));
    // Role: an auditor may not infer; an infer client may not read the ledger.
    let (s, v, ..) = call(
        &g,
        Some("auditor"),
        "POST",
        "/v2/models/toy/infer",
        body.clone(),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    let (s, ..) = call(&g, Some("ward"), "GET", "/vigil/ledger/checkpoint", vec![]).await;
    assert_eq!(s, 403);
    // Per-client limits reach the backend.
    let (s, v, ..) = call(&g, Some("frozen"), "POST", "/v2/models/toy/infer", body).await;
    assert_eq!((s, v), (429, json!({"error": "abstain: rate_limited"})));
    assert_eq!(g.metrics().refusal_count("unknown_client"), 1);
    assert_eq!(g.metrics().refusal_count("revoked_client"), 1);
}

#[tokio::test]
async fn overload_is_an_explicit_answer() {
    let g = gateway(Limits {
        max_in_flight: 0,
        ..Limits::default()
    });
    let (s, v, ..) = call(&g, Some("ward"), "GET", "/v2/health/live", vec![]).await;
    assert_eq!(s, 503);
    assert!(v["error"].as_str().unwrap().starts_with("overloaded: "));
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let g = gateway(Limits::default());
    call(
        &g,
        Some("ward"),
        "POST",
        "/v2/models/toy/infer",
        infer_body(json!([0, 0, 0, 0])),
    )
    .await;
    call(
        &g,
        Some("ward"),
        "POST",
        "/v2/models/toy/infer",
        infer_body(json!([99, 0, 0, 0])),
    )
    .await;
    let (s, _, h, body) = call(&g, Some("ward"), "GET", "/metrics", vec![]).await;
    assert_eq!(s, 200);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(body).unwrap();
    for want in [
        "vigil_verdicts_total{model=\"toy\",verdict=\"accept\"} 1",
        "vigil_verdicts_total{model=\"toy\",verdict=\"out_of_range\"} 1",
        "vigil_requests_total{route=\"infer\",status=\"200\"} 1",
        "vigil_requests_total{route=\"infer\",status=\"422\"} 1",
        "# TYPE vigil_inference_duration_seconds histogram",
        "vigil_extraction_alarms_total{model=\"toy\"} 0",
        "vigil_drift_alarms_total{model=\"toy\"} 0",
    ] {
        assert!(text.contains(want), "missing {want}\n{text}");
    }
    // Every sample line is `name{labels} value` with a number.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

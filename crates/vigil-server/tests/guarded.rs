//! The gateway in front of the real guard on the shipped breast-cancer bundle: answers equal
//! the guard's own run of the model, abstentions are 4xx `{"error":"abstain: ..."}`, the
//! clients file's per-client limits reach the guard, and every guarded request is in the
//! ledger.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::call;
use serde_json::{json, Value};
use vigil_bundle::{BundlePolicy, Trust};
use vigil_guard::{parse_csv, CsvLimits, Guard, GuardOptions, LedgerAudit, MemoryAudit};
use vigil_ledger::Ledger;
use vigil_server::{Clients, Gateway, GatewayOptions, GuardBackend};

const CLIENTS: &str = r#"
[[client]]
name = "ward"
role = "infer"
[[client]]
name = "tight"
role = "infer"
rate_per_second = 1.0
burst = 3.0
[[client]]
name = "load"
role = "infer"
unlimited = true
"#;

fn device() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer")
}

fn trust() -> Trust {
    Trust::Policy(BundlePolicy::load(&device().join("policy.toml")).unwrap())
}

fn guard(audit: Arc<dyn vigil_guard::AuditSink>) -> Guard {
    Guard::open(&device().join("bundle"), &trust(), GuardOptions::new(audit)).unwrap()
}

fn rows(g: &Guard) -> Vec<Vec<f32>> {
    let csv = std::fs::read(device().join("data/validation.csv")).unwrap();
    parse_csv(&csv, "validation.csv", g.contract(), &CsvLimits::default())
        .unwrap()
        .into_iter()
        .map(|r| r.values.unwrap())
        .collect()
}

async fn infer(g: &Gateway, who: &str, input: &str, row: &[f32]) -> (u16, Value) {
    let body = json!({"inputs": [{"name": input, "shape": [1, row.len()], "datatype": "FP32", "data": row}]});
    let path = "/v2/models/breast-cancer/infer";
    let (status, v, _, _) = call(
        g,
        Some(who),
        "POST",
        path,
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_answers_abstentions_limits_and_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let ledger = Ledger::create(
        &dir.path().join("audit.db"),
        "test/guarded",
        &key.verifying_key(),
        None,
    )
    .unwrap();
    let backend = GuardBackend::new(guard(Arc::new(LedgerAudit::new(ledger.clone()))));
    let input = backend.guard().contract().input.clone();
    // The reference: the same guard's stateless screen of each row.
    let reference = guard(Arc::new(MemoryAudit::new(10)));
    let g = Gateway::new(
        Arc::new(backend),
        Clients::parse(CLIENTS).unwrap(),
        GatewayOptions::default(),
    );
    let clean = rows(&reference);
    let mut guarded = 0u64;
    let mut accepted = 0;
    for row in clean.iter().take(40) {
        let (status, v) = infer(&g, "ward", &input, row).await;
        guarded += 1;
        let mut shape = [0usize; 2];
        let s = reference.screen(&reference.row(row, &mut shape));
        if status == 200 {
            accepted += 1;
            let got: Vec<f32> = v["outputs"][0]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            // The bundle's output policy: full, rounded to 2 decimals.
            let want: Vec<f32> = s
                .probabilities
                .unwrap()
                .iter()
                .map(|p| ((f64::from(*p) * 100.0).round() / 100.0) as f32)
                .collect();
            assert_eq!(got, want, "answer differs from the model");
            assert!(v["parameters"]["event_id"].is_u64());
        } else {
            assert!((400..500).contains(&status), "{status} {v}");
            let reason = s.reason.expect("the guard abstained on a row it accepts");
            assert_eq!(v["error"], json!(format!("abstain: {}", reason.wire())));
        }
    }
    assert!(accepted >= 36, "{accepted} of 40 clean rows accepted");
    // Out of contract: a 4xx naming the feature.
    let mut far = clean[0].clone();
    far[0] = 1e6;
    let (status, v) = infer(&g, "ward", &input, &far).await;
    guarded += 1;
    assert_eq!(status, 422, "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(e.starts_with("abstain: out_of_range"), "{e}");
    assert!(e.contains("mean radius"), "{e}");
    // A tightened client: burst 3, then rate limited.
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(infer(&g, "tight", &input, &clean[1]).await.0);
        guarded += 1;
    }
    assert_eq!(&codes[..3], &[200, 200, 200], "{codes:?}");
    assert_eq!(codes[4], 429, "{codes:?}");
    // The unlimited client goes past the bundle's burst of 100 at once.
    for _ in 0..150 {
        let (status, v) = infer(&g, "load", &input, &clean[1]).await;
        guarded += 1;
        assert_eq!(status, 200, "{v}");
    }
    // Every guarded request, accepted or not, is one durable ledger entry.
    assert_eq!(ledger.size(), guarded);
}

/// A stand-in upstream OIP server on loopback: answers with the verified model's
/// probabilities (through `screen`), swapped when `lie` is set; counts requests.
async fn upstream(lie: bool) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let model = Arc::new(guard(Arc::new(MemoryAudit::new(10))));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let app = axum::Router::new().route(
        "/v2/models/breast-cancer/infer",
        axum::routing::post(move |body: axum::body::Bytes| {
            let model = model.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let v: Value = serde_json::from_slice(&body).unwrap();
                let row: Vec<f32> = v["inputs"][0]["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect();
                let mut shape = [0usize; 2];
                let mut p = model
                    .screen(&model.row(&row, &mut shape))
                    .probabilities
                    .unwrap();
                if lie {
                    p.reverse();
                }
                axum::Json(json!({"model_name": "breast-cancer", "outputs": [
                    {"name": "probabilities", "datatype": "FP32", "shape": [1, p.len()], "data": p}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

fn proxy(url: &str) -> Gateway {
    let backend = GuardBackend::new(guard(Arc::new(MemoryAudit::new(10_000))));
    Gateway::new(
        Arc::new(vigil_server::UpstreamBackend::new(backend, url).unwrap()),
        Clients::parse(CLIENTS).unwrap(),
        GatewayOptions::default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_forwards_only_accepted_requests_and_checks_the_answer() {
    use std::sync::atomic::Ordering;
    let reference = guard(Arc::new(MemoryAudit::new(10)));
    let input = reference.contract().input.clone();
    let clean = rows(&reference);
    let row = clean
        .iter()
        .find(|r| {
            let mut shape = [0usize; 2];
            reference
                .screen(&reference.row(r, &mut shape))
                .reason
                .is_none()
        })
        .unwrap()
        .clone();

    // An honest upstream: the guard's answer, marked as checked against the upstream.
    let (url, seen) = upstream(false).await;
    let g = proxy(&url);
    let (status, v) = infer(&g, "ward", &input, &row).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["parameters"]["upstream"], json!(true));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    // An out-of-contract row never reaches the upstream.
    let mut far = row.clone();
    far[0] = -5.0;
    let (status, v) = infer(&g, "ward", &input, &far).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);

    // An upstream whose answer was altered: refused, not passed on.
    let (url, _) = upstream(true).await;
    let (status, v) = infer(&proxy(&url), "ward", &input, &row).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"], json!("abstain: upstream_mismatch"));

    // No upstream at all.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (status, v) = infer(&proxy(&url), "ward", &input, &row).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"], json!("abstain: upstream_unavailable"));
}

/// Issue 20 item 6: a request with two input tensors got `400 abstain: wrong_input` and no
/// ledger event, breaking "one durable entry per guarded request, accepted or not". Every
/// early exit of the request path of an authorised client is now in the ledger: the
/// backend's own early abstentions, malformed requests, bodies over the limit, unknown
/// models, refused roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_6_every_early_exit_of_a_guarded_request_is_in_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let ledger = Ledger::create(
        &dir.path().join("audit.db"),
        "test/guarded",
        &key.verifying_key(),
        None,
    )
    .unwrap();
    let backend = GuardBackend::new(guard(Arc::new(LedgerAudit::new(ledger.clone()))));
    let input = backend.guard().contract().input.clone();
    let clean = rows(&guard(Arc::new(MemoryAudit::new(10))));
    let g = Gateway::new(
        Arc::new(backend),
        Clients::parse(&format!(
            "{CLIENTS}[[client]]\nname = \"auditor\"\nrole = \"audit\"\n"
        ))
        .unwrap(),
        GatewayOptions {
            limits: vigil_server::Limits {
                max_body_bytes: 64 * 1024,
                ..Default::default()
            },
            audit: Some(vigil_server::AuditLog::new(ledger.clone(), None)),
        },
    );
    let row = &clean[0];
    let tensor = json!({"name": input, "shape": [1, row.len()], "datatype": "FP32", "data": row});
    let path = "/v2/models/breast-cancer/infer";
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "ward",
            path,
            serde_json::to_vec(&json!({"inputs": [tensor, tensor]})).unwrap(),
            400,
            "abstain: wrong_input",
        ),
        (
            "ward",
            path,
            serde_json::to_vec(&json!({"inputs": [{"name": input, "shape": [1, 1], "datatype": "BOOL", "data": [true]}]})).unwrap(),
            400,
            "abstain: wrong_dtype",
        ),
        ("ward", path, b"{not json".to_vec(), 400, "malformed request JSON"),
        ("ward", path, vec![b' '; 100_000], 413, "request body is larger"),
        (
            "ward",
            "/v2/models/other/infer",
            b"{}".to_vec(),
            404,
            "unknown model",
        ),
        ("auditor", path, b"{}".to_vec(), 403, "may not run inference"),
    ];
    for (who, path, body, status, error) in cases {
        let before = ledger.size();
        let (got, v, _, _) = call(&g, Some(who), "POST", path, body).await;
        assert_eq!(got, status, "{v}");
        assert!(v["error"].as_str().unwrap().contains(error), "{v}");
        assert_eq!(ledger.size(), before + 1, "{error}: no ledger entry");
        let entry = ledger.entry(before).unwrap();
        let event: Value = serde_json::from_slice(&entry).unwrap();
        assert_eq!(event["type"], "gateway.refusal", "{event}");
        assert_eq!(event["client"], who, "{event}");
        assert_eq!(event["status"], status, "{event}");
    }
    // A request the guard screens is recorded once, by the guard.
    let before = ledger.size();
    let (status, _, _, _) = call(
        &g,
        Some("ward"),
        "POST",
        path,
        serde_json::to_vec(&json!({"inputs": [tensor]})).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ledger.size(), before + 1);
}

/// Issue 14: the gateway's guard can be replaced while serving (an update activating); the
/// next request runs on the new guard, whose audit sink receives it, and a caller still
/// holding the old guard finishes on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_swaps_atomically_while_serving() {
    let first = Arc::new(MemoryAudit::new(100));
    let second = Arc::new(MemoryAudit::new(100));
    let backend = Arc::new(GuardBackend::new(guard(first.clone())));
    let g = Gateway::new(
        backend.clone(),
        Clients::parse(CLIENTS).unwrap(),
        GatewayOptions::default(),
    );
    let old = backend.guard();
    let row = rows(&old)[0].clone();
    let input = old.contract().input.clone();
    assert_eq!(infer(&g, "ward", &input, &row).await.0, 200);
    assert_eq!(first.events().len(), 1);

    let previous = backend.swap(guard(second.clone()));
    assert!(
        Arc::ptr_eq(&previous, &old),
        "swap hands back the guard it replaced"
    );
    assert_eq!(infer(&g, "ward", &input, &row).await.0, 200);
    assert_eq!(first.events().len(), 1, "the old guard saw nothing more");
    assert_eq!(second.events().len(), 1, "the new guard answered");
    assert_eq!(
        vigil_server::InferenceBackend::model(backend.as_ref()).name,
        "breast-cancer"
    );
}

/// Issue 20 item 17: detector names and scores only for the audit role; budgets, monitors and
/// suspensions per site across a site's certificates; an extraction alarm suspends the site
/// until an admin reinstates it over `POST /vigil/clients/{site}/reinstate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_suspend_a_site_scores_stay_with_auditors_and_admins_reinstate() {
    let audit = Arc::new(MemoryAudit::new(100_000));
    let g0 = guard(audit.clone());
    let clean = rows(&g0)[0].clone();
    let input = g0.contract().input.clone();
    let features = g0.contract().features.clone();
    let g = Gateway::new(
        Arc::new(GuardBackend::new(g0)),
        Clients::parse(
            r#"
[[client]]
name = "ward-a"
role = "infer"
site = "ward-7"
[[client]]
name = "ward-b"
role = "infer"
site = "ward-7"
[[client]]
name = "admin-1"
role = "admin"
"#,
        )
        .unwrap(),
        GatewayOptions::default(),
    );
    // A far-off row: flagged by a detector. The infer role learns only that it was flagged.
    let far: Vec<f32> = features.iter().map(|f| (f.max * 0.999) as f32).collect();
    let (status, body) = infer(&g, "ward-a", &input, &far).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("abstain: flagged"))
    );
    let (status, body) = infer(&g, "admin-1", &input, &far).await;
    assert_eq!(status, 422);
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("abstain: ") && error != "abstain: flagged",
        "{body}"
    );
    // Scores are in the answer for an admin only.
    let (status, body) = infer(&g, "ward-a", &input, &clean).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["parameters"].get("scores").is_none(), "{body}");
    let (_, body) = infer(&g, "admin-1", &input, &clean).await;
    assert!(body["parameters"]["scores"].is_object(), "{body}");

    // Ward A walks off the data: the site's extraction alarm suspends ward B too.
    let mut suspended = false;
    for i in 0..120 {
        let row: Vec<f32> = features
            .iter()
            .enumerate()
            .map(|(j, f)| {
                (f.min + (f.max - f.min) * (((i * 31 + j * 17) % 97) as f64 / 97.0)) as f32
            })
            .collect();
        let (status, body) = infer(&g, "ward-a", &input, &row).await;
        if status == 403 {
            assert_eq!(body["error"], "abstain: client_suspended", "{body}");
            suspended = true;
            break;
        }
    }
    assert!(suspended, "no suspension within 120 off-data queries");
    let (status, body) = infer(&g, "ward-b", &input, &clean).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("abstain: client_suspended"))
    );

    // Only an admin reinstates; it is recorded; the site is answered again.
    let path = "/vigil/clients/ward-7/reinstate";
    let (status, _, _, _) = call(&g, Some("ward-a"), "POST", path, Vec::new()).await;
    assert_eq!(status, 403);
    let (status, body, _, _) = call(&g, Some("admin-1"), "POST", path, Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"client": "ward-7", "reinstated": true}));
    assert!(audit.events().iter().any(|e| matches!(e,
        vigil_ledger::Event::Reinstated(r) if r.client == "ward-7" && r.by == "admin-1")));
    assert_eq!(infer(&g, "ward-b", &input, &clean).await.0, 200);
}

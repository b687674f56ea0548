//! The collector's HTTP interface in process (`oneshot`): the push protocol, the operators'
//! API and its roles, and a 20,000-entry (16 MiB) push.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::device::Device;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use vigil_collector::{router, Caller, Collector, Metrics, PushBody, Role, SqliteStore};
use vigil_ledger::{leaf_hash, InclusionProof, NoteSigner};

/// The push body of `d`'s newest checkpoint from `from` on, as the device side sends it.
trait AsPushBody {
    fn body(&self, from: u64) -> PushBody;
}

impl AsPushBody for Device {
    fn body(&self, from: u64) -> PushBody {
        let push = self.push_from(from);
        PushBody {
            checkpoint: push.checkpoint,
            first: push.first,
            entries: push
                .entries
                .into_iter()
                .map(|e| String::from_utf8(e).unwrap())
                .collect(),
            proof: push.proof.iter().map(hex::encode).collect(),
            model: Some(vigil_collector::ModelRef {
                name: "breast-cancer".into(),
                version: "1.2.0".into(),
            }),
            drift: None,
        }
    }
}

struct App {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn app(devices: &[&Device]) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let registry: BTreeMap<_, _> = devices
        .iter()
        .map(|d| (d.signer.name().to_string(), d.signer.verifier()))
        .collect();
    let witness = NoteSigner::new(
        "vigil-collector",
        ed25519_dalek::SigningKey::from_bytes(&[99; 32]),
    )
    .unwrap();
    let c = Arc::new(Collector::new(store, witness, registry));
    App {
        router: router(c, Arc::new(Metrics::default())),
        _dir: dir,
    }
}

async fn call(
    app: &App,
    who: Option<(&str, Role)>,
    method: &str,
    uri: &str,
    body: Option<String>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    if let Some((name, role)) = who {
        req.extensions_mut().insert(Caller {
            name: name.to_string(),
            role,
        });
    }
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

const OP: Option<(&str, Role)> = Some(("ops", Role::Operator));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_read_the_fleet_and_prove_an_entry() {
    let mut d = Device::named("icu-7", 7);
    d.append_padded(30, 10);
    let app = app(&[&d]);
    let me = Some(("icu-7", Role::Device));

    let (status, state) = call(&app, me, "GET", "/v1/state", None).await;
    assert_eq!((status, state["size"].as_u64()), (StatusCode::OK, Some(0)));
    let body = serde_json::to_string(&d.body(0)).unwrap();
    let (status, answer) = call(&app, me, "POST", "/v1/push", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["code"], "accepted");
    assert!(answer["cosigned_checkpoint"]
        .as_str()
        .unwrap()
        .contains("\u{2014} vigil-collector "));

    let (status, devices) = call(&app, OP, "GET", "/api/devices", None).await;
    assert_eq!(status, StatusCode::OK);
    let row = &devices["devices"][0];
    assert_eq!(
        (row["id"].as_str(), row["size"].as_u64()),
        (Some("icu-7"), Some(30))
    );
    assert_eq!(row["version"], "1.2.0");
    assert!(row["last_seen"].as_str().unwrap().ends_with('Z'));

    let (_, page) = call(
        &app,
        OP,
        "GET",
        "/api/devices/icu-7/entries?from=5&to=8",
        None,
    )
    .await;
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0]["entry"].as_str().unwrap().as_bytes(),
        d.entries[5]
    );

    let (status, proof) = call(
        &app,
        OP,
        "GET",
        "/api/devices/icu-7/proof?index=5&size=30",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let p = InclusionProof::from_json(proof.to_string().as_bytes()).unwrap();
    p.verify().unwrap();
    assert_eq!(p.leaf_hash, leaf_hash(&d.entries[5]));
    // Only sizes of accepted checkpoints can be proven against.
    let (status, _) = call(
        &app,
        OP,
        "GET",
        "/api/devices/icu-7/proof?index=5&size=29",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, cps) = call(&app, OP, "GET", "/api/devices/icu-7/checkpoints", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cps["checkpoints"][0]["accepted"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced() {
    let mut d = Device::named("icu-8", 8);
    d.append_padded(3, 0);
    let app = app(&[&d]);
    let me = Some(("icu-8", Role::Device));
    for uri in ["/api/devices", "/api/alarms", "/api/drift", "/metrics"] {
        let (status, body) = call(&app, me, "GET", uri, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
        assert!(body["error"].is_string());
        let (status, _) = call(&app, None, "GET", uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let body = serde_json::to_string(&d.body(0)).unwrap();
    let (status, _) = call(&app, OP, "POST", "/v1/push", Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Pushing a registered device's log under another registered device's certificate.
    let other = Device::named("icu-9", 9);
    let app = self::app(&[&d, &other]);
    let (status, answer) = call(
        &app,
        Some(("icu-9", Role::Device)),
        "POST",
        "/v1/push",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["code"], "wrong_origin");
    // Malformed bodies: not JSON 400, JSON of another shape 422, not said to be JSON 415.
    let (status, _) = call(&app, me, "POST", "/v1/push", Some("{".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = call(&app, me, "POST", "/v1/push", Some("{\"first\":0}".into())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("bad push"));
    let mut req = Request::builder()
        .method("POST")
        .uri("/v1/push")
        .header("content-type", "text/plain")
        .body(Body::from(serde_json::to_string(&d.body(0)).unwrap()))
        .unwrap();
    req.extensions_mut().insert(Caller {
        name: "icu-8".into(),
        role: Role::Device,
    });
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// A push of 20,000 entries (over 16 MiB of JSON) is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_thousand_entry_push_is_accepted() {
    let mut d = Device::named("icu-10", 10);
    d.append_padded(20_000, 800);
    let app = app(&[&d]);
    let body = serde_json::to_string(&d.body(0)).unwrap();
    assert!(body.len() > 16 << 20, "{}", body.len());
    let (status, answer) = call(
        &app,
        Some(("icu-10", Role::Device)),
        "POST",
        "/v1/push",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["stored"], 20_000);
}

/// A device builds its pushes from its own ledger: the first push, then one after more
/// entries and a new checkpoint, are accepted; the collector ends with the device's root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_ledger_pushes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
    let signer = NoteSigner::new("icu-11", key.clone()).unwrap();
    let path = dir.path().join("device.db");
    let ledger = vigil_ledger::Ledger::create(&path, "icu-11", &key.verifying_key(), None).unwrap();
    for i in 0..12 {
        ledger.append(format!("{{\"i\":{i}}}").as_bytes()).unwrap();
    }
    let d = Device {
        signer: signer.clone(),
        entries: vec![],
    };
    let app = app(&[&d]);
    let me = Some(("icu-11", Role::Device));
    assert!(vigil_collector::build_push(&ledger, 0, None)
        .unwrap()
        .is_none());
    ledger.checkpoint(&[&signer]).unwrap();
    let mut accepted = 0;
    for round in 0..2 {
        let body = vigil_collector::build_push(&ledger, accepted, None)
            .unwrap()
            .unwrap();
        let (status, answer) = call(
            &app,
            me,
            "POST",
            "/v1/push",
            Some(serde_json::to_string(&body).unwrap()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "round {round}: {answer}");
        accepted = answer["size"].as_u64().unwrap();
        for i in 0..5 {
            ledger.append(format!("{{\"j\":{i}}}").as_bytes()).unwrap();
        }
        ledger.checkpoint(&[&signer]).unwrap();
    }
    assert_eq!(accepted, 17);
    let (_, devices) = call(&app, OP, "GET", "/api/devices", None).await;
    assert_eq!(
        devices["devices"][0]["root"].as_str().unwrap(),
        hex::encode(ledger.root_at(17).unwrap())
    );
}

/// The dashboard's pages as text: (status, content type, CSP, body).
async fn page(
    app: &App,
    who: Option<(&str, Role)>,
    uri: &str,
) -> (StatusCode, String, String, String) {
    let mut req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    if let Some((name, role)) = who {
        req.extensions_mut().insert(Caller {
            name: name.to_string(),
            role,
        });
    }
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let header = |h| {
        resp.headers()
            .get(h)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (ct, csp) = (header("content-type"), header("content-security-policy"));
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, csp, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_escapes_what_devices_send_and_is_for_operators() {
    let mut d = Device::named("icu-7", 7);
    d.append_padded(3, 1);
    d.entries
        .push(b"{\"note\":\"<script>alert(1)</script>\",\"type\":\"x\"}".to_vec());
    let app = app(&[&d]);
    let mut body = d.body(0);
    body.model = Some(vigil_collector::ModelRef {
        name: "<img src=x onerror=alert(2)>".into(),
        version: "\"><b>1</b>".into(),
    });
    body.drift = Some(vigil_collector::DriftSummary {
        results: vec![vigil_collector::DriftResult {
            feature: "<svg onload=alert(3)>".into(),
            test: "ks".into(),
            statistic: 0.5,
            p_value: Some(0.001),
            drift: true,
        }],
    });
    let me = Some(("icu-7", Role::Device));
    let (status, answer) = call(
        &app,
        me,
        "POST",
        "/v1/push",
        Some(serde_json::to_string(&body).unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    for uri in ["/", "/devices/icu-7"] {
        let (status, ct, csp, html) = page(&app, OP, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        for raw in ["<script>alert", "<img src=x", "<b>1</b>", "<svg onload"] {
            assert!(!html.contains(raw), "{uri}: {raw} unescaped");
        }
        assert!(
            !html.contains("<script>") && html.contains("<script src=\"/static/dashboard.js\"")
        );
    }
    let (_, _, _, fleet) = page(&app, OP, "/").await;
    assert!(fleet.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(fleet.contains("1 open alarms."), "the drift alarm");
    assert!(fleet.contains("<tr data-device=\"icu-7\""));
    assert!(fleet.contains("data-kind=\"drift\" data-device=\"icu-7\""));
    assert!(fleet.contains("data-drift-feature=\"&lt;svg onload=alert(3)&gt;\""));
    let (_, _, _, device) = page(&app, OP, "/devices/icu-7").await;
    assert!(device.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        device.contains("data-verify=\"3\"")
            && device.contains("<pre id=\"checkpoint\" data-size=\"4\">")
    );

    // A device may not read the dashboard; a caller-less request is 401; an unknown device 404.
    assert_eq!(page(&app, me, "/").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        page(&app, me, "/devices/icu-7").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(page(&app, None, "/").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        page(&app, OP, "/devices/nobody").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, ct, _, js) = page(&app, OP, "/static/dashboard.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/javascript") && js.contains("crypto.subtle.digest"));
    let (status, ct, _, _) = page(&app, OP, "/favicon.ico").await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/svg+xml"));
}

/// Operators close (acknowledge) alarms; devices may not; the dashboard lists open ones only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_close_alarms() {
    let mut d = Device::named("icu-7", 7);
    d.append_padded(2, 0);
    d.entries.push(
        format!(
            r#"{{"alarm":"extraction","client":"c","detail":{{"queries":150,"signal":"prada","statistic":0.8}},"event_id":2,"model":"{}","time_ms":1700000000000,"type":"guard.alarm"}}"#,
            "ab".repeat(32)
        )
        .into_bytes(),
    );
    let app = app(&[&d]);
    let me = Some(("icu-7", Role::Device));
    let body = serde_json::to_string(&d.body(0)).unwrap();
    let (status, answer) = call(&app, me, "POST", "/v1/push", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, alarms) = call(&app, OP, "GET", "/api/alarms", None).await;
    let a = &alarms["alarms"][0];
    assert_eq!(
        (&a["kind"], &a["open"]),
        (&"extraction".into(), &true.into()),
        "{alarms}"
    );
    let id = a["id"].as_u64().unwrap();
    let (_, _, _, fleet) = page(&app, OP, "/").await;
    assert!(fleet.contains("data-kind=\"extraction\" data-device=\"icu-7\""));

    let uri = format!("/api/alarms/{id}/close");
    // A device may not; nor a caller-less request; nor a request that is not JSON (a form).
    let (status, body) = call(&app, me, "POST", &uri, Some("{}".into())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        call(&app, None, "POST", &uri, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let form = Request::builder()
        .method("POST")
        .uri(&uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .extension(Caller {
            name: "ops".into(),
            role: Role::Operator,
        })
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(form).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, alarms) = call(&app, OP, "GET", "/api/alarms", None).await;
    assert_eq!(alarms["alarms"][0]["open"], true, "still open");

    let (status, body) = call(&app, OP, "POST", &uri, Some("{}".into())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, serde_json::json!({"id": id, "open": false}));
    // Again: still closed, still 200.
    assert_eq!(call(&app, OP, "POST", &uri, None).await.0, StatusCode::OK);
    let (_, alarms) = call(&app, OP, "GET", "/api/alarms", None).await;
    assert_eq!(alarms["alarms"][0]["open"], false);
    let (_, _, _, fleet) = page(&app, OP, "/").await;
    assert!(
        !fleet.contains("data-kind=\"extraction\""),
        "closed alarms leave the feed"
    );
    assert!(fleet.contains("0 open alarms; 1 closed."));
    let (_, devices) = call(&app, OP, "GET", "/api/devices", None).await;
    assert_eq!(devices["devices"][0]["open_alarms"], 0);

    for missing in ["/api/alarms/999/close", "/api/alarms/x/close"] {
        let (status, body) = call(&app, OP, "POST", missing, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {body}");
        assert!(body["error"].is_string());
    }
}

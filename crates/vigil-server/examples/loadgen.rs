//! Load generator for `bench/serve`: keep-alive HTTPS + mutual-TLS inference requests from
//! several connections, then requests/s, p50/p99 latency and errors.
//!
//! Run: `cargo run --release -p vigil-server --example loadgen -- ADDR PKI_DIR MODEL BODY.json
//! CONNECTIONS SECONDS` (bench/serve/run does this), or `-- --in-process MODE DEVICE_DIR
//! BODY.json SECONDS` for the same request through the router in-process and the bare backend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tower::ServiceExt;
use vigil_server::client::{client_config, Connection};
use vigil_server::InferenceBackend;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--in-process") {
        return in_process(&args[2..]).await;
    }
    let [_, addr, pki, model, body, conns, secs] = args.as_slice() else {
        eprintln!("usage: loadgen ADDR PKI_DIR MODEL BODY.json CONNECTIONS SECONDS");
        std::process::exit(2);
    };
    let addr: std::net::SocketAddr = addr.parse()?;
    let pki = std::path::Path::new(pki);
    let cfg = client_config(
        &pki.join("ca.crt"),
        Some((&pki.join("bench-client.crt"), &pki.join("bench-client.key"))),
    )?;
    let body: Arc<serde_json::Value> = Arc::new(serde_json::from_slice(&std::fs::read(body)?)?);
    let path = Arc::new(format!("/v2/models/{model}/infer"));
    let conns: usize = conns.parse()?;
    let duration = Duration::from_secs_f64(secs.parse()?);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let cfg = cfg.clone();
        let body = body.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
            let Ok(mut c) = Connection::connect(addr, "localhost", cfg).await else {
                return (lat, 1u64, statuses);
            };
            while start.elapsed() < duration {
                let t = Instant::now();
                match c.post_json(&path, &body).await {
                    Ok(r) => {
                        *statuses.entry(r.status).or_insert(0) += 1;
                        if r.status == 200 {
                            lat.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (lat, errors, statuses)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for t in tasks {
        let (l, e, s) = t.await?;
        all.extend(l);
        errors += e;
        for (k, v) in s {
            *statuses.entry(k).or_insert(0) += v;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1e6)
            .unwrap_or(f64::NAN)
    };
    println!(
        "{{\"requests\":{},\"errors\":{},\"seconds\":{:.3},\"rps\":{:.0},\"p50_us\":{:.0},\"p99_us\":{:.0},\"connections\":{},\"statuses\":{}}}",
        all.len(),
        errors,
        elapsed,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        conns,
        serde_json::to_string(&statuses)?
    );
    Ok(())
}

/// The backend measured in process: the gateway's toy model, or the example device through the
/// guard with its events in a fresh ledger (as `vigil serve --ledger` runs it).
fn backend(
    mode: &str,
    device: &str,
    scratch: &std::path::Path,
) -> Result<Arc<dyn InferenceBackend>, Box<dyn std::error::Error>> {
    match mode {
        "toy" => Ok(Arc::new(vigil_server::ToyBackend::new())),
        "device" => {
            let device = std::path::Path::new(device);
            let trust = vigil_bundle::Trust::Policy(vigil_bundle::BundlePolicy::load(
                &device.join("policy.toml"),
            )?);
            let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
            let ledger = vigil_ledger::Ledger::create(
                &scratch.join("bench-audit.db"),
                "bench/loadgen",
                &key.verifying_key(),
                None,
            )?;
            let audit = Arc::new(vigil_guard::LedgerAudit::new(ledger));
            let guard = vigil_guard::Guard::open(
                &device.join("bundle"),
                &trust,
                vigil_guard::GuardOptions::new(audit),
            )?;
            Ok(Arc::new(vigil_server::GuardBackend::new(guard)))
        }
        other => Err(format!("backend {other:?}: use toy or device").into()),
    }
}

#[derive(Default)]
struct Run {
    lat: Vec<Duration>,
    errors: u64,
    seconds: f64,
}

impl Run {
    fn json(mut self) -> serde_json::Value {
        self.lat.sort();
        let pct = |p: f64| {
            self.lat
                .get(((self.lat.len() as f64 * p) as usize).min(self.lat.len().saturating_sub(1)))
                .map(|d| d.as_secs_f64() * 1e6)
                .unwrap_or(f64::NAN)
        };
        serde_json::json!({"requests": self.lat.len(), "errors": self.errors,
            "rps": self.lat.len() as f64 / self.seconds, "p50_us": pct(0.5), "p99_us": pct(0.99)})
    }
}

async fn in_process(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [mode, device, body, secs] = args else {
        return Err("usage: loadgen --in-process MODE DEVICE_DIR BODY.json SECONDS".into());
    };
    let duration = Duration::from_secs_f64(secs.parse()?) / 2;
    let scratch = tempfile::tempdir()?;
    let backend = backend(mode, device, scratch.path())?;
    let body = std::fs::read(body)?;
    let model = backend.model().name.clone();
    let clients = vigil_server::Clients::parse(vigil_server::DEMO_CLIENTS_TOML)
        .map_err(|e| format!("clients: {e}"))?;
    let gateway = vigil_server::Gateway::new(backend.clone(), clients.clone(), Default::default());
    let router = gateway.router();
    let peer = vigil_server::PeerIdentity::for_tests("bench-client");
    let path = format!("/v2/models/{model}/infer");
    let mut r = Run::default();
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        let mut req =
            axum::http::Request::post(path.as_str()).body(axum::body::Body::from(body.clone()))?;
        req.extensions_mut().insert(peer.clone());
        let resp = router.clone().oneshot(req).await?;
        let ok = resp.status() == 200;
        let _ = resp.into_body().collect().await?;
        if ok {
            r.lat.push(t.elapsed());
        } else {
            r.errors += 1;
        }
    }
    r.seconds = start.elapsed().as_secs_f64();
    // The bare backend call on the parsed request.
    let caller = clients.authorise(&peer).map_err(|d| d.message())?;
    let req = vigil_server::internal::parse_infer(&body, None, &vigil_server::Limits::default())?;
    let mut b = Run::default();
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        match backend.infer(&caller, &req.inputs) {
            Ok(_) => b.lat.push(t.elapsed()),
            Err(_) => b.errors += 1,
        }
    }
    b.seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"router": r.json(), "backend": b.json()})
    );
    Ok(())
}

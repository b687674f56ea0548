//! Load generator for `bench/serve`: keep-alive HTTPS + mutual-TLS inference requests from
//! several connections, then requests/s, p50/p99 latency and errors.
//!
//! Run: `cargo run --release -p vigil-server --example loadgen -- ADDR PKI_DIR MODEL BODY.json
//! CONNECTIONS SECONDS` (bench/serve/run does this).

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_server::client::{client_config, Connection};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
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

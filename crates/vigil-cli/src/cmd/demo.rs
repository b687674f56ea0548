//! `vigil demo`: the whole gateway on the example device, in under a minute.
//!
//! Verifies the example bundle, makes a demo PKI in a temporary folder, starts the gateway on
//! loopback with mutual TLS in this process, sends clean traffic, out-of-range inputs,
//! adversarial inputs, an extraction-style query stream and unauthenticated clients, then
//! prints what the guard did and where the ledger, the checkpoint and the report are.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vigil_server::client::{client_config, Connection};
use vigil_server::{Clients, Gateway, GatewayOptions};

use crate::outcome::Outcome;

/// Run the gateway on the example device and show what it does (DEMO).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The example device directory (bundle/, data/, policy.toml).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "examples/devices/breast-cancer"
    )]
    device: PathBuf,
    /// Where to keep the demo's files (default: a new temporary folder, kept afterwards).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// After the summary, keep the gateway and the collector (its dashboard) serving until
    /// ctrl-c or SIGTERM.
    #[arg(long)]
    keep: bool,
}

/// The demo device's id at the collector (its certificate's CN).
const DEMO_DEVICE: &str = "demo-device";

/// Counts of what happened to one kind of traffic.
#[derive(Debug, Default, serde::Serialize)]
struct Tally {
    sent: u64,
    accepted: u64,
    abstained: BTreeMap<String, u64>,
    refused: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, status: u16, body: &serde_json::Value) {
        self.sent += 1;
        if status == 200 {
            self.accepted += 1;
            return;
        }
        let msg = body["error"].as_str().unwrap_or("");
        if let Some(reason) = msg.strip_prefix("abstain: ") {
            let code = reason.split(':').next().unwrap_or(reason).to_string();
            *self.abstained.entry(code).or_insert(0) += 1;
        } else {
            *self.refused.entry(format!("http {status}")).or_insert(0) += 1;
        }
    }

    fn refuse(&mut self, what: &str) {
        self.sent += 1;
        *self.refused.entry(what.to_string()).or_insert(0) += 1;
    }
}

/// The clean rows of `csv` (contract columns, in contract order), read as the guard reads
/// rows; a row the contract cannot use is an error.
fn rows(csv: &Path, contract: &vigil_guard::Contract) -> anyhow::Result<Vec<Vec<f32>>> {
    let bytes = crate::read_bounded(csv, vigil_guard::CsvLimits::default().max_bytes)?;
    let file = csv.display().to_string();
    vigil_guard::parse_csv(&bytes, &file, contract, &vigil_guard::CsvLimits::default())?
        .into_iter()
        .map(|r| {
            r.values
                .map_err(|why| anyhow::anyhow!("{file}:{}: {why}", r.line))
        })
        .collect()
}

/// A tiny deterministic generator (xorshift) so the demo is reproducible.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn body(input: &str, row: &[f32]) -> serde_json::Value {
    serde_json::json!({"inputs": [{"name": input, "shape": [1, row.len()], "datatype": "FP32", "data": row}]})
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let bundle = args.device.join("bundle");
    let policy = args.device.join("policy.toml");
    if !bundle.is_dir() {
        bail!(
            "{}: no example device here; run from the repository root or give --device",
            args.device.display()
        );
    }
    let out = match &args.out {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => tempfile::Builder::new()
            .prefix("vigil-demo-")
            .tempdir()
            .context("cannot make a temporary folder")?
            .keep(),
    };
    let pki = out.join("pki");
    vigil_server::write_demo_pki(&pki)?;
    let ledger_key = ed25519_key(&out.join("ledger-key.pem"))?;
    let audit = vigil_server::AuditLog::open_or_create(
        &out.join("audit.db"),
        Some(&ledger_key),
        "vigil-demo/breast-cancer",
    )?;
    let guarded = super::serve::guard_backend(&bundle, None, Some(&policy), &audit, None)
        .context("the demo's bundle was refused")?;
    // The signed contract's features and the validation rows, as the guard reads them.
    let feats = guarded.guard().contract().features.clone();
    let clean = rows(
        &args.device.join("data/validation.csv"),
        guarded.guard().contract(),
    )?;
    let backend: std::sync::Arc<dyn vigil_server::InferenceBackend> = std::sync::Arc::new(guarded);
    let model = backend.model().clone();
    let input = model
        .inputs
        .first()
        .map(|i| i.name.clone())
        .context("model has no input")?;
    let clients = Clients::load(&pki.join("clients.toml"))?;
    let tls = vigil_server::server_config(&vigil_server::TlsFiles {
        cert: &pki.join("server.crt"),
        key: &pki.join("server.key"),
        client_ca: &pki.join("ca.crt"),
    })?;
    let gateway = Gateway::new(
        backend,
        clients,
        GatewayOptions {
            limits: vigil_server::Limits::default(),
            audit: Some(audit.clone()),
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let path = format!("/v2/models/{}/infer", model.name);
    let mut table: Vec<(&str, Tally)> = Vec::new();
    let ledger_key = vigil_ledger::NoteVerifier::from_public_key(
        &audit.ledger().info().key_name,
        &vigil_core::PublicKey::load(&out.join("ledger-key.pub.pem"))?,
    )?;
    let (gateway_addr, server, stop_tx, collector, pushed) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(gateway.clone().serve(listener, tls, async {
            let _ = stop_rx.await;
        }));
        let ca = pki.join("ca.crt");
        let demo_cfg = client_config(
            &ca,
            Some((&pki.join("client.crt"), &pki.join("client.key"))),
        )?;
        let mut demo = Connection::connect(addr, "localhost", demo_cfg.clone()).await?;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

        let mut t = Tally::default();
        for row in clean.iter().take(60) {
            let r = demo.post_json(&path, &body(&input, row)).await?;
            t.add(r.status, &r.json());
        }
        table.push(("clean (validation rows)", t));

        let mut t = Tally::default();
        for (i, row) in clean.iter().take(10).enumerate() {
            let mut row = row.clone();
            let f = i % feats.len();
            let span = feats.get(f).map(|x| x.max - x.min).unwrap_or(1.0);
            if let (Some(v), Some(x)) = (row.get_mut(f), feats.get(f)) {
                *v = (x.max + span) as f32;
            }
            let r = demo.post_json(&path, &body(&input, &row)).await?;
            t.add(r.status, &r.json());
        }
        table.push(("out of range (one feature past its maximum)", t));

        let mut t = Tally::default();
        for row in clean.iter().skip(10).take(20) {
            // Off-manifold: each feature moved by up to 40% of its physical span, still in range.
            let row: Vec<f32> = row
                .iter()
                .zip(&feats)
                .map(|(v, x)| {
                    let span = x.max - x.min;
                    let moved = f64::from(*v) + (rng.unit() - 0.5) * 0.8 * span;
                    moved.clamp(x.min, x.max) as f32
                })
                .collect();
            let r = demo.post_json(&path, &body(&input, &row)).await?;
            t.add(r.status, &r.json());
        }
        table.push(("adversarial (off-manifold perturbations)", t));

        let mut t = Tally::default();
        // Let the client's token bucket refill, then pace the stream under the bundle's rate
        // limit so the extraction monitor, not the rate limiter, is what answers it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut extraction = Connection::connect(addr, "localhost", demo_cfg.clone()).await?;
        for _ in 0..300 {
            tokio::time::sleep(Duration::from_millis(22)).await;
            let row: Vec<f32> = feats
                .iter()
                .map(|x| (x.min + rng.unit() * (x.max - x.min)) as f32)
                .collect();
            let r = extraction.post_json(&path, &body(&input, &row)).await?;
            t.add(r.status, &r.json());
        }
        table.push(("extraction-style stream (uniform random queries)", t));

        let mut t = Tally::default();
        let anonymous = client_config(&ca, None)?;
        match Connection::connect(addr, "localhost", anonymous).await {
            Ok(mut c) => match c.get("/v2/health/ready").await {
                Ok(r) => t.add(r.status, &r.json()),
                Err(_) => t.refuse("TLS: no client certificate"),
            },
            Err(_) => t.refuse("TLS: no client certificate"),
        }
        let unlisted = client_config(
            &ca,
            Some((
                &pki.join("unlisted-client.crt"),
                &pki.join("unlisted-client.key"),
            )),
        )?;
        let mut c = Connection::connect(addr, "localhost", unlisted).await?;
        let r = c
            .post_json(
                &path,
                &body(&input, clean.first().map(Vec::as_slice).unwrap_or(&[])),
            )
            .await?;
        if r.status == 403 {
            t.refuse("403: not in clients.toml");
        } else {
            t.add(r.status, &r.json());
        }
        table.push(("unauthenticated / unlisted clients", t));

        drop(demo);
        drop(extraction);
        drop(c);
        // The fleet collector: a checkpoint over all the traffic, pushed as a device would.
        audit.checkpoint_if_grown().await?;
        let collector =
            vigil_collector::DemoCollector::start(&out.join("collector"), DEMO_DEVICE, &ledger_key)
                .await?;
        let push = vigil_collector::PushOptions {
            collector: vigil_collector::CollectorUrl::parse(&collector.url)?,
            ledger: &out.join("audit.db"),
            tls: collector.device_tls()?,
            model: Some(vigil_collector::ModelRef {
                name: model.name.clone(),
                version: model.version.clone(),
            }),
            drift: None,
            timeout: Duration::from_secs(60),
        };
        let pushed = vigil_collector::push_once(&push)
            .await
            .map_err(|e| e.to_string());
        anyhow::Ok((addr, server, stop_tx, collector, pushed))
    })?;
    let stop = |rt: &tokio::runtime::Runtime,
                server: tokio::task::JoinHandle<Result<(), vigil_server::ServerError>>,
                stop_tx: tokio::sync::oneshot::Sender<()>,
                collector: vigil_collector::DemoCollector| {
        rt.block_on(async {
            let _ = stop_tx.send(());
            tokio::time::timeout(Duration::from_secs(15), server)
                .await
                .context("gateway did not stop")???;
            collector.stop().await;
            anyhow::Ok(())
        })
    };
    let fleet = serde_json::json!({
        "url": collector.url,
        "dashboard": format!("{}/", collector.url),
        "device": DEMO_DEVICE,
        "db": collector.db.display().to_string(),
        "ca": collector.ca.display().to_string(),
        "operator_cert": collector.operator_cert.display().to_string(),
        "operator_key": collector.operator_key.display().to_string(),
        "witness_pubkey": collector.witness_pubkey.display().to_string(),
        "pushed": pushed.as_ref().is_ok_and(|r| r.ok),
        "size": pushed.as_ref().map(|r| r.size).unwrap_or(0),
        "cosigned_checkpoint": serde_json::Value::Null,
        "error": match &pushed {
            Ok(r) => r.error.clone(),
            Err(e) => Some(e.clone()),
        },
    });
    let mut fleet = fleet;
    if let Ok(Some(note)) = pushed.as_ref().map(|r| r.cosigned_checkpoint.as_ref()) {
        let path = out.join("cosigned-checkpoint.txt");
        std::fs::write(&path, note)?;
        fleet["cosigned_checkpoint"] = path.display().to_string().into();
    }
    let running = if args.keep {
        Some((server, stop_tx, collector))
    } else {
        stop(&rt, server, stop_tx, collector)?;
        None
    };
    // The gateway's own counters, read in process; the exposition is kept for the reader.
    let metrics = gateway.metrics();
    std::fs::write(out.join("metrics.txt"), metrics.render(&model.name))?;
    let extraction_alarms = metrics.alarm_count("extraction");
    let refused_handshakes = metrics.refusal_count("tls_handshake");
    let note = audit.ledger().checkpoints()?.pop().map(|c| c.note);
    if let Some(n) = &note {
        std::fs::write(out.join("checkpoint.txt"), n)?;
    }
    let checkpoint = note.is_some();
    // The premarket evidence pack of what just ran: the example's deploy.toml, pointed at this
    // run's bundle, ledger and collector.
    let evidence = demo_evidence(&args.device, &bundle, &policy, &out, &fleet);
    let report = serde_json::json!({
        "evidence_pack": evidence.as_ref().ok().map(|(p, _)| p.display().to_string()),
        "model": model.name,
        "version": model.version,
        "seconds": started.elapsed().as_secs_f64(),
        "traffic": table.iter().map(|(k, t)| serde_json::json!({"kind": k, "tally": t})).collect::<Vec<_>>(),
        "ledger": out.join("audit.db").display().to_string(),
        "ledger_pubkey": out.join("ledger-key.pub.pem").display().to_string(),
        "ledger_entries": audit.ledger().size(),
        "checkpoint": checkpoint.then(|| out.join("checkpoint.txt").display().to_string()),
        "metrics": out.join("metrics.txt").display().to_string(),
        "extraction_alarms": extraction_alarms,
        "refused_tls_handshakes": refused_handshakes,
        "pki": pki.display().to_string(),
        "collector": fleet,
    });
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    let mut o = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut o, &report)?;
        writeln!(o)?;
        drop(o);
        return keep_serving(&rt, running, gateway_addr, stop);
    }
    writeln!(
        o,
        "vigil demo: {} {} behind the guard, mutual TLS on loopback (DEMO material, not for clinical use)\n",
        model.name, model.version
    )?;
    writeln!(
        o,
        "{:<50} {:>5} {:>8}  abstained / refused",
        "traffic", "sent", "accepted"
    )?;
    for (kind, t) in &table {
        let mut why: Vec<String> = t
            .abstained
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        why.extend(t.refused.iter().map(|(k, n)| format!("{k} {n}")));
        writeln!(
            o,
            "{:<50} {:>5} {:>8}  {}",
            kind,
            t.sent,
            t.accepted,
            why.join(", ")
        )?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "extraction monitor alarms: {extraction_alarms}; TLS handshakes refused: {refused_handshakes}"
    )?;
    writeln!(
        o,
        "ledger:     {} ({} entries)",
        out.join("audit.db").display(),
        audit.ledger().size()
    )?;
    if checkpoint {
        writeln!(o, "checkpoint: {}", out.join("checkpoint.txt").display())?;
        writeln!(
            o,
            "  verify:   vigil log verify --db {} --pubkey {} --checkpoint {}",
            out.join("audit.db").display(),
            out.join("ledger-key.pub.pem").display(),
            out.join("checkpoint.txt").display()
        )?;
    }
    writeln!(o, "metrics:    {}", out.join("metrics.txt").display())?;
    writeln!(o, "report:     {}", out.join("report.json").display())?;
    writeln!(o, "demo PKI:   {}", pki.display())?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    match &pushed {
        Ok(r) if r.ok => writeln!(
            o,
            "collector:  {} entries pushed and co-signed ({})",
            r.size,
            text(&fleet["cosigned_checkpoint"])
        )?,
        Ok(r) => writeln!(
            o,
            "collector:  push refused: {}",
            r.error.as_deref().unwrap_or("")
        )?,
        Err(e) => writeln!(o, "collector:  push failed: {e}")?,
    }
    writeln!(o, "  dashboard: {}", text(&fleet["dashboard"]))?;
    writeln!(
        o,
        "  operator:  --cert {} --key {} (CA {})",
        text(&fleet["operator_cert"]),
        text(&fleet["operator_key"]),
        text(&fleet["ca"])
    )?;
    match &evidence {
        Ok((path, summary)) => {
            let n = |k: &str| summary.get(k).copied().unwrap_or(0);
            writeln!(
                o,
                "evidence:   {} (threat model: {} met, {} partial, {} missing)",
                path.display(),
                n("met"),
                n("partial"),
                n("missing")
            )?
        }
        Err(e) => writeln!(o, "evidence:   not written: {e:#}")?,
    }
    writeln!(o, "took {:.1} s", started.elapsed().as_secs_f64())?;
    drop(o);
    keep_serving(&rt, running, gateway_addr, stop)
}

type Running = (
    tokio::task::JoinHandle<Result<(), vigil_server::ServerError>>,
    tokio::sync::oneshot::Sender<()>,
    vigil_collector::DemoCollector,
);

/// With `--keep`: serve the gateway and the collector until ctrl-c or SIGTERM, then stop both.
fn keep_serving(
    rt: &tokio::runtime::Runtime,
    running: Option<Running>,
    gateway: std::net::SocketAddr,
    stop: impl FnOnce(
        &tokio::runtime::Runtime,
        tokio::task::JoinHandle<Result<(), vigil_server::ServerError>>,
        tokio::sync::oneshot::Sender<()>,
        vigil_collector::DemoCollector,
    ) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let Some((server, stop_tx, collector)) = running else {
        return Ok(Outcome::Ok);
    };
    eprintln!(
        "vigil demo: serving the gateway on https://localhost:{} and the collector's dashboard on {}/ until ctrl-c",
        gateway.port(),
        collector.url
    );
    rt.block_on(vigil_server::shutdown_signal());
    stop(rt, server, stop_tx, collector)?;
    Ok(Outcome::Ok)
}

/// Write a fresh Ed25519 key for the demo ledger (PKCS#8 PEM), and its public key beside it
/// (`.pub.pem`, SPKI) for `vigil log verify`.
fn ed25519_key(path: &Path) -> anyhow::Result<PathBuf> {
    let key = vigil_core::SigningKey::generate(vigil_core::KeyAlgorithm::Ed25519);
    std::fs::write(path, key.to_pkcs8_pem(None)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let public = path.with_extension("pub.pem");
    std::fs::write(&public, key.public_key().to_pem())
        .with_context(|| format!("cannot write {}", public.display()))?;
    Ok(path.to_path_buf())
}

/// Writes the evidence pack for this demo run into `OUT/evidence/`: the device's `deploy.toml`
/// with the bundle, ledger and collector of this run. Returns the page and the threat model's
/// summary.
fn demo_evidence(
    device: &std::path::Path,
    bundle: &std::path::Path,
    policy: &std::path::Path,
    out: &std::path::Path,
    fleet: &serde_json::Value,
) -> anyhow::Result<(PathBuf, std::collections::BTreeMap<String, usize>)> {
    let src = device.join("deploy.toml");
    let text = crate::read_bounded(&src, vigil_evidence::MAX_DEPLOYMENT_BYTES)?;
    let mut doc: toml::Table = std::str::from_utf8(&text)?.parse()?;
    let abs = |p: &std::path::Path| -> anyhow::Result<String> {
        Ok(std::fs::canonicalize(p)?.display().to_string())
    };
    let checks = release_checks(device, bundle, policy, out)?;
    // The device's own paths (data manifests, their key) become absolute: the new file is
    // elsewhere.
    let mut evidence = match doc.remove("evidence") {
        Some(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    if let Some(toml::Value::Array(list)) = evidence.get_mut("data_manifests") {
        for v in list.iter_mut() {
            if let toml::Value::String(p) = v {
                *p = abs(&device.join(&*p))?;
            }
        }
    }
    if let Some(toml::Value::String(p)) = evidence.get_mut("data_key") {
        *p = abs(&device.join(&*p))?;
    }
    evidence.insert("scan".into(), abs(&checks.scan)?.into());
    evidence.insert(
        "assess".into(),
        toml::Value::Array(
            checks
                .assess
                .iter()
                .map(|p| abs(p).map(toml::Value::String))
                .collect::<anyhow::Result<_>>()?,
        ),
    );
    evidence.insert("metrics".into(), abs(&out.join("metrics.txt"))?.into());
    doc.insert("evidence".into(), toml::Value::Table(evidence));
    let mut update = toml::Table::new();
    update.insert("repository".into(), abs(&checks.repo)?.into());
    update.insert("state".into(), abs(&checks.state)?.into());
    doc.insert("update".into(), toml::Value::Table(update));
    if let Some(toml::Value::Table(d)) = doc.get_mut("device") {
        d.insert("bundle".into(), toml::Value::String(abs(bundle)?));
    }
    // The clients file the demo's gateway ran with.
    if let Some(toml::Value::Table(g)) = doc.get_mut("gateway") {
        g.insert(
            "clients".into(),
            toml::Value::String(abs(&out.join("pki/clients.toml"))?),
        );
    }
    let mut ledger = toml::Table::new();
    ledger.insert(
        "path".into(),
        toml::Value::String(abs(&out.join("audit.db"))?),
    );
    ledger.insert(
        "public_key".into(),
        toml::Value::String(abs(&out.join("ledger-key.pub.pem"))?),
    );
    doc.insert("ledger".into(), toml::Value::Table(ledger));
    if let Some(url) = fleet.get("dashboard").and_then(|d| d.as_str()) {
        let mut c = toml::Table::new();
        c.insert("url".into(), toml::Value::String(url.to_string()));
        doc.insert("collector".into(), toml::Value::Table(c));
    }
    let deploy = out.join("deploy.toml");
    std::fs::write(&deploy, toml::to_string(&doc)?)?;
    let dir = out.join("evidence");
    let summary = super::evidence::demo_pack(bundle, policy, &deploy, &dir)?;
    Ok((dir.join("index.html"), summary))
}

/// What [`release_checks`] left, for the demo's deploy.toml.
struct ReleaseChecks {
    /// `vigil scan --sarif` of the bundle.
    scan: PathBuf,
    /// `vigil assess robustness` and `membership` reports (JSON).
    assess: Vec<PathBuf>,
    /// The TUF repository the bundle was published to.
    repo: PathBuf,
    /// The update state it was installed into (its ledger records each step).
    state: PathBuf,
}

/// The checks a manufacturer runs before and at release, run on the example device so that its
/// evidence pack has them: the scanner's SARIF, a short robustness run and a membership
/// inference run (`OUT/reports/`), and the bundle published to a TUF repository with fresh keys
/// and installed from it into `OUT/update/state` (verify, scan, acceptance set, activation).
fn release_checks(
    device: &Path,
    bundle: &Path,
    policy: &Path,
    out: &Path,
) -> anyhow::Result<ReleaseChecks> {
    let reports = out.join("reports");
    std::fs::create_dir_all(&reports)?;
    let scanner =
        vigil_scan::Scanner::new(vigil_scan::Limits::default(), vigil_scan::Policy::default());
    let outcome = scanner.scan_paths(&[bundle]);
    let scan = reports.join("scan.sarif");
    std::fs::write(
        &scan,
        serde_json::to_vec_pretty(&vigil_scan::to_sarif(&outcome.reports))?,
    )?;

    let trust = vigil_bundle::Trust::Policy(vigil_bundle::BundlePolicy::load(policy)?);
    let target = vigil_assess::Target::open(bundle, &trust)?;
    let data = device.join("data");
    let read = |file: &str| vigil_assess::Labelled::read(&data.join(file), target.contract(), None);
    // Membership: training rows against all validation rows; robustness: the first 20 of
    // those.
    let mut validation = read("validation.csv")?;
    let m = vigil_assess::membership(&target, &read("training.csv")?, &validation, 7)?;
    let membership = reports.join("membership.json");
    std::fs::write(&membership, serde_json::to_vec_pretty(&m.report)?)?;
    validation.truncate(20);
    let options = vigil_assess::RobustnessOptions {
        attacks: vec![
            vigil_assess::Attack::Noise,
            vigil_assess::Attack::HopSkipJump,
        ],
        norm: vigil_assess::Norm::Linf,
        budgets: vec![0.5, 1.0],
        max_queries: 300,
        seed: 7,
        ..vigil_assess::RobustnessOptions::default()
    };
    let robust = vigil_assess::robustness(&target, &validation, &options, &|_| {})?;
    let robustness = reports.join("robustness.json");
    std::fs::write(&robustness, serde_json::to_vec_pretty(&robust.report)?)?;

    let repo = out.join("update/repo");
    let state = out.join("update/state");
    let publisher = vigil_update::publish::Publisher::init(
        &repo,
        &out.join("update/keys"),
        vigil_update::publish::PublisherConfig::default(),
    )?;
    let name = publisher.add(bundle)?;
    let root = repo.join("metadata/1.root.json");
    let repo_text = repo.display().to_string();
    let bundle_name = name.split('/').next().unwrap_or(&name).to_string();
    let report = vigil_update::Install::new(&repo_text, &state, &bundle_name, trust)
        .root(&root)
        .run()?;
    if report.result != vigil_update::UpdateResult::Activated {
        bail!("the demo's update was not activated: {}", report.detail);
    }
    Ok(ReleaseChecks {
        scan,
        assess: vec![robustness, membership],
        repo,
        state,
    })
}

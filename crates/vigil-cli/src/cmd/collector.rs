//! `vigil collector`: the fleet collector (checkpoint witness, store and dashboard) and the
//! device's push to it. See docs/collector.md.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use vigil_collector::{
    append_cosignature, cosignatures_path, read_cosignatures, CollectorUrl, Database, ModelRef,
    PushOptions, PushReport, ServeOptions, Server, StoredCosignature,
};
use vigil_ledger::{open_checkpoint, NoteVerifier};

use crate::outcome::Outcome;

/// Run the fleet collector, or push a device's ledger to one.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Serve the collector over HTTPS with mutual TLS: devices push their ledgers, operators
    /// read the API and the dashboard at `/`. Stops cleanly on SIGTERM or ctrl-c.
    Serve(ServeArgs),
    /// Push a device's ledger once: its newest signed checkpoint, the entries the collector
    /// does not have and a consistency proof. Exit 0 accepted, 1 refused (a fork is 409), 2
    /// usage, I/O or network error.
    Push(PushArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The store: sqlite:PATH (one site; created if missing) or
    /// postgres://user:pass@host:port/db (a fleet; several collectors may share it).
    #[arg(long, value_name = "DB")]
    db: String,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8444")]
    addr: SocketAddr,
    /// The server's certificate chain (PEM).
    #[arg(long, value_name = "server.crt")]
    tls_cert: PathBuf,
    /// The server's private key (PEM).
    #[arg(long, value_name = "server.key")]
    tls_key: PathBuf,
    /// CA certificate(s) (PEM) that client certificates must chain to.
    #[arg(long, value_name = "ca.crt")]
    client_ca: PathBuf,
    /// Who may call: [[client]] name (the certificate CN), role = "device" | "operator", and
    /// for a device ledger_vkey (what `vigil log init` prints).
    #[arg(long, value_name = "clients.toml")]
    clients: PathBuf,
    /// The witness's Ed25519 private key (PKCS#8 PEM) that co-signs accepted checkpoints.
    #[arg(long, value_name = "PRIV.pem")]
    witness_key: PathBuf,
    /// The witness's key name in its cosignatures.
    #[arg(long, value_name = "NAME", default_value = "vigil-collector")]
    witness_name: String,
    /// Print the listening line as JSON: {"addr","db","devices","operators","witness"}.
    #[arg(long)]
    json: bool,
    /// Log level on standard error: error, warn, info, debug, trace.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

#[derive(Debug, clap::Args)]
struct PushArgs {
    /// The collector: https://HOST:PORT.
    #[arg(long, value_name = "URL")]
    collector: String,
    /// The device's ledger (SQLite, as `vigil log init` or `vigil serve` made it).
    #[arg(long, value_name = "DB")]
    ledger: PathBuf,
    /// The device's client certificate (PEM; its CN is the device id).
    #[arg(long, value_name = "C")]
    tls_cert: PathBuf,
    /// The device's private key (PEM).
    #[arg(long, value_name = "K")]
    tls_key: PathBuf,
    /// The CA certificate(s) (PEM) the collector's certificate must chain to.
    #[arg(long, value_name = "CA")]
    ca: PathBuf,
    /// The model the device runs (default: the bundle digest of the newest guard event in
    /// the ledger, as name "bundle", version "sha256:<digest>").
    #[arg(long, value_name = "NAME@VERSION")]
    model: Option<String>,
    /// Drift results to report (what `vigil drift test --json` prints).
    #[arg(long, value_name = "SUMMARY.json")]
    drift: Option<PathBuf>,
    /// The collector's witness key, as NAME=PUB.pem: an accepted push whose cosigned
    /// checkpoint does not carry a valid cosignature by it (for the size pushed) is refused
    /// (exit 1) and not kept.
    #[arg(long, value_name = "NAME=PUB.pem")]
    witness: Option<String>,
    /// Seconds the whole push may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
    /// Print one JSON object:
    /// {"ok","status","device","size","entries_sent","cosigned_checkpoint","error"}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Serve(a) => serve(a),
        Verb::Push(a) => push(a),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<Outcome> {
    crate::cmd::serve::init_logging(&a.log_level)?;
    let db = Database::parse(&a.db)?;
    let server = Server::open(&ServeOptions {
        db: db.clone(),
        tls: vigil_net::TlsFiles {
            cert: &a.tls_cert,
            key: &a.tls_key,
            client_ca: &a.client_ca,
        },
        clients: &a.clients,
        witness_key: &a.witness_key,
        witness_name: &a.witness_name,
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        let addr = listener.local_addr()?;
        let (devices, operators) = server.client_counts();
        let witness = server.collector().witness().to_vkey();
        {
            let mut out = std::io::stdout().lock();
            if a.json {
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"addr": addr.to_string(), "db": db.to_string(),
                                        "devices": devices, "operators": operators,
                                        "witness": witness}),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "vigil collector: listening on https://{addr} ({db}; {devices} devices, {operators} operators; dashboard at https://{addr}/; witness {witness})"
                )?;
            }
            out.flush()?;
        }
        server.serve(listener, vigil_net::shutdown_signal()).await;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Ok)
}

fn parse_model(s: &str) -> anyhow::Result<ModelRef> {
    match s.rsplit_once('@') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => Ok(ModelRef {
            name: name.to_string(),
            version: version.to_string(),
        }),
        _ => anyhow::bail!("--model {s:?}: expected NAME@VERSION"),
    }
}

fn push(a: PushArgs) -> anyhow::Result<Outcome> {
    let result = push_report(&a);
    let mut out = std::io::stdout().lock();
    let report = match result {
        Ok(r) => r,
        Err(e) if a.json => {
            // Usage, I/O and network errors are JSON too, with exit 2.
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"ok": false, "status": 0, "device": "", "size": 0,
                                    "entries_sent": 0, "cosigned_checkpoint": null,
                                    "error": crate::render(&e)}),
            )?;
            writeln!(out)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if a.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else if report.ok {
        writeln!(
            out,
            "accepted: {} at size {} ({} entries sent), co-signed:",
            report.device, report.size, report.entries_sent
        )?;
        out.write_all(
            report
                .cosigned_checkpoint
                .as_deref()
                .unwrap_or("")
                .as_bytes(),
        )?;
    } else {
        writeln!(
            out,
            "REFUSED ({}): {}",
            report.status,
            report.error.as_deref().unwrap_or("")
        )?;
    }
    out.flush()?;
    Ok(if report.ok {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// The `--witness NAME=PUB.pem` verifier (cosignature/v1 accepted).
fn witness_verifier(spec: &str) -> anyhow::Result<NoteVerifier> {
    let (name, path) = spec
        .split_once('=')
        .with_context(|| format!("--witness {spec:?}: expected NAME=PUB.pem"))?;
    let key = vigil_core::PublicKey::load(Path::new(path))?;
    Ok(NoteVerifier::from_public_key(name, &key)
        .with_context(|| format!("--witness {spec:?}"))?
        .accepting_cosignature_v1())
}

/// Fails closed: an accepted report stays accepted only if its cosigned checkpoint carries a
/// valid signature by `witness` and is of the size the collector reported.
fn check_witness(report: &mut PushReport, witness: &NoteVerifier) {
    if !report.ok {
        return;
    }
    let verdict = match report.cosigned_checkpoint.as_deref() {
        None => Err("the collector sent no cosigned checkpoint".to_string()),
        Some(note) => match open_checkpoint(note.as_bytes(), std::slice::from_ref(witness), None) {
            Ok(v) if v.checkpoint.size == report.size => Ok(()),
            Ok(v) => Err(format!(
                "the cosigned checkpoint is of size {}, the collector reported {}",
                v.checkpoint.size, report.size
            )),
            Err(e) => Err(format!("witness {}: {e}", witness.name())),
        },
    };
    if let Err(e) = verdict {
        report.ok = false;
        report.cosigned_checkpoint = None;
        report.error = Some(format!("bad_cosignature: {e}"));
    }
}

/// Keeps an accepted push's cosigned checkpoint beside the ledger
/// (`LEDGER.cosignatures.jsonl`, as `vigil serve --collector` does), unless the newest one kept
/// is already of that size.
fn keep_cosignature(a: &PushArgs, report: &PushReport) -> anyhow::Result<()> {
    let (true, Some(note)) = (report.ok, report.cosigned_checkpoint.as_deref()) else {
        return Ok(());
    };
    let path = cosignatures_path(&a.ledger);
    let kept = read_cosignatures(&path).with_context(|| path.display().to_string())?;
    if kept.last().is_some_and(|c| c.size == report.size) {
        return Ok(());
    }
    let collector = CollectorUrl::parse(&a.collector)?;
    append_cosignature(
        &path,
        &StoredCosignature {
            time: vigil_core::time::rfc3339(vigil_core::time::now_ms()),
            collector: collector.authority(),
            size: report.size,
            note: note.to_string(),
        },
    )
    .with_context(|| path.display().to_string())
}

/// Reads the flags' files and pushes once; checks the witness's cosignature if asked and keeps
/// the cosigned checkpoint beside the ledger.
fn push_report(a: &PushArgs) -> anyhow::Result<PushReport> {
    let witness = a.witness.as_deref().map(witness_verifier).transpose()?;
    let mut report = push_network(a)?;
    if let Some(w) = &witness {
        check_witness(&mut report, w);
    }
    keep_cosignature(a, &report)?;
    Ok(report)
}

fn push_network(a: &PushArgs) -> anyhow::Result<PushReport> {
    let collector = CollectorUrl::parse(&a.collector)?;
    let model = a.model.as_deref().map(parse_model).transpose()?;
    let drift = a
        .drift
        .as_deref()
        .map(vigil_collector::read_drift)
        .transpose()?;
    let tls = vigil_net::client_config(&a.ca, Some((&a.tls_cert, &a.tls_key)))?;
    let options = PushOptions {
        collector,
        ledger: &a.ledger,
        tls,
        model,
        drift,
        timeout: Duration::from_secs(a.timeout.max(1)),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(vigil_collector::push_once(&options))?)
}

//! `vigil serve`: the mutual-TLS Open Inference Protocol gateway in front of the guard.
//!
//! The contract of this command (flags, config keys, exit codes) is fixed: other tools depend
//! on it. See docs/serve.md.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use vigil_server::{AuditLog, Clients, Gateway, GatewayOptions, InferenceBackend, Limits};

use crate::outcome::Outcome;

/// Serve a guarded model over HTTPS with mutual TLS, speaking the Open Inference Protocol
/// (KServe V2 REST). Stops cleanly on SIGTERM or ctrl-c, finishing requests in flight.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// TOML file with any of the settings below (keys as the flag names with `_` for `-`,
    /// plus a `[limits]` table); flags given on the command line win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The signed model bundle to guard.
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// Public key (PEM) the bundle's signature must verify with.
    #[arg(long, value_name = "PUB.pem")]
    key: Option<PathBuf>,
    /// Trust policy (TOML) instead of a single key: k-of-n signers, revocations.
    #[arg(long, value_name = "POLICY.toml", conflicts_with = "key")]
    policy: Option<PathBuf>,
    /// The server's certificate chain (PEM).
    #[arg(long, value_name = "server.crt")]
    tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, value_name = "server.key")]
    tls_key: Option<PathBuf>,
    /// CA certificate(s) (PEM) that client certificates must chain to.
    #[arg(long, value_name = "ca.crt")]
    client_ca: Option<PathBuf>,
    /// The clients file: certificate subject CNs allowed, their roles and limits, revocations.
    #[arg(long, value_name = "clients.toml")]
    clients: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8443; port 0 picks a free port).
    #[arg(long, value_name = "IP:PORT")]
    addr: Option<SocketAddr>,
    /// Audit ledger (SQLite) for guard events and refusals; created if missing (then
    /// --ledger-key is required).
    #[arg(long, value_name = "PATH")]
    ledger: Option<PathBuf>,
    /// Ed25519 private key (PKCS#8 PEM) that signs the ledger's checkpoints (every 10 s
    /// while it grows, and at shutdown).
    #[arg(long, value_name = "PRIV.pem")]
    ledger_key: Option<PathBuf>,
    /// Guard an upstream Open Inference Protocol server (http://HOST:PORT) instead of running
    /// the model in process.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Feed accepted requests to a drift monitor with these reference statistics (a drift.json
    /// as `vigil drift reference` writes, from the contract's feature columns and optionally a
    /// confidence column); window 200, a KS test every 50, alpha 0.01. Alarms go to the ledger
    /// and to `vigil_drift_alarms_total`.
    #[arg(long, value_name = "drift.json")]
    drift_reference: Option<PathBuf>,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print the listening line as JSON: {"addr","model","version","clients"}.
    #[arg(long)]
    json: bool,
    /// Log level on standard error: error, warn, info, debug, trace (default info).
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Serve the built-in toy model (4 inputs, 2 outputs) instead of a bundle: for tests of
    /// the gateway itself, never a real model.
    #[arg(long, hide = true)]
    dangerous_toy_backend: bool,
}

/// `[limits]` of the config file; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_body_bytes: Option<usize>,
    tls_handshake_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    body_read_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_in_flight: Option<usize>,
    max_h2_streams: Option<u32>,
    shutdown_grace_ms: Option<u64>,
    max_inputs: Option<usize>,
    max_dims: Option<usize>,
    max_elements: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    bundle: Option<PathBuf>,
    key: Option<PathBuf>,
    policy: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    clients: Option<PathBuf>,
    addr: Option<SocketAddr>,
    ledger: Option<PathBuf>,
    ledger_key: Option<PathBuf>,
    upstream: Option<String>,
    drift_reference: Option<PathBuf>,
    threads: Option<usize>,
    log_level: Option<String>,
    #[serde(default)]
    limits: LimitsFile,
}

fn limits_from(f: &LimitsFile) -> Limits {
    let d = Limits::default();
    let ms = |v: Option<u64>, dflt: Duration| v.map(Duration::from_millis).unwrap_or(dflt);
    Limits {
        max_body_bytes: f.max_body_bytes.unwrap_or(d.max_body_bytes),
        tls_handshake_timeout: ms(f.tls_handshake_timeout_ms, d.tls_handshake_timeout),
        header_read_timeout: ms(f.header_read_timeout_ms, d.header_read_timeout),
        body_read_timeout: ms(f.body_read_timeout_ms, d.body_read_timeout),
        idle_timeout: ms(f.idle_timeout_ms, d.idle_timeout),
        max_connections: f.max_connections.unwrap_or(d.max_connections),
        max_in_flight: f.max_in_flight.unwrap_or(d.max_in_flight),
        max_h2_streams: f.max_h2_streams.unwrap_or(d.max_h2_streams),
        shutdown_grace: ms(f.shutdown_grace_ms, d.shutdown_grace),
        max_inputs: f.max_inputs.unwrap_or(d.max_inputs),
        max_dims: f.max_dims.unwrap_or(d.max_dims),
        max_elements: f.max_elements.unwrap_or(d.max_elements),
        ..d
    }
}

/// Paths in the config file are relative to the file's directory.
fn rebase(base: &Path, p: Option<PathBuf>) -> Option<PathBuf> {
    p.map(|p| if p.is_absolute() { p } else { base.join(p) })
}

/// Settings after merging the config file and the flags.
pub(crate) struct Settings {
    pub(crate) bundle: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) policy: Option<PathBuf>,
    pub(crate) tls_cert: PathBuf,
    pub(crate) tls_key: PathBuf,
    pub(crate) client_ca: PathBuf,
    pub(crate) clients: PathBuf,
    pub(crate) addr: SocketAddr,
    pub(crate) ledger: Option<PathBuf>,
    pub(crate) ledger_key: Option<PathBuf>,
    pub(crate) upstream: Option<String>,
    pub(crate) drift_reference: Option<PathBuf>,
    pub(crate) limits: Limits,
}

fn settings(args: &Args) -> anyhow::Result<(Settings, Option<usize>, String)> {
    let file = match &args.config {
        None => ConfigFile::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut f: ConfigFile =
                toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
            let base = path.parent().unwrap_or(Path::new("."));
            f.bundle = rebase(base, f.bundle);
            f.key = rebase(base, f.key);
            f.policy = rebase(base, f.policy);
            f.tls_cert = rebase(base, f.tls_cert);
            f.tls_key = rebase(base, f.tls_key);
            f.client_ca = rebase(base, f.client_ca);
            f.clients = rebase(base, f.clients);
            f.ledger = rebase(base, f.ledger);
            f.ledger_key = rebase(base, f.ledger_key);
            f
        }
    };
    let need = |flag: &Option<PathBuf>, conf: &Option<PathBuf>, name: &str| {
        flag.clone()
            .or_else(|| conf.clone())
            .with_context(|| format!("--{name} is required (on the command line or in --config)"))
    };
    let s = Settings {
        bundle: args.bundle.clone().or(file.bundle.clone()),
        key: args.key.clone().or(file.key.clone()),
        policy: args.policy.clone().or(file.policy.clone()),
        tls_cert: need(&args.tls_cert, &file.tls_cert, "tls-cert")?,
        tls_key: need(&args.tls_key, &file.tls_key, "tls-key")?,
        client_ca: need(&args.client_ca, &file.client_ca, "client-ca")?,
        clients: need(&args.clients, &file.clients, "clients")?,
        addr: args
            .addr
            .or(file.addr)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443))),
        ledger: args.ledger.clone().or(file.ledger.clone()),
        ledger_key: args.ledger_key.clone().or(file.ledger_key.clone()),
        upstream: args.upstream.clone().or(file.upstream.clone()),
        drift_reference: args
            .drift_reference
            .clone()
            .or(file.drift_reference.clone()),
        limits: limits_from(&file.limits),
    };
    let level = args
        .log_level
        .clone()
        .or(file.log_level.clone())
        .unwrap_or_else(|| "info".into());
    Ok((s, args.threads.or(file.threads), level))
}

/// Open (or create) the ledger and its checkpoint signer.
pub(crate) fn open_audit(
    ledger: Option<&Path>,
    ledger_key: Option<&Path>,
    origin: &str,
) -> anyhow::Result<Option<AuditLog>> {
    let Some(path) = ledger else {
        if ledger_key.is_some() {
            bail!("--ledger-key needs --ledger");
        }
        return Ok(None);
    };
    let key = match ledger_key {
        None => None,
        Some(k) => Some(std::sync::Arc::new(
            vigil_core::SigningKey::load(k, None)
                .with_context(|| format!("cannot read the ledger key {}", k.display()))?,
        )),
    };
    let log = if path.exists() {
        vigil_ledger::Ledger::open(path)
            .with_context(|| format!("cannot open the ledger {}", path.display()))?
    } else {
        let Some(key) = &key else {
            bail!(
                "the ledger {} does not exist; give --ledger-key to create it",
                path.display()
            );
        };
        let signer = vigil_ledger::NoteSigner::from_signer(origin, key.clone())
            .context("ledger checkpoint signer")?;
        vigil_ledger::Ledger::create(path, origin, signer.verifier().key(), None)
            .with_context(|| format!("cannot create the ledger {}", path.display()))?
    };
    let signer = match key {
        None => None,
        Some(key) => Some(
            vigil_ledger::NoteSigner::from_signer(&log.info().key_name, key)
                .context("ledger checkpoint signer")?,
        ),
    };
    Ok(Some(AuditLog::new(log, signer)))
}

fn init_logging(level: &str) -> anyhow::Result<()> {
    let level: tracing::Level = level.parse().map_err(|_| {
        anyhow::anyhow!("--log-level {level:?}: use error, warn, info, debug or trace")
    })?;
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
    Ok(())
}

/// Build the backend the settings ask for.
fn backend(
    args: &Args,
    s: &Settings,
    audit: Option<&AuditLog>,
) -> anyhow::Result<Arc<dyn InferenceBackend>> {
    if args.dangerous_toy_backend {
        return Ok(Arc::new(vigil_server::ToyBackend::new()));
    }
    let Some(bundle) = &s.bundle else {
        bail!("--bundle is required (on the command line or in --config)");
    };
    if s.key.is_none() && s.policy.is_none() {
        bail!("--key or --policy is required: the bundle is verified before it is served");
    }
    let guarded = guard_backend(
        bundle,
        s.key.as_deref(),
        s.policy.as_deref(),
        audit,
        s.drift_reference.as_deref(),
    )?;
    Ok(match &s.upstream {
        None => Arc::new(guarded),
        Some(url) => Arc::new(vigil_server::UpstreamBackend::new(guarded, url)?),
    })
}

/// The bundle behind the guard; its events go into the ledger, or without one into a JSON
/// lines file beside it (`vigil-audit.jsonl`, synced per event).
pub(crate) fn guard_backend(
    bundle: &Path,
    key: Option<&Path>,
    policy: Option<&Path>,
    audit: Option<&AuditLog>,
    drift_reference: Option<&Path>,
) -> anyhow::Result<vigil_server::GuardBackend> {
    use vigil_bundle::{BundlePolicy, Trust};
    let trust = match (key, policy) {
        (Some(k), _) => Trust::Key(vigil_core::PublicKey::load(k)?),
        (None, Some(p)) => Trust::Policy(BundlePolicy::load(p)?),
        (None, None) => {
            bail!("--key or --policy is required: the bundle is verified before it is served")
        }
    };
    let sink: Arc<dyn vigil_guard::AuditSink> = match audit {
        Some(a) => Arc::new(vigil_guard::LedgerAudit::new(a.ledger().clone())),
        None => Arc::new(
            vigil_guard::JsonLinesAudit::open(Path::new("vigil-audit.jsonl"))
                .context("cannot open the audit file vigil-audit.jsonl (or give --ledger)")?,
        ),
    };
    let reference = drift_reference
        .map(super::guard::read_drift_reference)
        .transpose()?;
    let late = Arc::new(super::guard::LateDrift::default());
    let mut options = vigil_guard::GuardOptions::new(sink.clone());
    if reference.is_some() {
        options.drift = Some(late.clone());
    }
    let guard = vigil_guard::Guard::open(bundle, &trust, options)
        .with_context(|| format!("guard refused the bundle {}", bundle.display()))?;
    let Some(reference) = reference else {
        return Ok(vigil_server::GuardBackend::new(guard));
    };
    let feed = Arc::new(
        vigil_guard::DriftMonitorFeed::for_contract(
            reference,
            200,
            50,
            0.01,
            guard.contract(),
            Some(sink),
        )
        .with_context(|| {
            drift_reference
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })?,
    );
    let _ = late.0.set(feed.clone());
    Ok(vigil_server::GuardBackend::new(guard).with_drift(feed))
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let (s, threads, level) = settings(&args)?;
    init_logging(&level)?;
    let clients = Clients::load(&s.clients)?;
    let tls = vigil_server::server_config(&vigil_server::TlsFiles {
        cert: &s.tls_cert,
        key: &s.tls_key,
        client_ca: &s.client_ca,
    })?;
    let audit = open_audit(s.ledger.as_deref(), s.ledger_key.as_deref(), "vigil-serve")?;
    let backend = backend(&args, &s, audit.as_ref())?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build().context("cannot start the async runtime")?;
    let gateway = Gateway::new(
        backend.clone(),
        clients.clone(),
        GatewayOptions {
            limits: s.limits.clone(),
            audit,
        },
    );
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(s.addr)
            .await
            .with_context(|| format!("cannot listen on {}", s.addr))?;
        let addr = listener.local_addr()?;
        let model = backend.model();
        {
            let mut out = std::io::stdout().lock();
            if args.json {
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"addr": addr.to_string(), "model": model.name,
                                        "version": model.version, "clients": clients.len()}),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "vigil serve: listening on https://{addr} (model {} version {}, {} clients, mutual TLS required)",
                    model.name,
                    model.version,
                    clients.len()
                )?;
            }
            out.flush()?;
        }
        gateway
            .serve(listener, tls, vigil_server::shutdown_signal())
            .await?;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Ok)
}

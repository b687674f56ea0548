//! `vigil serve`: the mutual-TLS Open Inference Protocol gateway in front of the guard.
//!
//! The contract of this command (flags, config keys, exit codes) is fixed: other tools depend
//! on it. See docs/serve.md.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use vigil_server::{AuditLog, Clients, Gateway, GatewayOptions, InferenceBackend, ServeConfig};

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
    /// Push the ledger to this fleet collector (https://HOST[:PORT]) right after a checkpoint
    /// is signed, every --collector-interval seconds (backing off up to 10 minutes while
    /// pushes fail). The gateway's own --tls-cert/--tls-key are its client identity there (the
    /// certificate needs the clientAuth usage; its CN is the device id); the collector's
    /// cosignatures are kept in LEDGER.cosignatures.jsonl. Needs a ledger key.
    #[arg(long, value_name = "URL")]
    collector: Option<String>,
    /// CA certificate(s) (PEM) the collector's certificate must chain to (default: --client-ca).
    #[arg(long, value_name = "CA.pem")]
    collector_ca: Option<PathBuf>,
    /// Seconds between pushes to the collector (default 60).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    collector_interval: Option<u64>,
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

/// The settings: the flags, then the config file for what they leave out.
fn settings(args: &Args) -> anyhow::Result<ServeConfig> {
    let file = match &args.config {
        None => ServeConfig::default(),
        Some(path) => ServeConfig::load(path)?,
    };
    let mut flags = ServeConfig::default();
    flags.bundle = args.bundle.clone();
    flags.key = args.key.clone();
    flags.policy = args.policy.clone();
    flags.tls_cert = args.tls_cert.clone();
    flags.tls_key = args.tls_key.clone();
    flags.client_ca = args.client_ca.clone();
    flags.clients = args.clients.clone();
    flags.addr = args.addr;
    flags.ledger = args.ledger.clone();
    flags.ledger_key = args.ledger_key.clone();
    flags.upstream = args.upstream.clone();
    flags.drift_reference = args.drift_reference.clone();
    flags.collector = args.collector.clone();
    flags.collector_ca = args.collector_ca.clone();
    flags.collector_interval = args.collector_interval;
    flags.threads = args.threads;
    flags.log_level = args.log_level.clone();
    Ok(flags.or(file))
}

/// A setting that must be given, on the command line or in the config file.
fn need<'a>(value: &'a Option<PathBuf>, flag: &str) -> anyhow::Result<&'a Path> {
    value
        .as_deref()
        .with_context(|| format!("--{flag} is required (on the command line or in --config)"))
}

/// The audit ledger: `--ledger` (created if missing, then `--ledger-key` is required), or by
/// default `audit.db` in the state directory (`vigil_server::state_dir`), never a file in the
/// working directory. The toy backend keeps none unless one is named.
fn audit(s: &ServeConfig, toy: bool) -> anyhow::Result<Option<AuditLog>> {
    match (&s.ledger, &s.ledger_key) {
        (Some(path), key) => Ok(Some(AuditLog::open_or_create(
            path,
            key.as_deref(),
            "vigil-serve",
        )?)),
        (None, Some(_)) => bail!("--ledger-key needs --ledger"),
        (None, None) if toy => Ok(None),
        (None, None) => {
            let dir = vigil_server::state_dir().context(
                "--ledger is required: no state directory for the default ledger \
                 (set VIGIL_STATE_DIR, XDG_STATE_HOME or HOME)",
            )?;
            let log = AuditLog::open_in(&dir, "vigil-serve")?;
            tracing::info!(ledger = %dir.join("audit.db").display(), "audit ledger (default)");
            Ok(Some(log))
        }
    }
}

/// The uplink to the collector (`--collector`): the gateway's certificate and key as its
/// identity, `--collector-ca` (default `--client-ca`) as the collector's CA, the ledger's path.
fn uplink(
    s: &ServeConfig,
    audit: Option<&AuditLog>,
) -> anyhow::Result<Option<vigil_collector::UplinkOptions>> {
    let Some(url) = &s.collector else {
        return Ok(None);
    };
    let collector = vigil_collector::CollectorUrl::parse(url)?;
    if !audit.is_some_and(AuditLog::signs) {
        bail!("--collector needs a ledger whose checkpoints the gateway signs (--ledger-key)");
    }
    let ca = match &s.collector_ca {
        Some(ca) => ca.as_path(),
        None => need(&s.client_ca, "client-ca")?,
    };
    let tls = vigil_net::client_config(
        ca,
        Some((need(&s.tls_cert, "tls-cert")?, need(&s.tls_key, "tls-key")?)),
    )?;
    // The ledger `audit` opened: --ledger, else the state directory's (see `audit`).
    let ledger = match &s.ledger {
        Some(path) => path.clone(),
        None => vigil_server::state_dir()
            .context("--collector: no state directory for the default ledger")?
            .join("audit.db"),
    };
    let mut options = vigil_collector::UplinkOptions::new(collector, ledger, tls);
    if let Some(secs) = s.collector_interval {
        options.interval = std::time::Duration::from_secs(secs.max(1));
    }
    Ok(Some(options))
}

/// Runs the uplink on the runtime: a checkpoint signed right before each push, outcomes
/// counted in the gateway's metrics.
pub(crate) fn spawn_uplink(
    options: vigil_collector::UplinkOptions,
    audit: AuditLog,
    gateway: Gateway,
) -> tokio::task::JoinHandle<()> {
    use vigil_collector::UplinkOutcome;
    use vigil_server::CollectorPush;
    let checkpoint = move || {
        let audit = audit.clone();
        async move {
            if let Err(e) = audit.checkpoint_if_grown().await {
                tracing::error!(error = %e, "checkpoint failed");
            }
        }
    };
    let observe = move |o: UplinkOutcome| {
        gateway.metrics().collector_push(match o {
            UplinkOutcome::Accepted => CollectorPush::Ok,
            UplinkOutcome::Fork => CollectorPush::Fork,
            UplinkOutcome::Refused => CollectorPush::Refused,
            _ => CollectorPush::Failed,
        })
    };
    tokio::spawn(vigil_collector::run_uplink(options, checkpoint, observe))
}

pub(crate) fn init_logging(level: &str) -> anyhow::Result<()> {
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
    s: &ServeConfig,
    audit: Option<&AuditLog>,
) -> anyhow::Result<Arc<dyn InferenceBackend>> {
    if args.dangerous_toy_backend {
        return Ok(Arc::new(vigil_server::ToyBackend::new()));
    }
    let bundle = need(&s.bundle, "bundle")?;
    if s.key.is_none() && s.policy.is_none() {
        bail!("--key or --policy is required: the bundle is verified before it is served");
    }
    let Some(audit) = audit else {
        bail!("--ledger is required: every guarded request is recorded in the audit ledger");
    };
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

/// The bundle behind the guard; its events go into the ledger.
pub(crate) fn guard_backend(
    bundle: &Path,
    key: Option<&Path>,
    policy: Option<&Path>,
    audit: &AuditLog,
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
    Ok(vigil_server::GuardBackend::open(
        bundle,
        &trust,
        audit,
        drift_reference,
    )?)
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let s = settings(&args)?;
    init_logging(s.log_level.as_deref().unwrap_or("info"))?;
    let tls_files = vigil_server::TlsFiles {
        cert: need(&s.tls_cert, "tls-cert")?,
        key: need(&s.tls_key, "tls-key")?,
        client_ca: need(&s.client_ca, "client-ca")?,
    };
    let clients = Clients::load(need(&s.clients, "clients")?)?;
    let tls = vigil_server::server_config(&tls_files)?;
    if !args.dangerous_toy_backend {
        need(&s.bundle, "bundle")?;
    }
    let audit = audit(&s, args.dangerous_toy_backend)?;
    let backend = backend(&args, &s, audit.as_ref())?;
    let uplink = uplink(&s, audit.as_ref())?;
    let uplink_audit = audit.clone();
    let addr = s.addr();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = s.threads {
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
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
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
        let uplink = match (uplink, uplink_audit) {
            (Some(options), Some(audit)) => Some(spawn_uplink(options, audit, gateway.clone())),
            _ => None,
        };
        let served = gateway
            .serve(listener, tls, vigil_server::shutdown_signal())
            .await;
        if let Some(task) = uplink {
            task.abort();
        }
        served?;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Ok)
}

//! The fleet load bar of issue 19: simulated devices, each with its own ledger (SQLite), log key
//! and client certificate, push concurrently to two collector processes sharing one PostgreSQL
//! database; once half of the planned pushes are acknowledged one collector is killed with
//! SIGKILL (and started again on the same port); devices retry on the other. At the end, for
//! every device, what the collectors acknowledged (the size of the newest cosigned checkpoint)
//! must be stored exactly once (read back through the store, from its entry bundles): entries
//! `0..size` with no gap and nothing more, each the device's own entry with its leaf hash
//! right, and the acknowledged checkpoint's root computed from the stored entries.
//!
//! Used by `examples/fleet_load` (interop/collector-load) and by `tests/load.rs` (a short run).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_collector::{push_once, CollectorStore, CollectorUrl, ModelRef, PushOptions};
use vigil_ledger::{leaf_hash, open_checkpoint, Frontier, Ledger, NoteSigner, NoteVerifier};
use vigil_net::DemoCa;

/// Starts one collector process: given the arguments of `vigil` (`collector serve ...`).
pub(crate) type Spawn = dyn Fn(&[String]) -> std::io::Result<Child> + Send + Sync;

/// What to run.
pub(crate) struct Config {
    /// Simulated devices.
    pub(crate) devices: usize,
    /// Pushes each device makes (each after appending `entries` events and signing a checkpoint).
    pub(crate) rounds: usize,
    /// Events appended before each push.
    pub(crate) entries: usize,
    /// The PostgreSQL database both collectors share.
    pub(crate) db: String,
    /// A folder for keys, certificates and the device ledgers.
    pub(crate) dir: PathBuf,
    /// Start the killed collector again.
    pub(crate) restart: bool,
    /// How to start a collector.
    pub(crate) spawn: Box<Spawn>,
}

/// How it went: checks passed, failures (one line each), and what happened.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Checks passed (one per device, and the global ones).
    pub(crate) passed: usize,
    /// Failed checks, one line each.
    pub(crate) failed: Vec<String>,
    /// Facts for people: timings, retries, the kill.
    pub(crate) notes: Vec<String>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn err(msg: impl Into<String>) -> Error {
    msg.into().into()
}

/// Device `i`'s id (its certificate's CN and its log's origin).
pub(crate) fn device_id(i: usize) -> String {
    format!("dev-{i:05}")
}

/// The `n`th entry of device `id` (canonical as written: keys sorted, no spaces).
pub(crate) fn entry(id: &str, n: u64) -> Vec<u8> {
    format!("{{\"device\":\"{id}\",\"i\":{n},\"type\":\"load.test\"}}").into_bytes()
}

struct Device {
    id: String,
    ledger: PathBuf,
    signer: NoteSigner,
    tls: Arc<rustls::ClientConfig>,
}

#[derive(Debug, Default, Clone)]
struct Outcome {
    /// The largest acknowledged size and its cosigned checkpoint.
    acked: Option<(u64, String)>,
    /// Attempts that failed (network, collector down, store unavailable) and were retried.
    retries: u64,
    /// What went wrong for good.
    errors: Vec<String>,
}

struct Shared {
    devices: Vec<Device>,
    witness: NoteVerifier,
    ports: [u16; 2],
    entries: usize,
    rounds: usize,
    acked_pushes: AtomicU64,
    in_flight: AtomicU64,
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn seed(i: usize) -> [u8; 32] {
    let mut s = [0x5a; 32];
    s[..8].copy_from_slice(&(i as u64).to_le_bytes());
    s
}

/// Keys, certificates, ledgers and `clients.toml`; returns the devices and the serve arguments
/// (without `--addr`).
fn setup(cfg: &Config) -> Result<(Vec<Device>, NoteVerifier, Vec<String>), Error> {
    let dir = &cfg.dir;
    std::fs::create_dir_all(dir.join("ledgers"))?;
    let ca = DemoCa::new("vigil load test CA")?;
    let server = ca.issue_server()?;
    let ca_pem = ca.issued().cert_pem;
    std::fs::write(dir.join("ca.crt"), &ca_pem)?;
    std::fs::write(dir.join("server.crt"), &server.cert_pem)?;
    std::fs::write(dir.join("server.key"), &server.key_pem)?;
    let witness_key = vigil_core::SigningKey::ed25519_from_seed(&[0x77; 32]);
    std::fs::write(
        dir.join("witness.pem"),
        witness_key.to_pkcs8_pem(None)?.as_bytes(),
    )?;
    let witness = NoteVerifier::from_public_key("vigil-collector", &witness_key.public_key())?
        .accepting_cosignature_v1();
    let cas = ca.issued().certs()?;

    let mut clients = String::new();
    let mut devices = Vec::with_capacity(cfg.devices);
    for i in 0..cfg.devices {
        let id = device_id(i);
        let key = ed25519_dalek::SigningKey::from_bytes(&seed(i));
        let signer = NoteSigner::new(&id, key.clone())?;
        let ledger = dir.join("ledgers").join(format!("{id}.db"));
        drop(Ledger::create(&ledger, &id, &key.verifying_key(), None)?);
        let cert = ca.issue_client(&id)?;
        let tls = vigil_net::client_config_from(
            cas.clone(),
            Some((cert.certs()?, cert.key()?)),
            &[&rustls::version::TLS13],
        )?;
        clients.push_str(&format!(
            "[[client]]\nname = \"{id}\"\nrole = \"device\"\nledger_vkey = \"{}\"\n\n",
            signer.verifier().to_vkey()
        ));
        devices.push(Device {
            id,
            ledger,
            signer,
            tls,
        });
    }
    std::fs::write(dir.join("clients.toml"), clients)?;
    let p = |f: &str| dir.join(f).display().to_string();
    let args = vec![
        "collector".into(),
        "serve".into(),
        "--db".into(),
        cfg.db.clone(),
        "--tls-cert".into(),
        p("server.crt"),
        "--tls-key".into(),
        p("server.key"),
        "--client-ca".into(),
        p("ca.crt"),
        "--clients".into(),
        p("clients.toml"),
        "--witness-key".into(),
        p("witness.pem"),
        "--log-level".into(),
        "error".into(),
    ];
    Ok((devices, witness, args))
}

/// Starts a collector on `port` and waits until it accepts connections.
fn start(cfg: &Config, args: &[String], port: u16) -> Result<Child, Error> {
    let mut a = args.to_vec();
    a.push("--addr".into());
    a.push(format!("127.0.0.1:{port}"));
    let mut child = (cfg.spawn)(&a)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            return Err(err(format!(
                "the collector on port {port} exited: {status}"
            )));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(err(format!("the collector on port {port} did not come up")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Appends `n` entries from index `from` and signs a checkpoint.
fn append_round(d: &Device, from: u64, n: usize) -> Result<(), Error> {
    let ledger = Ledger::open_with(&d.ledger, vigil_ledger::OpenCheck::TailSinceCheckpoint)?;
    let batch: Vec<Vec<u8>> = (from..from + n as u64).map(|k| entry(&d.id, k)).collect();
    ledger.append_batch(batch)?;
    ledger.checkpoint(&[&d.signer])?;
    Ok(())
}

async fn run_device(shared: Arc<Shared>, i: usize) -> Outcome {
    let mut out = Outcome::default();
    let Some(d) = shared.devices.get(i) else {
        out.errors.push(format!("no device {i}"));
        return out;
    };
    let per = shared.entries as u64;
    let mut attempt = i; // devices start on alternating collectors
    for round in 0..shared.rounds as u64 {
        let s = shared.clone();
        let appended = tokio::task::spawn_blocking(move || match s.devices.get(i) {
            Some(d) => append_round(d, round * per, s.entries),
            None => Err(err("no device")),
        })
        .await;
        match appended {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                out.errors.push(format!("append: {e}"));
                return out;
            }
            Err(e) => {
                out.errors.push(format!("append: {e}"));
                return out;
            }
        }
        let want = (round + 1) * per;
        let mut tries = 0u32;
        loop {
            let port = shared.ports[attempt % 2];
            attempt += 1;
            let url = match CollectorUrl::parse(&format!("https://127.0.0.1:{port}")) {
                Ok(u) => u,
                Err(e) => {
                    out.errors.push(e.to_string());
                    return out;
                }
            };
            let options = PushOptions {
                collector: url,
                ledger: &d.ledger,
                tls: d.tls.clone(),
                model: Some(ModelRef {
                    name: "load".into(),
                    version: "1".into(),
                }),
                drift: None,
                timeout: Duration::from_secs(120),
            };
            shared.in_flight.fetch_add(1, Ordering::SeqCst);
            let result = push_once(&options).await;
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            match result {
                Ok(r) if r.ok => {
                    let Some(note) = r.cosigned_checkpoint else {
                        out.errors
                            .push(format!("round {round}: ok without a cosignature"));
                        return out;
                    };
                    // The acknowledgement is the cosigned checkpoint: signed by the device and
                    // co-signed by the collector's witness key.
                    match open_checkpoint(
                        note.as_bytes(),
                        &[d.signer.verifier(), shared.witness.clone()],
                        Some(&d.id),
                    ) {
                        Ok(v) if v.checkpoint.size == r.size => {}
                        Ok(v) => out.errors.push(format!(
                            "round {round}: answer size {} but the cosigned checkpoint has {}",
                            r.size, v.checkpoint.size
                        )),
                        Err(e) => out
                            .errors
                            .push(format!("round {round}: cosigned checkpoint: {e}")),
                    }
                    if r.size != want {
                        out.errors.push(format!(
                            "round {round}: acknowledged size {} but the device signed {want}",
                            r.size
                        ));
                    }
                    if out.acked.as_ref().is_none_or(|(s, _)| r.size >= *s) {
                        out.acked = Some((r.size, note));
                    }
                    shared.acked_pushes.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                // An honest device is never refused: a fork, replay or bad push is a failure.
                Ok(r) if r.status != 503 => {
                    out.errors.push(format!(
                        "round {round}: refused by 127.0.0.1:{port}: {} {}",
                        r.status,
                        r.error.unwrap_or_default()
                    ));
                    return out;
                }
                // A collector down, killed mid-push or its store unavailable: try the other.
                other => {
                    out.retries += 1;
                    tries += 1;
                    if tries > 100 {
                        out.errors.push(format!(
                            "round {round}: gave up after {tries} attempts: {:?}",
                            other.err()
                        ));
                        return out;
                    }
                    let ms = 50 * u64::from(tries.min(10)) + (i as u64 % 50);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            }
        }
    }
    out
}

/// What the killer thread saw.
#[derive(Debug, Default)]
struct Kill {
    /// Pushes in flight and acknowledged when the SIGKILL was sent.
    at: Option<(u64, u64)>,
    /// How long the killed collector was down before it accepted connections again.
    restarted_after: Option<Duration>,
    errors: Vec<String>,
}

/// Waits until half the pushes are acknowledged, SIGKILLs the first collector and (if asked)
/// starts it again on the same port.
fn killer(
    cfg: &Config,
    args: &[String],
    collectors: &Mutex<Vec<Child>>,
    shared: &Shared,
    done: &AtomicBool,
) -> Kill {
    let mut kill = Kill::default();
    let total = (cfg.devices * cfg.rounds) as u64;
    // Halfway, at a moment when pushes are in flight.
    while shared.acked_pushes.load(Ordering::SeqCst) < total.div_ceil(2)
        || shared.in_flight.load(Ordering::SeqCst) == 0
    {
        if done.load(Ordering::SeqCst) {
            kill.errors.push("the load ended before the kill".into());
            return kill;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let in_flight = shared.in_flight.load(Ordering::SeqCst);
    let acked = shared.acked_pushes.load(Ordering::SeqCst);
    let Ok(mut c) = collectors.lock() else {
        kill.errors.push("collectors lock poisoned".into());
        return kill;
    };
    let Some(first) = c.first_mut() else {
        kill.errors.push("no collector to kill".into());
        return kill;
    };
    // Child::kill is SIGKILL on Unix.
    if let Err(e) = first.kill().and_then(|()| first.wait().map(|_| ())) {
        kill.errors.push(format!("SIGKILL: {e}"));
        return kill;
    }
    drop(c);
    kill.at = Some((in_flight, acked));
    if cfg.restart {
        let down = Instant::now();
        std::thread::sleep(Duration::from_millis(500));
        match start(cfg, args, shared.ports[0]) {
            Ok(child) => {
                kill.restarted_after = Some(down.elapsed());
                if let Ok(mut c) = collectors.lock() {
                    if let Some(slot) = c.first_mut() {
                        *slot = child;
                    }
                }
            }
            Err(e) => kill.errors.push(format!("restart: {e}")),
        }
    }
    kill
}

/// A device's stored rows: index, entry and leaf hash, in index order.
type Rows = Vec<(i64, Vec<u8>, Vec<u8>)>;

/// What the store holds: each device's rows, and each device's stored size.
type Stored = (HashMap<String, Rows>, HashMap<String, i64>);

/// Reads every stored entry and each device's stored size. Entries are read through the
/// store, which checks that each device's entry bundles follow each other from index 0 with no
/// gap or overlap; every device that has a bundle is read, registered or not.
fn read_store(db: &str) -> Result<Stored, Error> {
    let mut client = postgres::Client::connect(db, postgres::NoTls)?;
    let mut sizes = HashMap::new();
    for r in client.query("SELECT id, size FROM vc_devices", &[])? {
        sizes.insert(r.try_get(0)?, r.try_get(1)?);
    }
    let store = vigil_collector::PostgresStore::connect(db, 1)?;
    let mut rows: HashMap<String, Rows> = HashMap::new();
    for r in client.query("SELECT DISTINCT device FROM vc_entry_bundles", &[])? {
        let device: String = r.try_get(0)?;
        let stored = store.entries(&device, 0, i64::MAX as u64)?;
        rows.insert(
            device,
            stored
                .into_iter()
                .map(|e| (e.index as i64, e.entry, e.leaf_hash.to_vec()))
                .collect(),
        );
    }
    Ok((rows, sizes))
}

/// Checks one device: every acknowledged entry stored exactly once.
fn check_device(
    d: &Device,
    out: &Outcome,
    rows: Option<&Rows>,
    size: Option<i64>,
    want: u64,
) -> Result<(), String> {
    if let Some(e) = out.errors.first() {
        return Err(e.clone());
    }
    let Some((acked, note)) = &out.acked else {
        return Err("nothing acknowledged".into());
    };
    if *acked != want {
        return Err(format!("acknowledged size {acked}, expected {want}"));
    }
    let rows = rows.map(Vec::as_slice).unwrap_or_default();
    // Reading checked that the device's bundles follow each other from 0 (two copies of an
    // index would be an overlap); entries 0..n with n the stored size means no gap and
    // nothing beyond what was accepted.
    if rows.len() as u64 != *acked {
        return Err(format!("{} rows stored, {acked} acknowledged", rows.len()));
    }
    if size != Some(*acked as i64) {
        return Err(format!("stored size {size:?}, {acked} acknowledged"));
    }
    let mut frontier = Frontier::new();
    for (k, (idx, bytes, leaf)) in rows.iter().enumerate() {
        if *idx != k as i64 {
            return Err(format!("row {k} has index {idx}"));
        }
        if *bytes != entry(&d.id, k as u64) {
            return Err(format!("entry {k} is not the device's"));
        }
        let h = leaf_hash(bytes);
        if leaf.as_slice() != h.as_slice() {
            return Err(format!("entry {k}: stored leaf hash is wrong"));
        }
        frontier.push(h, &mut Vec::new());
    }
    let opened = open_checkpoint(note.as_bytes(), &[d.signer.verifier()], Some(&d.id))
        .map_err(|e| format!("acknowledged checkpoint: {e}"))?;
    if frontier.root() != opened.checkpoint.root {
        return Err("the stored entries do not hash to the acknowledged root".into());
    }
    Ok(())
}

/// Runs the load, the kill and the checks.
pub(crate) fn run(cfg: &Config) -> Result<Report, Error> {
    let mut report = Report::default();
    let t0 = Instant::now();
    let (devices, witness, args) = setup(cfg)?;
    report.notes.push(format!(
        "setup: {} devices (ledger, log key, client certificate each) in {:.1} s",
        devices.len(),
        t0.elapsed().as_secs_f64()
    ));
    let ports = [free_port()?, free_port()?];
    let collectors = Mutex::new(vec![
        start(cfg, &args, ports[0])?,
        start(cfg, &args, ports[1])?,
    ]);
    let shared = Arc::new(Shared {
        devices,
        witness,
        ports,
        entries: cfg.entries,
        rounds: cfg.rounds,
        acked_pushes: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()?;
    let done = AtomicBool::new(false);
    let t1 = Instant::now();
    let (outcomes, kill) = std::thread::scope(|s| {
        let k = s.spawn(|| killer(cfg, &args, &collectors, &shared, &done));
        let outcomes = rt.block_on(async {
            let tasks: Vec<_> = (0..cfg.devices)
                .map(|i| tokio::spawn(run_device(shared.clone(), i)))
                .collect();
            let mut outcomes = Vec::with_capacity(tasks.len());
            for t in tasks {
                outcomes.push(t.await.unwrap_or_else(|e| Outcome {
                    errors: vec![format!("device task: {e}")],
                    ..Outcome::default()
                }));
            }
            outcomes
        });
        done.store(true, Ordering::SeqCst);
        let kill = k.join().unwrap_or_else(|_| Kill {
            errors: vec!["the killer thread panicked".into()],
            ..Kill::default()
        });
        (outcomes, kill)
    });
    let load_time = t1.elapsed();
    drop(rt);
    if let Ok(mut c) = collectors.lock() {
        for child in c.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    let retries: u64 = outcomes.iter().map(|o| o.retries).sum();
    let acked = shared.acked_pushes.load(Ordering::SeqCst);
    report.notes.push(format!(
        "load: {} devices x {} pushes of {} entries to 2 collectors in {:.1} s: {acked} pushes acknowledged, {retries} attempts failed and retried",
        cfg.devices,
        cfg.rounds,
        cfg.entries,
        load_time.as_secs_f64()
    ));

    // The kill happened halfway, with pushes in flight.
    match kill.at {
        Some((in_flight, at)) if kill.errors.is_empty() => {
            report.notes.push(format!(
                "SIGKILL of collector 1 after {at} acknowledged pushes, {in_flight} pushes in flight{}",
                kill.restarted_after
                    .map(|d| format!("; it accepted connections again {:.1} s later", d.as_secs_f64()))
                    .unwrap_or_default()
            ));
            report.passed += 1;
            if in_flight > 0 {
                report.passed += 1;
            } else {
                report
                    .failed
                    .push("no push was in flight at the kill".into());
            }
        }
        _ => report.failed.push(format!("kill: {:?}", kill.errors)),
    }

    let (rows, sizes) = read_store(&cfg.db)?;
    let want = (cfg.rounds * cfg.entries) as u64;
    let mut stored = 0usize;
    for (d, out) in shared.devices.iter().zip(&outcomes) {
        let r = rows.get(&d.id);
        stored += r.map_or(0, Vec::len);
        match check_device(d, out, r, sizes.get(&d.id).copied(), want) {
            Ok(()) => report.passed += 1,
            Err(e) => report.failed.push(format!("{}: {e}", d.id)),
        }
    }
    // Nothing stored for anyone else.
    let strangers = rows.keys().filter(|k| !sizes.contains_key(*k)).count();
    if strangers == 0 && rows.len() <= shared.devices.len() {
        report.passed += 1;
    } else {
        report.failed.push(format!(
            "{strangers} devices have entries but no accepted state"
        ));
    }
    report.notes.push(format!(
        "store: {stored} rows in vc_entries for {} devices, {} expected",
        rows.len(),
        want as usize * shared.devices.len()
    ));
    Ok(report)
}

//! The fleet load bar of issue 19 (interop/collector-load): 1,000 simulated devices push
//! concurrently to two `vigil collector serve` processes on one PostgreSQL database; one is
//! killed with SIGKILL halfway (and started again); every acknowledged entry must be stored
//! exactly once. Prints `N passed, M failed`; exits 1 on a failure, 2 when it could not run.
//!
//! ```text
//! VIGIL_BIN=target/debug/vigil VIGIL_LOAD_DB=postgres://vigil@127.0.0.1:5432/load \
//!   cargo run -p vigil-collector --example fleet_load
//! ```
//! Environment: `VIGIL_LOAD_DEVICES` (1000), `VIGIL_LOAD_ROUNDS` (3 pushes a device),
//! `VIGIL_LOAD_ENTRIES` (20 entries a push), `VIGIL_LOAD_DIR` (a temporary folder),
//! `VIGIL_LOAD_RESTART` (1: the killed collector is started again; 0: not).

mod load;

use std::process::{Command, Stdio};

fn env_usize(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(v) => v.parse().map_err(|_| format!("{name}={v:?}: not a number")),
        Err(_) => Ok(default),
    }
}

fn main() {
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("fleet_load: {e}");
            println!("0 passed, 1 failed");
            std::process::exit(2);
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let vigil = std::env::var("VIGIL_BIN").map_err(|_| "set VIGIL_BIN to the vigil binary")?;
    let db = std::env::var("VIGIL_LOAD_DB").map_err(|_| "set VIGIL_LOAD_DB=postgres://...")?;
    let tmp = tempfile::tempdir()?;
    let dir = match std::env::var_os("VIGIL_LOAD_DIR") {
        Some(d) => d.into(),
        None => tmp.path().to_path_buf(),
    };
    let cfg = load::Config {
        devices: env_usize("VIGIL_LOAD_DEVICES", 1000)?,
        rounds: env_usize("VIGIL_LOAD_ROUNDS", 3)?,
        entries: env_usize("VIGIL_LOAD_ENTRIES", 20)?,
        db,
        dir,
        restart: env_usize("VIGIL_LOAD_RESTART", 1)? != 0,
        spawn: Box::new(move |args| {
            Command::new(&vigil)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
        }),
    };
    let report = load::run(&cfg)?;
    for n in &report.notes {
        println!("{n}");
    }
    for f in report.failed.iter().take(50) {
        println!("FAIL {f}");
    }
    println!("{} passed, {} failed", report.passed, report.failed.len());
    Ok(report.failed.is_empty())
}

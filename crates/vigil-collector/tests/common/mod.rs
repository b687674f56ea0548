//! A throwaway PostgreSQL cluster for the tests: `initdb` in a temporary folder, a loopback
//! port, stopped and removed at the end. Nothing assumes a server already running.
//!
//! Where no PostgreSQL is installed the PostgreSQL tests say so and pass, unless
//! `VIGIL_REQUIRE_POSTGRES=1` (set by `.ci/run`), where they fail.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub(crate) mod device;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_user: Option<&'static str>,
}

fn find_bin() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<_> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    for dir in std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        candidates.push(dir);
    }
    candidates
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args).output().unwrap()
    }

    fn start() -> Option<Cluster> {
        let bin = find_bin()?;
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: run it as the `postgres` user the package makes.
        let as_user = is_root().then_some("postgres");
        if let Some(user) = as_user {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the cluster folder failed");
        }
        let c = Cluster {
            dir,
            bin,
            port: free_port(),
            as_user,
        };
        let data = c.data();
        let out = c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "vigil",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=200",
            c.port,
            c.dir.path().display()
        );
        let log = format!("{}/pg.log", c.dir.path().display());
        let out = c.run(
            "pg_ctl",
            &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(c)
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    /// A fresh, empty database; its URL.
    pub(crate) fn database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let admin = format!("postgres://vigil@127.0.0.1:{}/postgres", self.port);
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        format!("postgres://vigil@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// A new cluster for one test (stopped when dropped), or `None` when PostgreSQL is not
/// installed and not required.
pub(crate) fn cluster() -> Option<Cluster> {
    let c = Cluster::start();
    if c.is_none() {
        if std::env::var("VIGIL_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("PostgreSQL (initdb, pg_ctl) is required but not installed");
        }
        eprintln!("skipped: PostgreSQL is not installed (install the Debian package postgresql)");
    }
    c
}

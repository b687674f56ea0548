//! The fleet load bar of issue 19, short: 50 simulated devices push to two collector processes
//! on one PostgreSQL database, one is killed with SIGKILL halfway and started again; every
//! acknowledged entry must be stored exactly once. The full bar (1,000 devices) is
//! interop/collector-load. The collector processes are this test binary again, running the
//! ignored test `collector_process`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../examples/fleet_load/load.rs"]
#[allow(dead_code, unreachable_pub)]
mod load;

use std::process::{Command, Stdio};

use vigil_collector::{Database, ServeOptions, Server};

/// A collector process for the load test: `VIGIL_LOAD_SERVE` holds `vigil collector serve`'s
/// arguments, one a line. Without it (a plain `--ignored` run) it does nothing.
#[test]
#[ignore = "a collector process started by fifty_devices_two_collectors_one_killed"]
fn collector_process() {
    let Ok(args) = std::env::var("VIGIL_LOAD_SERVE") else {
        return;
    };
    let args: Vec<&str> = args.lines().collect();
    let get = |flag: &str| {
        let i = args.iter().position(|a| *a == flag).unwrap();
        std::path::PathBuf::from(args[i + 1])
    };
    let server = Server::open(&ServeOptions {
        db: Database::parse(get("--db").to_str().unwrap()).unwrap(),
        tls: vigil_net::TlsFiles {
            cert: &get("--tls-cert"),
            key: &get("--tls-key"),
            client_ca: &get("--client-ca"),
        },
        clients: &get("--clients"),
        witness_key: &get("--witness-key"),
        witness_name: "vigil-collector",
    })
    .unwrap();
    let addr = get("--addr");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.to_str().unwrap())
            .await
            .unwrap();
        server.serve(listener, std::future::pending()).await;
    });
}

#[test]
fn fifty_devices_two_collectors_one_killed() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let db = cluster.database();
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let cfg = load::Config {
        devices: 50,
        rounds: 3,
        entries: 10,
        db,
        dir: dir.path().to_path_buf(),
        restart: true,
        spawn: Box::new(move |args| {
            Command::new(&exe)
                .args(["collector_process", "--exact", "--ignored", "--nocapture"])
                .env("VIGIL_LOAD_SERVE", args.join("\n"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        }),
    };
    let report = load::run(&cfg).unwrap();
    for n in &report.notes {
        eprintln!("{n}");
    }
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    // 50 devices, the kill, pushes in flight at the kill, nothing stored for strangers.
    assert_eq!(report.passed, 53, "{report:?}");
}

//! `vigil collector serve` and `vigil collector push` end to end: a collector on SQLite over
//! mutual TLS (certificates from vigil-net's demo CA), device ledgers made with `vigil log`,
//! pushes accepted and co-signed (the cosignature checked by `vigil log verify-proof
//! --witness`), a rewritten ledger caught as a fork, roles enforced, hostile pushes refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::io::Write;
use std::process::{Child, Stdio};

use util::{code, show, Vigil};

struct Running {
    child: Child,
    addr: std::net::SocketAddr,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the demo PKI: ca.crt, server.crt/key, and NAME.crt/key for each client name.
/// The collector's TLS files (CA, server, a client certificate per name) and its witness key
/// (`witness.pem`).
fn pki(v: &Vigil, names: &[&str]) {
    ok(
        v,
        &[
            "key",
            "generate",
            "--algorithm",
            "ed25519",
            "--out",
            "witness",
        ],
    );
    let ca = vigil_net::DemoCa::new("collector test CA").unwrap();
    std::fs::write(v.path("ca.crt"), ca.issued().cert_pem).unwrap();
    let server = ca.issue_server().unwrap();
    std::fs::write(v.path("server.crt"), server.cert_pem).unwrap();
    std::fs::write(v.path("server.key"), server.key_pem).unwrap();
    for n in names {
        let c = ca.issue_client(n).unwrap();
        std::fs::write(v.path(&format!("{n}.crt")), c.cert_pem).unwrap();
        std::fs::write(v.path(&format!("{n}.key")), c.key_pem).unwrap();
    }
}

fn ok(v: &Vigil, args: &[&str]) -> String {
    let out = v.run(args);
    assert_eq!(code(&out), 0, "{args:?}: {}", show(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn append(v: &Vigil, db: &str, lines: &[String]) {
    let mut child = v
        .cmd(&["log", "append", "--db", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// A device ledger `NAME.db` signed by `NAME-log.pem`, with `n` inference events; its vkey.
fn device_ledger(v: &Vigil, name: &str, n: usize, seed: &str) -> String {
    if !v.path(&format!("{name}-log.pem")).exists() {
        ok(
            v,
            &[
                "key",
                "generate",
                "--algorithm",
                "ed25519",
                "--out",
                &format!("{name}-log"),
            ],
        );
    }
    let init = ok(
        v,
        &[
            "log",
            "init",
            "--db",
            &format!("{name}.db"),
            "--origin",
            name,
            "--key",
            &format!("{name}-log.pem"),
            "--json",
        ],
    );
    let vkey = serde_json::from_str::<serde_json::Value>(&init).unwrap()["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    append(v, &format!("{name}.db"), &inferences(0, n, seed));
    checkpoint(v, name);
    vkey
}

fn inferences(from: usize, n: usize, seed: &str) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            format!(
                r#"{{"type":"guard.inference","event_id":{i},"time_ms":1700000000000,"model":"{}","client":"ward-{seed}","input_sha256":"{}","verdict":"accept","reason":null,"label":"ok","scores":{{}},"alarms":[]}}"#,
                "ab".repeat(32),
                "cd".repeat(32)
            )
        })
        .collect()
}

fn checkpoint(v: &Vigil, name: &str) {
    ok(
        v,
        &[
            "log",
            "checkpoint",
            "--db",
            &format!("{name}.db"),
            "--key",
            &format!("{name}-log.pem"),
        ],
    );
}

fn serve(v: &Vigil, clients: &str) -> Running {
    std::fs::write(v.path("clients.toml"), clients).unwrap();
    let (child, line) = util::first_line(
        v.cmd(&[
            "collector",
            "serve",
            "--db",
            "sqlite:collector.db",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "server.crt",
            "--tls-key",
            "server.key",
            "--client-ca",
            "ca.crt",
            "--clients",
            "clients.toml",
            "--witness-key",
            "witness.pem",
            "--json",
            "--log-level",
            "warn",
        ])
        .stderr(Stdio::inherit()),
    );
    let j: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let addr: std::net::SocketAddr = j["addr"].as_str().unwrap().parse().unwrap();
    assert_eq!(j["db"], "sqlite:collector.db");
    assert!(j["witness"]
        .as_str()
        .unwrap()
        .starts_with("vigil-collector+"));
    Running {
        child,
        addr,
        url: format!("https://localhost:{}", addr.port()),
    }
}

/// `vigil collector push --json` as `who` with ledger `db`; (exit code, JSON).
fn push(v: &Vigil, s: &Running, who: &str, db: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let (crt, key) = (format!("{who}.crt"), format!("{who}.key"));
    let mut args = vec![
        "collector",
        "push",
        "--collector",
        &s.url,
        "--ledger",
        db,
        "--tls-cert",
        &crt,
        "--tls-key",
        &key,
        "--ca",
        "ca.crt",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = v.run(&args);
    let j = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));
    (code(&out), j)
}

fn keys(j: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = j.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// A request to the collector as `who`: (status, body).
fn call(
    v: &Vigil,
    s: &Running,
    who: &str,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cfg = vigil_net::client_config(
            &v.path("ca.crt"),
            Some((
                &v.path(&format!("{who}.crt")),
                &v.path(&format!("{who}.key")),
            )),
        )
        .unwrap();
        let mut c = vigil_server::client::Connection::connect(s.addr, "localhost", cfg)
            .await
            .unwrap();
        let r = c
            .send(
                method,
                path,
                &[("content-type", "application/json".into())],
                body,
            )
            .await
            .unwrap();
        (r.status, r.body.to_vec())
    })
}

fn get_json(v: &Vigil, s: &Running, who: &str, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = call(v, s, who, "GET", path, Vec::new());
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

fn clients_toml(devices: &[(&str, &str)]) -> String {
    let mut s = String::from("[[client]]\nname = \"ops\"\nrole = \"operator\"\n");
    for (name, vkey) in devices {
        s.push_str(&format!(
            "\n[[client]]\nname = \"{name}\"\nrole = \"device\"\nledger_vkey = \"{vkey}\"\n"
        ));
    }
    s
}

#[test]
fn devices_push_and_are_cosigned_forks_are_caught_and_roles_hold() {
    let v = Vigil::new();
    pki(&v, &["icu-7", "icu-8", "ops", "stranger"]);
    let vkey7 = device_ledger(&v, "icu-7", 5, "a");
    let vkey8 = device_ledger(&v, "icu-8", 3, "b");
    let s = serve(&v, &clients_toml(&[("icu-7", &vkey7), ("icu-8", &vkey8)]));

    // First push: everything, accepted and co-signed.
    let (c, j) = push(&v, &s, "icu-7", "icu-7.db", &["--model", "ecg-net@2.1.0"]);
    assert_eq!(c, 0, "{j}");
    assert_eq!(
        keys(&j),
        [
            "cosigned_checkpoint",
            "device",
            "entries_sent",
            "error",
            "ok",
            "size",
            "status"
        ]
    );
    assert_eq!(
        (
            &j["ok"],
            &j["status"],
            &j["device"],
            &j["size"],
            &j["entries_sent"],
            &j["error"]
        ),
        (
            &true.into(),
            &200.into(),
            &"icu-7".into(),
            &5.into(),
            &5.into(),
            &serde_json::Value::Null
        )
    );
    let cosigned = j["cosigned_checkpoint"].as_str().unwrap();
    std::fs::write(v.path("cosigned"), cosigned).unwrap();
    ok(
        &v,
        &[
            "log",
            "verify-proof",
            "--checkpoint",
            "cosigned",
            "--pubkey",
            "icu-7-log.pub.pem",
            "--witness",
            "vigil-collector=witness.pub.pem",
        ],
    );
    // ... and a witness of another key does not verify it.
    ok(
        &v,
        &[
            "key",
            "generate",
            "--algorithm",
            "ed25519",
            "--out",
            "other",
        ],
    );
    let out = v.run(&[
        "log",
        "verify-proof",
        "--checkpoint",
        "cosigned",
        "--pubkey",
        "icu-7-log.pub.pem",
        "--witness",
        "vigil-collector=other.pub.pem",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));

    let (_, devices) = get_json(&v, &s, "ops", "/api/devices");
    let d7 = &devices["devices"][0];
    assert_eq!(
        (&d7["id"], &d7["model"], &d7["version"], &d7["size"]),
        (
            &"icu-7".into(),
            &"ecg-net".into(),
            &"2.1.0".into(),
            &5.into()
        )
    );

    // More entries, including an extraction alarm; the second push sends only those.
    let mut more = inferences(5, 3, "a");
    more.push(format!(
        r#"{{"type":"guard.alarm","event_id":9,"time_ms":1700000000500,"model":"{}","client":"ward-<x>","alarm":"extraction","detail":{{"signal":"prada","statistic":0.8,"queries":150}}}}"#,
        "ab".repeat(32)
    ));
    append(&v, "icu-7.db", &more);
    checkpoint(&v, "icu-7");
    let witness = ["--witness", "vigil-collector=witness.pub.pem"];
    let (c, j) = push(&v, &s, "icu-7", "icu-7.db", &witness);
    assert_eq!(c, 0, "{j}");
    assert_eq!((&j["size"], &j["entries_sent"]), (&9.into(), &4.into()));
    // Nothing new: a repeat, still co-signed.
    let (c, j) = push(&v, &s, "icu-7", "icu-7.db", &[]);
    assert_eq!(
        (c, &j["size"], &j["entries_sent"]),
        (0, &9.into(), &0.into()),
        "{j}"
    );
    assert!(j["cosigned_checkpoint"].is_string());
    // With a witness key the collector does not sign with, the push is refused (exit 1).
    let (c, j) = push(
        &v,
        &s,
        "icu-7",
        "icu-7.db",
        &["--witness", "vigil-collector=other.pub.pem"],
    );
    assert_eq!(
        (c, &j["ok"], &j["status"]),
        (1, &false.into(), &200.into()),
        "{j}"
    );
    assert!(
        j["error"].as_str().unwrap().starts_with("bad_cosignature"),
        "{j}"
    );
    assert!(j["cosigned_checkpoint"].is_null());
    let out = v.run(&[
        "collector",
        "push",
        "--collector",
        &s.url,
        "--ledger",
        "icu-7.db",
        "--tls-cert",
        "icu-7.crt",
        "--tls-key",
        "icu-7.key",
        "--ca",
        "ca.crt",
        "--witness",
        "no-equals-sign",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));

    // Each accepted size's cosigned checkpoint is kept beside the ledger once (the repeat and
    // the refused push add nothing), and verifies with `vigil log verify-proof --witness`.
    let kept = std::fs::read_to_string(v.path("icu-7.db.cosignatures.jsonl")).unwrap();
    let kept: Vec<serde_json::Value> = kept
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        kept.iter()
            .map(|k| k["size"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [5, 9]
    );
    std::fs::write(v.path("kept.note"), kept[1]["note"].as_str().unwrap()).unwrap();
    ok(
        &v,
        &[
            "log",
            "verify-proof",
            "--checkpoint",
            "kept.note",
            "--pubkey",
            "icu-7-log.pub.pem",
            "--witness",
            "vigil-collector=witness.pub.pem",
        ],
    );

    let (st, alarms) = get_json(&v, &s, "ops", "/api/alarms");
    assert_eq!(st, 200);
    let list = alarms["alarms"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alarms}");
    assert_eq!(
        (&list[0]["kind"], &list[0]["device"]),
        (&"extraction".into(), &"icu-7".into())
    );
    let (_, devices) = get_json(&v, &s, "ops", "/api/devices");
    let d7 = &devices["devices"][0];
    // Without --model the model is the newest guard event's bundle digest.
    assert_eq!(
        (&d7["model"], &d7["version"], &d7["size"]),
        (
            &"bundle".into(),
            &format!("sha256:{}", "ab".repeat(32)).into(),
            &9.into()
        )
    );

    // icu-8 pushes without --model: the model comes from its guard events.
    let (c, j) = push(&v, &s, "icu-8", "icu-8.db", &[]);
    assert_eq!((c, &j["size"]), (0, &3.into()), "{j}");
    let (_, devices) = get_json(&v, &s, "ops", "/api/devices");
    let d8 = &devices["devices"][1];
    assert_eq!(d8["version"], format!("sha256:{}", "ab".repeat(32)));

    // icu-8's ledger is rewritten (same key, other entries) and re-signed: a fork, exit 1.
    std::fs::remove_file(v.path("icu-8.db")).unwrap();
    let _ = std::fs::remove_file(v.path("icu-8.db-wal"));
    let _ = std::fs::remove_file(v.path("icu-8.db-shm"));
    device_ledger(&v, "icu-8", 4, "rewritten");
    let (c, j) = push(&v, &s, "icu-8", "icu-8.db", &[]);
    assert_eq!(
        (c, &j["ok"], &j["status"]),
        (1, &false.into(), &409.into()),
        "{j}"
    );
    assert!(j["error"].as_str().unwrap().starts_with("fork"), "{j}");
    assert!(j["cosigned_checkpoint"].is_null());
    let (_, alarms) = get_json(&v, &s, "ops", "/api/alarms");
    assert!(
        alarms["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "fork" && a["device"] == "icu-8"),
        "{alarms}"
    );
    let (_, cps) = get_json(&v, &s, "ops", "/api/devices/icu-8/checkpoints");
    let accepted: Vec<bool> = cps["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["accepted"].as_bool().unwrap())
        .collect();
    assert_eq!(accepted, [true, false], "both checkpoints kept: {cps}");

    // Roles: a device certificate on the operators' API and dashboard gets 403, an unknown
    // CN 403 everywhere, an operator may not push.
    for path in [
        "/api/devices",
        "/api/alarms",
        "/metrics",
        "/",
        "/devices/icu-7",
    ] {
        assert_eq!(call(&v, &s, "icu-7", "GET", path, vec![]).0, 403, "{path}");
    }
    let (st, body) = get_json(&v, &s, "stranger", "/v1/state");
    assert_eq!(st, 403);
    assert!(
        body["error"].as_str().unwrap().contains("stranger"),
        "{body}"
    );
    assert_eq!(get_json(&v, &s, "stranger", "/api/devices").0, 403);
    let (c, j) = push(&v, &s, "ops", "icu-7.db", &[]);
    assert_eq!((c, &j["status"]), (1, &403.into()), "{j}");

    // The dashboard for an operator.
    let (st, page) = call(&v, &s, "ops", "GET", "/", vec![]);
    let page = String::from_utf8(page).unwrap();
    assert_eq!(st, 200);
    assert!(page.contains("<table id=\"fleet\">") && page.contains("data-device=\"icu-7\""));
    assert!(page.contains("data-kind=\"fork\" data-device=\"icu-8\""));
    assert!(page.contains("ward-&lt;x&gt;"), "alarm detail escaped");
    let (st, page) = call(&v, &s, "ops", "GET", "/devices/icu-7", vec![]);
    let page = String::from_utf8(page).unwrap();
    assert_eq!(st, 200);
    assert!(page.contains("data-verify=\"8\"") && page.contains("data-verify-result=\"0\""));
    assert_eq!(call(&v, &s, "ops", "GET", "/devices/nobody", vec![]).0, 404);
    assert_eq!(call(&v, &s, "ops", "GET", "/favicon.ico", vec![]).0, 200);
}

#[test]
fn hostile_pushes_are_refused_and_store_nothing() {
    let v = Vigil::new();
    pki(&v, &["icu-7", "icu-8", "ops"]);
    let vkey7 = device_ledger(&v, "icu-7", 4, "a");
    let vkey8 = device_ledger(&v, "icu-8", 2, "b");
    let s = serve(&v, &clients_toml(&[("icu-7", &vkey7), ("icu-8", &vkey8)]));

    // icu-8 pushes icu-7's ledger under its own certificate: its checkpoint is not icu-8's.
    let (c, j) = push(&v, &s, "icu-8", "icu-7.db", &[]);
    assert_eq!((c, &j["status"]), (1, &403.into()), "{j}");
    assert!(
        j["error"].as_str().unwrap().starts_with("wrong_origin"),
        "{j}"
    );

    // Oversized: more than 64 MiB is refused before it is parsed.
    let big = vec![b' '; (64 << 20) + 1024];
    let (st, _) = call(&v, &s, "icu-7", "POST", "/v1/push", big);
    assert_eq!(st, 413);
    // Not a push at all.
    let (st, body) = call(
        &v,
        &s,
        "icu-7",
        "POST",
        "/v1/push",
        b"{\"checkpoint\":1}".to_vec(),
    );
    assert!((400..500).contains(&st), "{st}");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"].is_string());

    let (_, devices) = get_json(&v, &s, "ops", "/api/devices");
    assert_eq!(devices["devices"], serde_json::json!([]), "nothing stored");
    let (_, alarms) = get_json(&v, &s, "ops", "/api/alarms");
    assert_eq!(alarms["alarms"], serde_json::json!([]), "no alarm raised");

    // Usage and network errors are exit 2.
    let (c, j) = push(&v, &s, "icu-7", "icu-7.db", &["--model", "no-version"]);
    assert_eq!(c, 2, "{j}");
    let out = v.run(&[
        "collector",
        "push",
        "--collector",
        "http://localhost:1",
        "--ledger",
        "icu-7.db",
        "--tls-cert",
        "icu-7.crt",
        "--tls-key",
        "icu-7.key",
        "--ca",
        "ca.crt",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = v.run(&[
        "collector",
        "push",
        "--collector",
        &format!("https://localhost:{port}"),
        "--ledger",
        "icu-7.db",
        "--tls-cert",
        "icu-7.crt",
        "--tls-key",
        "icu-7.key",
        "--ca",
        "ca.crt",
        "--json",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["ok"], false);
    // A ledger that is not there: exit 2, nothing sent.
    let (c, _) = push(&v, &s, "icu-7", "missing.db", &[]);
    assert_eq!(c, 2);

    // The honest push still goes through, and SIGTERM stops the collector cleanly.
    let (c, j) = push(&v, &s, "icu-7", "icu-7.db", &[]);
    assert_eq!((c, &j["size"]), (0, &4.into()), "{j}");
    let mut s = s;
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `vigil serve --collector`: a gateway (toy backend, its ledger made by `vigil log`) pushes
/// its ledger to a collector on SQLite on an interval, with its own server certificate as
/// client identity (CN `localhost`); the collector lists the device with its size, the
/// cosigned checkpoint is kept beside the ledger, and the gateway's /metrics counts the push.
#[test]
fn a_gateway_pushes_its_ledger_to_the_collector() {
    let v = Vigil::new();
    pki(&v, &["ops"]);
    let vkey = device_ledger(&v, "gw", 25, "g");
    // The collector knows the gateway by its server certificate's CN.
    let s = serve(&v, &clients_toml(&[("localhost", &vkey)]));
    std::fs::write(
        v.path("gw-clients.toml"),
        "[[client]]\nname = \"ops\"\nrole = \"admin\"\n",
    )
    .unwrap();
    let gw = gateway(&v, &s);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let device = loop {
        let (st, j) = get_json(&v, &s, "ops", "/api/devices");
        assert_eq!(st, 200, "{j}");
        let found = j["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == "localhost" && d["size"] == 25)
            .cloned();
        if let Some(d) = found {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway never pushed: {j}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(device["size"], 25, "{device}");

    // The cosigned checkpoint is kept beside the ledger, and verifies with the witness key.
    let kept = v.path("gw.db.cosignatures.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&kept).is_ok_and(|t| t.contains("\"size\":25")) {
        assert!(std::time::Instant::now() < deadline, "no cosignature kept");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&kept).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["size"], 25);
    assert_eq!(last["collector"], format!("localhost:{}", s.addr.port()));
    std::fs::write(v.path("cosigned.note"), last["note"].as_str().unwrap()).unwrap();
    ok(
        &v,
        &[
            "log",
            "verify-proof",
            "--checkpoint",
            "cosigned.note",
            "--pubkey",
            "gw-log.pub.pem",
            "--witness",
            "vigil-collector=witness.pub.pem",
        ],
    );

    // The gateway counts its pushes.
    let (st, metrics) = call(&v, &gw, "ops", "GET", "/metrics", Vec::new());
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(st, 200, "{metrics}");
    let ok_pushes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vigil_collector_pushes_total{outcome=\"ok\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ok_pushes >= 1, "{metrics}");
    assert!(
        metrics.contains("vigil_collector_forks_total 0"),
        "{metrics}"
    );
    drop(gw);
    // The gateway's ledger rewritten (same key, same size, other entries): the collector
    // refuses it as a fork, which the gateway counts.
    for f in ["gw.db", "gw.db-wal", "gw.db-shm"] {
        let _ = std::fs::remove_file(v.path(f));
    }
    device_ledger(&v, "gw", 25, "rewritten");
    let gw = gateway(&v, &s);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, metrics) = call(&v, &gw, "ops", "GET", "/metrics", Vec::new());
        let metrics = String::from_utf8(metrics).unwrap();
        if metrics.contains("vigil_collector_forks_total 1") {
            assert!(
                metrics.contains("vigil_collector_pushes_total{outcome=\"refused\"} 1"),
                "{metrics}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no fork counted: {metrics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (_, j) = get_json(&v, &s, "ops", "/api/alarms");
    assert!(
        j["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "fork" && a["device"] == "localhost"),
        "{j}"
    );
}

/// `vigil serve --dangerous-toy-backend` on `gw.db` pushing to the collector `s` every second.
fn gateway(v: &Vigil, s: &Running) -> Running {
    let (child, line) = util::first_line(
        v.cmd(&[
            "serve",
            "--dangerous-toy-backend",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "server.crt",
            "--tls-key",
            "server.key",
            "--client-ca",
            "ca.crt",
            "--clients",
            "gw-clients.toml",
            "--ledger",
            "gw.db",
            "--ledger-key",
            "gw-log.pem",
            "--collector",
            &s.url,
            "--collector-interval",
            "1",
            "--json",
            "--log-level",
            "warn",
        ])
        .stderr(Stdio::inherit()),
    );
    let j: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let addr: std::net::SocketAddr = j["addr"].as_str().unwrap().parse().unwrap();
    Running {
        child,
        addr,
        url: format!("https://localhost:{}", addr.port()),
    }
}

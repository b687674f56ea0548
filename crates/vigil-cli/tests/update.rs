//! `vigil update`: the CLI contract (JSON objects, exit codes) and the SIGKILL trials: an
//! install killed at any moment leaves `current` on exactly one complete release that
//! verifies, and the next install completes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::path::Path;
use std::time::{Duration, Instant};

use util::{code, device, show, Vigil};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

/// A repository with the breast-cancer example as 1.0.0 and a re-signed 1.1.0.
fn repo(v: &Vigil) {
    let d = device("breast-cancer");
    let ok = |out: std::process::Output| assert_eq!(code(&out), 0, "{}", show(&out));
    ok(v.run(&["update", "repo", "init", "--dir", "repo", "--keys", "keys"]));
    ok(v.run(&[
        "update",
        "repo",
        "add",
        "--dir",
        "repo",
        "--keys",
        "keys",
        d.join("bundle").to_str().unwrap(),
    ]));
    let b = v.path("b110");
    std::fs::create_dir_all(b.join("reference")).unwrap();
    for f in ["model.onnx", "acceptance.csv", "reference/guard.json"] {
        std::fs::copy(d.join("bundle").join(f), b.join(f)).unwrap();
    }
    let toml = std::fs::read_to_string(d.join("bundle/vigil.toml")).unwrap();
    std::fs::write(
        b.join("vigil.toml"),
        toml.replacen("version = \"1.0.0\"", "version = \"1.1.0\"", 1),
    )
    .unwrap();
    let key = d.join("demo-keys/signing-key.pem");
    let qa = d.join("demo-keys/qa-key.pem");
    ok(v.run(&["bundle", "sign", "--key", key.to_str().unwrap(), "b110"]));
    ok(v.run(&[
        "bundle",
        "sign",
        "--key",
        qa.to_str().unwrap(),
        "--signature",
        "b110/model.qa.sig",
        "b110",
    ]));
    ok(v.run(&[
        "update", "repo", "add", "--dir", "repo", "--keys", "keys", "b110",
    ]));
}

fn install_args(state: &str, extra: &[&str]) -> Vec<String> {
    let policy = device("breast-cancer").join("policy.toml");
    let mut a: Vec<String> = [
        "update",
        "install",
        "--repo",
        "repo",
        "--root",
        "repo/metadata/1.root.json",
        "--state",
        state,
        "--name",
        "breast-cancer",
        "--policy",
        policy.to_str().unwrap(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(v: &Vigil, args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    v.run(&refs)
}

#[test]
fn install_status_rollback_speak_the_contract() {
    let v = Vigil::new();
    repo(&v);
    let out = run(&v, &install_args("state", &["--version", "1.0.0"]));
    assert_eq!(code(&out), 0, "{}", show(&out));
    let j = json(&out);
    let keys: Vec<&String> = j.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["detail", "name", "previous", "reason", "result", "version"]
    );
    assert_eq!(j["result"], "activated");
    assert_eq!(j["version"], "1.0.0");
    assert!(j["previous"].is_null() && j["reason"].is_null());

    let out = run(&v, &install_args("state", &[]));
    let j = json(&out);
    assert_eq!(
        (
            j["result"].as_str(),
            j["version"].as_str(),
            j["previous"].as_str()
        ),
        (Some("activated"), Some("1.1.0"), Some("1.0.0"))
    );

    let out = v.run(&["update", "status", "--state", "state", "--json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let s = json(&out);
    let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["current", "latest_known_time", "releases", "trusted"]
    );
    assert_eq!(s["current"]["version"], "1.1.0");
    assert_eq!(s["current"]["name"], "breast-cancer");
    assert!(Path::new(s["current"]["path"].as_str().unwrap())
        .join("model.onnx")
        .is_file());
    assert_eq!(s["releases"], serde_json::json!(["1.0.0", "1.1.0"]));
    for role in ["root", "timestamp", "snapshot", "targets"] {
        assert!(s["trusted"][role].as_u64().unwrap() >= 1, "{s}");
    }

    let out = v.run(&["update", "rollback", "--state", "state", "--json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let j = json(&out);
    assert_eq!(
        (
            j["result"].as_str(),
            j["version"].as_str(),
            j["previous"].as_str()
        ),
        (Some("rolled_back"), Some("1.0.0"), Some("1.1.0"))
    );

    // The ledger verifies with `vigil log verify`.
    let out = v.run(&[
        "log",
        "verify",
        "--db",
        "state/ledger.db",
        "--pubkey",
        "state/ledger-key.pub.pem",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));

    // A refusal exits 1 with its reason; the state is unchanged.
    let out = run(
        &v,
        &install_args("state", &["--health-cmd", "exit 3", "--version", "1.1.0"]),
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    let j = json(&out);
    assert_eq!(
        (
            j["result"].as_str(),
            j["reason"].as_str(),
            j["previous"].as_str()
        ),
        (Some("refused"), Some("health_check_failed"), Some("1.0.0"))
    );
    assert_eq!(
        std::fs::read_link(v.path("state/current")).unwrap(),
        Path::new("releases/1.0.0")
    );
}

#[test]
fn usage_and_local_errors_exit_2() {
    let v = Vigil::new();
    repo(&v);
    // The first install needs --root.
    let policy = device("breast-cancer").join("policy.toml");
    let out = v.run(&[
        "update",
        "install",
        "--repo",
        "repo",
        "--state",
        "s",
        "--name",
        "breast-cancer",
        "--policy",
        policy.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--root"),
        "{}",
        show(&out)
    );
    // No state yet.
    let out = v.run(&["update", "status", "--state", "nothing", "--json"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    // Keys are never overwritten.
    let out = v.run(&["update", "repo", "init", "--dir", "repo2", "--keys", "keys"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    // A bad duration.
    let out = v.run(&[
        "update",
        "repo",
        "init",
        "--dir",
        "r3",
        "--keys",
        "k3",
        "--expires",
        "timestamp=soon",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
}

fn verify_current(v: &Vigil, state: &str) -> String {
    let link = v.path(state).join("current");
    let target = std::fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display()));
    let version = target.file_name().unwrap().to_string_lossy().into_owned();
    let policy = device("breast-cancer").join("policy.toml");
    let out = v.run(&[
        "bundle",
        "verify",
        "--policy",
        policy.to_str().unwrap(),
        link.to_str().unwrap(),
    ]);
    assert_eq!(
        code(&out),
        0,
        "current -> {version} does not verify: {}",
        show(&out)
    );
    version
}

/// SIGKILL at spread-out moments of an install of 1.1.0 over an active 1.0.0; after each kill
/// `current` is one complete release that verifies, and the next install completes.
/// `VIGIL_CRASH_TRIALS` sets the number of trials (default 12; interop/update-crash runs more).
#[test]
fn sigkill_during_install_never_leaves_the_device_without_a_verified_release() {
    let trials: u64 = std::env::var("VIGIL_CRASH_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(12);
    let v = Vigil::new();
    repo(&v);
    let out = run(&v, &install_args("base", &["--version", "1.0.0"]));
    assert_eq!(code(&out), 0, "{}", show(&out));
    // How long a whole install takes, to spread the kills over it.
    let cp = |to: &str| {
        let s = std::process::Command::new("cp")
            .args(["-a", "base", to])
            .current_dir(v.dir())
            .status()
            .unwrap();
        assert!(s.success());
    };
    cp("timing");
    let start = Instant::now();
    let out = run(&v, &install_args("timing", &[]));
    assert_eq!(json(&out)["result"], "activated", "{}", show(&out));
    let full = start.elapsed().as_micros() as u64;
    let mut seen = std::collections::BTreeMap::new();
    for trial in 0..trials {
        let state = format!("t{trial}");
        cp(&state);
        // A splitmix-spread fraction of the install's duration (reproducible per trial).
        let mut z = trial.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let at = Duration::from_micros((z >> 11) % (full + full / 5).max(1));
        let mut child = v
            .cmd(
                &install_args(&state, &[])
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let version = verify_current(&v, &state);
        *seen.entry(version).or_insert(0) += 1;
        let out = run(&v, &install_args(&state, &[]));
        let j = json(&out);
        assert!(
            j["result"] == "activated" || j["result"] == "up_to_date",
            "trial {trial}: {}",
            show(&out)
        );
        assert_eq!(verify_current(&v, &state), "1.1.0");
        std::fs::remove_dir_all(v.path(&state)).unwrap();
    }
    eprintln!("after SIGKILL, current was: {seen:?} ({trials} trials)");
}

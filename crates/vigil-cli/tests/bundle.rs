//! `vigil key` and `vigil bundle` through the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::fs;

use serde::Deserialize;
use util::{code, show, Vigil};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct KeyJson {
    algorithm: String,
    key_id: String,
    private_key: String,
    public_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct VerifyJson {
    verified: bool,
    dir: String,
    error: Option<String>,
    subject_digest: Option<String>,
    resources: Option<u64>,
    bundle: Option<serde_json::Value>,
    signatures: Vec<SigJson>,
    data: Vec<DataJson>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct DataJson {
    split: String,
    manifest_root: Option<String>,
    manifest: Option<String>,
    sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SigJson {
    path: String,
    status: String,
    signer: Option<String>,
    role: Option<String>,
    key_id: Option<String>,
    reason: Option<String>,
}

fn keygen(v: &Vigil, alg: &str, name: &str) -> KeyJson {
    let out = v.run(&[
        "key",
        "generate",
        "--algorithm",
        alg,
        "--out",
        name,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn model(v: &Vigil) {
    fs::create_dir_all(v.path("m/sub")).unwrap();
    fs::write(v.path("m/model.onnx"), b"weights").unwrap();
    fs::write(v.path("m/sub/ref.json"), b"{}").unwrap();
}

#[test]
fn key_generate_writes_both_halves_and_prints_the_id() {
    let v = Vigil::new();
    let k = keygen(&v, "ed25519", "k");
    assert_eq!(k.algorithm, "ed25519");
    assert_eq!(k.key_id.len(), 64);
    let private = fs::read_to_string(v.path("k.pem")).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            fs::metadata(v.path("k.pem")).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let show_out = v.run(&["key", "show", "k.pub.pem"]);
    assert_eq!(
        String::from_utf8_lossy(&show_out.stdout).trim(),
        format!("ed25519 {}", k.key_id)
    );
    // Refuses to overwrite.
    let again = v.run(&["key", "generate", "--out", "k"]);
    assert_eq!(code(&again), 2, "{}", show(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn encrypted_key_signs_with_its_passphrase_only() {
    let v = Vigil::new();
    model(&v);
    let out = v
        .cmd(&[
            "key",
            "generate",
            "--out",
            "enc",
            "--passphrase-env",
            "VIGIL_TEST_PASS",
        ])
        .env("VIGIL_TEST_PASS", "hunter2")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(fs::read_to_string(v.path("enc.pem"))
        .unwrap()
        .contains("ENCRYPTED PRIVATE KEY"));
    let no_pass = v.run(&["bundle", "sign", "--key", "enc.pem", "m"]);
    assert_eq!(code(&no_pass), 2);
    assert!(String::from_utf8_lossy(&no_pass.stderr).contains("passphrase is required"));
    let ok = v
        .cmd(&[
            "bundle",
            "sign",
            "--key",
            "enc.pem",
            "--passphrase-env",
            "P",
            "m",
        ])
        .env("P", "hunter2")
        .output()
        .unwrap();
    assert_eq!(code(&ok), 0, "{}", show(&ok));
}

#[test]
fn sign_verify_and_tamper_exit_codes() {
    let v = Vigil::new();
    model(&v);
    keygen(&v, "ecdsa-p256", "k");
    let out = v.run(&["bundle", "sign", "--key", "k.pem", "m"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(v.path("m/model.sig").exists());

    let ok = v.run(&["bundle", "verify", "--key", "k.pub.pem", "--json", "m"]);
    assert_eq!(code(&ok), 0, "{}", show(&ok));
    let report: VerifyJson = serde_json::from_slice(&ok.stdout).unwrap();
    assert!(report.verified);
    assert_eq!(report.resources, Some(2));
    assert_eq!(report.signatures[0].status, "counted");

    fs::write(v.path("m/sub/ref.json"), b"{\"x\":1}").unwrap();
    let bad = v.run(&["bundle", "verify", "--key", "k.pub.pem", "--json", "m"]);
    assert_eq!(code(&bad), 1, "{}", show(&bad));
    let report: VerifyJson = serde_json::from_slice(&bad.stdout).unwrap();
    assert!(!report.verified);
    assert!(report
        .error
        .unwrap()
        .contains("sub/ref.json: content changed"));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sub/ref.json"));
}

#[test]
fn verify_reports_the_data_manifest_roots_vigil_toml_names() {
    let v = Vigil::new();
    model(&v);
    keygen(&v, "ecdsa-p256", "k");
    let (root, file) = ("0f".repeat(32), "e1".repeat(32));
    fs::write(
        v.path("m/vigil.toml"),
        format!(
            "[bundle]\nname = \"m\"\nversion = \"1.0.0\"\n\
             [data.training]\nmanifest = \"../data/training.manifest.json\"\n\
             manifest_root = \"{root}\"\n[data]\nvalidation = \"{file}\"\n"
        ),
    )
    .unwrap();
    let out = v.run(&["bundle", "sign", "--key", "k.pem", "m"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let ok = v.run(&["bundle", "verify", "--key", "k.pub.pem", "--json", "m"]);
    assert_eq!(code(&ok), 0, "{}", show(&ok));
    let report: VerifyJson = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        report.data,
        [
            DataJson {
                split: "training".into(),
                manifest_root: Some(root.clone()),
                manifest: Some("../data/training.manifest.json".into()),
                sha256: None,
            },
            DataJson {
                split: "validation".into(),
                manifest_root: None,
                manifest: None,
                sha256: Some(file.clone()),
            },
        ]
    );
    let text = v.run(&["bundle", "verify", "--key", "k.pub.pem", "m"]);
    assert_eq!(code(&text), 0, "{}", show(&text));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "  data training: manifest root {root} (../data/training.manifest.json)\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("  data validation: sha256:{file}\n")),
        "{text}"
    );

    // A signed vigil.toml whose root is not a SHA-256 fails as a malformed vigil.toml does,
    // naming the field.
    fs::write(
        v.path("m/vigil.toml"),
        "[bundle]\nname = \"m\"\nversion = \"1.0.0\"\n[data.training]\nmanifest_root = \"00\"\n",
    )
    .unwrap();
    let out = v.run(&["bundle", "sign", "--key", "k.pem", "m"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let bad = v.run(&["bundle", "verify", "--key", "k.pub.pem", "--json", "m"]);
    assert_eq!(code(&bad), 1, "{}", show(&bad));
    let report: VerifyJson = serde_json::from_slice(&bad.stdout).unwrap();
    assert!(!report.verified);
    assert!(report.data.is_empty());
    let err = report.error.unwrap();
    assert!(err.contains("data.training.manifest_root \"00\""), "{err}");
}

#[test]
fn missing_signature_is_a_failed_check_and_missing_dir_an_error() {
    let v = Vigil::new();
    model(&v);
    keygen(&v, "ecdsa-p256", "k");
    let out = v.run(&["bundle", "verify", "--key", "k.pub.pem", "m"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let out = v.run(&["bundle", "verify", "--key", "k.pub.pem", "nowhere"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let out = v.run(&["bundle", "verify", "m"]);
    assert_eq!(
        code(&out),
        2,
        "--key or --policy is required: {}",
        show(&out)
    );
    let out = v.run(&["bundle", "verify", "--key", "missing.pem", "m"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
}

#[test]
fn shards_and_ignore_paths_from_the_command_line() {
    let v = Vigil::new();
    model(&v);
    fs::write(v.path("m/scratch.txt"), b"x").unwrap();
    keygen(&v, "ecdsa-p256", "k");
    let out = v.run(&[
        "bundle",
        "sign",
        "--key",
        "k.pem",
        "--hash-method",
        "shards",
        "--shard-size",
        "3",
        "--json",
        "m",
        "--ignore-paths",
        "m/scratch.txt",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        j["resources"], 4,
        "7 bytes in 3-byte shards plus 2 bytes: {j}"
    );
    assert!(j["ignore_paths"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "scratch.txt"));
    fs::write(v.path("m/scratch.txt"), b"changed").unwrap();
    let ok = v.run(&["bundle", "verify", "--key", "k.pub.pem", "m"]);
    assert_eq!(code(&ok), 0, "{}", show(&ok));
}

#[test]
fn the_example_device_verifies_under_its_policy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/devices/breast-cancer");
    let v = Vigil::new();
    let out = v.run(&[
        "bundle",
        "verify",
        "--policy",
        root.join("policy.toml").to_str().unwrap(),
        root.join("bundle").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bundle breast-cancer 1.0.0"), "{text}");
    assert_eq!(text.matches("valid, signed by").count(), 2, "{text}");
}

/// Both example devices' signed vigil.toml name the roots of their training, calibration and
/// validation manifests, and each manifest verifies its data with that root.
#[test]
fn the_example_devices_name_their_data_manifest_roots() {
    for device in ["breast-cancer", "ecg-beats"] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/devices")
            .join(device);
        let v = Vigil::new();
        let out = v.run(&[
            "bundle",
            "verify",
            "--policy",
            root.join("policy.toml").to_str().unwrap(),
            "--json",
            root.join("bundle").to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{}", show(&out));
        let report: VerifyJson = serde_json::from_slice(&out.stdout).unwrap();
        let splits: Vec<&str> = report.data.iter().map(|d| d.split.as_str()).collect();
        assert_eq!(
            splits,
            ["calibration", "training", "validation"],
            "{device}"
        );
        for d in &report.data {
            let manifest = format!("../data/manifests/{}.manifest.json", d.split);
            assert_eq!(d.manifest.as_deref(), Some(manifest.as_str()));
            let merkle = d.manifest_root.as_deref().unwrap();
            let out = v.run(&[
                "data",
                "verify",
                "--key",
                root.join("demo-keys/signing-key.pub.pem").to_str().unwrap(),
                "--manifest",
                root.join("bundle").join(&manifest).to_str().unwrap(),
                root.join(format!("data/{}.csv", d.split)).to_str().unwrap(),
            ]);
            assert_eq!(code(&out), 0, "{device} {}: {}", d.split, show(&out));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(&format!("root {merkle})")),
                "{device}: {text}"
            );
        }
    }
}

// ---------------------------------------------------------------- issue 20 regressions

/// Runs `vigil` with a deadline: a command that blocks on a FIFO is killed and reported, so a
/// regression fails instead of hanging the suite.
fn run_within(v: &Vigil, args: &[&str], seconds: u64) -> std::process::Output {
    use std::process::Stdio;
    let mut child = v
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "vigil {args:?} hung (killed after {seconds} s): {}",
                show(&out)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn signed_model(v: &Vigil) {
    model(v);
    keygen(v, "ecdsa-p256", "k");
    let out = v.run(&["bundle", "sign", "--key", "k.pem", "m"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Issue 20 item 7: a FIFO as `model.sig` (key mode and `--signature`), as `--key` and as
/// `--policy` (and as a policy's key) is refused at once, by name, with exit 2.
#[cfg(unix)]
#[test]
fn issue20_7_fifo_signature_key_and_policy_are_refused() {
    let v = Vigil::new();
    signed_model(&v);
    fs::rename(v.path("m/model.sig"), v.path("good.sig")).unwrap();
    mkfifo(&v.path("m/model.sig"));
    mkfifo(&v.path("f.sig"));
    mkfifo(&v.path("kf"));
    fs::write(
        v.path("p.toml"),
        "threshold = 1\n[[signer]]\nname = \"a\"\nrole = \"r\"\nkey = \"kf\"\n",
    )
    .unwrap();
    for args in [
        &["bundle", "verify", "--key", "k.pub.pem", "m"][..],
        &["bundle", "verify", "--key", "k.pub.pem", "--json", "m"][..],
        &[
            "bundle",
            "verify",
            "--key",
            "k.pub.pem",
            "--signature",
            "f.sig",
            "m",
        ][..],
        &["bundle", "verify", "--key", "kf", "m"][..],
        &["bundle", "verify", "--policy", "kf", "m"][..],
        &["bundle", "verify", "--policy", "p.toml", "m"][..],
    ] {
        let out = run_within(&v, args, 20);
        assert_eq!(code(&out), 2, "{args:?}: {}", show(&out));
        let err = stderr(&out);
        assert!(err.contains("not a regular file (fifo)"), "{args:?}: {err}");
    }
}

/// Issue 20 item 12: a signature that cannot be read is an I/O error (exit 2), as an
/// unreadable resource is; one that exists and fails is 1; a missing one stays 1.
#[test]
fn issue20_12_unreadable_signature_exits_2_like_an_unreadable_resource() {
    let v = Vigil::new();
    signed_model(&v);
    fs::create_dir(v.path("dir.sig")).unwrap();
    let out = v.run(&[
        "bundle",
        "verify",
        "--key",
        "k.pub.pem",
        "--signature",
        "dir.sig",
        "m",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(stderr(&out).contains("not a regular file (directory)"));
    fs::write(v.path("bad.sig"), b"{}").unwrap();
    let out = v.run(&[
        "bundle",
        "verify",
        "--key",
        "k.pub.pem",
        "--signature",
        "bad.sig",
        "m",
    ]);
    assert_eq!(
        code(&out),
        1,
        "a signature that exists but fails: {}",
        show(&out)
    );
}

/// Issue 20 item 12: errors print their cause once (`X: X` nowhere).
#[test]
fn issue20_12_errors_print_their_cause_once() {
    let v = Vigil::new();
    signed_model(&v);
    fs::create_dir(v.path("dir.sig")).unwrap();
    for args in [
        &["bundle", "verify", "--key", "missing.pem", "m"][..],
        &["bundle", "verify", "--policy", "missing.toml", "m"][..],
        &["bundle", "sign", "--key", "k.pem", "nowhere"][..],
        &["bundle", "sign", "--key", "missing.pem", "m"][..],
        &[
            "bundle",
            "verify",
            "--key",
            "k.pub.pem",
            "--signature",
            "dir.sig",
            "m",
        ][..],
    ] {
        let out = v.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", show(&out));
        let err = stderr(&out);
        let line = err.trim_end();
        for cause in [
            "No such file or directory (os error 2)",
            "not a regular file",
        ] {
            assert!(line.matches(cause).count() <= 1, "{args:?}: {line}");
        }
    }
}

/// Issue 20 item 11: with `--allow-symlinks`, a link to a directory is refused at sign time
/// (its files would silently not be covered), naming the link.
#[cfg(unix)]
#[test]
fn issue20_11_symlink_to_a_directory_is_refused_at_sign_time() {
    let v = Vigil::new();
    model(&v);
    keygen(&v, "ecdsa-p256", "k");
    fs::create_dir(v.path("outside")).unwrap();
    fs::write(v.path("outside/weights.bin"), b"unsigned").unwrap();
    std::os::unix::fs::symlink(v.path("outside"), v.path("m/linked")).unwrap();
    let out = v.run(&["bundle", "sign", "--key", "k.pem", "--allow-symlinks", "m"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let err = stderr(&out);
    assert!(
        err.contains("m/linked: symbolic link to a directory"),
        "{err}"
    );
    assert!(!v.path("m/model.sig").exists());
}

//! Tests of `vigil log`: the CLI contract of issue 5, run on the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::io::Write;
use std::process::Stdio;

use serde::Deserialize;
use sha2::Digest as _;
use util::{code, show, Vigil};

// Demo keys made with `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`
// (OpenSSL 3.0); for tests only.
const LOG_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEONavEfABrbWbwBnYaDdFCsuAuK0niOS5BbPIdXA6n4\n-----END PRIVATE KEY-----\n";
const LOG_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAVlihJsT73MVZHtULlz8IYmQ8qvwsZOPSO2HmerZ2krs=\n-----END PUBLIC KEY-----\n";
const WITNESS_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIMAMU6RQJDq4ZUTKIC4/lENZaS6k9IxAuEHGn5aut/xa\n-----END PRIVATE KEY-----\n";
const WITNESS_PUB: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAKweBFgfXBllTNdcd935aXCJd4HKpmMQcGNLhx4TCnb0=\n-----END PUBLIC KEY-----\n";
const ORIGIN: &str = "example.org/device-1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Prove {
    index: u64,
    size: u64,
    leaf_hash: String,
    proof: Vec<String>,
    root: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Consistency {
    old: u64,
    new: u64,
    proof: Vec<String>,
    old_root: String,
    new_root: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyOut {
    ok: bool,
    size: Option<u64>,
    root: Option<String>,
    checkpoints: Option<u64>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyProofOut {
    ok: bool,
    checked: Vec<String>,
    signers: Vec<String>,
    error: Option<String>,
}

fn setup() -> Vigil {
    let v = Vigil::new();
    for (name, text) in [
        ("log.pem", LOG_KEY),
        ("log.pub.pem", LOG_PUB),
        ("w.pem", WITNESS_KEY),
        ("w.pub.pem", WITNESS_PUB),
    ] {
        std::fs::write(v.path(name), text).unwrap();
    }
    let out = v.run(&[
        "log", "init", "--db", "l.db", "--origin", ORIGIN, "--key", "log.pem",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    v
}

fn append(v: &Vigil, input: &str) -> std::process::Output {
    let mut child = v
        .cmd(&["log", "append", "--db", "l.db"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    // A refused database (tamper tests) makes the child exit before it reads stdin; the write
    // then fails with a broken pipe. That is fine as long as the child did fail.
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        assert_ne!(
            code(&out),
            0,
            "stdin closed early but exit 0: {}",
            show(&out)
        );
    }
    out
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn append_prints_indices_in_order_and_skips_blank_lines() {
    let v = setup();
    let out = append(&v, "{\"b\":1,\"a\":2}\n\n   \n{\"x\":\"y\"}\n{\"n\":1.50}");
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(stdout(&out), "0\n1\n2\n");
    let out = append(&v, "{\"more\":true}\n");
    assert_eq!(stdout(&out), "3\n");
}

#[test]
fn refused_line_keeps_earlier_lines_and_exits_2() {
    let v = setup();
    for (bad, why) in [
        ("{\"a\":1,\"a\":2}", "duplicate key"),
        ("[1,2]", "not a JSON object"),
        ("{\"n\":9007199254740993}", "2^53"),
        ("{\"n\":-18446744073709551615}", "2^53"),
        ("not json", "invalid literal"),
        ("{\"a\":1} trailing", "trailing"),
    ] {
        let before = {
            let out = v.run(&["log", "prove", "--db", "l.db", "--index", "0", "--json"]);
            if code(&out) == 0 {
                serde_json::from_slice::<Prove>(&out.stdout).unwrap().size
            } else {
                0
            }
        };
        let out = append(
            &v,
            &format!("{{\"ok\":1}}\n\n{{\"ok\":2}}\n{bad}\n{{\"after\":1}}\n"),
        );
        assert_eq!(code(&out), 2, "{}", show(&out));
        assert_eq!(stdout(&out), format!("{}\n{}\n", before, before + 1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("line 4") && err.contains(why), "{err}");
        // Exactly the two good lines were added.
        let out = v.run(&["log", "prove", "--db", "l.db", "--index", "0", "--json"]);
        let p: Prove = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(p.size, before + 2);
    }
}

#[test]
fn stored_entry_is_exactly_the_canonical_form() {
    let v = setup();
    append(&v, "{ \"b\" : [1.0, 1e2, \"\\u00e9\"], \"a\": null }\n");
    let out = v.run(&[
        "log", "prove", "--db", "l.db", "--index", "0", "--size", "1", "--json",
    ]);
    let p: Prove = serde_json::from_slice(&out.stdout).unwrap();
    let canonical = "{\"a\":null,\"b\":[1,100,\"\u{e9}\"]}";
    let want = vigil_ledger::leaf_hash(canonical.as_bytes());
    assert_eq!(p.leaf_hash, hex::encode(want));
    assert_eq!(p.root, p.leaf_hash);
    assert!(p.proof.is_empty());
}

#[test]
fn empty_log_checkpoint_is_byte_exact() {
    let v = setup();
    let out = v.run(&["log", "checkpoint", "--db", "l.db", "--key", "log.pem"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let note = stdout(&out);
    let (body, sig) = note.split_once("\n\n").unwrap();
    assert_eq!(
        body,
        format!("{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    );
    assert!(sig.starts_with(&format!("\u{2014} {ORIGIN} ")) && sig.ends_with('\n'));
    assert_eq!(sig.lines().count(), 1);
}

#[test]
fn prove_consistency_and_verify_proof_round_trip() {
    let v = setup();
    let events: String = (0..13).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    append(&v, &events);
    let cp1 = stdout(&v.run(&["log", "checkpoint", "--db", "l.db", "--key", "log.pem"]));
    std::fs::write(v.path("cp1"), &cp1).unwrap();
    append(&v, "{\"i\":13}\n{\"i\":14}\n");
    let cp2 = stdout(&v.run(&["log", "checkpoint", "--db", "l.db", "--key", "log.pem"]));
    std::fs::write(v.path("cp2"), &cp2).unwrap();

    for (index, size) in [(0u64, 13u64), (12, 13), (5, 15), (14, 15)] {
        let out = v.run(&[
            "log",
            "prove",
            "--db",
            "l.db",
            "--index",
            &index.to_string(),
            "--size",
            &size.to_string(),
            "--json",
        ]);
        assert_eq!(code(&out), 0, "{}", show(&out));
        let p: Prove = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((p.index, p.size), (index, size));
        assert!(!p.proof.is_empty());
        std::fs::write(v.path("p.json"), &out.stdout).unwrap();
        std::fs::write(v.path("e.json"), format!("{{ \"i\": {index} }}\n")).unwrap();
        let cp = if size == 13 { "cp1" } else { "cp2" };
        let out = v.run(&[
            "log",
            "verify-proof",
            "--inclusion",
            "p.json",
            "--entry",
            "e.json",
            "--checkpoint",
            cp,
            "--pubkey",
            "log.pub.pem",
            "--json",
        ]);
        assert_eq!(code(&out), 0, "{}", show(&out));
        let r: VerifyProofOut = serde_json::from_slice(&out.stdout).unwrap();
        assert!(r.ok && r.error.is_none());
        assert_eq!(r.checked, ["checkpoint", "entry", "inclusion"]);
        assert_eq!(r.signers.len(), 1);
        // The wrong entry, or the other checkpoint, fails with exit 1.
        std::fs::write(v.path("e.json"), "{\"i\":999}\n").unwrap();
        let out = v.run(&[
            "log",
            "verify-proof",
            "--inclusion",
            "p.json",
            "--entry",
            "e.json",
            "--checkpoint",
            cp,
            "--pubkey",
            "log.pub.pem",
        ]);
        assert_eq!(code(&out), 1, "{}", show(&out));
        let other = if size == 13 { "cp2" } else { "cp1" };
        let out = v.run(&[
            "log",
            "verify-proof",
            "--inclusion",
            "p.json",
            "--checkpoint",
            other,
            "--pubkey",
            "log.pub.pem",
        ]);
        assert_eq!(code(&out), 1, "{}", show(&out));
    }

    let out = v.run(&[
        "log",
        "consistency",
        "--db",
        "l.db",
        "--old",
        "13",
        "--new",
        "15",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let c: Consistency = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((c.old, c.new), (13, 15));
    assert_ne!(c.old_root, c.new_root);
    assert!(!c.proof.is_empty());
    std::fs::write(v.path("c.json"), &out.stdout).unwrap();
    let ok = v.run(&[
        "log",
        "verify-proof",
        "--consistency",
        "c.json",
        "--old-checkpoint",
        "cp1",
        "--checkpoint",
        "cp2",
        "--pubkey",
        "log.pub.pem",
    ]);
    assert_eq!(code(&ok), 0, "{}", show(&ok));
    let swapped = v.run(&[
        "log",
        "verify-proof",
        "--consistency",
        "c.json",
        "--old-checkpoint",
        "cp2",
        "--checkpoint",
        "cp1",
        "--pubkey",
        "log.pub.pem",
    ]);
    assert_eq!(code(&swapped), 1, "{}", show(&swapped));

    let same = v.run(&[
        "log",
        "consistency",
        "--db",
        "l.db",
        "--old",
        "15",
        "--new",
        "15",
        "--json",
    ]);
    let c: Consistency = serde_json::from_slice(&same.stdout).unwrap();
    assert!(c.proof.is_empty() && c.old_root == c.new_root);
    let zero = v.run(&[
        "log",
        "consistency",
        "--db",
        "l.db",
        "--old",
        "0",
        "--new",
        "15",
        "--json",
    ]);
    assert_eq!(code(&zero), 2, "{}", show(&zero));
    let beyond = v.run(&[
        "log", "prove", "--db", "l.db", "--index", "15", "--size", "15", "--json",
    ]);
    assert_eq!(code(&beyond), 2, "{}", show(&beyond));
    let beyond = v.run(&[
        "log", "prove", "--db", "l.db", "--index", "1", "--size", "16", "--json",
    ]);
    assert_eq!(code(&beyond), 2, "{}", show(&beyond));
}

#[test]
fn cosigned_checkpoint_names_its_signers() {
    let v = setup();
    append(&v, "{\"i\":0}\n");
    let cp = stdout(&v.run(&["log", "checkpoint", "--db", "l.db", "--key", "log.pem"]));
    std::fs::write(v.path("cp"), &cp).unwrap();
    let out = v.run(&[
        "log",
        "cosign",
        "--checkpoint",
        "cp",
        "--pubkey",
        "log.pub.pem",
        "--key",
        "w.pem",
        "--name",
        "hospital-witness",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    std::fs::write(v.path("cosigned"), &out.stdout).unwrap();
    let out = v.run(&[
        "log",
        "verify-proof",
        "--checkpoint",
        "cosigned",
        "--pubkey",
        "log.pub.pem",
        "--witness",
        "hospital-witness=w.pub.pem",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: VerifyProofOut = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r.signers.len(), 2, "{r:?}");
    // The un-cosigned checkpoint lacks the witness: exit 1.
    let out = v.run(&[
        "log",
        "verify-proof",
        "--checkpoint",
        "cp",
        "--pubkey",
        "log.pub.pem",
        "--witness",
        "hospital-witness=w.pub.pem",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    // A key that is not the log's: exit 1.
    let out = v.run(&[
        "log",
        "verify-proof",
        "--checkpoint",
        "cp",
        "--pubkey",
        "w.pub.pem",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
}

#[test]
fn verify_whole_log_and_detect_an_edited_entry() {
    let v = setup();
    append(&v, "{\"patient\":\"aaaaaaaaaaaaaaaa\"}\n{\"i\":1}\n");
    let cp = stdout(&v.run(&["log", "checkpoint", "--db", "l.db", "--key", "log.pem"]));
    std::fs::write(v.path("cp"), &cp).unwrap();
    let out = v.run(&[
        "log",
        "verify",
        "--db",
        "l.db",
        "--pubkey",
        "log.pub.pem",
        "--checkpoint",
        "cp",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: VerifyOut = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r.ok && r.size == Some(2) && r.checkpoints == Some(1) && r.root.is_some());
    assert!(r.error.is_none());
    // Wrong public key: the stored checkpoint's signature fails.
    let out = v.run(&["log", "verify", "--db", "l.db", "--pubkey", "w.pub.pem"]);
    assert_eq!(code(&out), 1, "{}", show(&out));

    // Edit the entry's bytes in place in the database file (same length).
    let db = v.path("l.db");
    assert!(
        !v.path("l.db-wal").exists() || std::fs::metadata(v.path("l.db-wal")).unwrap().len() == 0
    );
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes
        .windows(16)
        .position(|w| w == b"aaaaaaaaaaaaaaaa")
        .expect("entry bytes in the file");
    bytes[at..at + 16].copy_from_slice(b"bbbbbbbbbbbbbbbb");
    std::fs::write(&db, bytes).unwrap();
    let out = v.run(&[
        "log",
        "verify",
        "--db",
        "l.db",
        "--pubkey",
        "log.pub.pem",
        "--json",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let r: VerifyOut = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!r.ok);
    assert!(r.error.unwrap().contains("entry 0"));
    // And the log refuses to be opened for appending.
    let out = append(&v, "{\"i\":2}\n");
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("integrity"));
}

#[test]
fn init_refuses_existing_db_and_bad_keys() {
    let v = setup();
    let out = v.run(&[
        "log", "init", "--db", "l.db", "--origin", ORIGIN, "--key", "log.pem",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let out = v.run(&[
        "log",
        "init",
        "--db",
        "m.db",
        "--origin",
        ORIGIN,
        "--key",
        "log.pub.pem",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("log.pub.pem"));
    let out = v.run(&["log", "checkpoint", "--db", "l.db", "--key", "w.pem"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
}

// --- Issue 20: regressions -----------------------------------------------------------------

fn signed_log(v: &Vigil, events: &str) {
    let out = append(v, events);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = v.run(&["log", "checkpoint", "--db", "l.db", "--key", "log.pem"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Issue 20 item 5: a log's own canonical entries can be appended again (replay, migration).
#[test]
fn issue20_5_append_accepts_canonical_big_integers() {
    let v = setup();
    let out = append(&v, "{\"x\":1e16}\n");
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = append(&v, "{\"x\":10000000000000000}\n");
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = append(&v, "{\"x\":9007199254740993}\n");
    assert_eq!(code(&out), 2, "{}", show(&out));
}

/// Issue 20 item 8: `--origin` pins the log's origin; a log of another origin under the same
/// key fails.
#[test]
fn issue20_8_verify_pins_the_origin() {
    let v = setup();
    signed_log(&v, "{\"a\":1}\n");
    let base = ["log", "verify", "--db", "l.db", "--pubkey", "log.pub.pem"];
    let out = v.run(&[&base[..], &["--origin", "example.org/other"]].concat());
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(stdout(&out).starts_with("FAILED"), "{}", show(&out));
    let out = v.run(&[&base[..], &["--origin", ORIGIN]].concat());
    assert_eq!(code(&out), 0, "{}", show(&out));
}

/// Issue 20 item 8: verification writes nothing: an empty file stays empty (it is not turned
/// into a database), and verifying a copy leaves its folder as it was.
#[test]
fn issue20_8_verify_is_read_only() {
    let v = setup();
    signed_log(&v, "{\"a\":1}\n{\"b\":2}\n");
    std::fs::write(v.path("empty.db"), b"").unwrap();
    let out = v.run(&[
        "log",
        "verify",
        "--db",
        "empty.db",
        "--pubkey",
        "log.pub.pem",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert_eq!(std::fs::metadata(v.path("empty.db")).unwrap().len(), 0);

    let copy = v.path("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(v.path("l.db"), copy.join("l.db")).unwrap();
    let before = listing(&copy);
    let bytes = std::fs::read(copy.join("l.db")).unwrap();
    let out = v.run(&[
        "log",
        "verify",
        "--db",
        "copy/l.db",
        "--pubkey",
        "log.pub.pem",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(
        listing(&copy),
        before,
        "verify created files beside the log"
    );
    assert_eq!(std::fs::read(copy.join("l.db")).unwrap(), bytes);
}

/// Issue 20 item 8: an edited `meta` row is a failed verification (exit 1), not an I/O error.
#[test]
fn issue20_8_edited_meta_row_fails_verification() {
    let v = setup();
    signed_log(&v, "{\"a\":1}\n");
    for (sql, what) in [
        (
            "UPDATE meta SET value = 42 WHERE key = 'public_key'",
            "number",
        ),
        ("UPDATE meta SET value = 'x' WHERE key = 'origin'", "text"),
        ("DELETE FROM meta WHERE key = 'key_name'", "missing"),
    ] {
        std::fs::copy(v.path("l.db"), v.path("t.db")).unwrap();
        let conn = rusqlite::Connection::open(v.path("t.db")).unwrap();
        conn.execute_batch(sql).unwrap();
        drop(conn);
        let out = v.run(&["log", "verify", "--db", "t.db", "--pubkey", "log.pub.pem"]);
        assert_eq!(code(&out), 1, "{what}: {}", show(&out));
        assert!(stdout(&out).starts_with("FAILED"), "{what}: {}", show(&out));
    }
}

/// Issue 20 item 12: `log init` with an ECDSA key says checkpoints need Ed25519, not an OID.
#[test]
fn issue20_12_log_init_with_an_ecdsa_key_says_ed25519() {
    let v = Vigil::new();
    let out = v.run(&[
        "key",
        "generate",
        "--algorithm",
        "ecdsa-p256",
        "--out",
        "ec",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = v.run(&[
        "log", "init", "--db", "l.db", "--origin", ORIGIN, "--key", "ec.pem",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Ed25519") && err.contains("ecdsa-p256"),
        "{err}"
    );
    assert!(!err.contains("1.3.101.112"), "{err}");
    assert!(!v.path("l.db").exists());
}

/// Issue 20 item 16: one-shot queries check only the tail after the newest checkpoint, and
/// still refuse a log whose tail or checkpoints were tampered with.
#[test]
fn issue20_16_one_shot_queries_check_the_tail() {
    let v = setup();
    signed_log(&v, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    let out = append(&v, "{\"a\":4}\n");
    assert_eq!(code(&out), 0, "{}", show(&out));
    let prove = [
        "log", "prove", "--db", "l.db", "--index", "0", "--size", "3", "--json",
    ];
    assert_eq!(code(&v.run(&prove)), 0);

    // An entry after the checkpoint, edited: refused by the tail check.
    std::fs::copy(v.path("l.db"), v.path("keep.db")).unwrap();
    let conn = rusqlite::Connection::open(v.path("l.db")).unwrap();
    conn.execute_batch("UPDATE entries SET data = CAST('{\"a\":5}' AS BLOB) WHERE idx = 3")
        .unwrap();
    drop(conn);
    let out = v.run(&prove);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(show(&out).contains("entry 3"), "{}", show(&out));

    // A covered entry edited with its leaf hash: the tail check trusts the signed subtree
    // hashes, the full audit of `vigil log verify` finds it.
    std::fs::copy(v.path("keep.db"), v.path("l.db")).unwrap();
    let conn = rusqlite::Connection::open(v.path("l.db")).unwrap();
    let edited = b"{\"a\":9}";
    let mut leaf = sha2::Sha256::new();
    sha2::Digest::update(&mut leaf, [0u8]);
    sha2::Digest::update(&mut leaf, edited);
    let leaf = sha2::Digest::finalize(leaf).to_vec();
    conn.execute(
        "UPDATE entries SET data = ?1, leaf_hash = ?2 WHERE idx = 0",
        rusqlite::params![&edited[..], leaf],
    )
    .unwrap();
    drop(conn);
    assert_eq!(code(&v.run(&prove)), 0);
    let out = v.run(&["log", "verify", "--db", "l.db", "--pubkey", "log.pub.pem"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
}

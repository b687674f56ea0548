//! `vigil scan`: exit codes, output formats and policies, per the CLI contract of issue 4.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

mod util;

use serde::Deserialize;
use util::{code, show, Vigil};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    files: Vec<File>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    path: String,
    /// Only for a path that is not UTF-8 (issue 20 item 1).
    #[serde(default)]
    path_bytes: Option<String>,
    format: String,
    findings: Vec<Finding>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Finding {
    severity: String,
    rule: String,
    message: String,
    global: Option<String>,
    member: Option<String>,
}

const EVIL: &[u8] = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.";
const UNKNOWN: &[u8] = b"\x80\x02cmypkg.layers\nBlock\n)\x81.";
const BENIGN: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.";

fn setup() -> Vigil {
    let v = Vigil::new();
    std::fs::create_dir_all(v.path("models/sub")).unwrap();
    std::fs::write(v.path("models/evil.bin"), EVIL).unwrap();
    std::fs::write(v.path("models/sub/custom.pkl"), UNKNOWN).unwrap();
    std::fs::write(v.path("models/sub/ok.pkl"), BENIGN).unwrap();
    std::fs::write(v.path("ok.pkl"), BENIGN).unwrap();
    std::fs::write(v.path("custom.pkl"), UNKNOWN).unwrap();
    v
}

fn json(out: &std::process::Output) -> Report {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

#[test]
fn clean_file_exits_zero() {
    let v = setup();
    let out = v.run(&["scan", "ok.pkl"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no findings"));
}

#[test]
fn directory_scan_reports_every_file_as_one_json_object() {
    let v = setup();
    let out = v.run(&["scan", "--json", "models"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let r = json(&out);
    let paths: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "models/evil.bin",
            "models/sub/custom.pkl",
            "models/sub/ok.pkl"
        ]
    );
    let evil = &r.files[0];
    assert_eq!(evil.format, "pickle");
    assert_eq!(evil.error, None);
    assert_eq!(evil.findings.len(), 1);
    let f = &evil.findings[0];
    assert_eq!(
        (f.severity.as_str(), f.rule.as_str()),
        ("CRITICAL", "pickle-code-execution")
    );
    assert_eq!(f.global.as_deref(), Some("os.system"));
    assert_eq!(f.member, None);
    assert!(f.message.contains("os.system"));
    assert_eq!(r.files[1].findings[0].severity, "MEDIUM");
    assert!(r.files[2].findings.is_empty());
}

#[test]
fn fail_on_sets_the_threshold() {
    let v = setup();
    assert_eq!(
        code(&v.run(&["scan", "--fail-on", "HIGH", "custom.pkl"])),
        0
    );
    assert_eq!(
        code(&v.run(&["scan", "--fail-on", "MEDIUM", "custom.pkl"])),
        1
    );
    assert_eq!(
        code(&v.run(&["scan", "custom.pkl"])),
        1,
        "default is MEDIUM"
    );
    assert_eq!(
        code(&v.run(&["scan", "--fail-on", "CRITICAL", "models"])),
        1
    );
    assert_eq!(code(&v.run(&["scan", "--fail-on", "bogus", "ok.pkl"])), 2);
}

#[test]
fn allow_accepts_a_global_and_reports_the_rule() {
    let v = setup();
    let out = v.run(&[
        "scan",
        "--json",
        "--allow",
        "mypkg.layers.Block",
        "custom.pkl",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r = json(&out);
    let f = &r.files[0].findings[0];
    assert_eq!(
        (f.severity.as_str(), f.rule.as_str()),
        ("LOW", "policy-allowed")
    );
    assert!(
        f.message.contains("--allow mypkg.layers.Block"),
        "{}",
        f.message
    );
    assert_eq!(
        code(&v.run(&["scan", "--allow", "not a global", "custom.pkl"])),
        2
    );
}

#[test]
fn policy_file_accepts_with_reason() {
    let v = setup();
    std::fs::write(
        v.path("policy.toml"),
        "[[allow]]\nglobal = \"mypkg.*\"\nreason = \"reviewed by QA\"\n",
    )
    .unwrap();
    let out = v.run(&["scan", "--json", "--policy", "policy.toml", "custom.pkl"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r = json(&out);
    assert!(r.files[0].findings[0]
        .message
        .contains("policy policy.toml: mypkg.* (reviewed by QA)"));
    std::fs::write(v.path("bad.toml"), "[[allow]]\nglobal = 3\n").unwrap();
    let out = v.run(&["scan", "--policy", "bad.toml", "custom.pkl"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("vigil: policy bad.toml:"));
}

#[test]
fn unreadable_path_exits_two_and_the_scan_goes_on() {
    let v = setup();
    let out = v.run(&["scan", "--json", "missing.pt", "ok.pkl"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("vigil: missing.pt: "), "{err}");
    assert_eq!(json(&out).files.len(), 1);
}

#[test]
fn usage_errors_exit_two() {
    let v = setup();
    assert_eq!(code(&v.run(&["scan"])), 2);
    assert_eq!(code(&v.run(&["scan", "--json", "--sarif", "ok.pkl"])), 2);
}

#[test]
fn sarif_is_2_1_0_with_rules_levels_and_locations() {
    let v = setup();
    let out = v.run(&["scan", "--sarif", "models"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "pickle-code-execution"));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["ruleId"], "pickle-code-execution");
    assert_eq!(results[0]["level"], "error");
    let idx = results[0]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[idx]["id"], "pickle-code-execution");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "models/evil.bin"
    );
    assert_eq!(results[1]["level"], "warning");
}

// Issue 20 item 1: a file name that is not UTF-8 made `--json` panic (exit 101, no JSON).
#[cfg(unix)]
#[test]
fn issue20_1_non_utf8_name_survives_json_and_sarif() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let v = Vigil::new();
    std::fs::create_dir(v.path("d")).unwrap();
    let name = OsStr::from_bytes(b"x\xff.pkl");
    std::fs::write(v.path("d").join(name), b"\x80\x02}.").unwrap();
    std::fs::write(v.path("d/evil.pkl"), EVIL).unwrap();
    let out = v.run(&["scan", "--json", "d"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let r = json(&out);
    assert_eq!(r.files.len(), 2);
    let odd = r.files.iter().find(|f| f.path_bytes.is_some()).unwrap();
    assert_eq!(odd.path, "d/x\u{fffd}.pkl");
    // base64 of b"d/x\xff.pkl"
    assert_eq!(odd.path_bytes.as_deref(), Some("ZC94/y5wa2w="));
    assert!(odd.findings.is_empty());
    let evil = r.files.iter().find(|f| f.path == "d/evil.pkl").unwrap();
    assert_eq!(evil.path_bytes, None, "UTF-8 names have no path_bytes");
    let out = v.run(&["scan", "--sarif", "d"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(s["runs"][0]["results"].as_array().unwrap().len() == 1);
    let out = v.run(&["scan", "d"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("d/x\\xFF.pkl (pickle):"), "{text}");
}

#[cfg(unix)]
#[test]
fn issue20_1_sarif_uri_keeps_every_byte() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let v = Vigil::new();
    std::fs::write(v.path("").join(OsStr::from_bytes(b"e\xfe.pkl")), EVIL).unwrap();
    let out = v.run(&["scan", "--sarif", "e\u{fffd}.pkl"]);
    assert_eq!(code(&out), 2, "the lossy name is not the file");
    let out = v
        .cmd(&["scan", "--sarif"])
        .arg(OsStr::from_bytes(b"e\xfe.pkl"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", show(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "e%FE.pkl"
    );
}

// Issue 20 item 1: a name with a newline could forge lines of the table.
#[cfg(unix)]
#[test]
fn issue20_1_table_escapes_control_characters() {
    let v = Vigil::new();
    std::fs::create_dir(v.path("d")).unwrap();
    let forged = "a.pkl (pickle):\n  no findings\n1 file(s): 0 critical\n\x1b[2Jz.pkl";
    std::fs::write(v.path("d").join(forged), EVIL).unwrap();
    let out = v.run(&["scan", "d"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("d/a.pkl (pickle):\\n  no findings\\n"),
        "{text}"
    );
    assert!(lines[0].contains("\\u{1b}[2J"), "{text}");
    assert!(!text.contains('\x1b'));
}

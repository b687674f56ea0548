//! The SBOM `vigil evidence sbom` writes lists exactly the packages the `vigil` binary is built
//! from: the embedded list must equal what `cargo metadata` resolves now (normal edges from
//! vigil-cli, for this machine's target). After a dependency change, regenerate it with
//! `VIGIL_BLESS=1 cargo test -p vigil-cli --test sbom`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::path::Path;
use std::process::Command;

use util::{code, show, Vigil};

fn host() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("host triple")
}

#[test]
fn the_embedded_dependency_list_is_what_cargo_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--filter-platform",
        ])
        .arg(host())
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let deps = vigil_evidence::dependencies_from_metadata(&out.stdout, &lock, "vigil-cli").unwrap();
    let mut want = serde_json::to_string_pretty(&deps).unwrap();
    want.push('\n');
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("sbom-dependencies.json");
    if std::env::var_os("VIGIL_BLESS").is_some() {
        std::fs::write(&file, &want).unwrap();
    }
    let have = std::fs::read_to_string(&file).unwrap();
    assert!(
        have == want,
        "{} is stale: regenerate it with VIGIL_BLESS=1 cargo test -p vigil-cli --test sbom",
        file.display()
    );
    // No dev- or build-only package: proptest and cc are never in the binary.
    for name in ["proptest", "cc", "tempfile-dev-only-marker"] {
        assert!(deps.iter().all(|d| d.name != name), "{name} is listed");
    }
    assert!(deps
        .iter()
        .any(|d| d.name == "tract-onnx" && d.sha256.is_some()));
    assert!(deps
        .iter()
        .any(|d| d.name == "vigil-core" && d.workspace && d.sha256.is_none()));
}

#[test]
fn vigil_evidence_sbom_writes_the_list_with_support_fields() {
    let v = Vigil::new();
    let deploy = util::device("breast-cancer").join("deploy.toml");
    let out = v.run(&[
        "evidence",
        "sbom",
        "--deployment",
        deploy.to_str().unwrap(),
        "--out",
        "sbom.cdx.json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("sbom.cdx.json")).unwrap()).unwrap();
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["bomFormat"], "CycloneDX");
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../sbom-dependencies.json")).unwrap();
    let components = doc["components"].as_array().unwrap();
    assert_eq!(
        components.len() + 1,
        listed.len(),
        "every package but vigil-cli itself is a component"
    );
    let props = doc["metadata"]["component"]["properties"].to_string();
    assert!(props.contains("vigil:support:end-of-support"), "{props}");
    let ring = components.iter().find(|c| c["name"] == "ring").unwrap();
    assert!(ring["purl"]
        .as_str()
        .unwrap()
        .starts_with("pkg:cargo/ring@"));
    assert_eq!(ring["hashes"][0]["alg"], "SHA-256");
}

#[test]
fn vigil_evidence_aibom_describes_the_verified_model() {
    let v = Vigil::new();
    let d = util::device("breast-cancer");
    let out = v.run(&[
        "evidence",
        "aibom",
        "--bundle",
        d.join("bundle").to_str().unwrap(),
        "--policy",
        d.join("policy.toml").to_str().unwrap(),
        "--out",
        "aibom.cdx.json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("aibom.cdx.json")).unwrap()).unwrap();
    let model = &doc["components"][0];
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(model["name"], "breast-cancer");
    // Nothing the typed model could drop is missing.
    let card = &model["modelCard"];
    assert_eq!(
        card["modelParameters"]["datasets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(card["modelParameters"]["modelArchitecture"]
        .as_str()
        .unwrap()
        .contains("MLP"));
    assert!(card["considerations"]["useCases"][0]
        .as_str()
        .unwrap()
        .contains("Demonstration"));
    assert!(
        card["quantitativeAnalysis"]["performanceMetrics"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    let files: Vec<&str> = model["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "acceptance.csv",
            "model.onnx",
            "reference/guard.json",
            "vigil.toml"
        ]
    );
    let onnx = std::fs::read(d.join("bundle/model.onnx")).unwrap();
    use sha2::Digest as _;
    assert_eq!(
        model["components"][1]["hashes"][0]["content"],
        hex_of(&sha2::Sha256::digest(&onnx))
    );
    assert_eq!(
        model["properties"].as_array().unwrap().len(),
        2,
        "two signers"
    );
    assert_eq!(
        doc["dependencies"][0]["dependsOn"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // A bundle that does not verify gets no AIBOM.
    let out = v.run(&[
        "evidence",
        "aibom",
        "--bundle",
        d.join("bundle").to_str().unwrap(),
        "--key",
        util::device("ecg-beats")
            .join("demo-keys/signing-key.pub.pem")
            .to_str()
            .unwrap(),
        "--out",
        "x.json",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn threats(v: &Vigil, bundle_key: Option<&str>, deploy: &Path) -> (i32, serde_json::Value) {
    let d = util::device("breast-cancer");
    let bundle = d.join("bundle");
    let policy = d.join("policy.toml");
    let mut args = vec!["evidence", "threats", "--bundle", bundle.to_str().unwrap()];
    match bundle_key {
        Some(k) => args.extend(["--key", k]),
        None => args.extend(["--policy", policy.to_str().unwrap()]),
    }
    args.extend(["--deployment", deploy.to_str().unwrap(), "--json"]);
    let out = v.run(&args);
    let j = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));
    (code(&out), j)
}

/// `vigil evidence VERB` on the breast-cancer example's bundle and policy, with `deploy`.
fn evidence_run(v: &Vigil, verb: &str, deploy: &Path, extra: &[&str]) -> std::process::Output {
    let d = util::device("breast-cancer");
    let (bundle, policy) = (d.join("bundle"), d.join("policy.toml"));
    let mut args = vec![
        "evidence",
        verb,
        "--bundle",
        bundle.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--deployment",
        deploy.to_str().unwrap(),
    ];
    args.extend(extra);
    v.run(&args)
}

/// The breast-cancer example's deploy.toml with its paths made absolute, to write elsewhere.
fn example_deploy_absolute() -> String {
    let d = util::device("breast-cancer");
    std::fs::read_to_string(d.join("deploy.toml"))
        .unwrap()
        .replace(
            "bundle = \"bundle\"",
            &format!("bundle = {:?}", d.join("bundle")),
        )
        .replace("\"data/", &format!("\"{}/data/", d.display()))
        .replace("\"demo-keys/", &format!("\"{}/demo-keys/", d.display()))
}

fn status<'a>(j: &'a serde_json::Value, id: &str) -> &'a str {
    j["threats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
}

#[test]
fn the_threat_model_covers_every_row_and_removing_a_control_turns_its_rows_missing() {
    let v = Vigil::new();
    let deploy = util::device("breast-cancer").join("deploy.toml");
    let (c, j) = threats(&v, None, &deploy);
    let rows = j["threats"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let want: Vec<String> = (1..=20).map(|i| format!("T{i:02}")).collect();
    assert_eq!(ids, want);
    for r in rows {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["checks", "id", "reason", "status"]);
        // No row is met unless every one of its checks ran and passed.
        if r["status"] == "met" {
            assert!(
                r["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["ok"] == true),
                "{r}"
            );
            assert!(r["reason"].is_null());
        }
    }
    assert_eq!(status(&j, "T07"), "met");
    assert_eq!(status(&j, "T15"), "partial");
    // The example's data manifests verify with its data key.
    assert_eq!(status(&j, "T01"), "met");
    assert_eq!(
        c, 1,
        "rows are missing on the example (no update state, no assess report): exit 1"
    );
    assert_eq!(j["summary"]["total"], 20);

    // A gateway without mutual TLS: its rows go missing.
    let text = std::fs::read_to_string(&deploy)
        .unwrap()
        .replace("mtls = true", "mtls = false");
    let nomtls = v.path("deploy.toml");
    std::fs::write(&nomtls, text).unwrap();
    let (_, j) = threats(&v, None, &nomtls);
    assert_eq!(status(&j, "T15"), "missing");
    assert_eq!(status(&j, "T14"), "missing");

    // Data manifests whose signature cannot be checked, or is not the key's: missing.
    let absolute = example_deploy_absolute();
    let nokey: String = absolute
        .lines()
        .filter(|l| !l.starts_with("data_key"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(v.path("nokey.toml"), nokey).unwrap();
    let (_, j) = threats(&v, None, &v.path("nokey.toml"));
    assert_eq!(status(&j, "T01"), "missing");
    std::fs::write(
        v.path("wrongkey.toml"),
        absolute.replace("signing-key.pub.pem", "qa-key.pub.pem"),
    )
    .unwrap();
    let (_, j) = threats(&v, None, &v.path("wrongkey.toml"));
    assert_eq!(status(&j, "T01"), "missing");
    assert_eq!(status(&j, "T02"), "missing");
    // The bundle names three data sets' roots; a deployment naming only one manifest cannot
    // show where the other two came from.
    let one = absolute
        .lines()
        .filter(|l| !l.contains("calibration.manifest") && !l.contains("validation.manifest"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    std::fs::write(v.path("one.toml"), one).unwrap();
    let (_, j) = threats(&v, None, &v.path("one.toml"));
    assert_eq!(status(&j, "T01"), "missing");
    let row = j["threats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "T01")
        .unwrap();
    let evidence = row["checks"][0]["evidence"].as_str().unwrap();
    assert!(evidence.contains("[data.validation]"), "{evidence}");

    // A bundle that does not verify: a finding, not an error.
    let wrong = util::device("ecg-beats").join("demo-keys/signing-key.pub.pem");
    let (c, j) = threats(&v, Some(wrong.to_str().unwrap()), &deploy);
    assert_eq!(c, 1);
    for id in ["T07", "T08", "T10", "T18"] {
        assert_eq!(status(&j, id), "missing", "{id}");
    }
}

/// The fields Threat Dragon's v2 schema (owasp-threat-dragon-v2.schema.json) requires.
#[test]
fn the_threat_dragon_export_has_every_required_field_and_every_threat() {
    let v = Vigil::new();
    let d = util::device("breast-cancer");
    let out = evidence_run(
        &v,
        "threats",
        &d.join("deploy.toml"),
        &["--threat-dragon", "td.json"],
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    let td: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("td.json")).unwrap()).unwrap();
    let has = |v: &serde_json::Value, keys: &[&str]| {
        for k in keys {
            assert!(v.get(k).is_some(), "missing {k} in {v}");
        }
    };
    has(&td, &["version", "summary", "detail"]);
    has(&td["summary"], &["title"]);
    has(
        &td["detail"],
        &[
            "contributors",
            "diagrams",
            "diagramTop",
            "reviewer",
            "threatTop",
        ],
    );
    let diagram = &td["detail"]["diagrams"][0];
    has(
        diagram,
        &["diagramType", "id", "thumbnail", "title", "version"],
    );
    let cells = diagram["cells"].as_array().unwrap();
    let ids: Vec<&str> = cells.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let mut threats = Vec::new();
    for c in cells {
        has(c, &["id", "shape", "zIndex", "data"]);
        has(&c["data"], &["hasOpenThreats", "name", "type"]);
        if let Some(body) = c["attrs"].get("body") {
            has(body, &["stroke", "strokeWidth", "strokeDasharray"]);
        }
        if c["shape"] == "flow" {
            has(&c["attrs"]["line"], &["targetMarker"]);
            assert!(ids.contains(&c["source"]["cell"].as_str().unwrap()));
            assert!(ids.contains(&c["target"]["cell"].as_str().unwrap()));
        }
        for t in c["data"]["threats"].as_array().unwrap() {
            has(
                t,
                &[
                    "description",
                    "mitigation",
                    "severity",
                    "status",
                    "title",
                    "type",
                ],
            );
            threats.push(t["title"].as_str().unwrap()[..3].to_string());
            if t["status"] == "Open" {
                assert_eq!(c["data"]["hasOpenThreats"], true);
            }
        }
    }
    threats.sort();
    let want: Vec<String> = (1..=20).map(|i| format!("T{i:02}")).collect();
    assert_eq!(threats, want, "every row attached once");
    assert_eq!(td["detail"]["threatTop"], 20);
}

#[test]
fn vigil_evidence_pack_writes_every_file_and_exits_as_threats_does() {
    let v = Vigil::new();
    let d = util::device("breast-cancer");
    let out = evidence_run(&v, "pack", &d.join("deploy.toml"), &["--out", "pack"]);
    assert_eq!(
        code(&out),
        1,
        "rows are missing on the example: {}",
        show(&out)
    );
    for f in [
        "index.html",
        "README.md",
        "evidence.json",
        "threat-dragon.json",
        "sbom.cdx.json",
        "aibom.cdx.json",
    ] {
        assert!(v.path("pack").join(f).is_file(), "{f}");
    }
    let html = std::fs::read_to_string(v.path("pack/index.html")).unwrap();
    // Nothing to load: no script, no source or link to anything outside the page.
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href=\"http"));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("pack/evidence.json")).unwrap()).unwrap();
    assert_eq!(j["threat_model"]["threats"].as_array().unwrap().len(), 20);
}

#[test]
fn the_pack_reports_test_records_refusals_and_their_failures() {
    let v = Vigil::new();
    let records = v.path("records");
    std::fs::create_dir(&records).unwrap();
    let record = |kind: &str, name: &str, failures: u64| {
        format!(
            r#"{{"format":"vigil-test-record/v1","kind":"{kind}","name":"{name}","tool":"t","runs":1000,"failures":{failures},"seconds":10,"finished":"2026-12-05T09:00:00Z","detail":""}}"#
        )
    };
    std::fs::write(
        records.join("fuzz-a.json"),
        record("fuzz", "bundle_manifest", 0),
    )
    .unwrap();
    std::fs::write(
        records.join("crash.json"),
        record("crash_trials", "update-crash", 0),
    )
    .unwrap();
    std::fs::write(
        v.path("metrics.txt"),
        "vigil_refusals_total{reason=\"tls_handshake\"} 4\n",
    )
    .unwrap();
    let text = example_deploy_absolute().replace(
        "data_key =",
        "test_records = [\"records\"]\nmetrics = \"metrics.txt\"\ndata_key =",
    );
    std::fs::write(v.path("deploy.toml"), text).unwrap();
    let pack = |out: &str| evidence_run(&v, "pack", &v.path("deploy.toml"), &["--out", out]);
    let out = pack("pack");
    assert_eq!(code(&out), 1, "{}", show(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("pack/evidence.json")).unwrap()).unwrap();
    let check = |j: &serde_json::Value, id: &str, name: &str| {
        j["threat_model"]["threats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check(&j, "T05", "fuzzing")["ok"], true, "{j}");
    assert_eq!(check(&j, "T19", "crash_trials")["ok"], true);
    assert_eq!(j["facts"]["tests"].as_array().unwrap().len(), 2);
    assert_eq!(j["facts"]["metrics_refusals"][0][1], 4);
    let html = std::fs::read_to_string(v.path("pack/index.html")).unwrap();
    assert!(html.contains("bundle_manifest") && html.contains("update-crash"));
    assert!(html.contains("tls_handshake"));

    // A crash found, and a record that is not one: both fail the check and are named.
    std::fs::write(
        records.join("fuzz-b.json"),
        record("fuzz", "update_archive", 1),
    )
    .unwrap();
    std::fs::write(records.join("junk.json"), "{}").unwrap();
    let out = pack("pack2");
    assert_eq!(code(&out), 1, "{}", show(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("pack2/evidence.json")).unwrap()).unwrap();
    let c = check(&j, "T05", "fuzzing");
    assert_eq!(c["ok"], false);
    let evidence = c["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("update_archive") && evidence.contains("junk.json"),
        "{evidence}"
    );
}

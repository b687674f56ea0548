//! Tests of `vigil data`: the CLI contract of issue 16 (flags, `--json` schemas, exit codes,
//! error messages).

#![allow(clippy::unwrap_used, clippy::panic)]

mod util;

use serde::Deserialize;
use util::{code, show, Vigil};

/// `vigil data verify --json`; unknown fields fail the parse so schema drift is caught.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Verify {
    verified: bool,
    changed: Vec<serde_json::Value>,
    added: Vec<serde_json::Value>,
    removed: Vec<serde_json::Value>,
    samples: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Diff {
    added: Vec<serde_json::Value>,
    removed: Vec<serde_json::Value>,
    changed: Vec<serde_json::Value>,
    labels: serde_json::Map<String, serde_json::Value>,
    subgroups: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Screen {
    label_issues: Vec<Issue>,
    outliers: Vec<serde_json::Value>,
    backdoor_suspects: Vec<serde_json::Value>,
    summary: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Issue {
    row: usize,
    given: String,
    suggested: String,
    score: f64,
}

fn keys(v: &Vigil) {
    let out = v.run(&["key", "generate", "--out", "k"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
}

fn write(v: &Vigil, name: &str, text: &str) {
    std::fs::write(v.path(name), text).unwrap();
}

const DATA: &str = "id,age,sex,label\np1,61,F,M\np2,47,M,B\np3,52,F,B\np4,70,M,M\n";

#[test]
fn manifest_verify_and_diff() {
    let v = Vigil::new();
    keys(&v);
    write(&v, "d.csv", DATA);
    let out = v.run(&[
        "data",
        "manifest",
        "--key",
        "k.pem",
        "--out",
        "m1.json",
        "--label",
        "label",
        "--subgroup",
        "sex",
        "--name",
        "train",
        "--version",
        "1",
        "--source",
        "site A",
        "d.csv",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(v.path("m1.samples").is_file());
    // Digests and counts only: no cell value in the signed statement.
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("m1.json")).unwrap()).unwrap();
    let payload = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        bundle["dsseEnvelope"]["payload"].as_str().unwrap(),
    )
    .unwrap();
    let text = String::from_utf8(payload).unwrap();
    assert!(text.contains("dataset-manifest/v1") && text.contains("\"site A\""));
    // (ids p1..p4 would show; hex digests hold no "p")
    assert!(!text.contains("p1") && !text.contains("p2"), "{text}");

    let out = v.run(&[
        "data",
        "verify",
        "--key",
        "k.pub.pem",
        "--manifest",
        "m1.json",
        "d.csv",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: Verify = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r.verified && r.changed.is_empty() && r.samples == 4);

    // One row changed (row 1), one added at the end: named by row number.
    write(
        &v,
        "d.csv",
        &DATA
            .replace("p2,47,M,B", "p2,47,M,M")
            .replace("p4,70,M,M\n", "p4,70,M,M\np5,33,F,B\n"),
    );
    let out = v.run(&[
        "data",
        "verify",
        "--key",
        "k.pub.pem",
        "--manifest",
        "m1.json",
        "d.csv",
        "--json",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let r: Verify = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!r.verified);
    assert_eq!(r.changed, [serde_json::json!(1)]);
    assert_eq!(r.added, [serde_json::json!(4)]);
    assert!(r.removed.is_empty());
    assert_eq!(r.samples, 5);
    let human = v.run(&[
        "data",
        "verify",
        "--key",
        "k.pub.pem",
        "--manifest",
        "m1.json",
        "d.csv",
    ]);
    assert_eq!(code(&human), 1);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("changed (1): row 1"),
        "{}",
        show(&human)
    );

    let out = v.run(&[
        "data",
        "manifest",
        "--key",
        "k.pem",
        "--out",
        "m2.json",
        "--label",
        "label",
        "--subgroup",
        "sex",
        "d.csv",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = v.run(&[
        "data",
        "diff",
        "m1.json",
        "m2.json",
        "--json",
        "--key",
        "k.pub.pem",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let d: Diff = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d.changed, [serde_json::json!(1)]);
    assert_eq!(d.added, [serde_json::json!(4)]);
    assert!(d.removed.is_empty());
    assert_eq!(
        d.labels["M"],
        serde_json::json!({"old": 2, "new": 3, "change": 1})
    );
    assert_eq!(
        d.subgroups["sex"]["F"]["count"],
        serde_json::json!({"old": 2, "new": 3, "change": 1})
    );
    let out = v.run(&["data", "diff", "m2.json", "m2.json", "--json"]);
    assert_eq!(code(&out), 0, "{}", show(&out));

    // With ids, samples are named by id.
    let out = v.run(&[
        "data", "manifest", "--key", "k.pem", "--out", "m3.json", "--id", "id", "d.csv",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    write(&v, "d.csv", DATA);
    let out = v.run(&[
        "data",
        "verify",
        "--key",
        "k.pub.pem",
        "--manifest",
        "m3.json",
        "d.csv",
        "--json",
    ]);
    let r: Verify = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r.changed, r.removed),
        (vec![serde_json::json!("p2")], vec![serde_json::json!("p5")])
    );
}

#[test]
fn errors_exit_2_naming_the_culprit() {
    let v = Vigil::new();
    keys(&v);
    write(&v, "d.csv", "a,b\n1,2\n3\n");
    let out = v.run(&[
        "data", "manifest", "--key", "k.pem", "--out", "m.json", "d.csv",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("d.csv: line 3: 1 fields, the header has 2"),
        "{}",
        show(&out)
    );
    write(&v, "d.csv", "a,b\n1,2\n");
    let out = v.run(&[
        "data", "manifest", "--key", "k.pem", "--out", "m.json", "d.csv",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    // Another key: the signature check fails, an error.
    let out = v.run(&["key", "generate", "--out", "other"]);
    assert_eq!(code(&out), 0);
    let out = v.run(&[
        "data",
        "verify",
        "--key",
        "other.pub.pem",
        "--manifest",
        "m.json",
        "d.csv",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("signature check failed"),
        "{}",
        show(&out)
    );
}

/// Clean Gaussian rows: the outlier cut flags about one in a thousand by chance, which is no
/// finding (exit 0, the outliers still listed); thirty planted far rows are (exit 1).
#[test]
fn outliers_count_as_a_finding_only_beyond_chance() {
    let v = Vigil::new();
    // A small deterministic generator (xorshift) and Box-Muller normals.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = move || {
        let (a, b) = (uniform(), uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    };
    let rows = 4000;
    let mut clean = String::from("a,b,c,label\n");
    let mut probs = String::from("0,1\n");
    for i in 0..rows {
        let y = i % 2;
        let shift = 10.0 * y as f64;
        clean.push_str(&format!(
            "{:.6},{:.6},{:.6},{y}\n",
            normal() + shift,
            normal(),
            normal()
        ));
        probs.push_str(if y == 0 { "0.99,0.01\n" } else { "0.01,0.99\n" });
    }
    let screen = |v: &Vigil, data: &str| {
        write(v, "d.csv", data);
        write(v, "p.csv", &probs);
        let out = v.run(&[
            "data",
            "screen",
            "--data",
            "d.csv",
            "--label",
            "label",
            "--pred-probs",
            "p.csv",
            "--json",
        ]);
        let s: Screen = serde_json::from_slice(&out.stdout).unwrap();
        (code(&out), s)
    };
    let (exit, s) = screen(&v, &clean);
    assert!(s.label_issues.is_empty(), "{:?}", s.label_issues);
    let by_chance = s.summary["outliers_by_chance"].as_u64().unwrap();
    assert_eq!(by_chance, 11, "the 0.999 Poisson quantile for a mean of 4");
    // One clean row passes the cut (row 3309): under the old rule, exit 1 on clean data.
    assert!(!s.outliers.is_empty());
    assert!(s.outliers.len() as u64 <= by_chance, "{:?}", s.outliers);
    assert_eq!(exit, 0, "{} outliers", s.outliers.len());

    let mut planted = clean.clone();
    let mut lines: Vec<&str> = clean.lines().collect();
    // Rows 0, 100, ... 2900 (class 0, as their probabilities say) moved far away.
    let far: Vec<String> = (0..30).map(|i| format!("{},9,-9,0", 40 + i)).collect();
    for (i, row) in far.iter().enumerate() {
        lines[1 + i * 100] = row;
    }
    planted.clear();
    planted.push_str(&lines.join("\n"));
    planted.push('\n');
    let (exit, s) = screen(&v, &planted);
    assert!(s.label_issues.is_empty(), "{:?}", s.label_issues);
    assert!(s.outliers.len() >= 30, "{:?}", s.outliers);
    assert_eq!(exit, 1);
}

#[test]
fn screen_finds_a_flipped_label_with_given_probabilities() {
    let v = Vigil::new();
    let mut data = String::from("x,site,label\n");
    let mut probs = String::from("malignant,benign\n");
    for i in 0..40 {
        let benign = i % 2 == 0;
        // Row 6 is labelled malignant but the model is sure it is benign.
        let label = if benign && i != 6 {
            "benign"
        } else {
            "malignant"
        };
        data.push_str(&format!("{i},{},{label}\n", if i < 20 { "A" } else { "B" }));
        let p = if benign {
            0.1 + (i as f64) * 0.001
        } else {
            0.9 - (i as f64) * 0.001
        };
        probs.push_str(&format!("{p},{}\n", 1.0 - p));
    }
    write(&v, "d.csv", &data);
    write(&v, "p.csv", &probs);
    let out = v.run(&[
        "data",
        "screen",
        "--data",
        "d.csv",
        "--label",
        "label",
        "--pred-probs",
        "p.csv",
        "--subgroup",
        "site",
        "--json",
        "--no-outliers",
        "--html",
        "r.html",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let s: Screen = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s.label_issues.len(), 1, "{:?}", s.label_issues);
    let li = &s.label_issues[0];
    assert_eq!(
        (li.row, li.given.as_str(), li.suggested.as_str()),
        (6, "malignant", "benign")
    );
    assert!((li.score - 0.106).abs() < 1e-9);
    assert!(s.outliers.is_empty() && s.backdoor_suspects.is_empty());
    assert_eq!(s.summary["subgroups"]["site"]["A"]["label_issues"], 1);
    let html = std::fs::read_to_string(v.path("r.html")).unwrap();
    assert!(
        html.contains("<svg")
            && html.contains("malignant -&gt; benign")
            && !html.contains("<script")
    );

    // Hostile inputs: a label with no probability column, a missing label, one class.
    write(&v, "d2.csv", &data.replacen("benign\n", "unknown\n", 1));
    let out = v.run(&[
        "data",
        "screen",
        "--data",
        "d2.csv",
        "--label",
        "label",
        "--pred-probs",
        "p.csv",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("row 0: label \"unknown\" has no probability column"),
        "{}",
        show(&out)
    );
    write(&v, "d3.csv", &data.replacen("benign\n", "NaN\n", 1));
    let out = v.run(&[
        "data",
        "screen",
        "--data",
        "d3.csv",
        "--label",
        "label",
        "--pred-probs",
        "p.csv",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("row 0: label \"NaN\""),
        "{}",
        show(&out)
    );
    write(&v, "d4.csv", "x,label\n1,a\n2,a\n");
    let out = v.run(&["data", "screen", "--data", "d4.csv", "--label", "label"]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("one class"),
        "{}",
        show(&out)
    );
}

#[test]
fn screen_cross_validates_when_no_probabilities_are_given() {
    let v = Vigil::new();
    let mut data = String::from("f0,f1,label\n");
    let mut s = 12345u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    for i in 0..200 {
        let c = i % 2;
        let label = if i == 10 { 1 } else { c };
        let off = if c == 0 { -3.0 } else { 3.0 };
        data.push_str(&format!("{},{},{label}\n", off + next(), off + next()));
    }
    write(&v, "d.csv", &data);
    let out = v.run(&[
        "data", "screen", "--data", "d.csv", "--label", "label", "--json",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let s: Screen = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<usize> = s.label_issues.iter().map(|l| l.row).collect();
    assert_eq!(rows, [10], "{}", show(&out));
    assert_eq!(
        s.summary["probabilities"],
        "logistic regression, 5-fold cross-validation"
    );
}

#[test]
fn example_devices_ship_manifests_of_their_data() {
    let v = Vigil::new();
    for device in ["breast-cancer", "ecg-beats"] {
        let root = util::device(device);
        for split in ["training", "calibration", "validation"] {
            let manifest = root.join(format!("data/manifests/{split}.manifest.json"));
            let data = root.join(format!("data/{split}.csv"));
            let key = root.join("demo-keys/signing-key.pub.pem");
            let out = v.run(&[
                "data",
                "verify",
                "--key",
                key.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
                data.to_str().unwrap(),
                "--json",
            ]);
            assert_eq!(code(&out), 0, "{device} {split}: {}", show(&out));
        }
    }
}

#[test]
fn backdoor_screen_reads_the_models_hidden_output() {
    let v = Vigil::new();
    let dev = util::device("breast-cancer");
    let data = dev.join("data/training.csv");
    let model = dev.join("bundle/model.onnx");
    let out = v.run(&[
        "data",
        "screen",
        "--data",
        data.to_str().unwrap(),
        "--label",
        "label",
        "--no-outliers",
        "--model",
        model.to_str().unwrap(),
        "--representation",
        "hidden",
        "--poison-fraction",
        "0.05",
        "--json",
        "--html",
        "r.html",
    ]);
    assert!(matches!(code(&out), 0 | 1), "{}", show(&out));
    let s: Screen = serde_json::from_slice(&out.stdout).unwrap();
    // 1.5 x 0.05 x n per class, most suspicious first, rows within the data.
    let rows = s.summary["rows"].as_u64().unwrap() as usize;
    assert!(!s.backdoor_suspects.is_empty());
    let scores: Vec<f64> = s
        .backdoor_suspects
        .iter()
        .map(|b| b["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    assert!(s
        .backdoor_suspects
        .iter()
        .all(|b| (b["row"].as_u64().unwrap() as usize) < rows));
    assert!(std::fs::read_to_string(v.path("r.html"))
        .unwrap()
        .contains("spectral"));

    let out = v.run(&[
        "data",
        "screen",
        "--data",
        data.to_str().unwrap(),
        "--label",
        "label",
        "--model",
        model.to_str().unwrap(),
        "--representation",
        "no_such_output",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("model.onnx"),
        "{}",
        show(&out)
    );
}

/// Regression (2026-12-05, interop seed 1563402673): with probability columns in another order
/// than the sorted class names, an exact tie in the calibrated confident joint was broken by
/// column order, not by class index as cleanlab does, and one extra row (412) was flagged. The
/// fixture's header is permuted; the issues must be cleanlab 2.9's, in its order.
#[test]
fn regression_tie_in_the_confident_joint_breaks_by_class_index_as_cleanlab() {
    let v = util::Vigil::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigil-data/tests/data/tie");
    let out = v.run(&[
        "data",
        "screen",
        "--json",
        "--no-outliers",
        "--data",
        dir.join("data.csv").to_str().unwrap(),
        "--label",
        "label",
        "--pred-probs",
        dir.join("probs.csv").to_str().unwrap(),
    ]);
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<u64> = got["label_issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["row"].as_u64().unwrap())
        .collect();
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cleanlab.json")).unwrap()).unwrap();
    let want: Vec<u64> = want["label_issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    assert_eq!(rows, want);
}

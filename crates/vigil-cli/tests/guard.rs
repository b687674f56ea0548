//! Tests of `vigil guard`: the batch `run` contract, calibrate and evaluate.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use std::collections::BTreeMap;
use std::process::Output;

use serde::Deserialize;
use util::{code, device, features_only, show, training_drift_reference, Vigil};

/// One line of `vigil guard run --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    row: usize,
    verdict: String,
    reason: Option<String>,
    label: Option<String>,
    scores: BTreeMap<String, f64>,
    alarms: Vec<String>,
}

/// `vigil guard run --json` of the breast-cancer bundle over `csv`, with further `args`.
fn run_guard(v: &Vigil, csv: &str, args: &[&str]) -> (Output, Vec<Row>) {
    std::fs::write(v.path("rows.csv"), csv).unwrap();
    let bundle = device("breast-cancer").join("bundle");
    let mut all = vec![
        "guard",
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        "--input",
        "rows.csv",
        "--json",
    ];
    all.extend_from_slice(args);
    let out = v.run(&all);
    let rows = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (out, rows)
}

/// One client's stream, verified with the ML lead's key.
fn run_rows(v: &Vigil, csv: &str) -> (Output, Vec<Row>) {
    let key = device("breast-cancer").join("demo-keys/signing-key.pub.pem");
    run_guard(
        v,
        csv,
        &["--key", key.to_str().unwrap(), "--client", "test"],
    )
}

fn validation() -> String {
    std::fs::read_to_string(device("breast-cancer").join("data/validation.csv")).unwrap()
}

#[test]
fn run_prints_one_line_per_row_in_order() {
    let v = Vigil::new();
    let text = validation();
    let (out, rows) = run_rows(&v, &text);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(rows.len(), text.lines().count() - 1);
    let mut accepted = 0;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.row, i);
        match r.verdict.as_str() {
            "accept" => {
                accepted += 1;
                assert!(r.reason.is_none());
                assert!(["malignant", "benign"].contains(&r.label.as_deref().unwrap()));
                assert!(r.scores.contains_key("ood_input"), "{r:?}");
            }
            "abstain" => {
                assert!(r.label.is_none());
                assert!(r.reason.is_some());
            }
            other => panic!("verdict {other}"),
        }
        assert!(r.alarms.is_empty(), "benign rows raise no alarm: {r:?}");
    }
    assert!(accepted as f64 >= 0.9 * rows.len() as f64);
}

#[test]
fn hostile_rows_abstain_with_a_reason_and_extra_columns_are_ignored() {
    let v = Vigil::new();
    let text = validation();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let good = lines.next().unwrap();
    let cells: Vec<&str> = good.split(',').collect();
    let with = |i: usize, s: &str| {
        let mut c = cells.clone();
        c[i] = s;
        c.join(",")
    };
    let csv = [
        format!("{header},extra"),
        format!("{good},zzz"),
        format!("{},1", with(0, "NaN")),
        format!("{},1", with(1, "inf")),
        format!("{},1", with(2, "1e9")),
        format!("{},1", with(3, "")),
        format!("{},1", with(4, "abc")),
        format!("{},1", with(2, "")),
    ]
    .join("\n");
    let (out, rows) = run_rows(&v, &csv);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let reasons: Vec<Option<&str>> = rows.iter().map(|r| r.reason.as_deref()).collect();
    assert_eq!(
        &reasons[1..],
        [
            Some("not_finite:mean radius"),
            Some("not_finite:mean texture"),
            Some("out_of_range:mean perimeter"),
            Some("malformed:mean area"),
            Some("malformed:mean smoothness"),
            Some("malformed:mean perimeter"),
        ]
    );
}

#[test]
fn a_missing_column_is_an_error_before_any_row() {
    let v = Vigil::new();
    let text = validation().replacen("mean radius", "radius", 1);
    let (out, rows) = run_rows(&v, &text);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(rows.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing column \"mean radius\""), "{err}");
}

#[test]
fn malformed_csv_and_bad_keys_are_errors() {
    let v = Vigil::new();
    let (out, _) = run_rows(&v, "\"unclosed,quote\n1");
    assert_eq!(code(&out), 2, "{}", show(&out));
    let (out, _) = run_rows(&v, "");
    assert_eq!(code(&out), 2, "{}", show(&out));
    // The QA key did not sign model.sig.
    let qa = device("breast-cancer").join("demo-keys/qa-key.pub.pem");
    let (out, _) = run_guard(&v, &validation(), &["--key", qa.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_extraction_stream_raises_an_alarm() {
    // Small steps from a few earlier queries (Jacobian-style augmentation without gradients).
    let v = Vigil::new();
    let text = validation();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let seeds: Vec<Vec<f64>> = lines
        .take(5)
        .map(|l| l.split(',').take(30).map(|c| c.parse().unwrap()).collect())
        .collect();
    let mut pool = seeds.clone();
    let mut state = 12345u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    while pool.len() < 600 {
        let base = pool[(next() % pool.len() as u64) as usize].clone();
        let step: Vec<f64> = base
            .iter()
            .map(|x| x * (1.0 + if next() % 2 == 0 { 0.03 } else { -0.03 }))
            .collect();
        pool.push(step);
    }
    let mut csv = header;
    for r in &pool {
        csv.push('\n');
        csv.push_str(
            &r.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push_str(",0");
    }
    let (out, rows) = run_rows(&v, &csv);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let first = rows
        .iter()
        .position(|r| r.alarms.iter().any(|a| a == "extraction"));
    assert!(first.is_some_and(|i| i < 600), "no extraction alarm");
}

#[test]
fn calibrate_writes_the_reference_and_evaluate_reports() {
    let v = Vigil::new();
    let src = device("breast-cancer");
    let dir = v.path("bundle");
    std::fs::create_dir_all(dir.join("reference")).unwrap();
    for f in ["model.onnx", "vigil.toml"] {
        std::fs::copy(src.join("bundle").join(f), dir.join(f)).unwrap();
    }
    let clean = src.join("data/calibration.csv");
    let train = src.join("data/training.csv");
    let out = v.run(&[
        "guard",
        "calibrate",
        "--bundle",
        "bundle",
        "--clean",
        clean.to_str().unwrap(),
        "--reference",
        train.to_str().unwrap(),
        "--fpr",
        "0.05",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sign it again"));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["rows"], 114);
    let cv = j["cv_false_positive_rate"].as_f64().unwrap();
    assert!(cv <= 0.05);
    // Every detector reports the clean rows over its threshold; the union is the CV rate, so
    // it is at most their sum and at least their largest.
    let flagged = j["flagged"].as_object().unwrap();
    let keys =
        |o: &serde_json::Map<String, serde_json::Value>| o.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(flagged), keys(j["thresholds"].as_object().unwrap()));
    let counts: Vec<u64> = flagged.values().map(|v| v.as_u64().unwrap()).collect();
    let union = (cv * 114.0).round() as u64;
    assert!(union <= counts.iter().sum::<u64>(), "{counts:?} vs {union}");
    assert!(
        union >= counts.iter().copied().max().unwrap(),
        "{counts:?} vs {union}"
    );
    // The same thresholds as the shipped, signed reference (calibration is deterministic).
    let shipped = std::fs::read(src.join("bundle/reference/guard.json")).unwrap();
    assert_eq!(
        std::fs::read(dir.join("reference/guard.json")).unwrap(),
        shipped
    );

    let val = src.join("data/validation.csv");
    let out = v.run(&[
        "guard",
        "evaluate",
        "--bundle",
        "bundle",
        "--clean",
        val.to_str().unwrap(),
        "--attack",
        val.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verified"], false);
    assert_eq!(j["false_positive_rate"], j["detection_rate"]);
    assert!(j["false_positive_rate"].as_f64().unwrap() <= 0.06);
}

fn run_with_drift(v: &Vigil, csv: &str, reference: &str) -> (Output, Vec<Row>) {
    let policy = device("breast-cancer").join("policy.toml");
    run_guard(
        v,
        csv,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--drift-reference",
            reference,
            "--drift-window",
            "60",
            "--drift-check-every",
            "10",
            "--audit",
            "audit.jsonl",
        ],
    )
}

#[test]
fn drift_alarms_appear_in_the_rows_and_the_audit() {
    let v = Vigil::new();
    // Reference statistics from the training rows' feature columns.
    let reference = training_drift_reference(&v);
    let reference = reference.to_str().unwrap();

    // Benign: held-out rows in their shuffled order; no drift alarm.
    let (header, val, _) = features_only("validation");
    let (_, cal, _) = features_only("calibration");
    let benign = format!("{header}\n{}\n{}\n", val.join("\n"), cal.join("\n"));
    let (out, rows) = run_with_drift(&v, &benign, reference);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(rows.len(), val.len() + cal.len());
    assert!(
        rows.iter().all(|r| !r.alarms.iter().any(|a| a == "drift")),
        "a drift alarm on held-out rows"
    );

    // Drifted: only malignant cases (a shift of case mix, every row still valid).
    let mut malignant = Vec::new();
    for split in ["validation", "calibration", "training"] {
        let (_, rows, labels) = features_only(split);
        malignant.extend(
            rows.into_iter()
                .zip(labels)
                .filter(|(_, l)| *l == 0)
                .map(|(r, _)| r),
        );
    }
    std::fs::remove_file(v.path("audit.jsonl")).unwrap();
    let drifted = format!("{header}\n{}\n", malignant.join("\n"));
    let (out, rows) = run_with_drift(&v, &drifted, reference);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let first = rows
        .iter()
        .position(|r| r.alarms.iter().any(|a| a == "drift"));
    let first = first.unwrap_or_else(|| panic!("no drift alarm in {} malignant rows", rows.len()));
    // Not before the window (60 accepted rows) is full.
    assert!(first >= 59, "drift alarm at row {first}");
    let audit = std::fs::read_to_string(v.path("audit.jsonl")).unwrap();
    assert!(audit.contains("\"drift.alarm\""), "no drift.alarm event");
    // The fixed keys of the row contract are unchanged (deny_unknown_fields above).
    assert!(rows
        .iter()
        .all(|r| r.verdict == "accept" || r.reason.is_some()));
}

#[test]
fn a_drift_reference_the_guard_cannot_feed_is_an_error_before_any_row() {
    let v = Vigil::new();
    // Built with the label column: a stream that is not a contract feature.
    let d = device("breast-cancer");
    std::fs::create_dir_all(v.path("ref")).unwrap();
    let out = v.run(&[
        "drift",
        "reference",
        "--data",
        d.join("data/training.csv").to_str().unwrap(),
        "--out",
        "ref",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let reference = v.path("ref/drift.json");
    let (out, rows) = run_with_drift(&v, &validation(), reference.to_str().unwrap());
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(rows.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("label") && err.contains("not a feature"),
        "{err}"
    );

    // A file that is not a drift reference.
    std::fs::write(v.path("bad.json"), "{\"format\":9,\"streams\":[]}").unwrap();
    let (out, _) = run_with_drift(&v, &validation(), v.path("bad.json").to_str().unwrap());
    assert_eq!(code(&out), 2, "{}", show(&out));
}

// Issue 20 item 9: `vigil guard run` reads CSV as the docs say (one reader with drift): bad
// quoting and ragged rows are errors naming the line (exit 2, no row answered), never an
// abstention or values shifted into the wrong features.

#[test]
fn issue20_9_unterminated_or_stray_quote_is_an_error_naming_the_line() {
    let v = Vigil::new();
    let text = validation();
    let mut lines: Vec<&str> = text.lines().take(4).collect();
    let good = lines[2].to_string();
    // An unterminated quote in the third data row (line 4).
    let open = format!("\"{good}");
    lines[3] = &open;
    let (out, rows) = run_rows(&v, &lines.join("\n"));
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(rows.is_empty(), "no row is answered");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rows.csv: line 4: unterminated quoted field"),
        "{err}"
    );
    // A stray quote inside a cell of the second data row (line 3).
    let mut lines: Vec<&str> = text.lines().take(4).collect();
    let cells: Vec<&str> = good.split(',').collect();
    let mut c: Vec<String> = cells.iter().map(|s| s.to_string()).collect();
    c[1] = format!("{}\"", c[1]);
    let stray_row = c.join(",");
    lines[2] = &stray_row;
    let (out, rows) = run_rows(&v, &lines.join("\n"));
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(rows.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rows.csv: line 3: quote inside an unquoted field"),
        "{err}"
    );
}

#[test]
fn issue20_9_ragged_rows_are_errors_naming_the_line() {
    let v = Vigil::new();
    let text = validation();
    let lines: Vec<&str> = text.lines().take(4).collect();
    let width = lines[0].split(',').count();
    for (row, want) in [
        ("1,2".to_string(), 2),
        (format!("{},7", lines[1]), width + 1),
    ] {
        let mut l = lines.clone();
        l[2] = &row;
        let (out, rows) = run_rows(&v, &l.join("\n"));
        assert_eq!(code(&out), 2, "{}", show(&out));
        assert!(rows.is_empty(), "no row is answered");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "rows.csv: line 3: {want} fields, the header has {width}"
            )),
            "{err}"
        );
    }
}

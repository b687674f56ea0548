//! Tests of `vigil drift test`: the CLI contract of issue 6 (flags, `--json` schema, exit codes,
//! error messages, the HTML report).

#![allow(clippy::unwrap_used, clippy::panic)]

mod util;

use serde::Deserialize;
use util::{code, show, Vigil};

/// The `--json` document; unknown fields fail the parse so that schema drift is caught.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    results: Vec<Entry>,
    drift: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    feature: String,
    test: String,
    statistic: serde_json::Value,
    p_value: f64,
    #[serde(default)]
    p_adjusted: Option<f64>,
    drift: bool,
}

/// Deterministic pseudo-random numbers (a small LCG) for test data.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn write_csv(v: &Vigil, name: &str, rows: usize, shift: f64, p_b: f64, seed: u64) {
    let mut rng = Lcg(seed);
    let mut s = String::from("age,score,sex\n");
    for _ in 0..rows {
        let sex = if rng.uniform() < p_b { "F" } else { "M" };
        s.push_str(&format!(
            "{:.4},{:.4},{sex}\n",
            50.0 + 10.0 * rng.normal() + shift,
            rng.normal()
        ));
    }
    std::fs::write(v.path(name), s).unwrap();
}

fn run_json(v: &Vigil, extra: &[&str]) -> (i32, Report) {
    let mut args = vec![
        "drift",
        "test",
        "--reference",
        "ref.csv",
        "--current",
        "cur.csv",
        "--categorical",
        "sex",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = v.run(&args);
    let report: Report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", show(&out)));
    (code(&out), report)
}

#[test]
fn same_distribution_exits_zero_with_every_applicable_test() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 200, 0.0, 0.5, 1);
    write_csv(&v, "cur.csv", 150, 0.0, 0.5, 2);
    let (code, r) = run_json(&v, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert!(!r.drift);
    let tests: Vec<(String, String)> = r
        .results
        .iter()
        .map(|e| (e.feature.clone(), e.test.clone()))
        .collect();
    let want = [
        ("age", "ks"),
        ("age", "cvm"),
        ("score", "ks"),
        ("score", "cvm"),
        ("sex", "chi2"),
        ("sex", "fisher"),
        ("*", "mmd"),
    ];
    assert_eq!(
        tests,
        want.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    for e in &r.results {
        assert!((0.0..=1.0).contains(&e.p_value), "{e:?}");
        assert!(e.p_adjusted.is_none());
        assert!(!e.drift);
    }
}

#[test]
fn shifted_feature_exits_one_and_is_flagged() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 300, 0.0, 0.5, 3);
    write_csv(&v, "cur.csv", 300, 8.0, 0.5, 4);
    let (code, r) = run_json(&v, &["--test", "ks"]);
    assert_eq!(code, 1);
    assert!(r.drift);
    assert_eq!(r.results.len(), 2, "ks runs on numeric columns only");
    let age = &r.results[0];
    assert_eq!((age.feature.as_str(), age.test.as_str()), ("age", "ks"));
    assert!(age.drift && age.p_value < 1e-6, "{age:?}");
    assert!(!r.results[1].drift);
}

#[test]
fn correction_adds_p_adjusted_and_flags_by_it() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 300, 0.0, 0.5, 5);
    write_csv(&v, "cur.csv", 300, 8.0, 0.5, 6);
    for corr in ["bonferroni", "fdr"] {
        let (_, r) = run_json(&v, &["--correction", corr, "--test", "cvm"]);
        for e in &r.results {
            let adj = e.p_adjusted.expect("p_adjusted under a correction");
            assert!(adj >= e.p_value);
            assert_eq!(e.drift, adj < 0.05);
        }
    }
    let (_, r) = run_json(&v, &["--correction", "bonferroni", "--test", "ks"]);
    assert_eq!(
        r.results[1].p_adjusted,
        Some((r.results[1].p_value * 2.0).min(1.0))
    );
}

#[test]
fn infinite_odds_ratio_is_the_string_inf() {
    let v = Vigil::new();
    std::fs::write(v.path("ref.csv"), "sex\nA\nA\nA\nA\nA\nA\n").unwrap();
    std::fs::write(v.path("cur.csv"), "sex\nB\nB\nB\nB\nA\nB\n").unwrap();
    let (code, r) = run_json(&v, &["--test", "fisher"]);
    assert_eq!(code, 1, "{r:?}");
    assert_eq!(r.results[0].statistic, serde_json::json!("inf"));
    // scipy.stats.fisher_exact([[6, 0], [1, 5]]) = (inf, 0.015151515151515...)
    assert!((r.results[0].p_value - 0.015151515151515152).abs() < 1e-15);
}

#[test]
fn mmd_is_reproducible_with_a_seed() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 80, 0.0, 0.5, 7);
    write_csv(&v, "cur.csv", 80, 2.0, 0.5, 8);
    let args = ["--test", "mmd", "--permutations", "50", "--seed", "42"];
    let (_, a) = run_json(&v, &args);
    let (_, b) = run_json(&v, &args);
    assert_eq!(a.results[0].feature, "*");
    assert_eq!(a.results[0].p_value, b.results[0].p_value);
    assert_eq!(a.results[0].statistic, b.results[0].statistic);
}

#[test]
fn bad_cell_names_row_and_column_and_exits_two() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 20, 0.0, 0.5, 9);
    std::fs::write(v.path("cur.csv"), "age,score,sex\n1,2,M\n3,abc,F\n").unwrap();
    let out = v.run(&[
        "drift",
        "test",
        "--reference",
        "ref.csv",
        "--current",
        "cur.csv",
        "--categorical",
        "sex",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 2") && err.contains("\"score\"") && err.contains("abc"),
        "{err}"
    );
}

#[test]
fn input_errors_exit_two() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 20, 0.0, 0.5, 10);
    let cases: [(&str, &[&str], &str); 4] = [
        ("age,score,sex\n1,2\n", &[], "line 2"),
        ("age,score\n1,2\n", &[], "sex"),
        ("age,score,sex\n1,inf,M\n", &[], "finite"),
        ("age,score,sex\n1,2,M\n", &["--alpha", "1.5"], "alpha"),
    ];
    for (cur, extra, needle) in cases {
        std::fs::write(v.path("cur.csv"), cur).unwrap();
        let mut args = vec![
            "drift",
            "test",
            "--reference",
            "ref.csv",
            "--current",
            "cur.csv",
        ];
        if !extra.contains(&"--categorical") {
            args.extend(["--categorical", "sex"]);
        }
        args.extend_from_slice(extra);
        let out = v.run(&args);
        assert_eq!(code(&out), 2, "{cur:?} {extra:?}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("vigil: ") && err.contains(needle),
            "{needle}: {err}"
        );
    }
    std::fs::write(v.path("num.csv"), "x,y\n1,2\n3,4\n").unwrap();
    let out = v.run(&[
        "drift",
        "test",
        "--reference",
        "num.csv",
        "--current",
        "num.csv",
        "--test",
        "chi2",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column to which test chi2 applies"));
    let out = v.run(&[
        "drift",
        "test",
        "--reference",
        "ref.csv",
        "--current",
        "nope.csv",
    ]);
    assert_eq!(code(&out), 2);
    let out = v.run(&[
        "drift",
        "test",
        "--reference",
        "ref.csv",
        "--current",
        "ref.csv",
        "--test",
        "ttest",
    ]);
    assert_eq!(code(&out), 2);
}

#[test]
fn table_and_html_report() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 200, 0.0, 0.3, 11);
    write_csv(&v, "cur.csv", 200, 6.0, 0.8, 12);
    let out = v.run(&[
        "drift",
        "test",
        "--reference",
        "ref.csv",
        "--current",
        "cur.csv",
        "--categorical",
        "sex",
        "--html",
        "report.html",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("feature") && text.contains("DRIFT"), "{text}");
    let html = std::fs::read_to_string(v.path("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // One plot per drifted feature: age and sex drifted, score did not.
    assert_eq!(html.matches("<svg").count(), 2, "{html}");
    assert!(html.contains("aria-label=\"age\"") && html.contains("aria-label=\"sex\""));
    // Self-contained: nothing loaded from elsewhere.
    assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("<script"));
}

#[test]
fn reference_writes_monitor_statistics() {
    let v = Vigil::new();
    write_csv(&v, "train.csv", 300, 0.0, 0.5, 13);
    let out = v.run(&[
        "drift",
        "reference",
        "--data",
        "train.csv",
        "--out",
        "bundle/reference",
        "--categorical",
        "sex",
        "--confidence",
        "score",
        "--max-sample",
        "100",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["streams"][0]["name"], "age");
    assert_eq!(doc["streams"][1]["kind"], "confidence");
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.path("bundle/reference/drift.json")).unwrap())
            .unwrap();
    assert_eq!(stats["format"], 1);
    assert_eq!(stats["streams"][0]["sample"].as_array().unwrap().len(), 100);
    let out = v.run(&[
        "drift",
        "reference",
        "--data",
        "train.csv",
        "--out",
        "x",
        "--confidence",
        "sex",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
}

#[test]
fn subgroups_report_drift_and_performance_per_group() {
    let v = Vigil::new();
    let mut rng = Lcg(21);
    let mut rows = |shift_f: f64| {
        let mut s = String::from("age,sex,label,pred\n");
        for i in 0..400 {
            let sex = if i % 2 == 0 { "F" } else { "M" };
            let age = 50.0 + 10.0 * rng.normal() + if sex == "F" { shift_f } else { 0.0 };
            let label = if rng.uniform() < 0.5 { "1" } else { "0" };
            let wrong = rng.uniform()
                < if sex == "F" && shift_f > 0.0 {
                    0.4
                } else {
                    0.1
                };
            let pred = if wrong {
                if label == "1" {
                    "0"
                } else {
                    "1"
                }
            } else {
                label
            };
            s.push_str(&format!("{age:.3},{sex},{label},{pred}\n"));
        }
        s
    };
    std::fs::write(v.path("ref.csv"), rows(0.0)).unwrap();
    std::fs::write(v.path("cur.csv"), rows(8.0)).unwrap();
    let out = v.run(&[
        "drift",
        "subgroups",
        "--reference",
        "ref.csv",
        "--current",
        "cur.csv",
        "--by",
        "sex",
        "--label",
        "label",
        "--prediction",
        "pred",
        "--test",
        "ks",
        "--json",
    ]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = doc["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (groups[0]["group"].as_str(), groups[0]["drift"].as_bool()),
        (Some("F"), Some(true))
    );
    assert_eq!(
        (groups[1]["group"].as_str(), groups[1]["drift"].as_bool()),
        (Some("M"), Some(false))
    );
    assert_eq!(
        groups[0]["results"].as_array().unwrap().len(),
        1,
        "label and prediction are not tested"
    );
    let perf = doc["performance"].as_array().unwrap();
    let acc = |data: &str, g: &str| {
        perf.iter()
            .find(|p| p["data"] == data && p["group"] == g)
            .and_then(|p| p["accuracy"].as_f64())
            .unwrap()
    };
    assert!(acc("current", "F") < acc("current", "M") - 0.15);
    assert!((acc("reference", "F") - acc("reference", "M")).abs() < 0.1);
}

// Issue 20 item 12 (drift's parts): the size of an input is checked before it is read, the
// error names no "line 0", and no error prints its cause twice.

#[test]
fn issue20_12_oversize_input_is_refused_by_its_size_without_a_line() {
    let v = Vigil::new();
    write_csv(&v, "ref.csv", 20, 0.0, 0.5, 10);
    let big = std::fs::File::create(v.path("big.csv")).unwrap();
    big.set_len((1 << 30) + 1).unwrap(); // sparse: costs nothing unless read
    let t = std::time::Instant::now();
    let out = v.run(&[
        "drift",
        "test",
        "--reference",
        "ref.csv",
        "--current",
        "big.csv",
        "--categorical",
        "sex",
    ]);
    let took = t.elapsed();
    assert_eq!(code(&out), 2, "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("big.csv") && err.contains("larger than"),
        "{err}"
    );
    assert!(!err.contains("line 0"), "{err}");
    assert!(took.as_secs_f64() < 5.0, "read before refusing: {took:?}");
}

#[test]
fn issue20_12_drift_errors_print_their_cause_once() {
    let v = Vigil::new();
    std::fs::write(v.path("one.csv"), "x\n1\n").unwrap();
    let out = v.run(&[
        "drift",
        "test",
        "--reference",
        "one.csv",
        "--current",
        "one.csv",
        "--test",
        "cvm",
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("sample too small").count(), 1, "{err}");
    assert!(err.contains("feature \"x\""), "{err}");
}

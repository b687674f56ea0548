//! Tests of `vigil assess`: the `--json` contracts (parsed with `deny_unknown_fields`), the
//! emitted adversarial rows and scores (checked with the library), HTML reports and errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

use serde::Deserialize;
use util::{code, device, show, Vigil};
use vigil_assess::{roc_auc, Labelled, Target};
use vigil_bundle::{BundlePolicy, Trust};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Robustness {
    clean_accuracy: f64,
    rows: usize,
    attacks: Vec<AttackJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttackJson {
    attack: String,
    norm: String,
    budget: f64,
    accuracy_under_attack: f64,
    success_rate: f64,
    median_perturbation: Option<f64>,
    median_queries: Option<u64>,
    guard: GuardJson,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardJson {
    abstained: Option<f64>,
    success_rate_through_guard: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MembershipJson {
    members: usize,
    nonmembers: usize,
    policies: Vec<PolicyJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyJson {
    policy: String,
    attacks: Vec<MiaJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MiaJson {
    attack: String,
    auc: f64,
    tpr_at_1pct_fpr: f64,
}

fn bc(rel: &str) -> String {
    device("breast-cancer").join(rel).display().to_string()
}

fn trust_args() -> Vec<String> {
    vec![
        "--bundle".into(),
        bc("bundle"),
        "--key".into(),
        bc("demo-keys/signing-key.pub.pem"),
    ]
}

fn target() -> Target {
    let policy = BundlePolicy::load(&device("breast-cancer").join("policy.toml")).unwrap();
    Target::open(
        &device("breast-cancer").join("bundle"),
        &Trust::Policy(policy),
    )
    .unwrap()
}

fn assess(v: &Vigil, verb: &str, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = vec!["assess".into(), verb.into()];
    all.extend(trust_args());
    all.extend(args.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    v.run(&refs)
}

#[test]
fn robustness_json_contract_and_emitted_rows_are_real_adversarial_examples() {
    let v = Vigil::new();
    let data = bc("data/validation.csv");
    let out = assess(
        &v,
        "robustness",
        &[
            "--data",
            &data,
            "--rows",
            "15",
            "--attack",
            "hopskipjump",
            "--attack",
            "square",
            "--attack",
            "noise",
            "--budget",
            "0",
            "--budget",
            "2",
            "--budget",
            "1",
            "--max-queries",
            "300",
            "--seed",
            "3",
            "--json",
            "--emit-adversarial",
            "adv.csv",
            "--html",
            "report.html",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: Robustness = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r.rows, 15);
    assert_eq!(r.attacks.len(), 9);
    // Attacks in the order given, budgets in the order given.
    let order: Vec<(String, f64)> = r
        .attacks
        .iter()
        .map(|a| (a.attack.clone(), a.budget))
        .collect();
    assert_eq!(order[0], ("hopskipjump".to_string(), 0.0));
    assert_eq!(order[1], ("hopskipjump".to_string(), 2.0));
    assert_eq!(order[2], ("hopskipjump".to_string(), 1.0));
    assert_eq!(order[8], ("noise".to_string(), 1.0));
    for a in &r.attacks {
        assert_eq!(a.norm, "linf");
        if a.budget == 0.0 || a.success_rate == 0.0 {
            assert_eq!(a.success_rate, 0.0);
            assert!(a.guard.abstained.is_none() && a.guard.success_rate_through_guard.is_none());
            assert!(a.median_perturbation.is_none() && a.median_queries.is_none());
        } else {
            assert!(a.median_perturbation.unwrap() <= a.budget);
            assert!(a.median_queries.unwrap() <= 300);
            let through = a.guard.success_rate_through_guard.unwrap();
            assert!(through <= a.success_rate + 1e-12);
        }
        let expect = r.clean_accuracy * (1.0 - a.success_rate);
        assert!((a.accuracy_under_attack - expect).abs() < 1e-9, "{a:?}");
    }
    // The CSV: exactly the contract's columns, then label,row,attack,norm,budget.
    let t = target();
    let csv = std::fs::read_to_string(v.path("adv.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    let mut want: Vec<String> = t
        .contract()
        .features
        .iter()
        .map(|f| f.name.clone())
        .collect();
    want.extend(["label", "row", "attack", "norm", "budget"].map(String::from));
    assert_eq!(header, want.join(","));
    let rows = Labelled::read(v.path("adv.csv").as_path(), t.contract(), None).unwrap();
    let originals = Labelled::read(
        device("breast-cancer")
            .join("data/validation.csv")
            .as_path(),
        t.contract(),
        None,
    )
    .unwrap();
    let flipped: usize = r
        .attacks
        .iter()
        .map(|a| (a.success_rate * r.clean_accuracy * 15.0).round() as usize)
        .sum();
    assert_eq!(rows.len(), flipped);
    assert!(flipped > 0, "nothing flipped at 2 sd");
    for (line, (x, label)) in csv.lines().skip(1).zip(rows.rows.iter().zip(&rows.labels)) {
        let cells: Vec<&str> = line.rsplitn(5, ',').collect();
        let (budget, i): (f64, usize) = (cells[0].parse().unwrap(), cells[3].parse().unwrap());
        assert_eq!(*label, originals.labels[i]);
        assert!(t.contract().check_values(x).is_ok());
        let dist = x
            .iter()
            .zip(&originals.rows[i])
            .zip(t.scale())
            .map(|((a, b), s)| ((f64::from(*a) - f64::from(*b)) / s).abs())
            .fold(0.0, f64::max);
        assert!(dist <= budget, "row {i}: {dist} > {budget}");
        let p = t.probabilities(x).unwrap();
        assert_ne!(
            usize::from(p[1] > p[0]),
            *label,
            "row {i} does not flip: {p:?}"
        );
    }
    // The HTML report and the JSON beside it.
    let html = std::fs::read_to_string(v.path("report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("src="));
    let beside: Robustness =
        serde_json::from_str(&std::fs::read_to_string(v.path("report.json")).unwrap()).unwrap();
    assert_eq!(beside.attacks.len(), 9);
}

#[test]
fn robustness_is_reproducible_with_a_seed_and_adaptive_mode_keeps_the_contract() {
    let v = Vigil::new();
    let data = bc("data/validation.csv");
    let args = [
        "--data",
        &data,
        "--rows",
        "8",
        "--attack",
        "boundary",
        "--norm",
        "l2",
        "--budget",
        "3",
        "--max-queries",
        "200",
        "--seed",
        "9",
        "--json",
    ];
    let a = assess(&v, "robustness", &args);
    let b = assess(&v, "robustness", &args);
    assert_eq!(code(&a), 0, "{}", show(&a));
    assert_eq!(a.stdout, b.stdout);
    let mut adaptive = args.to_vec();
    adaptive.push("--adaptive");
    let c = assess(&v, "robustness", &adaptive);
    assert_eq!(code(&c), 0, "{}", show(&c));
    let r: Robustness = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(r.attacks[0].norm, "l2");
}

#[test]
fn robustness_errors_are_usage_errors_with_the_culprit_named() {
    let v = Vigil::new();
    let data = bc("data/validation.csv");
    // No trust given: a usage error.
    let out = v.run(&[
        "assess",
        "robustness",
        "--bundle",
        &bc("bundle"),
        "--data",
        &data,
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let out = assess(
        &v,
        "robustness",
        &["--data", &data, "--budget=-1", "--rows", "2"],
    );
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("budget: -1"),
        "{}",
        show(&out)
    );
    // A file without the label column.
    std::fs::write(v.path("nolabel.csv"), "a,b\n1,2\n").unwrap();
    let out = assess(&v, "robustness", &["--data", "nolabel.csv"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("vigil: nolabel.csv"),
        "{}",
        show(&out)
    );
    // A tampered bundle does not verify.
    let out = v.run(&[
        "assess",
        "robustness",
        "--bundle",
        &bc("bundle"),
        "--key",
        &device("ecg-beats")
            .join("demo-keys/signing-key.pub.pem")
            .display()
            .to_string(),
        "--data",
        &data,
    ]);
    assert_eq!(code(&out), 2, "{}", show(&out));
}

#[test]
fn membership_json_contract_and_scores_give_the_same_auc() {
    let v = Vigil::new();
    let out = assess(
        &v,
        "membership",
        &[
            "--members",
            &bc("data/training.csv"),
            "--nonmembers",
            &bc("data/validation.csv"),
            "--json",
            "--emit-scores",
            "scores.csv",
            "--html",
            "mia.html",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: MembershipJson = serde_json::from_slice(&out.stdout).unwrap();
    let policies: Vec<&str> = r.policies.iter().map(|p| p.policy.as_str()).collect();
    assert_eq!(policies, ["full", "rounded", "top1", "label"]);
    let scores = std::fs::read_to_string(v.path("scores.csv")).unwrap();
    let mut lines = scores.lines();
    assert_eq!(lines.next(), Some("row,member,policy,attack,score"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), (r.members + r.nonmembers) * 12);
    for p in &r.policies {
        let attacks: Vec<&str> = p.attacks.iter().map(|a| a.attack.as_str()).collect();
        assert_eq!(attacks, ["loss", "confidence", "calibrated"]);
        for a in &p.attacks {
            let sel: Vec<&Vec<&str>> = rows
                .iter()
                .filter(|r| r[2] == p.policy && r[3] == a.attack)
                .collect();
            let s: Vec<f64> = sel.iter().map(|r| r[4].parse().unwrap()).collect();
            let m: Vec<bool> = sel.iter().map(|r| r[1] == "1").collect();
            let auc = roc_auc(&s, &m).unwrap();
            assert!(
                (auc - a.auc).abs() <= 1e-12,
                "{} {}: {auc} vs {}",
                p.policy,
                a.attack,
                a.auc
            );
            assert!((0.0..=1.0).contains(&a.tpr_at_1pct_fpr));
        }
    }
    assert!(std::fs::read_to_string(v.path("mia.html"))
        .unwrap()
        .contains("ROC"));
}

#[test]
fn performance_per_subgroup() {
    let v = Vigil::new();
    let out = assess(
        &v,
        "performance",
        &[
            "--data",
            &bc("data/validation.csv"),
            "--subgroup",
            "label",
            "--bootstrap",
            "100",
            "--positive",
            "malignant",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["positive"], "malignant");
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0]["subgroup"], "all");
    let acc = &groups[0]["accuracy"];
    let (value, lo, hi) = (
        acc["value"].as_f64().unwrap(),
        acc["ci"][0].as_f64().unwrap(),
        acc["ci"][1].as_f64().unwrap(),
    );
    assert!(lo <= value && value <= hi);
    let out = assess(
        &v,
        "performance",
        &["--data", &bc("data/validation.csv"), "--positive", "cat"],
    );
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--positive \"cat\""),
        "{}",
        show(&out)
    );
}

#[test]
fn robustness_subgroups_only_when_asked() {
    let v = Vigil::new();
    let data = bc("data/validation.csv");
    let out = assess(
        &v,
        "robustness",
        &[
            "--data",
            &data,
            "--rows",
            "10",
            "--attack",
            "noise",
            "--budget",
            "1",
            "--max-queries",
            "50",
            "--subgroup",
            "label",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = r["subgroups"].as_array().unwrap();
    let rows: u64 = groups.iter().map(|g| g["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 10);
    assert_eq!(groups[0]["attacks"][0]["attack"], "noise");
}

#[test]
fn extraction_json_and_html() {
    let v = Vigil::new();
    let out = assess(
        &v,
        "extraction",
        &[
            "--data",
            &bc("data/training.csv"),
            "--queries",
            "150",
            "--strategy",
            "natural",
            "--json",
            "--html",
            "ex.html",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "agreement",
            "answered",
            "first_alarm",
            "heldout",
            "queries",
            "refused",
            "strategy"
        ]
    );
    assert_eq!(r["queries"], 150);
    assert_eq!(
        r["answered"].as_u64().unwrap() + r["refused"].as_u64().unwrap(),
        150
    );
    assert!(std::fs::read_to_string(v.path("ex.html"))
        .unwrap()
        .contains("surrogate agreement"));
    assert!(v.path("ex.json").exists());
}

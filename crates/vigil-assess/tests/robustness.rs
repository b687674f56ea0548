//! Properties of `robustness` on the breast-cancer example device: a budget of 0 never
//! succeeds, success grows with the budget, the same seed gives the same numbers whatever the
//! number of threads, and every reported adversarial row really is one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use vigil_assess::{robustness, Attack, Labelled, Norm, RobustnessOptions, Target};
use vigil_bundle::{BundlePolicy, Trust};

fn device() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer")
}

fn target() -> Target {
    let trust = Trust::Policy(BundlePolicy::load(&device().join("policy.toml")).unwrap());
    Target::open(&device().join("bundle"), &trust).unwrap()
}

fn rows(t: &Target, n: usize) -> Labelled {
    let mut d = Labelled::read(&device().join("data/validation.csv"), t.contract(), None).unwrap();
    d.truncate(n);
    d
}

fn options(attacks: &[Attack], norm: Norm, budgets: &[f64]) -> RobustnessOptions {
    RobustnessOptions {
        attacks: attacks.to_vec(),
        norm,
        budgets: budgets.to_vec(),
        max_queries: 250,
        seed: 11,
        ..RobustnessOptions::default()
    }
}

#[test]
fn budget_zero_never_succeeds_and_success_grows_with_budget() {
    let t = target();
    let d = rows(&t, 12);
    for norm in [Norm::Linf, Norm::L2] {
        let o = options(&Attack::ALL, norm, &[0.0, 0.5, 1.5, 4.0]);
        let r = robustness(&t, &d, &o, &|_| {}).unwrap();
        assert_eq!(r.report.attacks.len(), 16);
        for a in &r.report.attacks {
            if a.budget == 0.0 {
                assert_eq!(a.success_rate, 0.0, "{a:?}");
                assert_eq!(a.accuracy_under_attack, r.report.clean_accuracy, "{a:?}");
                assert_eq!(a.guard.abstained, None);
                assert_eq!(a.guard.success_rate_through_guard, None);
                assert_eq!(a.median_queries, None);
            }
        }
        for attack in Attack::ALL {
            let rates: Vec<f64> = r
                .report
                .attacks
                .iter()
                .filter(|a| a.attack == attack.name())
                .map(|a| a.success_rate)
                .collect();
            assert!(
                rates.windows(2).all(|w| w[0] <= w[1]),
                "{attack:?} {norm:?}: {rates:?}"
            );
        }
        // A decision-based attack with 250 queries flips some rows at 4 sd.
        let hsj = r
            .report
            .attacks
            .iter()
            .find(|a| a.attack == "hopskipjump" && a.budget == 4.0)
            .unwrap();
        assert!(hsj.success_rate > 0.0, "{hsj:?}");
        assert!(hsj.guard.abstained.is_some());
    }
}

#[test]
fn every_reported_adversarial_row_flips_the_model_inside_contract_and_budget() {
    let t = target();
    let d = rows(&t, 12);
    let o = options(&Attack::ALL, Norm::Linf, &[1.0, 3.0]);
    let r = robustness(&t, &d, &o, &|_| {}).unwrap();
    assert!(!r.adversarial.is_empty());
    let k = t.contract().labels.len();
    for a in &r.adversarial {
        assert!(t.contract().check_values(&a.values).is_ok(), "{a:?}");
        let x0 = &d.rows[a.row];
        let dist = a
            .values
            .iter()
            .zip(x0)
            .zip(t.scale())
            .map(|((v, o), s)| ((f64::from(*v) - f64::from(*o)) / s).abs())
            .fold(0.0, f64::max);
        assert!(dist <= a.budget, "{dist} > {}", a.budget);
        assert_eq!(a.label, d.labels[a.row]);
        let p = t.probabilities(&a.values).unwrap();
        assert_eq!(p.len(), k);
        let class = if p[1] > p[0] { 1 } else { 0 };
        assert_ne!(class, a.label, "{a:?} {p:?}");
    }
    // Counts agree with the report.
    for rep in &r.report.attacks {
        let n = r
            .adversarial
            .iter()
            .filter(|a| a.attack.name() == rep.attack && a.budget == rep.budget)
            .count();
        let correct = (r.report.clean_accuracy * r.report.rows as f64).round();
        assert!(
            (rep.success_rate * correct - n as f64).abs() < 1e-9,
            "{rep:?} {n}"
        );
    }
}

#[test]
fn same_seed_same_numbers_whatever_the_threads() {
    let t = target();
    let d = rows(&t, 8);
    let o = options(
        &[Attack::HopSkipJump, Attack::Square],
        Norm::L2,
        &[1.0, 2.0],
    );
    let a = robustness(&t, &d, &o, &|_| {}).unwrap();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let b = one.install(|| robustness(&t, &d, &o, &|_| {}).unwrap());
    assert_eq!(a, b);
    let other = RobustnessOptions { seed: 12, ..o };
    let c = robustness(&t, &d, &other, &|_| {}).unwrap();
    // Another seed draws other points (the rows found differ somewhere).
    assert_ne!(a.adversarial, c.adversarial);
}

#[test]
fn bad_budgets_are_refused_with_the_parameter_named() {
    let t = target();
    let d = rows(&t, 2);
    let o = options(&[Attack::Noise], Norm::Linf, &[-1.0]);
    let err = robustness(&t, &d, &o, &|_| {}).unwrap_err();
    assert!(err.to_string().starts_with("budget: -1"), "{err}");
}

#[test]
fn adaptive_successes_pass_the_guards_screening() {
    let t = target();
    let d = rows(&t, 30);
    let o = RobustnessOptions {
        adaptive: true,
        ..options(
            &[Attack::HopSkipJump, Attack::Square],
            Norm::Linf,
            &[1.0, 3.0],
        )
    };
    let r = robustness(&t, &d, &o, &|_| {}).unwrap();
    let bare = robustness(
        &t,
        &d,
        &RobustnessOptions {
            adaptive: false,
            ..o.clone()
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(r.report.clean_accuracy, bare.report.clean_accuracy);
    assert!(
        !r.adversarial.is_empty(),
        "the guarded device resists everything at 3 sd"
    );
    for a in &r.adversarial {
        let mut shape = [0usize; 2];
        let s = t.guard().screen(&t.guard().row(&a.values, &mut shape));
        assert_eq!(s.reason, None, "{a:?}");
        assert_ne!(s.class, Some(a.label));
    }
}

#[test]
fn subgroups_add_up_to_the_whole() {
    let t = target();
    let mut d = Labelled::read(
        &device().join("data/validation.csv"),
        t.contract(),
        Some("label"),
    )
    .unwrap();
    d.truncate(20);
    let o = options(&[Attack::Square], Norm::Linf, &[1.0]);
    let r = robustness(&t, &d, &o, &|_| {}).unwrap();
    let groups = r.report.subgroups.as_ref().unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| g.subgroup.as_str())
            .collect::<Vec<_>>(),
        ["0", "1"]
    );
    assert_eq!(groups.iter().map(|g| g.rows).sum::<usize>(), 20);
    let under: f64 = groups
        .iter()
        .map(|g| g.attacks[0].accuracy_under_attack * g.rows as f64)
        .sum();
    let whole = r.report.attacks[0].accuracy_under_attack * 20.0;
    assert!((under - whole).abs() < 1e-9, "{under} vs {whole}");
    // Without a subgroup column the JSON is exactly the contract.
    d.groups = None;
    let plain = robustness(&t, &d, &o, &|_| {}).unwrap();
    let json = serde_json::to_value(&plain.report).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attacks", "clean_accuracy", "rows"]);
}

//! Membership inference and subgroup performance on the breast-cancer example device.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use vigil_assess::{membership, performance, roc_auc, Labelled, Target};
use vigil_bundle::{BundlePolicy, Trust};

fn device() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer")
}

fn target() -> Target {
    let trust = Trust::Policy(BundlePolicy::load(&device().join("policy.toml")).unwrap());
    Target::open(&device().join("bundle"), &trust).unwrap()
}

fn accuracy(t: &Target, d: &Labelled) -> f64 {
    let flat: Vec<f32> = d.rows.iter().flatten().copied().collect();
    let p = t.probabilities(&flat).unwrap();
    let right = p
        .chunks(2)
        .zip(&d.labels)
        .filter(|(p, y)| usize::from(p[1] > p[0]) == **y)
        .count();
    right as f64 / d.len() as f64
}

#[test]
fn label_only_loss_auc_is_half_plus_half_the_accuracy_gap() {
    let t = target();
    let m = Labelled::read(&device().join("data/training.csv"), t.contract(), None).unwrap();
    let n = Labelled::read(&device().join("data/validation.csv"), t.contract(), None).unwrap();
    let r = membership(&t, &m, &n, 3).unwrap();
    assert_eq!(r.report.members, m.len());
    let names: Vec<&str> = r.report.policies.iter().map(|p| p.policy).collect();
    assert_eq!(names, ["full", "rounded", "top1", "label"]);
    let label = &r.report.policies[3];
    let loss = label.attacks.iter().find(|a| a.attack == "loss").unwrap();
    let expected = 0.5 + (accuracy(&t, &m) - accuracy(&t, &n)) / 2.0;
    assert!(
        (loss.auc - expected).abs() < 1e-12,
        "{} vs {expected}",
        loss.auc
    );
    // The label-free confidence attack learns nothing from a label.
    let conf = label
        .attacks
        .iter()
        .find(|a| a.attack == "confidence")
        .unwrap();
    assert_eq!(conf.auc, 0.5);
    // Every AUC is the one of the scores behind it.
    let member: Vec<bool> = (0..m.len() + n.len()).map(|i| i < m.len()).collect();
    for (set, a) in r
        .scores
        .iter()
        .zip(r.report.policies.iter().flat_map(|p| &p.attacks))
    {
        assert_eq!(set.attack, a.attack);
        assert_eq!(roc_auc(&set.scores, &member), Some(a.auc));
        assert!((0.0..=1.0).contains(&a.tpr_at_1pct_fpr));
    }
    // Reproducible with the seed.
    assert_eq!(membership(&t, &m, &n, 3).unwrap(), r);
}

#[test]
fn performance_per_subgroup_with_intervals_around_the_value() {
    let t = target();
    let d = Labelled::read(
        &device().join("data/validation.csv"),
        t.contract(),
        Some("label"),
    )
    .unwrap();
    let r = performance(&t, &d, 0, 200, 5).unwrap();
    assert_eq!(r.positive, "malignant");
    assert_eq!(r.groups[0].subgroup, "all");
    assert_eq!(r.groups.len(), 3);
    let all = &r.groups[0];
    let acc = all.accuracy.value.unwrap();
    assert!((acc - accuracy(&t, &d)).abs() < 1e-12);
    let [lo, hi] = all.accuracy.ci.unwrap();
    assert!(lo <= acc && acc <= hi && hi - lo > 0.0, "{lo} {acc} {hi}");
    // In the subgroup of benign rows (label 1) there are no positives: sensitivity is undefined.
    let benign = &r.groups[2];
    assert_eq!(benign.subgroup, "1");
    assert_eq!(benign.sensitivity.value, None);
    assert_eq!(benign.sensitivity.ci, None);
    assert!(benign.specificity.value.is_some());
    assert_eq!(performance(&t, &d, 0, 200, 5).unwrap(), r);
}

#[test]
fn extraction_counts_refusals_and_alarms_and_measures_agreement() {
    use vigil_assess::{extraction, Strategy};
    let t = target();
    let pool = Labelled::read(&device().join("data/training.csv"), t.contract(), None).unwrap();
    let held = Labelled::read(&device().join("data/validation.csv"), t.contract(), None).unwrap();
    // Uniform draws over the contract's ranges are far from any patient: all refused.
    let u = extraction(&t, &pool, &held, 300, Strategy::Uniform, 1).unwrap();
    assert_eq!((u.queries, u.answered, u.refused), (300, 0, 300));
    assert_eq!(u.agreement, None);
    assert!(u.first_alarm.is_some_and(|q| q <= 300), "{u:?}");
    // Natural rows get answers, and a surrogate trained on them agrees with the model.
    let n = extraction(&t, &pool, &held, 300, Strategy::Natural, 1).unwrap();
    assert_eq!(n.answered + n.refused, 300);
    assert!(n.answered > 100, "{n:?}");
    assert!(n.agreement.is_some_and(|a| a > 0.85), "{n:?}");
    assert_eq!(n.heldout, held.len());
    // JBDA stays within its query count and is reproducible.
    let j = extraction(&t, &pool, &held, 200, Strategy::Jbda, 1).unwrap();
    assert_eq!(j.queries, 200);
    assert_eq!(
        extraction(&t, &pool, &held, 200, Strategy::Jbda, 1).unwrap(),
        j
    );
}

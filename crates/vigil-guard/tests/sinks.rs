//! The ledger as the guard's audit sink: every answer is a durable ledger entry.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use vigil_bundle::{BundlePolicy, Trust};
use vigil_guard::{Guard, GuardOptions, LedgerAudit};
use vigil_ledger::Ledger;

#[test]
fn each_request_is_one_ledger_entry_without_raw_values() {
    let device = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer");
    let tmp = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let ledger = Ledger::create(
        &tmp.path().join("audit.db"),
        "device/guard",
        &key.verifying_key(),
        None,
    )
    .unwrap();
    let sink = Arc::new(LedgerAudit::new(ledger));
    let policy = BundlePolicy::load(&device.join("policy.toml")).unwrap();
    let guard = Guard::open(
        &device.join("bundle"),
        &Trust::Policy(policy),
        GuardOptions::new(sink.clone()),
    )
    .unwrap();
    let mut shape = [0usize; 2];
    let mut row = vec![0.5f32; 30];
    row[0] = f32::NAN;
    let d = guard.infer("c", &guard.row(&row, &mut shape));
    assert_eq!(d.reason().unwrap().code(), "not_finite");
    row[0] = 14.0;
    let _ = guard.infer("c", &guard.row(&row, &mut shape));
    assert_eq!(sink.ledger().size(), 2);
    let entry = String::from_utf8(sink.ledger().entry(0).unwrap()).unwrap();
    assert!(
        entry.contains("\"reason\":\"not_finite:mean radius\""),
        "{entry}"
    );
    assert!(entry.contains("\"type\":\"guard.inference\""), "{entry}");
}

#[test]
fn drifted_inputs_raise_a_drift_alarm_in_the_audit() {
    use vigil_drift::{ReferenceStats, StreamKind, WindowedMonitor};
    use vigil_guard::{DriftFeed, DriftMonitorFeed, MemoryAudit};

    let reference: Vec<f64> = (0..200).map(|i| f64::from(i) / 200.0).collect();
    let stats = ReferenceStats::build(
        &[
            ("x", StreamKind::Feature, &reference),
            ("confidence", StreamKind::Confidence, &reference),
        ],
        200,
    )
    .unwrap();
    let monitor = WindowedMonitor::new(stats, 50, 10, 0.01).unwrap();
    let audit = Arc::new(MemoryAudit::new(100));
    let feed = DriftMonitorFeed::new(monitor, Some(audit.clone()));
    for i in 0..50 {
        feed.observe(&[(i % 50) as f32 / 50.0], (i % 50) as f32 / 50.0);
    }
    assert!(feed.take_alarms().is_empty(), "same distribution");
    for i in 0..60 {
        feed.observe(&[5.0], (i % 50) as f32 / 50.0);
    }
    assert!(!feed.take_alarms().is_empty(), "shifted feature");
    assert!(audit.events().iter().any(|e| e["type"] == "drift.alarm"));
}

#[test]
fn a_drift_feed_for_the_contract_matches_streams_by_name() {
    use vigil_drift::{ReferenceStats, StreamKind};
    use vigil_guard::{AuditSink, DriftFeed, DriftMonitorFeed, GuardConfig, MemoryAudit};
    let device = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer");
    let doc: toml::Table = std::fs::read_to_string(device.join("bundle/vigil.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let config = GuardConfig::from_document(&doc).unwrap();
    let contract = &config.contract;
    let low: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
    let high: Vec<f64> = (0..100).map(|i| 100.0 + f64::from(i)).collect();
    // Streams in another order than the contract's: "mean texture" first, then confidence,
    // then "mean radius".
    let reference = || {
        ReferenceStats::build(
            &[
                ("mean texture", StreamKind::Feature, &high),
                ("confidence", StreamKind::Confidence, &low),
                ("mean radius", StreamKind::Feature, &low),
            ],
            100,
        )
        .unwrap()
    };
    let audit = Arc::new(MemoryAudit::new(1000));
    let sink: Arc<dyn AuditSink> = audit.clone();
    let feed =
        DriftMonitorFeed::for_contract(reference(), 20, 5, 0.01, contract, Some(sink)).unwrap();
    // Feature 0 is mean radius (low), feature 1 mean texture (high): matched by name, no drift.
    let mut row = vec![0.0f32; contract.width()];
    for i in 0..40 {
        row[0] = (i % 20) as f32 / 20.0;
        row[1] = 100.0 + (i % 20) as f32 * 5.0;
        feed.observe(&row, (i % 20) as f32 / 20.0);
    }
    assert!(feed.take_alarms().is_empty());
    // Swapped values: both feature streams drift.
    for i in 0..40 {
        row[1] = (i % 20) as f32 / 20.0;
        row[0] = 100.0 + (i % 20) as f32 * 5.0;
        feed.observe(&row, (i % 20) as f32 / 20.0);
    }
    assert!(!feed.take_alarms().is_empty());
    assert!(audit.events().iter().any(|e| e["type"] == "drift.alarm"));

    // Streams the guard cannot feed are refused before any request.
    for (name, kind) in [
        ("label", StreamKind::Feature),
        ("benign", StreamKind::Output),
    ] {
        let r = ReferenceStats::build(&[(name, kind, &low)], 100).unwrap();
        let e = DriftMonitorFeed::for_contract(r, 20, 5, 0.01, contract, None).unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }
    // And a bad window.
    let e = DriftMonitorFeed::for_contract(reference(), 1, 5, 0.01, contract, None).unwrap_err();
    assert!(e.to_string().contains("window"), "{e}");
}

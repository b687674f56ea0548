//! The ledger as the guard's audit sink: every answer is a durable ledger entry.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use vigil_bundle::{Trust, TrustPolicy};
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
    let policy = TrustPolicy::load(&device.join("policy.toml")).unwrap();
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

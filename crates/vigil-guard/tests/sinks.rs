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

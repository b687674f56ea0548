//! The ledger as the guard's audit sink: every answer is a durable ledger entry.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use vigil_bundle::{BundlePolicy, Trust};
use vigil_guard::{Guard, GuardOptions, LedgerAudit, RequestOptions};
use vigil_ledger::{Event, Ledger};

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
    let d = guard.infer("c", &guard.row(&row, &mut shape), &RequestOptions::new());
    assert_eq!(d.reason().unwrap().code(), "not_finite");
    row[0] = 14.0;
    let _ = guard.infer("c", &guard.row(&row, &mut shape), &RequestOptions::new());
    assert_eq!(sink.ledger().size(), 2);
    let entry = String::from_utf8(sink.ledger().entry(0).unwrap()).unwrap();
    assert!(
        entry.contains("\"reason\":\"not_finite:mean radius\""),
        "{entry}"
    );
    assert!(entry.contains("\"type\":\"guard.inference\""), "{entry}");
    assert!(matches!(
        Event::from_json(entry.as_bytes()).unwrap(),
        Event::GuardInference(_)
    ));
}

#[test]
fn drifted_inputs_raise_a_drift_alarm_in_the_audit() {
    use vigil_drift::{ReferenceStats, StreamKind, WindowedMonitor};
    use vigil_guard::{DriftFeed, DriftMonitorFeed};

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
    let feed = DriftMonitorFeed::new(monitor);
    let mut alarms = Vec::new();
    for i in 0..50 {
        alarms.extend(feed.observe(&[(i % 50) as f32 / 50.0], (i % 50) as f32 / 50.0));
    }
    assert!(alarms.is_empty(), "same distribution");
    for i in 0..60 {
        alarms.extend(feed.observe(&[5.0], (i % 50) as f32 / 50.0));
    }
    assert!(!alarms.is_empty(), "shifted feature");
    assert!(alarms.iter().all(|a| a.code() == "drift"));
}

#[test]
fn a_drift_feed_for_the_contract_matches_streams_by_name() {
    use vigil_drift::{ReferenceStats, StreamKind};
    use vigil_guard::{DriftFeed, DriftMonitorFeed, GuardConfig};
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
    let feed = DriftMonitorFeed::for_contract(reference(), 20, 5, 0.01, contract).unwrap();
    let mut alarms = Vec::new();
    // Feature 0 is mean radius (low), feature 1 mean texture (high): matched by name, no drift.
    let mut row = vec![0.0f32; contract.width()];
    for i in 0..40 {
        row[0] = (i % 20) as f32 / 20.0;
        row[1] = 100.0 + (i % 20) as f32 * 5.0;
        alarms.extend(feed.observe(&row, (i % 20) as f32 / 20.0));
    }
    assert!(alarms.is_empty());
    // Swapped values: both feature streams drift.
    for i in 0..40 {
        row[1] = (i % 20) as f32 / 20.0;
        row[0] = 100.0 + (i % 20) as f32 * 5.0;
        alarms.extend(feed.observe(&row, (i % 20) as f32 / 20.0));
    }
    assert!(!alarms.is_empty());

    // Streams the guard cannot feed are refused before any request.
    for (name, kind) in [
        ("label", StreamKind::Feature),
        ("benign", StreamKind::Output),
    ] {
        let r = ReferenceStats::build(&[(name, kind, &low)], 100).unwrap();
        let e = DriftMonitorFeed::for_contract(r, 20, 5, 0.01, contract).unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }
    // And a bad window.
    let e = DriftMonitorFeed::for_contract(reference(), 1, 5, 0.01, contract).unwrap_err();
    assert!(e.to_string().contains("window"), "{e}");
}

/// Issue 14: a drift alarm comes back in the decision of the request whose observation raised
/// it (never through a shared queue another request could empty), and is audited with that
/// request's event id.
#[test]
fn a_drift_alarm_belongs_to_the_request_that_raised_it() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use vigil_guard::{Alarm, DriftFeed, MemoryAudit};
    use vigil_ledger::DriftDetail;

    /// Raises one alarm at its third observation.
    struct Third(AtomicU64);
    impl DriftFeed for Third {
        fn observe(&self, _features: &[f32], _confidence: f32) -> Vec<Alarm> {
            if self.0.fetch_add(1, Ordering::SeqCst) == 2 {
                vec![Alarm::Drift(DriftDetail::WindowDrift {
                    stream: "mean radius".into(),
                    test: "ks".into(),
                    statistic: 0.9,
                    p_value: 1e-6,
                    window: 3,
                    observation: 3,
                })]
            } else {
                Vec::new()
            }
        }
    }

    let device = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer");
    let policy = BundlePolicy::load(&device.join("policy.toml")).unwrap();
    let audit = Arc::new(MemoryAudit::new(100));
    let guard = Guard::open(
        &device.join("bundle"),
        &Trust::Policy(policy),
        GuardOptions::new(audit.clone()).drift_feed(Arc::new(Third(AtomicU64::new(0)))),
    )
    .unwrap();
    let text = std::fs::read_to_string(device.join("data/validation.csv")).unwrap();
    let rows = vigil_guard::parse_csv(
        text.as_bytes(),
        "validation.csv",
        guard.contract(),
        &vigil_guard::CsvLimits::default(),
    )
    .unwrap();
    let mut shape = [0usize; 2];
    let mut accepted = Vec::new();
    for row in &rows {
        let Ok(v) = &row.values else { continue };
        let d = guard.infer(
            &format!("client-{}", accepted.len()),
            &guard.row(v, &mut shape),
            &RequestOptions::new(),
        );
        if d.reason().is_none() {
            accepted.push(d);
        }
        if accepted.len() == 4 {
            break;
        }
    }
    assert_eq!(accepted.len(), 4, "four accepted validation rows");
    let with_alarm: Vec<usize> = (0..4)
        .filter(|i| accepted[*i].alarms.iter().any(|a| a.code() == "drift"))
        .collect();
    assert_eq!(
        with_alarm,
        vec![2],
        "only the third accepted request carries the alarm"
    );
    let id = accepted[2].event_id;
    let events = audit.events();
    let drift: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::DriftAlarm(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].event_id, id);
    assert!(events.iter().any(|e| matches!(e,
        Event::GuardInference(i) if i.event_id == id && i.alarms == vec!["drift".to_string()])));
}

//! Installs from repositories built here: the honest path, rollback and status, and every
//! attack of the TUF specification refused with its code while `current` stays put.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(unreachable_pub)]
mod common;

use common::World;
use vigil_update::publish::PublisherConfig;
use vigil_update::{Reason, UpdateResult};

fn refused(report: &vigil_update::UpdateReport, reason: Reason) {
    assert_eq!(report.result, UpdateResult::Refused, "{report:?}");
    assert_eq!(report.reason, Some(reason), "{report:?}");
}

#[test]
fn honest_updates_activate_and_roll_back() {
    let w = World::new();
    w.publish("1.0.0");
    let r = w.install();
    assert_eq!(r.result, UpdateResult::Activated, "{r:?}");
    assert_eq!(r.version.as_deref(), Some("1.0.0"));
    assert_eq!(r.previous, None);
    assert_eq!(w.current().as_deref(), Some("1.0.0"));
    assert!(w.state().join("current/model.onnx").is_file());

    let r = w.install();
    assert_eq!(r.result, UpdateResult::UpToDate, "{r:?}");

    w.publish("1.1.0");
    let r = w.install();
    assert_eq!(r.result, UpdateResult::Activated, "{r:?}");
    assert_eq!(r.version.as_deref(), Some("1.1.0"));
    assert_eq!(r.previous.as_deref(), Some("1.0.0"));

    let s = vigil_update::status(&w.state()).unwrap();
    assert_eq!(s.current.unwrap().version, "1.1.0");
    assert_eq!(s.releases, ["1.0.0", "1.1.0"]);
    assert!(
        s.trusted.targets >= 3 && s.trusted.root == 1,
        "{:?}",
        s.trusted
    );
    assert!(s.latest_known_time.is_some());

    let r = vigil_update::rollback(&w.state(), None).unwrap();
    assert_eq!(r.result, UpdateResult::RolledBack);
    assert_eq!(r.version.as_deref(), Some("1.0.0"));
    assert_eq!(r.previous.as_deref(), Some("1.1.0"));
    assert_eq!(w.current().as_deref(), Some("1.0.0"));
    // The release rolled back from is not picked again on its own...
    assert_eq!(w.install().result, UpdateResult::UpToDate);
    // ...but can be asked for by version.
    let r = w.install_with(|i| i.version(semver::Version::new(1, 1, 0)));
    assert_eq!(r.result, UpdateResult::Activated, "{r:?}");

    // Every step is in the ledger, and the ledger verifies.
    let ledger = vigil_ledger::Ledger::open(&w.state().join("ledger.db")).unwrap();
    let events = ledger
        .entries(0, ledger.size())
        .unwrap()
        .iter()
        .filter_map(|e| match vigil_ledger::Event::from_json(e).ok()? {
            vigil_ledger::Event::UpdateStep(s) => Some(s),
            _ => None,
        })
        .collect::<Vec<_>>();
    // Steps about a release carry its publication time (the target's custom.published), a
    // moment before the step; the refresh, about no release yet, does not.
    for s in &events {
        match (&s.version, s.published_ms) {
            (Some(_), Some(p)) if s.step != vigil_ledger::UpdatePhase::Rollback => {
                assert!(p <= s.time_ms && s.time_ms - p < 600_000, "{s:?}")
            }
            (None, p) => assert_eq!(p, None, "{s:?}"),
            _ => {}
        }
    }
    assert!(events
        .iter()
        .any(|s| s.step == vigil_ledger::UpdatePhase::Activate && s.published_ms.is_some()));
    let steps: Vec<String> = events.iter().map(|s| format!("{:?}", s.step)).collect();
    for want in [
        "Refresh",
        "Download",
        "Verify",
        "Scan",
        "Acceptance",
        "Activate",
        "Rollback",
    ] {
        assert!(
            steps.iter().any(|s| s == want),
            "{want} missing from {steps:?}"
        );
    }
}

#[test]
fn over_http_as_from_a_directory() {
    let w = World::new();
    w.publish("1.0.0");
    let url = common::serve(w.repo());
    let r = w.install_from(&url);
    assert_eq!(r.result, UpdateResult::Activated, "{r:?}");
    let missing = World::new();
    missing.publish("1.0.0");
    let r = missing.install_from("http://127.0.0.1:9");
    refused(&r, Reason::RepoUnavailable);
}

#[test]
fn arbitrary_software_is_refused() {
    let w = World::new();
    w.publish("1.0.0");
    let file = w.target_file("1.0.0");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 2000;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    refused(&w.install(), Reason::TufHash);
    assert_eq!(w.current(), None);
}

#[test]
fn endless_data_is_refused_even_when_the_prefix_hashes_right() {
    let w = World::new();
    w.publish("1.0.0");
    let file = w.target_file("1.0.0");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&file, bytes).unwrap();
    refused(&w.install(), Reason::TufLength);

    // Endless metadata: a timestamp larger than its bound.
    let w = World::new();
    w.publish("1.0.0");
    let ts = w.metadata("timestamp.json");
    let mut bytes = std::fs::read(&ts).unwrap();
    bytes.extend(std::iter::repeat_n(b' ', 200 << 10));
    std::fs::write(&ts, bytes).unwrap();
    refused(&w.install(), Reason::TufLength);
}

#[test]
fn rollback_of_metadata_is_refused() {
    let w = World::new();
    w.publish("1.0.0");
    let old = std::fs::read(w.metadata("timestamp.json")).unwrap();
    w.publish("1.1.0");
    assert_eq!(w.install().result, UpdateResult::Activated);
    std::fs::write(w.metadata("timestamp.json"), old).unwrap();
    refused(&w.install(), Reason::TufRollback);
    assert_eq!(w.current().as_deref(), Some("1.1.0"));
}

#[test]
fn a_frozen_repository_is_refused() {
    let mut config = PublisherConfig::default();
    config.expires.insert("timestamp".into(), 1);
    let w = World::with(config);
    w.publish("1.0.0");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = w.install();
    refused(&r, Reason::TufExpired);
    assert!(r.detail.contains("timestamp"), "{r:?}");
}

#[test]
fn mix_and_match_is_refused() {
    let w = World::new();
    w.publish("1.0.0");
    let snapshot1 = std::fs::read(w.metadata("2.snapshot.json")).unwrap();
    w.publish("1.1.0");
    // The timestamp names snapshot 3; serve snapshot 2's bytes under that name.
    std::fs::write(w.metadata("3.snapshot.json"), snapshot1).unwrap();
    refused(&w.install(), Reason::TufSnapshotMismatch);
}

#[test]
fn tampered_metadata_fails_its_signature() {
    let w = World::new();
    w.publish("1.0.0");
    let path = w.metadata("2.targets.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["signed"]["expires"] = serde_json::json!("2099-01-01T00:00:00Z");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    refused(&w.install(), Reason::TufSignature);
}

#[test]
fn rotated_out_keys_cannot_sign() {
    let w = World::new();
    w.publish("1.0.0");
    assert_eq!(w.install().result, UpdateResult::Activated);
    // The old timestamp key signs after its rotation: a compromised, revoked key.
    let old_key = w.tmp.path().join("old-timestamp.pem");
    std::fs::copy(w.keys().join("timestamp-1.pem"), &old_key).unwrap();
    let old_root = w.tmp.path().join("old-root.json");
    std::fs::copy(w.metadata("1.root.json"), &old_root).unwrap();
    w.publisher
        .rotate(vigil_update::publish::parse_role("timestamp").unwrap())
        .unwrap();
    w.publish("1.1.0");
    vigil_update::publish::internal::forge_timestamp(&w.repo(), &w.keys(), &old_key, &old_root)
        .unwrap();
    refused(&w.install(), Reason::TufSignature);
    assert_eq!(w.current().as_deref(), Some("1.0.0"));
    // Signed again with the new key, the update goes through.
    w.publisher.refresh().unwrap();
    assert_eq!(w.install().result, UpdateResult::Activated);
    assert_eq!(vigil_update::status(&w.state()).unwrap().trusted.root, 2);
}

#[test]
fn a_root_not_signed_by_the_old_root_is_refused() {
    let w = World::new();
    w.publish("1.0.0");
    assert_eq!(w.install().result, UpdateResult::Activated);
    // A new root signed only by keys the device never trusted.
    let path = w.metadata("1.root.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["signed"]["version"] = serde_json::json!(2);
    std::fs::write(w.metadata("2.root.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    refused(&w.install(), Reason::TufRoot);
}

#[test]
fn bundle_checks_after_tuf() {
    // Signed by another key.
    let w = World::new();
    let other = common::World::new();
    let b = other.bundle("1.0.0", |_| {});
    w.publisher.add(&b).unwrap();
    refused(&w.install(), Reason::BundleSignature);

    // A pickle that runs code, signed with the bundle.
    let w = World::new();
    let b = w.bundle("1.0.0", |dir| {
        std::fs::write(dir.join("extra.pkl"), b"cos\nsystem\n(S'echo pwned'\ntR.").unwrap();
    });
    w.publisher.add(&b).unwrap();
    refused(&w.install(), Reason::ScanFinding);

    // An acceptance bar the model cannot reach.
    let w = World::new();
    let b = w.bundle("1.0.0", |dir| {
        let p = dir.join("vigil.toml");
        let t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("min_accuracy = 0.90", "min_accuracy = 1.0");
        std::fs::write(p, t).unwrap();
    });
    w.publisher.add(&b).unwrap();
    refused(&w.install(), Reason::AcceptanceFailed);

    // Not newer than the active release.
    let w = World::new();
    w.publish("1.1.0");
    assert_eq!(w.install().result, UpdateResult::Activated);
    w.publish("1.0.0");
    let r = w.install_with(|i| i.version(semver::Version::new(1, 0, 0)));
    refused(&r, Reason::BundleRollback);
    assert_eq!(w.current().as_deref(), Some("1.1.0"));
}

#[test]
fn a_failed_health_check_brings_the_previous_release_back() {
    let w = World::new();
    w.publish("1.0.0");
    assert_eq!(w.install().result, UpdateResult::Activated);
    w.publish("1.1.0");
    let r = w.install_with(|i| i.health_cmd("test \"$(basename \"$VIGIL_RELEASE\")\" = 1.0.0"));
    refused(&r, Reason::HealthCheckFailed);
    assert_eq!(r.previous.as_deref(), Some("1.0.0"));
    assert_eq!(w.current().as_deref(), Some("1.0.0"));
}

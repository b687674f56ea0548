//! Many threads append through clones of one handle; every receipt is unique, matches the
//! stored entry, and the log verifies after reopening.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use vigil_ledger::{leaf_hash, Ledger};

#[test]
fn concurrent_appends_are_grouped_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let key = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let log = Ledger::create(&path, "test/log", &key.verifying_key(), None).unwrap();
    let threads = 8;
    let per = 50;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..per)
                    .map(|i| {
                        let ev = format!("{{\"thread\":{t},\"i\":{i}}}");
                        (log.append(ev.as_bytes()).unwrap(), ev)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for h in handles {
        for (r, ev) in h.join().unwrap() {
            assert!(seen.insert(r.index));
            all.push((r, ev));
        }
    }
    assert_eq!(log.size(), threads * per);
    for (r, ev) in &all {
        let entry = log.entry(r.index).unwrap();
        let canonical =
            vigil_ledger::canonicalize_event(ev.as_bytes(), &Default::default()).unwrap();
        assert_eq!(entry, canonical);
        assert_eq!(leaf_hash(&entry), r.leaf_hash);
    }
    // A range read returns the same bytes as one read per index.
    let size = log.size();
    let range = log.entries(3, size).unwrap();
    assert_eq!(range.len() as u64, size - 3);
    for (i, e) in (3..).zip(&range) {
        assert_eq!(*e, log.entry(i).unwrap());
    }
    assert!(log.entries(5, 5).unwrap().is_empty());
    assert!(log.entries(0, size + 1).is_err());
    assert!(log.entries(6, 5).is_err());
    let signer = vigil_ledger::NoteSigner::new("test/log", key).unwrap();
    log.checkpoint(&[&signer]).unwrap();
    drop(log);
    let reopened = Ledger::open(&path).unwrap();
    assert_eq!(reopened.size(), threads * per);
    assert_eq!(
        reopened.verify(&[signer.verifier()]).unwrap().checkpoints,
        1
    );
}

#[test]
fn a_refused_event_in_a_batch_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let log = Ledger::create(&dir.path().join("l.db"), "o", &key.verifying_key(), None).unwrap();
    let err = log
        .append_batch(["{\"a\":1}", "{\"a\":1,\"a\":2}"])
        .unwrap_err();
    assert!(err.to_string().contains("event 1"), "{err}");
    assert_eq!(log.size(), 0);
    assert!(log.append(b"[1]").is_err());
    assert!(log.append(b"{\"big\":9007199254740993}").is_err());
}

#[test]
fn checkpoint_with_a_foreign_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let log = Ledger::create(&dir.path().join("l.db"), "o", &key.verifying_key(), None).unwrap();
    let other = vigil_ledger::NoteSigner::new("o", ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
        .unwrap();
    assert!(log.checkpoint(&[&other]).is_err());
    assert!(Ledger::create(&dir.path().join("l.db"), "o", &key.verifying_key(), None).is_err());
}

#[test]
fn audit_of_a_live_log_sees_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let key = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let log = Ledger::create(&path, "o", &key.verifying_key(), None).unwrap();
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..300 {
                log.append_batch((0..7).map(|k| format!("{{\"i\":{i},\"k\":{k}}}")))
                    .unwrap();
            }
        })
    };
    let store = vigil_ledger::SqliteStore::open(&path).unwrap();
    let mut audits = 0;
    while !writer.is_finished() {
        let a = vigil_ledger::audit(&store, &[], &[]).unwrap();
        assert_eq!(a.size % 7, 0);
        audits += 1;
    }
    writer.join().unwrap();
    assert!(audits > 0);
    assert_eq!(vigil_ledger::audit(&store, &[], &[]).unwrap().size, 2100);
}

#[test]
fn a_large_double_stored_as_a_canonical_integer_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let key = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let log = Ledger::create(&path, "o", &key.verifying_key(), None).unwrap();
    let r = log
        .append(b"{\"x\":6.042140248547878e17,\"y\":1e21}")
        .unwrap();
    assert_eq!(
        log.entry(r.index).unwrap(),
        b"{\"x\":604214024854787800,\"y\":1e+21}"
    );
    drop(log);
    assert_eq!(Ledger::open(&path).unwrap().size(), 1);
}

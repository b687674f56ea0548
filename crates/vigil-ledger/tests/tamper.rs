//! Tampering with the database is detected: an edited entry, a deleted entry, a truncated
//! log, a forked history (two checkpoints of one size with different roots), edited subtree
//! hashes, and a rewrite that recomputes every hash but keeps an old checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use vigil_ledger::{
    audit, audit_tail, Checkpoint, CheckpointRef, Error, IntegrityError, Ledger, NoteSigner,
    SqliteStore,
};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    signer: NoteSigner,
}

/// A log of 20 entries with checkpoints at sizes 10 and 20.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let key = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let signer = NoteSigner::new("test/log", key.clone()).unwrap();
    let log = Ledger::create(&path, "test/log", &key.verifying_key(), None).unwrap();
    for i in 0..10 {
        log.append(format!("{{\"i\":{i}}}").as_bytes()).unwrap();
    }
    log.checkpoint(&[&signer]).unwrap();
    for i in 10..20 {
        log.append(format!("{{\"i\":{i}}}").as_bytes()).unwrap();
    }
    log.checkpoint(&[&signer]).unwrap();
    drop(log);
    Fixture {
        _dir: dir,
        path,
        signer,
    }
}

fn sql(path: &Path, statement: &str) {
    Connection::open(path)
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

fn refused(path: &Path, needle: &str) {
    let err = Ledger::open(path).unwrap_err();
    assert!(matches!(err, Error::Integrity(_)), "{err}");
    assert!(err.to_string().contains(needle), "{err}");
}

#[test]
fn untouched_log_opens() {
    let f = fixture();
    let log = Ledger::open(&f.path).unwrap();
    assert_eq!(log.size(), 20);
    assert_eq!(log.verify(&[f.signer.verifier()]).unwrap().checkpoints, 2);
}

#[test]
fn edited_entry() {
    let f = fixture();
    sql(
        &f.path,
        "UPDATE entries SET data = CAST('{\"i\":99}' AS BLOB) WHERE idx = 3",
    );
    refused(&f.path, "entry 3 does not match its stored leaf hash");
}

#[test]
fn edited_entry_with_recomputed_leaf_hash() {
    let f = fixture();
    let data = b"{\"i\":99}";
    let leaf = vigil_ledger::leaf_hash(data);
    Connection::open(&f.path)
        .unwrap()
        .execute(
            "UPDATE entries SET data = ?1, leaf_hash = ?2 WHERE idx = 3",
            params![&data[..], &leaf[..]],
        )
        .unwrap();
    refused(&f.path, "subtree hash at level 1 index 1");
}

#[test]
fn deleted_entry() {
    let f = fixture();
    sql(&f.path, "DELETE FROM entries WHERE idx = 7");
    refused(&f.path, "entry 7 is missing");
}

#[test]
fn truncated_log() {
    let f = fixture();
    sql(&f.path, "DELETE FROM entries WHERE idx >= 15");
    refused(&f.path, "truncated");
}

/// Issue 14: integrity failures are facts with sizes and indices, the same from the full audit
/// and the tail check, so a collector or updater can tell a truncation from a rewrite.
#[test]
fn integrity_failures_are_typed_facts() {
    let f = fixture();
    sql(&f.path, "DELETE FROM entries WHERE idx >= 15");
    for err in [
        audit(&SqliteStore::open(&f.path).unwrap(), &[], &[]).unwrap_err(),
        audit_tail(&SqliteStore::open(&f.path).unwrap()).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                Error::Integrity(IntegrityError::Truncated {
                    checkpoint: CheckpointRef::Stored(2),
                    checkpoint_size: 20,
                    log_size: 15,
                })
            ),
            "{err:?}"
        );
    }
    let f = fixture();
    sql(
        &f.path,
        "UPDATE entries SET data = CAST('{\"i\":99}' AS BLOB) WHERE idx = 3",
    );
    let err = Ledger::open(&f.path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Integrity(IntegrityError::LeafMismatch { index: 3, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_log_and_its_checkpoints_against_a_kept_checkpoint() {
    let f = fixture();
    let kept = Ledger::open(&f.path).unwrap().checkpoints().unwrap()[1]
        .note
        .clone();
    sql(
        &f.path,
        "DELETE FROM entries WHERE idx >= 15; DELETE FROM nodes; DELETE FROM checkpoints;",
    );
    let store = SqliteStore::open(&f.path).unwrap();
    let cp = vigil_ledger::open_checkpoint(kept.as_bytes(), &[f.signer.verifier()], None)
        .unwrap()
        .checkpoint;
    let err = audit(&store, &[f.signer.verifier()], &[cp]).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn forked_history() {
    let f = fixture();
    // A second checkpoint of size 10 with another root, validly signed by the log's key.
    let fork = Checkpoint {
        origin: "test/log".into(),
        size: 10,
        root: [0x42; 32],
        extensions: vec![],
    };
    let note = fork.sign(&[&f.signer]).unwrap();
    Connection::open(&f.path)
        .unwrap()
        .execute(
            "INSERT INTO checkpoints(size, root, note) VALUES (10, ?1, ?2)",
            params![&fork.root[..], note],
        )
        .unwrap();
    refused(&f.path, "forked");
}

#[test]
fn rewritten_history_keeps_failing_the_old_checkpoint() {
    let f = fixture();
    // Rewrite entry 2 and recompute every stored hash consistently: only the signed
    // checkpoints can tell.
    let conn = Connection::open(&f.path).unwrap();
    conn.execute(
        "UPDATE entries SET data = CAST('{\"i\":-2}' AS BLOB) WHERE idx = 2",
        [],
    )
    .unwrap();
    let mut leaves = Vec::new();
    {
        let mut st = conn
            .prepare("SELECT data FROM entries ORDER BY idx")
            .unwrap();
        let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap();
        for r in rows {
            leaves.push(vigil_ledger::leaf_hash(&r.unwrap()));
        }
    }
    conn.execute("DELETE FROM nodes", []).unwrap();
    let mut frontier = vigil_ledger::Frontier::new();
    let mut created = Vec::new();
    for (i, l) in leaves.iter().enumerate() {
        conn.execute(
            "UPDATE entries SET leaf_hash = ?1 WHERE idx = ?2",
            params![&l[..], i as i64],
        )
        .unwrap();
        frontier.push(*l, &mut created);
    }
    for (level, index, h) in created {
        conn.execute(
            "INSERT INTO nodes(id, hash) VALUES (?1, ?2)",
            params![((level as i64) << 56) | index as i64, &h[..]],
        )
        .unwrap();
    }
    drop(conn);
    refused(&f.path, "rewritten");
}

#[test]
fn extra_subtree_row() {
    let f = fixture();
    sql(
        &f.path,
        "INSERT INTO nodes(id, hash) VALUES ((5 << 56) | 9, zeroblob(32))",
    );
    refused(&f.path, "subtree hashes are stored");
}

#[test]
fn checkpoint_signed_by_another_key() {
    let f = fixture();
    let other =
        NoteSigner::new("test/log", ed25519_dalek::SigningKey::from_bytes(&[9; 32])).unwrap();
    let log = Ledger::open(&f.path).unwrap();
    let root = log.root_at(20).unwrap();
    drop(log);
    let cp = Checkpoint {
        origin: "test/log".into(),
        size: 20,
        root,
        extensions: vec![],
    };
    let note = cp.sign(&[&other]).unwrap();
    Connection::open(&f.path)
        .unwrap()
        .execute(
            "INSERT INTO checkpoints(size, root, note) VALUES (20, ?1, ?2)",
            params![&root[..], note],
        )
        .unwrap();
    refused(&f.path, "checkpoint #3");
}

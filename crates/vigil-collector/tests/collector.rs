//! The collector over its SQLite store: honest devices extend push after push, a forked
//! device is caught and kept as evidence without touching the others, replays and repeats
//! are told apart, hostile pushes store nothing, and concurrent pushes store entries once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

mod common;

use common::device::Device;

use vigil_collector::{AlarmKind, Collector, CollectorStore, PostgresStore, SqliteStore};
use vigil_ledger::NoteSigner;

/// Where a test keeps its collector's data: a SQLite file or a PostgreSQL database.
#[derive(Clone)]
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    fn open(&self) -> Arc<dyn CollectorStore> {
        match self {
            Db::Sqlite(p) => Arc::new(SqliteStore::open(p).unwrap()),
            Db::Postgres(url) => Arc::new(PostgresStore::connect(url, 4).unwrap()),
        }
    }
}

/// Runs `test` against a SQLite store and against a PostgreSQL one: one suite, both stores.
fn on_both_stores(test: fn(&Db)) {
    let dir = tempfile::tempdir().unwrap();
    test(&Db::Sqlite(dir.path().join("c.db")));
    if let Some(cluster) = common::cluster() {
        test(&Db::Postgres(cluster.database()));
    }
}

fn collector(db: &Db, devices: &[&Device]) -> Collector {
    let store = db.open();
    let registry: BTreeMap<_, _> = devices
        .iter()
        .map(|d| (d.id(), d.signer.verifier()))
        .collect();
    let witness = NoteSigner::new(
        "vigil-collector",
        ed25519_dalek::SigningKey::from_bytes(&[99; 32]),
    )
    .unwrap();
    Collector::new(store, witness, registry)
}

#[test]
fn a_fork_on_one_device_is_caught_and_the_others_go_on() {
    on_both_stores(fork_on_one_device);
}

fn fork_on_one_device(db: &Db) {
    let mut honest = Device::new(1);
    let mut forked = Device::new(2);
    let c = collector(db, &[&honest, &forked]);
    let t = 1_700_000_000_000;

    honest.append(10);
    forked.append(10);
    for d in [&honest, &forked] {
        let r = c
            .push(&d.id(), &d.push_from(0), Some(("ecg", "1.0.0")), t)
            .unwrap();
        assert_eq!((r.status, r.code, r.stored), (200, "accepted", 10), "{r:?}");
        let cosigned = r.cosigned.unwrap();
        let opened = vigil_ledger::open_checkpoint(
            cosigned.as_bytes(),
            &[d.signer.verifier(), c.witness()],
            None,
        )
        .unwrap();
        assert_eq!(opened.verification.cosignatures.len(), 1);
    }

    // The forked device rewrites an old entry, re-signs and extends.
    forked.entries[2] = b"{\"i\":2,\"type\":\"edited\"}".to_vec();
    forked.append(5);
    let r = c
        .push(&forked.id(), &forked.push_from(10), None, t + 1)
        .unwrap();
    assert_eq!((r.status, r.code, r.stored), (409, "fork", 0), "{r:?}");
    let cps = c.store().checkpoints(&forked.id()).unwrap();
    assert_eq!(
        cps.iter().map(|c| (c.size, c.accepted)).collect::<Vec<_>>(),
        vec![(10, true), (15, false)],
        "both checkpoints are kept as evidence"
    );
    let alarms = c.store().alarms(0).unwrap();
    assert_eq!(alarms.len(), 1);
    assert_eq!(
        (alarms[0].kind, alarms[0].device.as_str()),
        (AlarmKind::Fork, forked.id().as_str())
    );
    assert_eq!(c.store().entries(&forked.id(), 0, 100).unwrap().len(), 10);

    // The honest device is unaffected.
    honest.append(7);
    let r = c
        .push(&honest.id(), &honest.push_from(10), None, t + 2)
        .unwrap();
    assert_eq!(
        (r.status, r.code, r.stored, r.size),
        (200, "accepted", 7, 17),
        "{r:?}"
    );
    let devices = c.store().devices().unwrap();
    let h = devices.iter().find(|d| d.id == honest.id()).unwrap();
    assert_eq!(
        (h.size, h.open_alarms, h.model.as_deref()),
        (17, 0, Some("ecg"))
    );
    let f = devices.iter().find(|d| d.id == forked.id()).unwrap();
    assert_eq!((f.size, f.open_alarms), (10, 1));

    // What `GET /v1/state` answers: one device's accepted head, the fork not taken.
    let head = |id: &str| c.store().accepted_head(id).unwrap();
    assert_eq!(
        head(&honest.id()).map(|(s, r)| (s, hex::encode(r))),
        Some((17, h.root.clone()))
    );
    assert_eq!(head(&forked.id()).map(|(s, _)| s), Some(10));
    assert_eq!(head("device-9.example"), None);

    // An operator closes the fork alarm: still listed, no longer open; twice is no error.
    let id = c.store().alarms(0).unwrap()[0].id;
    assert!(c.store().close_alarm(id).unwrap());
    assert!(c.store().close_alarm(id).unwrap());
    assert!(!c.store().close_alarm(id + 1000).unwrap());
    let alarms = c.store().alarms(0).unwrap();
    assert_eq!((alarms.len(), alarms[0].open), (1, false));
    let devices = c.store().devices().unwrap();
    let f = devices.iter().find(|d| d.id == forked.id()).unwrap();
    assert_eq!(f.open_alarms, 0);
}

#[test]
fn repeats_replays_and_hostile_pushes() {
    on_both_stores(repeats_replays_hostile);
}

fn repeats_replays_hostile(db: &Db) {
    let mut d = Device::new(3);
    let c = collector(db, &[&d]);
    d.append(4);
    let first = d.push_from(0);
    assert_eq!(c.push(&d.id(), &first, None, 1).unwrap().code, "accepted");
    // The same push again: 200, entries stored once.
    let r = c.push(&d.id(), &first, None, 2).unwrap();
    assert_eq!((r.status, r.code, r.stored), (200, "repeat", 0));
    assert_eq!(c.store().entries(&d.id(), 0, 100).unwrap().len(), 4);
    d.append(4);
    assert_eq!(
        c.push(&d.id(), &d.push_from(4), None, 3).unwrap().code,
        "accepted"
    );
    // The older accepted checkpoint, byte for byte: 409, no alarm.
    let r = c.push(&d.id(), &first, None, 4).unwrap();
    assert_eq!((r.status, r.code), (409, "replay"), "{r:?}");
    assert!(c.store().alarms(0).unwrap().is_empty());

    // Hostile pushes store nothing.
    d.append(2);
    let before = c.store().checkpoints(&d.id()).unwrap().len();
    let mut bad = d.push_from(8);
    bad.entries[0] = b"{\"i\":1000}".to_vec();
    let r = c.push(&d.id(), &bad, None, 5).unwrap();
    assert_eq!((r.status, r.code), (422, "entries_mismatch"));
    let mut bad = d.push_from(8);
    bad.proof.push([7; 32]);
    assert_eq!(c.push(&d.id(), &bad, None, 6).unwrap().status, 400);
    // Another device's log pushed under this device's certificate.
    let mut other = Device::new(4);
    other.append(10);
    let r = c.push(&d.id(), &other.push_from(8), None, 7).unwrap();
    assert_eq!((r.status, r.code), (403, "wrong_origin"));
    // A certificate of a device that is not registered.
    let r = c.push(&other.id(), &other.push_from(0), None, 8).unwrap();
    assert_eq!((r.status, r.code), (403, "unknown_device"));
    assert_eq!(c.store().checkpoints(&d.id()).unwrap().len(), before);
    assert_eq!(c.store().entries(&d.id(), 0, 100).unwrap().len(), 8);
    assert!(c.store().alarms(0).unwrap().is_empty());
}

/// Two collectors (two store handles on one database, as two processes) receive the same push
/// at once: one accepts it, the other sees a repeat; every entry is stored exactly once.
#[test]
fn concurrent_pushes_store_each_entry_once() {
    on_both_stores(concurrent_pushes);
}

fn concurrent_pushes(db: &Db) {
    let mut d = Device::new(5);
    d.append(2000);
    let a = Arc::new(collector(db, &[&d]));
    let b = Arc::new(collector(db, &[&d]));
    let push = Arc::new(d.push_from(0));
    let id = d.id();
    let handles: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let push = push.clone();
            let id = id.clone();
            std::thread::spawn(move || c.push(&id, &push, None, i as u64).unwrap())
        })
        .collect();
    let replies: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        replies.iter().filter(|r| r.code == "accepted").count(),
        1,
        "{replies:?}"
    );
    assert_eq!(
        replies.iter().filter(|r| r.code == "repeat").count(),
        3,
        "{replies:?}"
    );
    let stored = a.store().entries(&id, 0, 10_000).unwrap();
    assert_eq!(stored.len(), 2000);
    // Proofs read the leaf hashes alone: the same hashes, and all that are asked for or none.
    let leaves: Vec<_> = stored.iter().map(|e| e.leaf_hash).collect();
    assert_eq!(a.store().leaf_hashes(&id, 2000).unwrap(), leaves);
    assert_eq!(a.store().leaf_hashes(&id, 700).unwrap(), leaves[..700]);
    assert!(a.store().leaf_hashes(&id, 2001).is_err());
}

/// Collectors started at once on an empty PostgreSQL database all come up: the migrations
/// run under an advisory lock.
#[test]
fn collectors_started_at_once_all_come_up() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let url = cluster.database();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::connect(&url, 2).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}

#[test]
fn alarm_events_in_pushed_entries_raise_alarms() {
    on_both_stores(alarm_events);
}

fn alarm_events(db: &Db) {
    use vigil_ledger::{AlarmDetail, DriftAlarm, DriftDetail, Event, GuardAlarm};
    let mut d = Device::new(5);
    let c = collector(db, &[&d]);
    let canonical = |e: &Event| {
        vigil_ledger::canonicalize_event(&e.to_json().unwrap(), &Default::default()).unwrap()
    };
    d.append(2);
    d.entries.push(canonical(&Event::GuardAlarm(GuardAlarm {
        event_id: 7,
        time_ms: 1_700_000_000_000,
        model: "ab".repeat(32),
        client: "ward<7>".into(),
        alarm: AlarmDetail::Extraction {
            signal: "prada".into(),
            statistic: 0.81,
            queries: 120,
        },
        response: "suspend".into(),
    })));
    d.entries.push(canonical(&Event::GuardAlarm(GuardAlarm {
        event_id: 8,
        time_ms: 1_700_000_000_001,
        model: "ab".repeat(32),
        client: "ward-7".into(),
        alarm: AlarmDetail::Volume {
            used: 90,
            budget: 100,
        },
        response: "record".into(),
    })));
    d.entries.push(canonical(&Event::DriftAlarm(DriftAlarm {
        event_id: 9,
        time_ms: 1_700_000_000_002,
        model: "ab".repeat(32),
        alarm: DriftDetail::WindowDrift {
            stream: "heart_rate".into(),
            test: "ks".into(),
            statistic: 0.4,
            p_value: 0.0001,
            window: 200,
            observation: 400,
        },
    })));
    // Not a Vigil event, yet "alarm"-looking: stored, raises nothing.
    d.entries
        .push(b"{\"note\":\"x.alarm\\\"\",\"type\":\"other.alarm\"}".to_vec());
    let r = c.push(&d.id(), &d.push_from(0), None, 5_000).unwrap();
    assert_eq!((r.code, r.stored), ("accepted", 6), "{r:?}");
    let alarms = c.store().alarms(0).unwrap();
    let mut kinds: Vec<_> = alarms.iter().map(|a| a.kind).collect();
    kinds.sort_by_key(|k| k.code());
    assert_eq!(
        kinds,
        vec![AlarmKind::Drift, AlarmKind::Extraction],
        "{alarms:?}"
    );
    assert!(alarms.iter().all(|a| a.time == 5_000 && a.open));
    let extraction = alarms
        .iter()
        .find(|a| a.kind == AlarmKind::Extraction)
        .unwrap();
    assert!(extraction.detail.contains("entry 2") && extraction.detail.contains("prada"));
    // A repeat stores nothing and raises nothing again.
    let r = c.push(&d.id(), &d.push_from(0), None, 6_000).unwrap();
    assert_eq!(r.code, "repeat");
    assert_eq!(c.store().alarms(0).unwrap().len(), 2);
    assert_eq!(c.store().devices().unwrap()[0].open_alarms, 2);
}

/// The server drops its store on a Tokio worker at shutdown: a PostgreSQL store with idle
/// connections must not panic there (the synchronous client blocks on its own runtime).
#[test]
fn a_postgres_store_dropped_on_a_runtime_does_not_panic() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let store = PostgresStore::connect(&cluster.database(), 2).unwrap();
    assert!(store.devices().unwrap().is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move { drop(store) });
}

/// PostgreSQL keeps entries in bundles of 256: reads of any range across bundle edges give
/// exactly the entries asked for, and a database from before bundles (one `vc_entries` row
/// per entry) is converted when a store opens it, entries and leaf hashes unchanged.
#[test]
fn postgres_entry_bundles_read_any_range_and_old_databases_convert() {
    let Some(cluster) = common::cluster() else {
        return;
    };
    let url = cluster.database();
    let entry = |d: &str, i: i64| format!("{{\"device\":\"{d}\",\"i\":{i}}}").into_bytes();
    {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(
            "CREATE TABLE vc_entries(device TEXT NOT NULL, idx BIGINT NOT NULL,
                 entry BYTEA NOT NULL, leaf_hash BYTEA NOT NULL, PRIMARY KEY(device, idx))",
        )
        .unwrap();
        for (d, n) in [("a", 600i64), ("b", 3)] {
            for i in 0..n {
                let e = entry(d, i);
                let leaf = vigil_ledger::leaf_hash(&e).to_vec();
                c.execute(
                    "INSERT INTO vc_entries VALUES ($1, $2, $3, $4)",
                    &[&d, &i, &e, &leaf],
                )
                .unwrap();
            }
        }
    }
    let store = PostgresStore::connect(&url, 2).unwrap();
    for (from, to) in [
        (0, 600),
        (0, 10_000),
        (255, 257),
        (256, 512),
        (599, 600),
        (600, 700),
    ] {
        let got = store.entries("a", from, to).unwrap();
        let want: Vec<u64> = (from..to.min(600)).collect();
        assert_eq!(
            got.iter().map(|e| e.index).collect::<Vec<_>>(),
            want,
            "{from}..{to}"
        );
        for e in &got {
            assert_eq!(e.entry, entry("a", e.index as i64));
            assert_eq!(e.leaf_hash, vigil_ledger::leaf_hash(&e.entry));
        }
    }
    assert_eq!(store.entries("b", 0, 100).unwrap().len(), 3);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let old: Option<String> = c
        .query_one("SELECT to_regclass('vc_entries')::TEXT", &[])
        .unwrap()
        .get(0);
    assert_eq!(old, None, "the old table is gone");
    // A second start finds nothing to convert.
    drop(PostgresStore::connect(&url, 1).unwrap());
    assert_eq!(store.entries("a", 0, 10_000).unwrap().len(), 600);
    // A gap between bundles is a corrupt store, never a short read.
    c.execute(
        "DELETE FROM vc_entry_bundles WHERE device = 'a' AND start = 256",
        &[],
    )
    .unwrap();
    assert!(store.entries("a", 0, 600).is_err());
    assert!(store.entries("a", 300, 400).is_err());
    assert!(store.leaf_hashes("a", 600).is_err());
    assert_eq!(store.leaf_hashes("a", 256).unwrap().len(), 256);
}

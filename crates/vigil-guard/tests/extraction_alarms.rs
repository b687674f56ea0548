//! Issue 20 item 13: long benign streams of natural rows raise no extraction alarm under the
//! shipped settings, while random synthetic streams are still caught within 100 queries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vigil_bundle::{BundlePolicy, Trust};
use vigil_guard::{parse_csv, CsvLimits, DangerousNoAudit, Guard, GuardOptions, RequestOptions};

fn device(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/devices")
        .join(name)
}

fn open(name: &str) -> Guard {
    let policy = BundlePolicy::load(&device(name).join("policy.toml")).unwrap();
    Guard::open(
        &device(name).join("bundle"),
        &Trust::Policy(policy),
        GuardOptions::new(Arc::new(DangerousNoAudit)),
    )
    .unwrap()
}

fn rows(g: &Guard, name: &str, file: &str) -> Vec<Vec<f32>> {
    let csv = std::fs::read(device(name).join("data").join(file)).unwrap();
    parse_csv(&csv, file, g.contract(), &CsvLimits::default())
        .unwrap()
        .into_iter()
        .filter_map(|r| r.values.ok())
        .collect()
}

/// A small deterministic generator (SplitMix64), so every run sends the same stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `stream` as one client, one request per second of guard time; the query number
/// (1-based) of each extraction alarm.
fn extraction_alarms(g: &Guard, stream: impl Iterator<Item = Vec<f32>>) -> Vec<usize> {
    let mut shape = [0usize; 2];
    let mut at = Vec::new();
    for (i, row) in stream.enumerate() {
        let request = RequestOptions::new().at(Duration::from_secs(i as u64));
        let d = g.infer("station", &g.row(&row, &mut shape), &request);
        if d.alarms.iter().any(|a| a.code() == "extraction") {
            at.push(i + 1);
        }
    }
    at
}

#[test]
fn long_resampled_benign_streams_raise_no_extraction_alarm() {
    for (name, seed) in [
        ("breast-cancer", 1u64),
        ("breast-cancer", 2),
        ("ecg-beats", 3),
    ] {
        let g = open(name);
        let held_out = rows(&g, name, "validation.csv");
        let mut rng = Rng(seed);
        let stream = (0..4000).map(|_| held_out[rng.below(held_out.len())].clone());
        let alarms = extraction_alarms(&g, stream);
        assert!(
            alarms.is_empty(),
            "{name} seed {seed}: alarms at {alarms:?}"
        );
    }
}

#[test]
fn random_synthetic_streams_are_caught_within_100_queries() {
    for name in ["breast-cancer", "ecg-beats"] {
        let g = open(name);
        let features = g.contract().features.clone();
        let mut rng = Rng(7);
        let stream = (0..200).map(|_| {
            features
                .iter()
                .map(|f| (f.min + rng.unit() * (f.max - f.min)) as f32)
                .collect::<Vec<f32>>()
        });
        let alarms = extraction_alarms(&g, stream);
        let first = alarms.first().copied();
        assert!(
            first.is_some_and(|q| q <= 100),
            "{name}: first alarm {first:?}"
        );
    }
}

/// Issue 20 item 17: under the shipped policy an extraction alarm suspends the client (the
/// request that raised it gets no answer either) until an operator reinstates it, which is
/// recorded; a caller whose overrides say `record` keeps getting answers; `tighten` divides the
/// rate.
#[test]
fn an_extraction_alarm_suspends_the_client_until_reinstated() {
    use vigil_guard::{Action, ClientOverrides, MemoryAudit};
    use vigil_ledger::Event;

    let name = "breast-cancer";
    let policy = BundlePolicy::load(&device(name).join("policy.toml")).unwrap();
    let audit = Arc::new(MemoryAudit::new(100_000));
    let g = Guard::open(
        &device(name).join("bundle"),
        &Trust::Policy(policy),
        GuardOptions::new(audit.clone()),
    )
    .unwrap();
    let features = g.contract().features.clone();
    let clean = rows(&g, name, "validation.csv");
    let mut rng = Rng(11);
    let mut random = || -> Vec<f32> {
        features
            .iter()
            .map(|f| (f.min + rng.unit() * (f.max - f.min)) as f32)
            .collect()
    };
    let mut shape = [0usize; 2];
    let run = |g: &Guard, client: &str, row: &[f32], i: u64, ov: &ClientOverrides| {
        let mut shape = [0usize; 2];
        let request = RequestOptions::new()
            .overrides(ov.clone())
            .at(Duration::from_secs(i));
        g.infer(client, &g.row(row, &mut shape), &request)
    };
    let default = ClientOverrides::default();
    let mut raised_at = None;
    for i in 0..100u64 {
        let d = run(&g, "attacker", &random(), i, &default);
        if d.alarms.iter().any(|a| a.code() == "extraction") {
            assert_eq!(d.reason().map(|r| r.code()), Some("client_suspended"));
            raised_at = Some(i);
            break;
        }
    }
    let at = raised_at.expect("an extraction alarm within 100 random queries");
    // Suspended: even a clean row gets no answer, and another client is unaffected.
    let d = run(&g, "attacker", &clean[0], at + 1, &default);
    assert_eq!(d.reason().map(|r| r.code()), Some("client_suspended"));
    let d = g.infer(
        "ward",
        &g.row(&clean[0], &mut shape),
        &RequestOptions::new(),
    );
    assert_ne!(d.reason().map(|r| r.code()), Some("client_suspended"));
    // The alarm event says what it did.
    assert!(audit.events().iter().any(|e| matches!(e,
        Event::GuardAlarm(a) if a.client == "attacker" && a.response == "suspend")));
    // Reinstated by an operator: recorded, then answered again.
    assert!(g.reinstate("attacker", "operator-1").unwrap());
    assert!(
        !g.reinstate("attacker", "operator-1").unwrap(),
        "nothing left to lift"
    );
    assert!(audit.events().iter().any(|e| matches!(e,
        Event::Reinstated(r) if r.client == "attacker" && r.by == "operator-1")));
    let d = run(&g, "attacker", &clean[0], at + 2, &default);
    assert_ne!(d.reason().map(|r| r.code()), Some("client_suspended"));

    // `record` for this caller: the alarm is raised and recorded, answers continue.
    let record = ClientOverrides {
        extraction_response: Some(Action::Record),
        ..ClientOverrides::default()
    };
    let mut raised = false;
    for i in 0..100u64 {
        let d = run(&g, "tester", &random(), i, &record);
        raised |= d.alarms.iter().any(|a| a.code() == "extraction");
        assert_ne!(d.reason().map(|r| r.code()), Some("client_suspended"));
    }
    assert!(raised);

    // `tighten`: after the alarm the client's rate is a tenth (50/s -> 5/s): requests one
    // virtual 20 ms apart are soon rate limited.
    let tighten = ClientOverrides {
        extraction_response: Some(Action::Tighten),
        ..ClientOverrides::default()
    };
    let mut t = 0.0f64;
    let mut limited_after_alarm = false;
    let mut alarmed = false;
    for _ in 0..200 {
        t += 0.02;
        let request = RequestOptions::new()
            .overrides(tighten.clone())
            .at(Duration::from_secs_f64(t));
        let d = g.infer("tight", &g.row(&random(), &mut shape), &request);
        alarmed |= d.alarms.iter().any(|a| a.code() == "extraction");
        if alarmed && d.reason().map(|r| r.code()) == Some("rate_limited") {
            limited_after_alarm = true;
            break;
        }
    }
    assert!(alarmed && limited_after_alarm);
}

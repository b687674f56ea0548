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

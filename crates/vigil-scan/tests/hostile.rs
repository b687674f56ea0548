//! Hostile input never hurts the scanner: random bytes, truncated and bit-flipped samples,
//! and random opcode streams all end in a report (no panic, bounded time).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::path::Path;

use proptest::prelude::*;
use vigil_scan::{Limits, Policy, Scanner, Severity};

fn scanner() -> Scanner {
    let mut l = Limits::default();
    l.max_in_memory = 4 << 20;
    l.max_decompressed = 16 << 20;
    Scanner::new(l, Policy::new())
}

fn samples() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut out = Vec::new();
    for dir in ["malicious", "benign", "malformed"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && std::fs::metadata(&p).unwrap().len() < 64 * 1024 {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn every_prefix_of_every_small_sample_scans() {
    let s = scanner();
    for data in samples() {
        let step = (data.len() / 64).max(1);
        for n in (0..data.len()).step_by(step) {
            let _ = s.scan_bytes("prefix", &data[..n]);
        }
    }
}

#[test]
fn truncated_malicious_pickles_are_never_a_pass() {
    // Once the import is in, a cut-off stream still reports it; before that it is malformed.
    let s = scanner();
    let evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.";
    for n in 3..evil.len() {
        let r = s.scan_bytes("cut.pkl", &evil[..n]);
        assert!(
            r.max_severity() >= Some(Severity::Medium),
            "prefix {n}: {:?}",
            r.findings
        );
    }
}

const OPS: &[u8] = b"(.012NIJKLMFGSVTUXBCabcdeghijlopqrstu}])\x80\x81\x82\x85\x86\x87\x88\x89\x8a\x8c\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = scanner().scan_bytes("random", &data);
    }

    #[test]
    fn random_opcode_streams_never_panic(ops in proptest::collection::vec(proptest::sample::select(OPS), 0..512)) {
        let mut v = vec![0x80, 0x04];
        v.extend(ops);
        let _ = scanner().scan_bytes("ops.pkl", &v);
    }

    #[test]
    fn bit_flipped_samples_never_panic(idx in 0usize..1000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let all = samples();
        let mut data = all[idx % all.len()].clone();
        if !data.is_empty() {
            for (at, x) in flips {
                let n = data.len();
                data[at % n] ^= x;
            }
        }
        let _ = scanner().scan_bytes("flipped", &data);
    }
}

#[test]
fn dup_append_amplification_hits_the_value_limit() {
    // One value appended 200 000 times through DUP: container growth is counted too.
    let mut l = Limits::default();
    l.max_pickle_values = 100_000;
    let scanner = Scanner::new(l, Policy::new());
    let mut p = b"\x80\x02]N".to_vec();
    for _ in 0..200_000 {
        p.extend_from_slice(b"2a");
    }
    p.extend_from_slice(b"0.");
    let r = scanner.scan_bytes("amp.pkl", &p);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].rule, vigil_scan::Rule::ResourceLimit);
    assert_eq!(r.findings[0].severity, Severity::Medium);
}

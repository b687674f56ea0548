//! Drift's inputs against hostile bytes: the CSV reader itself is `vigil-table`'s (tested
//! there); here its errors pass through `DriftError` as they are, and the fuzz entry points
//! survive their seeds.

#![allow(clippy::unwrap_used, clippy::panic)]

use vigil_drift::{DriftError, Schema, Table};

#[test]
fn table_errors_pass_through_once() {
    let e: DriftError = Table::parse(b"a,b\n1,2\n3\n", "in.csv", &Schema::all())
        .unwrap_err()
        .into();
    assert_eq!(e.to_string(), "in.csv: line 3: 1 fields, the header has 2");
    // Transparent: the chain does not repeat the message.
    assert!(std::error::Error::source(&e).is_none());
}

#[test]
fn fuzz_entry_point_survives_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/drift_csv");
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        vigil_drift::internal::fuzz_csv(&bytes);
    }
}

#[test]
fn reference_fuzz_entry_point_survives_seeds() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/seeds/drift_reference"
    );
    let mut accepted = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        vigil_drift::internal::fuzz_reference(&bytes);
        accepted += usize::from(vigil_drift::ReferenceStats::from_json(&bytes, "seed").is_ok());
    }
    assert_eq!(accepted, 2, "valid.json and two_streams.json only");
}

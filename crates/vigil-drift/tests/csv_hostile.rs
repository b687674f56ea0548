//! The CSV reader against hostile and malformed input: every bound of `Limits` holds, every
//! error names where and why, nothing panics.

#![allow(clippy::unwrap_used, clippy::panic)]

use vigil_drift::{Column, DriftError, Limits, Table};

fn parse(bytes: &[u8], cats: &[&str], limits: &Limits) -> Result<Table, DriftError> {
    let cats: Vec<String> = cats.iter().map(|s| s.to_string()).collect();
    Table::parse(bytes, "in.csv", &cats, limits)
}

fn err(bytes: &[u8], cats: &[&str], limits: &Limits) -> String {
    match parse(bytes, cats, limits) {
        Ok(t) => panic!("accepted: {t:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn quoting_bom_crlf_and_missing_values() {
    let t = parse(
        b"\xef\xbb\xbfx,\"label\"\r\n1.5,\"a,b\"\r\n,\"say \"\"hi\"\"\"\r\n-2e3,c",
        &["label"],
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(t.names, ["x", "label"]);
    match (&t.columns[0], &t.columns[1]) {
        (Column::Numeric(x), Column::Categorical(l)) => {
            assert_eq!(x.len(), 3);
            assert_eq!(x[0], 1.5);
            assert!(x[1].is_nan());
            assert_eq!(x[2], -2000.0);
            assert_eq!(l, &["a,b", "say \"hi\"", "c"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_inputs_are_named_errors() {
    let l = Limits::default();
    let cases: [(&[u8], &str); 10] = [
        (b"", "no header"),
        (b"a,a\n1,2\n", "duplicate column name \"a\""),
        (b"a,,b\n1,2,3\n", "empty column name"),
        (b"a,b\n1,2\n3\n", "line 3: 1 fields, the header has 2"),
        (b"a,b\n1,\"2\n", "unterminated quoted field"),
        (b"a,b\n1,x\"y\n", "quote inside an unquoted field"),
        (b"a,b\n1,\"2\"z\n", "text after a closing quote"),
        (
            b"a,b\n1,zz\n",
            "row 1, column \"b\": \"zz\" is not a number",
        ),
        (
            b"a,b\n1,NaN\n",
            "row 1, column \"b\": \"NaN\" is not a finite number",
        ),
        (b"a,b\n1,1e400\n", "not a finite number"),
    ];
    for (input, want) in cases {
        let e = err(input, &[], &l);
        assert!(e.contains(want) && e.starts_with("in.csv"), "{want}: {e}");
    }
    assert!(err(b"a\n\xff\n", &["a"], &l).contains("not UTF-8"));
    assert!(err(b"a\n1\n", &["zz"], &l).contains("no column named \"zz\""));
}

#[test]
fn limits_hold() {
    let small = Limits {
        max_bytes: 1000,
        max_rows: 3,
        max_columns: 4,
        max_cell_bytes: 8,
        max_cells: 10,
    };
    assert!(err(&vec![b'a'; 1001], &[], &small).contains("larger than the limit of 1000 bytes"));
    assert!(err(b"a\n1\n2\n3\n4\n", &[], &small).contains("more than the limit of 3 data rows"));
    assert!(err(b"a,b,c,d,e\n", &[], &small).contains("more than the limit of 4 columns"));
    assert!(err(b"a\n123456789\n", &[], &small).contains("cell longer than the limit of 8 bytes"));
    assert!(err(b"a\n\"123456789\"\n", &[], &small).contains("cell longer"));
    assert!(parse(b"a,b,c,d\n1,2,3,4\n", &[], &small).is_ok());
    assert!(err(b"a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n", &[], &small).contains("limit of 10 cells"));
}

#[test]
fn pathological_but_valid_inputs() {
    let l = Limits::default();
    // Only a header: zero rows.
    assert_eq!(parse(b"a,b\n", &[], &l).unwrap().rows(), 0);
    // Blank lines between records are skipped.
    assert_eq!(parse(b"a,b\n1,2\n\n3,4\n", &[], &l).unwrap().rows(), 2);
    // A quoted newline inside a categorical cell.
    let t = parse(b"c\n\"x\ny\"\n", &["c"], &l).unwrap();
    assert_eq!(t.columns[0], Column::Categorical(vec!["x\ny".into()]));
    // Many tiny rows stay within the row limit's memory bound.
    let mut big = b"a\n".to_vec();
    for _ in 0..10_000 {
        big.extend_from_slice(b"1\n");
    }
    assert_eq!(parse(&big, &[], &l).unwrap().rows(), 10_000);
}

#[test]
fn fuzz_entry_point_survives_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/drift_csv");
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        vigil_drift::fuzz_csv(&bytes);
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
        vigil_drift::fuzz_reference(&bytes);
        accepted += usize::from(vigil_drift::ReferenceStats::from_json(&bytes, "seed").is_ok());
    }
    assert_eq!(accepted, 2, "valid.json and two_streams.json only");
}

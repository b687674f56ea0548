//! The reader against hostile and malformed input: every bound of `Limits` holds, every error
//! names the file, the line and the reason, nothing panics, and one pass and parallel
//! stretches agree.

#![allow(clippy::unwrap_used, clippy::panic)]

use vigil_table::internal::parse_in_stretches;
use vigil_table::{Cells, Column, Limits, Schema, Table, TableError};

fn parse(bytes: &[u8], text: &[&str], limits: &Limits) -> Result<Table, TableError> {
    let schema = Schema::all().text(text.iter().copied()).limits(*limits);
    let whole = Table::parse(bytes, "in.csv", &schema);
    let split = parse_in_stretches(bytes, "in.csv", &schema);
    assert_eq!(
        format!("{whole:?}"),
        format!("{split:?}"),
        "stretches agree"
    );
    whole
}

fn err(bytes: &[u8], text: &[&str], limits: &Limits) -> String {
    match parse(bytes, text, limits) {
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
    let cases: [(&[u8], &str); 13] = [
        (b"", "in.csv: line 1: empty input: no header row"),
        (b"a,a\n1,2\n", "in.csv: line 1: duplicate column name \"a\""),
        (b"a,,b\n1,2,3\n", "in.csv: line 1: empty column name"),
        (
            b"a,b\n1,2\n3\n",
            "in.csv: line 3: 1 fields, the header has 2",
        ),
        (
            b"a,b\n1,2\n3,4,5\n",
            "in.csv: line 3: 3 fields, the header has 2",
        ),
        (b"a,b\n1,\"2\n", "in.csv: line 2: unterminated quoted field"),
        (
            b"a,b\n1,2\n\"3,4\n5,6\n",
            "in.csv: line 3: unterminated quoted field",
        ),
        (
            b"a,b\n1,x\"y\n",
            "in.csv: line 2: quote inside an unquoted field",
        ),
        (
            b"a,b\n1,\"2\"z\n",
            "in.csv: line 2: text after a closing quote",
        ),
        (
            b"a,b\n1,zz\n",
            "in.csv: line 2, row 1, column \"b\": \"zz\" is not a number",
        ),
        (
            b"a,b\n1,2\n\n1,NaN\n",
            "in.csv: line 4, row 2, column \"b\": \"NaN\" is not a finite number",
        ),
        (b"a,b\n1,1e400\n", "\"1e400\" is not a finite number"),
        (b"\xffa,b\n1,2\n", "in.csv: line 1: header is not UTF-8"),
    ];
    for (input, want) in cases {
        let e = err(input, &[], &l);
        assert!(e.contains(want) && e.starts_with("in.csv"), "{want}: {e}");
    }
    assert!(
        err(b"a\n\xff\n", &["a"], &l).contains("line 2, row 1, column \"a\": cell is not UTF-8")
    );
    assert_eq!(err(b"a\n1\n", &["zz"], &l), "in.csv: missing column \"zz\"");
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
    assert_eq!(
        err(&vec![b'a'; 1001], &[], &small),
        "in.csv: larger than the limit of 1000 bytes"
    );
    assert!(
        err(b"a\n1\n2\n3\n4\n", &[], &small).contains("line 5: more than the limit of 3 data rows")
    );
    assert!(err(b"a,b,c,d,e\n", &[], &small).contains("line 1: more than the limit of 4 columns"));
    assert!(err(b"a\n123456789\n", &[], &small).contains("cell longer than the limit of 8 bytes"));
    assert!(err(b"a\n\"123456789\"\n", &[], &small).contains("cell longer"));
    assert!(
        parse(b"a\n\"12\"\"3456\"\n", &["a"], &small).is_ok(),
        "8 bytes unquoted"
    );
    assert!(parse(b"a,b,c,d\n1,2,3,4\n", &[], &small).is_ok());
    assert!(err(b"a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n", &[], &small).contains("limit of 10 cells"));
}

#[test]
fn a_file_is_refused_by_its_size_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(1 << 30).unwrap(); // sparse: nothing to read if the size is checked first
    let small = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let t = std::time::Instant::now();
    let e = Table::read_path(&path, &Schema::all().limits(small)).unwrap_err();
    assert!(t.elapsed().as_millis() < 500, "{:?}", t.elapsed());
    let msg = e.to_string();
    assert!(
        msg.contains("big.csv") && msg.contains("larger than"),
        "{msg}"
    );
    assert!(!msg.contains("line"), "{msg}");
    assert!(
        std::error::Error::source(&e).is_none(),
        "the cause is printed once"
    );
    // A missing file names the path.
    let e = Table::read_path(&dir.path().join("none.csv"), &Schema::all()).unwrap_err();
    assert!(e.to_string().contains("none.csv"), "{e}");
}

#[test]
fn pathological_but_valid_inputs() {
    let l = Limits::default();
    // Only a header: zero rows.
    assert_eq!(parse(b"a,b\n", &[], &l).unwrap().rows(), 0);
    // Blank lines between records are skipped.
    assert_eq!(parse(b"a,b\n1,2\n\n3,4\n\n", &[], &l).unwrap().rows(), 2);
    // With one column a blank line is an empty cell.
    assert_eq!(parse(b"a\n1\n\n3\n", &[], &l).unwrap().rows(), 3);
    // A quoted newline inside a text cell.
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
fn projection_by_name_per_row_cells_and_lines() {
    let csv = b"id,y,x,notes,label\n1,2.5,3,\"a\nb\",M\n2,,x,n,F\n3,nan,inf,n,\n";
    let schema = Schema::only(["x", "y"])
        .optional_text("label")
        .cells(Cells::PerRow);
    let t = Table::parse(csv, "p.csv", &schema).unwrap();
    assert_eq!(t.names, ["x", "y", "label"]);
    assert_eq!(t.rows(), 3);
    assert_eq!(
        (t.line(0), t.line(1), t.line(2)),
        (Some(2), Some(4), Some(5))
    );
    assert_eq!(t.first_invalid(0), None);
    assert_eq!(t.first_invalid(1), Some(0), "x is not a number, y is empty");
    assert_eq!(t.first_invalid(2), None, "nan and inf are values here");
    match &t.columns[0] {
        Column::Numeric(x) => assert!(x[0] == 3.0 && x[2].is_infinite()),
        other => panic!("{other:?}"),
    }
    // A missing optional column is left out; a missing required one is an error.
    let t = Table::parse(b"x,y\n1,2\n", "p.csv", &schema).unwrap();
    assert_eq!(t.names, ["x", "y"]);
    let e = Table::parse(b"x,z\n1,2\n", "p.csv", &schema).unwrap_err();
    assert_eq!(e.to_string(), "p.csv: missing column \"y\"");
    // A projected column named twice is an error; others may repeat.
    let e = Table::parse(b"x,y,x\n1,2,3\n", "p.csv", &schema).unwrap_err();
    assert_eq!(e.to_string(), "p.csv: line 1: duplicate column name \"x\"");
    assert!(Table::parse(b"x,y,,,z,z\n1,2,,,3,3\n", "p.csv", &schema).is_ok());
    // Ragged rows and stray quotes are errors here too.
    for (csv, want) in [
        (
            &b"x,y\n1,2\n1\n"[..],
            "p.csv: line 3: 1 fields, the header has 2",
        ),
        (
            b"x,y\n1,2\n\"1,2\n",
            "p.csv: line 3: unterminated quoted field",
        ),
        (
            b"x,y\n1,2\n1,2\"\n",
            "p.csv: line 3: quote inside an unquoted field",
        ),
    ] {
        assert_eq!(
            Table::parse(csv, "p.csv", &schema).unwrap_err().to_string(),
            want
        );
    }
}

#[test]
fn large_inputs_parse_in_stretches_like_one_pass() {
    // Above the one-pass threshold, with quoted newlines and escaped quotes.
    let mut csv = b"a,b,c\n".to_vec();
    let mut i = 0u64;
    while csv.len() < 3 << 20 {
        i += 1;
        let line = match i % 5 {
            0 => format!("{i},\"x\ny\",{}\n", i as f64 / 3.0),
            1 => format!("{i},\"q\"\"\",-1e-3\n"),
            2 => "\n".to_owned(),
            _ => format!("{i},p{i},{}\n", i * 7),
        };
        csv.extend_from_slice(line.as_bytes());
    }
    let schema = Schema::all().text(["b"]);
    let t = Table::parse(&csv, "big.csv", &schema).unwrap();
    let one = vigil_table::internal::parse_one_pass(&csv, "big.csv", &schema).unwrap();
    assert_eq!(t.rows(), one.rows());
    assert!(t == one, "stretches and one pass differ");
    // An error far into the file is reported with its line, as one pass reports it.
    let mut bad = csv.clone();
    bad.extend_from_slice(b"1,2\n");
    let lines = bad.iter().filter(|&&b| b == b'\n').count();
    let e = Table::parse(&bad, "big.csv", &schema)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("big.csv: line {lines}: 2 fields, the header has 3")
    );
}

#[test]
fn fuzz_entry_point_survives_seeds() {
    for target in ["table", "drift_csv", "guard_csv"] {
        let dir = format!("{}/../../fuzz/seeds/{target}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            vigil_table::internal::fuzz_table(&bytes);
        }
    }
}

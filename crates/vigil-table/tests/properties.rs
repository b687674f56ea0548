//! Properties: any table written as CSV (with any quoting) reads back as it was, in one pass
//! and in parallel stretches alike; a ragged record is always refused with its line.

#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;
use vigil_table::internal::{parse_in_stretches, parse_one_pass};
use vigil_table::{Column, Schema, Table};

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn text_cell() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-z,\"\n\r é]{0,8}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn written_tables_read_back(
        numbers in prop::collection::vec(prop::num::f64::NORMAL | prop::num::f64::ZERO, 1..40),
        texts in prop::collection::vec(text_cell(), 40),
        crlf in any::<bool>(),
        quote_numbers in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut csv = format!("x,{}{eol}", quote("t e\"xt"));
        let rows = numbers.len();
        for (i, x) in numbers.iter().enumerate() {
            let n = if quote_numbers { quote(&x.to_string()) } else { x.to_string() };
            csv.push_str(&format!("{n},{}", quote(&texts[i])));
            if i + 1 < rows || final_newline {
                csv.push_str(eol);
            }
        }
        let schema = Schema::all().text(["t e\"xt"]);
        let t = Table::parse(csv.as_bytes(), "p.csv", &schema).unwrap();
        prop_assert_eq!(&t.names, &["x".to_owned(), "t e\"xt".to_owned()]);
        prop_assert_eq!(&t.columns[0], &Column::Numeric(numbers.clone()));
        prop_assert_eq!(&t.columns[1], &Column::Categorical(texts[..rows].to_vec()));
        let split = parse_in_stretches(csv.as_bytes(), "p.csv", &schema).unwrap();
        prop_assert_eq!(t, split);
    }

    #[test]
    fn one_pass_and_stretches_agree_on_any_bytes(
        data in prop::collection::vec(prop::sample::select(b"ab1.,\"\n\r x".to_vec()), 0..400),
    ) {
        for schema in [Schema::all().text(["a"]), Schema::only(["a"]).optional_text("b")] {
            let one = parse_one_pass(&data, "f", &schema);
            let split = parse_in_stretches(&data, "f", &schema);
            prop_assert_eq!(format!("{one:?}"), format!("{split:?}"));
        }
    }

    #[test]
    fn a_ragged_record_is_refused_with_its_line(
        width in 2usize..6,
        rows in 1usize..20,
        bad in 0usize..20,
        delta in prop::sample::select(vec![-1i64, 1, 2]),
    ) {
        let bad = bad % rows;
        let header: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
        let mut csv = header.join(",") + "\n";
        for r in 0..rows {
            let n = if r == bad { (width as i64 + delta) as usize } else { width };
            csv += &vec!["1"; n].join(",");
            csv += "\n";
        }
        let e = Table::parse(csv.as_bytes(), "r.csv", &Schema::all()).unwrap_err();
        prop_assert_eq!(
            e.to_string(),
            format!("r.csv: line {}: {} fields, the header has {width}", bad + 2, (width as i64 + delta))
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Records read in one pass and in stretches agree, fail alike, and find the rows the
    /// table reader finds; each record's bytes are its line without the line end.
    #[test]
    fn records_agree_with_tables(
        data in prop::collection::vec(prop::sample::select(b"ab1.,\"\n\r x".to_vec()), 0..400),
    ) {
        let limits = vigil_table::Limits::default();
        let one = vigil_table::Records::read(&data, "f", &limits);
        let split = vigil_table::internal::records_in_stretches(&data, "f", &limits);
        prop_assert_eq!(format!("{one:?}"), format!("{split:?}"));
        if let Ok(r) = &one {
            let text = Schema::all().text(r.header.clone());
            let t = Table::parse(&data, "f", &text).unwrap();
            prop_assert_eq!(t.rows(), r.rows.len());
            for (i, rec) in r.rows.iter().enumerate() {
                let b = r.bytes(&data, i).unwrap();
                prop_assert!(!b.ends_with(b"\n"));
                prop_assert!(rec.start <= rec.end);
            }
        }
    }
}

#[test]
fn records_name_the_line_of_a_ragged_row_and_keep_quotes() {
    let csv = b"\xef\xbb\xbfa,b\r\n1,\"x\"\"y\nz\"\r\n\r\n2,3\r\n4\n";
    let err =
        vigil_table::Records::read(csv, "r.csv", &vigil_table::Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "r.csv: line 6: 1 fields, the header has 2");
    let ok = &csv[..csv.len() - 2];
    let r = vigil_table::Records::read(ok, "r.csv", &vigil_table::Limits::default()).unwrap();
    assert_eq!(r.rows.len(), 2);
    assert_eq!(&ok[r.head.start..r.head.end], b"a,b");
    assert_eq!(r.bytes(ok, 0).unwrap(), b"1,\"x\"\"y\nz\"");
    assert_eq!(r.bytes(ok, 1).unwrap(), b"2,3");
    assert_eq!(r.rows[1].line, 5);
    assert_eq!(
        r.kinds,
        [vigil_table::Kind::Number, vigil_table::Kind::Text]
    );
}

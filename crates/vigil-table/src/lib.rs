//! One bounded CSV reader for Vigil: columns projected by name, typed cells (`f64` numbers and
//! text), row, column, cell and byte limits, and errors that name the file, the line and the
//! column with the reason. The drift monitor, the runtime guard's batch commands and data
//! screening read their tables through it, so every one of them accepts and refuses the same
//! files.
//!
//! # Format
//!
//! RFC 4180 with the usual relaxations: fields separated by `,`, records by `\n` or `\r\n`, an
//! optional UTF-8 byte-order mark, fields quoted with `"` (a doubled `""` inside quotes is one
//! quote; a quoted field may span lines), the last record may lack its newline. The first
//! record is the header. Refused, with the line named:
//!
//! - an unterminated quoted field (the line where its record starts), a quote inside an unquoted
//!   field, text after a closing quote;
//! - a ragged record: every record must have as many fields as the header (no value is ever
//!   shifted into another column);
//! - a header that is not UTF-8; among the columns read, an empty or repeated name;
//! - anything beyond the [`Limits`].
//!
//! A line that is completely empty is skipped when the header has more than one column (with
//! one column it is an empty cell). Number cells are decimal floating point with surrounding
//! white space ignored; text cells are kept as they are. What an empty or bad cell means is the
//! [`Cells`] policy: an error naming line, row and column ([`Cells::Strict`], whole-table
//! readers such as drift), or a mark on that row ([`Cells::PerRow`], row-by-row readers such as
//! the guard, which answer such a row with an abstention).
//!
//! Large inputs are parsed on every core: the body is cut at line ends outside quoted fields
//! and the stretches are parsed in parallel; any error is reported as one pass reports it.
//!
//! # Example
//!
//! ```
//! use vigil_table::{Column, Schema, Table};
//!
//! let csv = b"\xef\xbb\xbfage,sex,score\r\n61,F,0.25\r\n47,\"M\",\r\n";
//! let t = Table::parse(csv, "patients.csv", &Schema::all().text(["sex"]))?;
//! assert_eq!(t.names, ["age", "sex", "score"]);
//! assert_eq!(t.column("sex"), Some(&Column::Categorical(vec!["F".into(), "M".into()])));
//! match t.column("score") {
//!     Some(Column::Numeric(v)) => assert!(v[0] == 0.25 && v[1].is_nan()), // empty: missing
//!     other => unreachable!("{other:?}"),
//! }
//!
//! // A short row is an error that names the line, never a shift of values.
//! let err = Table::parse(b"a,b\n1,2\n3\n", "x.csv", &Schema::all()).unwrap_err();
//! assert_eq!(err.to_string(), "x.csv: line 3: 1 fields, the header has 2");
//! # Ok::<(), vigil_table::TableError>(())
//! ```

#![deny(missing_docs)]

mod body;
mod error;
mod lex;
mod limits;
mod number;
mod parallel;
mod records;
mod schema;
mod table;

// The public interface:
// what is read and how
pub use crate::limits::Limits;
pub use crate::schema::{Cells, Kind, Schema};
// what comes back
pub use crate::schema::Column;
pub use crate::table::Table;
// records as they lie in the input (for digests)
pub use crate::records::{RawRecord, Records};
// what can go wrong
pub use crate::error::{CellFault, Fault, TableError};

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    use crate::{Cells, Limits, Schema, Table};

    /// [`Table::parse`], with the body cut into stretches parsed in parallel whatever its size
    /// (one pass otherwise starts from 1 MiB): for tests that one pass and stretches agree.
    pub fn parse_in_stretches(
        bytes: &[u8],
        file: &str,
        schema: &Schema,
    ) -> Result<Table, crate::TableError> {
        Table::parse_split(bytes, file, schema, 1)
    }

    /// [`Records::read`](crate::Records::read), in stretches whatever the size.
    pub fn records_in_stretches(
        bytes: &[u8],
        file: &str,
        limits: &crate::Limits,
    ) -> Result<crate::Records, crate::TableError> {
        crate::Records::read_split(bytes, file, limits, 1)
    }

    /// [`Table::parse`] in one pass whatever the size.
    pub fn parse_one_pass(
        bytes: &[u8],
        file: &str,
        schema: &Schema,
    ) -> Result<Table, crate::TableError> {
        Table::parse_split(bytes, file, schema, usize::MAX)
    }

    /// Parses arbitrary bytes under small limits, whole-table and row by row, with and without
    /// a projection; must never panic, and what it accepts must be rectangular.
    pub fn fuzz_table(data: &[u8]) {
        let limits = Limits {
            max_bytes: 1 << 20,
            max_rows: 1000,
            max_columns: 64,
            max_cell_bytes: 256,
            max_cells: 10_000,
        };
        let schemas = [
            Schema::all().limits(limits),
            Schema::all().text(["c"]).limits(limits),
            Schema::only(["a", "b"])
                .optional_text("c")
                .cells(Cells::PerRow)
                .limits(limits),
        ];
        for schema in &schemas {
            let whole = Table::parse(data, "fuzz", schema);
            let split = parse_in_stretches(data, "fuzz", schema);
            match (&whole, &split) {
                (Ok(a), Ok(b)) => assert!(a == b || format!("{a:?}") == format!("{b:?}")),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => unreachable!("one pass and stretches disagree"),
            }
            if let Ok(t) = whole {
                let rows = t.rows();
                assert!(t.columns.iter().all(|c| c.len() == rows));
                for r in 0..rows {
                    let _ = (t.line(r), t.first_invalid(r));
                }
            }
        }
    }
}

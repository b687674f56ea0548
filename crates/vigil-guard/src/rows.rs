//! CSV rows for `vigil guard`: the contract's feature columns, read by name through
//! `vigil-table` (the one CSV reader of Vigil), one row at a time.

use vigil_table::{Cells, Column, Schema, Table};

use crate::contract::Contract;
use crate::error::GuardError;
use crate::reason::Reason;

/// Bounds on a CSV input.
#[derive(Debug, Clone)]
pub struct CsvLimits {
    /// Largest file, in bytes (default 256 MiB).
    pub max_bytes: u64,
    /// Most rows (default 10,000,000).
    pub max_rows: u64,
    /// Most columns (default 100,000).
    pub max_columns: usize,
}

impl Default for CsvLimits {
    fn default() -> Self {
        CsvLimits {
            max_bytes: 256 << 20,
            max_rows: 10_000_000,
            max_columns: 100_000,
        }
    }
}

impl CsvLimits {
    /// The table reader's limits: these bounds, with cells bounded by the size alone.
    fn table_limits(&self) -> vigil_table::Limits {
        let bytes = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        vigil_table::Limits {
            max_bytes: self.max_bytes,
            max_rows: usize::try_from(self.max_rows).unwrap_or(usize::MAX),
            max_columns: self.max_columns,
            max_cell_bytes: bytes,
            max_cells: usize::MAX,
        }
    }
}

/// One data row.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    /// Line number in the file where the row starts (1 is the header).
    pub line: u64,
    /// The contract's features in contract order, or why a cell is unusable (`malformed`).
    pub values: Result<Vec<f32>, Reason>,
    /// The `label` column, as a class index, when present and known.
    pub label: Option<usize>,
}

/// The name of the optional label column.
const LABEL: &str = "label";

/// Parses CSV `bytes` (named `file` in errors) with `vigil-table`: a header naming every contract
/// feature (extra columns are ignored; a missing one is an error), then rows. Bad quoting (an
/// unterminated or stray quote) and a ragged row (another number of fields than the header)
/// are errors naming the line. Cells parse as decimal numbers (`nan` and `inf` parse and are
/// refused later by the contract); an empty or non-numeric cell makes that row `malformed`. A
/// label column `label` holds a class index or a label name.
pub fn parse_csv(
    bytes: &[u8],
    file: &str,
    contract: &Contract,
    limits: &CsvLimits,
) -> Result<Vec<CsvRow>, GuardError> {
    let features = contract.features.iter().map(|f| f.name.as_str());
    let schema = Schema::only(features)
        .optional_text(LABEL)
        .cells(Cells::PerRow)
        .limits(limits.table_limits());
    let table = Table::parse(bytes, file, &schema)?;
    let width = contract.width();
    let columns: Vec<&[f64]> = table
        .columns
        .iter()
        .take(width)
        .filter_map(|c| match c {
            Column::Numeric(v) => Some(v.as_slice()),
            Column::Categorical(_) => None,
        })
        .collect();
    let label_of = |row: usize| -> Option<usize> {
        let by_text = |s: &str| {
            s.parse::<usize>()
                .ok()
                .filter(|k| *k < contract.labels.len())
                .or_else(|| contract.labels.iter().position(|l| l == s))
        };
        match table.column(LABEL)? {
            Column::Categorical(v) => by_text(v.get(row)?.trim()),
            // `label` is also a contract feature: its number is the class index.
            Column::Numeric(v) => {
                let x = *v.get(row)?;
                (x.is_finite() && x >= 0.0 && x.fract() == 0.0)
                    .then(|| by_text(&format!("{x}")))
                    .flatten()
            }
        }
    };
    let label_column = table.names.iter().position(|n| n == LABEL);
    let mut rows = Vec::with_capacity(table.rows());
    for r in 0..table.rows() {
        let values = match table.first_invalid(r).filter(|&c| c < width) {
            Some(c) => Err(Reason::Malformed {
                feature: contract
                    .features
                    .get(c)
                    .map(|f| f.name.clone())
                    .unwrap_or_default(),
            }),
            None => Ok(columns
                .iter()
                .map(|c| c.get(r).map_or(f32::NAN, |&x| x as f32))
                .collect()),
        };
        let label_ok = label_column.is_none_or(|c| table.first_invalid(r) != Some(c));
        rows.push(CsvRow {
            line: table.line(r).unwrap_or(0) as u64,
            values,
            label: if label_ok { label_of(r) } else { None },
        });
    }
    Ok(rows)
}

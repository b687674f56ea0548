//! CSV rows for `vigil guard`: columns matched by the contract's feature names.

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

/// One data row.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    /// Line number in the file (1 is the header).
    pub line: u64,
    /// The contract's features in contract order, or why a cell is unusable (`malformed`).
    pub values: Result<Vec<f32>, Reason>,
    /// The `label` column, as a class index, when present and known.
    pub label: Option<usize>,
}

/// Parses CSV `bytes` (named `file` in errors): a header naming every contract feature (extra
/// columns are ignored; a missing one is an error), then rows. Cells parse as decimal numbers
/// (`nan` and `inf` parse and are refused later by the contract); an empty or non-numeric cell
/// or a short row makes that row `malformed`. A label column `label` holds a class index or a
/// label name.
pub fn parse_csv(
    bytes: &[u8],
    file: &str,
    contract: &Contract,
    limits: &CsvLimits,
) -> Result<Vec<CsvRow>, GuardError> {
    let err = |line: u64, reason: String| GuardError::Csv {
        file: file.to_string(),
        line,
        reason,
    };
    if bytes.len() as u64 > limits.max_bytes {
        return Err(err(0, format!("larger than {} bytes", limits.max_bytes)));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Err(err(1, "empty file: no header".into())),
        Some(r) => r.map_err(|e| err(1, e.to_string()))?,
    };
    if header.len() > limits.max_columns {
        return Err(err(1, format!("more than {} columns", limits.max_columns)));
    }
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let mut columns = Vec::with_capacity(contract.width());
    for f in &contract.features {
        let mut found = names.iter().enumerate().filter(|(_, n)| **n == f.name);
        match (found.next(), found.next()) {
            (Some((i, _)), None) => columns.push(i),
            (None, _) => return Err(err(1, format!("missing column {:?}", f.name))),
            (Some(_), Some(_)) => return Err(err(1, format!("column {:?} appears twice", f.name))),
        }
    }
    let label_col = names.iter().position(|n| n == "label");
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let line = i as u64 + 2;
        if line - 1 > limits.max_rows {
            return Err(err(line, format!("more than {} rows", limits.max_rows)));
        }
        let record = record.map_err(|e| err(line, e.to_string()))?;
        if record.len() == 1 && record.get(0).is_some_and(|c| c.is_empty()) {
            continue; // a blank line
        }
        if record.len() > limits.max_columns {
            return Err(err(
                line,
                format!("more than {} columns", limits.max_columns),
            ));
        }
        let mut values = Vec::with_capacity(columns.len());
        let mut bad = None;
        for (&c, f) in columns.iter().zip(&contract.features) {
            let v = record
                .get(c)
                .and_then(|cell| std::str::from_utf8(cell).ok())
                .and_then(|s| s.trim().parse::<f32>().ok());
            match v {
                Some(v) => values.push(v),
                None => {
                    bad = Some(Reason::Malformed {
                        feature: f.name.clone(),
                    });
                    break;
                }
            }
        }
        let label = label_col
            .and_then(|c| record.get(c))
            .and_then(|cell| std::str::from_utf8(cell).ok())
            .map(str::trim)
            .and_then(|s| {
                s.parse::<usize>()
                    .ok()
                    .filter(|k| *k < contract.labels.len())
                    .or_else(|| contract.labels.iter().position(|l| l == s))
            });
        rows.push(CsvRow {
            line,
            values: match bad {
                Some(r) => Err(r),
                None => Ok(values),
            },
            label,
        });
    }
    Ok(rows)
}

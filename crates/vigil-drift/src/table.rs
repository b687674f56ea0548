//! A bounded CSV reader for drift inputs: a header row, then one row per observation.
//!
//! Format (RFC 4180 with the usual relaxations): fields separated by `,`, records by `\n` or
//! `\r\n`, optional UTF-8 byte-order mark, fields may be quoted with `"` (a doubled `""` inside
//! quotes is one quote), the last record may lack its newline. Every record must have as many
//! fields as the header; header names must be non-empty and unique. Numeric cells are parsed as
//! decimal floating point and must be finite; an empty numeric cell is a missing value. Every
//! resource is bounded by [`Limits`].

use std::io::Read;

use crate::error::DriftError;

/// Bounds on what a CSV input may make the reader hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Largest input accepted, in bytes (default 1 GiB).
    pub max_bytes: u64,
    /// Most data rows (default 10 000 000).
    pub max_rows: usize,
    /// Most columns (default 4096).
    pub max_columns: usize,
    /// Longest cell, in bytes (default 4096).
    pub max_cell_bytes: usize,
    /// Most cells (data rows times columns) held in memory (default 50 000 000: 400 MB of
    /// numbers; a categorical cell costs its text plus about 24 bytes).
    pub max_cells: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            max_rows: 10_000_000,
            max_columns: 4096,
            max_cell_bytes: 4096,
            max_cells: 50_000_000,
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; NaN marks a missing (empty) cell.
    Numeric(Vec<f64>),
    /// Labels, kept as text (an empty cell is the empty label).
    Categorical(Vec<String>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The present (non-missing) numbers of a numeric column.
    pub fn present(&self) -> Vec<f64> {
        match self {
            Column::Numeric(v) => v.iter().copied().filter(|x| !x.is_nan()).collect(),
            Column::Categorical(_) => Vec::new(),
        }
    }
}

/// A parsed table: column names in header order and their values.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Header names.
    pub names: Vec<String>,
    /// Columns, in header order.
    pub columns: Vec<Column>,
}

impl Table {
    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.columns.get(i))
    }

    /// Read a table from a file; columns named in `categorical` are kept as text, the others
    /// must hold numbers.
    pub fn read_path(
        path: &std::path::Path,
        categorical: &[String],
        limits: &Limits,
    ) -> Result<Table, DriftError> {
        let label = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| DriftError::Csv {
            source_name: label.clone(),
            line: 0,
            reason: format!("cannot open: {e}"),
        })?;
        let mut bytes = Vec::new();
        file.take(limits.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| DriftError::Csv {
                source_name: label.clone(),
                line: 0,
                reason: format!("cannot read: {e}"),
            })?;
        Table::parse(&bytes, &label, categorical, limits)
    }

    /// Parse CSV bytes (see the module documentation for the format). `label` names the input in
    /// errors.
    pub fn parse(
        bytes: &[u8],
        label: &str,
        categorical: &[String],
        limits: &Limits,
    ) -> Result<Table, DriftError> {
        let csv_err = |line: usize, reason: String| DriftError::Csv {
            source_name: label.to_owned(),
            line,
            reason,
        };
        if bytes.len() as u64 > limits.max_bytes {
            return Err(csv_err(
                0,
                format!("input larger than the limit of {} bytes", limits.max_bytes),
            ));
        }
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let mut records = Records {
            bytes,
            pos: 0,
            line: 1,
            limits,
        };
        let (header_line, header) = match records.next_record().map_err(|(l, r)| csv_err(l, r))? {
            Some(h) => h,
            None => return Err(csv_err(1, "empty input: no header row".into())),
        };
        let mut names = Vec::with_capacity(header.len());
        for name in header {
            let name = String::from_utf8(name)
                .map_err(|_| csv_err(header_line, "header is not UTF-8".into()))?;
            let name = name.trim().to_owned();
            if name.is_empty() {
                return Err(csv_err(header_line, "empty column name in header".into()));
            }
            if names.contains(&name) {
                return Err(csv_err(
                    header_line,
                    format!("duplicate column name {name:?}"),
                ));
            }
            names.push(name);
        }
        for c in categorical {
            if !names.contains(c) {
                return Err(DriftError::MissingColumn {
                    source_name: label.to_owned(),
                    column: c.clone(),
                });
            }
        }
        let is_cat: Vec<bool> = names.iter().map(|n| categorical.contains(n)).collect();
        let mut columns: Vec<Column> = is_cat
            .iter()
            .map(|&c| {
                if c {
                    Column::Categorical(Vec::new())
                } else {
                    Column::Numeric(Vec::new())
                }
            })
            .collect();
        let mut row = 0usize;
        while let Some((line, fields)) = records.next_record().map_err(|(l, r)| csv_err(l, r))? {
            // A completely empty line (one empty field) is skipped.
            if fields.len() == 1 && fields[0].is_empty() && names.len() > 1 {
                continue;
            }
            row += 1;
            if row > limits.max_rows {
                return Err(csv_err(
                    line,
                    format!("more than the limit of {} data rows", limits.max_rows),
                ));
            }
            if row.saturating_mul(names.len()) > limits.max_cells {
                return Err(csv_err(
                    line,
                    format!("more than the limit of {} cells", limits.max_cells),
                ));
            }
            if fields.len() != names.len() {
                return Err(csv_err(
                    line,
                    format!("{} fields, the header has {}", fields.len(), names.len()),
                ));
            }
            for ((field, column), name) in fields.into_iter().zip(columns.iter_mut()).zip(&names) {
                let bad = |reason: String| DriftError::BadCell {
                    source_name: label.to_owned(),
                    row,
                    column: name.clone(),
                    reason,
                };
                let text = String::from_utf8(field).map_err(|_| bad("cell is not UTF-8".into()))?;
                match column {
                    Column::Categorical(v) => v.push(text),
                    Column::Numeric(v) => {
                        let t = text.trim();
                        if t.is_empty() {
                            v.push(f64::NAN);
                            continue;
                        }
                        let x: f64 = t
                            .parse()
                            .map_err(|_| bad(format!("{t:?} is not a number")))?;
                        if !x.is_finite() {
                            return Err(bad(format!("{t:?} is not a finite number")));
                        }
                        v.push(x);
                    }
                }
            }
        }
        Ok(Table { names, columns })
    }
}

struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    limits: &'a Limits,
}

type Record = (usize, Vec<Vec<u8>>);

impl Records<'_> {
    /// The next record with the line it starts on, or `None` at the end.
    fn next_record(&mut self) -> Result<Option<Record>, (usize, String)> {
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let start_line = self.line;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut in_quotes = false;
        let mut was_quoted = false;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                if in_quotes {
                    return Err((start_line, "unterminated quoted field".into()));
                }
                fields.push(field);
                return Ok(Some((start_line, fields)));
            };
            self.pos += 1;
            if in_quotes {
                if b == b'"' {
                    if self.bytes.get(self.pos) == Some(&b'"') {
                        self.pos += 1;
                        field.push(b'"');
                    } else {
                        in_quotes = false;
                    }
                } else {
                    if b == b'\n' {
                        self.line += 1;
                    }
                    field.push(b);
                }
            } else {
                match b {
                    b',' => {
                        fields.push(std::mem::take(&mut field));
                        was_quoted = false;
                        if fields.len() >= self.limits.max_columns {
                            return Err((
                                self.line,
                                format!(
                                    "more than the limit of {} columns",
                                    self.limits.max_columns
                                ),
                            ));
                        }
                    }
                    b'\n' => {
                        self.line += 1;
                        if field.last() == Some(&b'\r') && !was_quoted {
                            field.pop();
                        }
                        fields.push(field);
                        return Ok(Some((start_line, fields)));
                    }
                    b'"' if field.is_empty() && !was_quoted => {
                        in_quotes = true;
                        was_quoted = true;
                    }
                    b'"' => {
                        return Err((self.line, "quote inside an unquoted field".into()));
                    }
                    b'\r' if was_quoted => {}
                    _ => {
                        if was_quoted {
                            return Err((self.line, "text after a closing quote".into()));
                        }
                        field.push(b);
                    }
                }
            }
            if field.len() > self.limits.max_cell_bytes {
                return Err((
                    self.line,
                    format!(
                        "cell longer than the limit of {} bytes",
                        self.limits.max_cell_bytes
                    ),
                ));
            }
        }
    }
}

/// Fuzzing entry point: parse arbitrary bytes with small limits; must never panic.
#[doc(hidden)]
pub fn fuzz_csv(data: &[u8]) {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_rows: 1000,
        max_columns: 64,
        max_cell_bytes: 256,
        max_cells: 10_000,
    };
    let cats = vec!["c".to_owned()];
    if let Ok(table) = Table::parse(data, "fuzz", &cats, &limits) {
        let _ = table.rows();
    }
    let _ = Table::parse(data, "fuzz", &[], &limits);
}

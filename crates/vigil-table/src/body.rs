//! The body of a table: what to do with each header field ([`Plan`]) and the row parser that
//! fills columns from one stretch of rows ([`parse_part`]).

use crate::error::{CellFault, Fault, TableError};
use crate::lex::{Lexer, Span};
use crate::limits::Limits;
use crate::number::{parse_number, Number};
use crate::schema::{Cells, Column, Kind, Schema};

/// What to do with each header field, decided once from the header.
pub(crate) struct Plan {
    /// Output names, in output order.
    pub(crate) names: Vec<String>,
    /// For each header field, the output column it fills, if any.
    pub(crate) target: Vec<Option<usize>>,
    /// Kind of each output column.
    pub(crate) kinds: Vec<Kind>,
    pub(crate) cells: Cells,
    pub(crate) limits: Limits,
}

impl Plan {
    pub(crate) fn new(
        bytes: &[u8],
        spans: &[Span],
        line: usize,
        file: &str,
        schema: &Schema,
    ) -> Result<Plan, TableError> {
        let syntax = |fault: Fault| TableError::Syntax {
            file: file.to_owned(),
            line,
            fault,
        };
        let mut header = Vec::with_capacity(spans.len());
        for s in spans {
            let name = std::str::from_utf8(&s.bytes(bytes))
                .map_err(|_| syntax(Fault::HeaderNotUtf8))?
                .trim()
                .to_owned();
            header.push(name);
        }
        let missing = |column: &str| TableError::MissingColumn {
            file: file.to_owned(),
            column: column.to_owned(),
        };
        let kind_of = |name: &str| {
            if schema.text.iter().any(|t| t == name) {
                Kind::Text
            } else {
                Kind::Number
            }
        };
        let mut target = vec![None; header.len()];
        let mut names = Vec::new();
        match &schema.only {
            None => {
                for (i, name) in header.iter().enumerate() {
                    if name.is_empty() {
                        return Err(syntax(Fault::EmptyName));
                    }
                    if names.contains(name) {
                        return Err(syntax(Fault::DuplicateName(name.clone())));
                    }
                    names.push(name.clone());
                    if let Some(t) = target.get_mut(i) {
                        *t = Some(i);
                    }
                }
                if let Some(t) = schema.text.iter().find(|t| !names.contains(t)) {
                    if !schema.optional.contains(t) {
                        return Err(missing(t));
                    }
                }
            }
            Some(only) => {
                let wanted = only.iter().map(|n| (n, true));
                let optional = schema.optional.iter().map(|n| (n, false));
                for (name, required) in wanted.chain(optional) {
                    if names.contains(name) {
                        continue;
                    }
                    let mut found = header.iter().enumerate().filter(|(_, h)| *h == name);
                    match (found.next(), found.next()) {
                        (Some((i, _)), None) => {
                            if let Some(t) = target.get_mut(i) {
                                *t = Some(names.len());
                            }
                            names.push(name.clone());
                        }
                        (Some(_), Some(_)) => {
                            return Err(syntax(Fault::DuplicateName(name.clone())))
                        }
                        (None, _) if required => return Err(missing(name)),
                        (None, _) => {}
                    }
                }
            }
        }
        let kinds = names.iter().map(|n| kind_of(n)).collect();
        Ok(Plan {
            names,
            target,
            kinds,
            cells: schema.cells,
            limits: schema.limits,
        })
    }
}

/// The rows of one stretch of the body.
pub(crate) struct Part {
    pub(crate) columns: Vec<Column>,
    pub(crate) lines: Vec<usize>,
    pub(crate) invalid: Vec<(usize, usize)>,
    pub(crate) rows: usize,
}

impl Part {
    pub(crate) fn append(&mut self, other: Part) {
        let offset = self.rows;
        for (a, b) in self.columns.iter_mut().zip(other.columns) {
            a.append(b);
        }
        self.lines.extend(other.lines);
        self.invalid
            .extend(other.invalid.into_iter().map(|(r, c)| (r + offset, c)));
        self.rows += other.rows;
    }
}

/// Parse the records of `body` (whose first byte is on line `first_line`, after `first_row`
/// earlier data rows) into a part. Errors name global lines and rows.
pub(crate) fn parse_part(
    body: &[u8],
    first_line: usize,
    first_row: usize,
    plan: &Plan,
    file: &str,
) -> Result<Part, TableError> {
    let limits = &plan.limits;
    let mut lexer = Lexer::new(body, first_line, limits.max_columns, limits.max_cell_bytes);
    let width = plan.target.len();
    let kept = plan.names.len();
    let guess = memchr::memchr_iter(b'\n', body)
        .count()
        .min(limits.max_rows);
    let mut part = Part {
        columns: plan
            .kinds
            .iter()
            .map(|&k| Column::empty(k, guess))
            .collect(),
        lines: Vec::new(),
        invalid: Vec::new(),
        rows: 0,
    };
    let syntax = |line: usize, fault: Fault| TableError::Syntax {
        file: file.to_owned(),
        line,
        fault,
    };
    let mut spans = Vec::with_capacity(width);
    let mut row_invalid: Vec<usize> = Vec::new();
    while let Some(line) = lexer
        .next_record(&mut spans)
        .map_err(|(l, f)| syntax(l, f))?
    {
        // A completely empty line is skipped (with one column, it is an empty cell).
        if width > 1 && spans.len() == 1 && spans.first().is_some_and(Span::is_empty) {
            continue;
        }
        let row = first_row + part.rows + 1;
        if row > limits.max_rows {
            return Err(syntax(line, Fault::TooManyRows(limits.max_rows)));
        }
        if row.saturating_mul(kept) > limits.max_cells {
            return Err(syntax(line, Fault::TooManyCells(limits.max_cells)));
        }
        if spans.len() != width {
            return Err(syntax(
                line,
                Fault::Ragged {
                    found: spans.len(),
                    expected: width,
                },
            ));
        }
        row_invalid.clear();
        for (span, target) in spans.iter().zip(&plan.target) {
            let Some(c) = *target else { continue };
            let Some(column) = part.columns.get_mut(c) else {
                continue;
            };
            let cell = span.bytes(body);
            let fault = match column {
                Column::Numeric(v) => match parse_number(&cell) {
                    Number::Value(x) if x.is_finite() || plan.cells == Cells::PerRow => {
                        v.push(x);
                        None
                    }
                    Number::Empty if plan.cells == Cells::Strict => {
                        v.push(f64::NAN);
                        None
                    }
                    Number::Value(_) => Some(CellFault::NotFinite(trimmed_text(&cell))),
                    Number::Empty => {
                        v.push(f64::NAN);
                        Some(CellFault::NotANumber(String::new()))
                    }
                    Number::Bad => {
                        if plan.cells == Cells::PerRow {
                            v.push(f64::NAN);
                        }
                        Some(CellFault::NotANumber(trimmed_text(&cell)))
                    }
                },
                Column::Categorical(v) => match String::from_utf8(cell.into_owned()) {
                    Ok(text) => {
                        v.push(text);
                        None
                    }
                    Err(_) => {
                        if plan.cells == Cells::PerRow {
                            v.push(String::new());
                        }
                        Some(CellFault::NotUtf8)
                    }
                },
            };
            if let Some(fault) = fault {
                match plan.cells {
                    Cells::Strict => {
                        return Err(TableError::Cell {
                            file: file.to_owned(),
                            line,
                            row,
                            column: plan.names.get(c).cloned().unwrap_or_default(),
                            fault,
                        })
                    }
                    Cells::PerRow => row_invalid.push(c),
                }
            }
        }
        if plan.cells == Cells::PerRow {
            row_invalid.sort_unstable();
            let r = part.rows;
            part.invalid.extend(row_invalid.iter().map(|&c| (r, c)));
            part.lines.push(line);
        }
        part.rows += 1;
    }
    Ok(part)
}

fn trimmed_text(cell: &[u8]) -> String {
    String::from_utf8_lossy(cell).trim().to_owned()
}

//! Tables: what the reader returns, how it is asked for (a [`Schema`]), and the reading itself.

use std::path::Path;

use crate::error::{CellFault, Fault, TableError};
use crate::lex::{Lexer, Span};
use crate::limits::Limits;
use crate::number::{parse_number, Number};

/// How a column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Decimal floating point (`f64`), surrounding white space ignored.
    Number,
    /// Text, kept as it is (unquoted, not trimmed).
    Text,
}

/// What happens to a cell that its column cannot hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cells {
    /// Whole-table reading: a number column's empty cell is a missing value (NaN); a cell that is
    /// not a finite number, or text that is not UTF-8, is an error naming its line, row and
    /// column.
    #[default]
    Strict,
    /// Row-by-row reading: a number column's cell that is empty or not a number, or text that
    /// is not UTF-8, is marked invalid ([`Table::first_invalid`]) and the row is kept; `nan` and
    /// `inf` are kept as values for the caller to judge. The line of every row is kept
    /// ([`Table::line`]).
    PerRow,
}

/// Which columns to read and how: the projection by name, the kind of each column, the cell
/// policy and the limits.
///
/// ```
/// use vigil_table::{Schema, Table};
///
/// // Every column; `sex` is text, the others numbers.
/// let all = Schema::all().text(["sex"]);
/// // Only `age` and `score`, in that order, plus `label` as text when the file has it.
/// let some = Schema::only(["age", "score"]).optional_text("label");
/// # let _ = (all, some);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Schema {
    only: Option<Vec<String>>,
    optional: Vec<String>,
    text: Vec<String>,
    cells: Cells,
    limits: Limits,
}

impl Schema {
    /// Every column in header order; header names must then be non-empty and unique.
    pub fn all() -> Schema {
        Schema::default()
    }

    /// Only the columns named, in the order given; each must be in the header exactly once (other
    /// columns are checked for syntax and field count only).
    pub fn only<I, S>(names: I) -> Schema
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Schema {
            only: Some(names.into_iter().map(Into::into).collect()),
            ..Schema::default()
        }
    }

    /// Also read the text column `name`, after the others, when the header has it.
    #[must_use]
    pub fn optional_text(mut self, name: impl Into<String>) -> Schema {
        let name = name.into();
        self.text.push(name.clone());
        self.optional.push(name);
        self
    }

    /// Read the columns named as text (the others are numbers). With [`Schema::all`] each must
    /// be in the header.
    #[must_use]
    pub fn text<I, S>(mut self, names: I) -> Schema
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.text.extend(names.into_iter().map(Into::into));
        self
    }

    /// The cell policy (default [`Cells::Strict`]).
    #[must_use]
    pub fn cells(mut self, cells: Cells) -> Schema {
        self.cells = cells;
        self
    }

    /// The limits (default [`Limits::default`]).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Schema {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits_in_force(&self) -> &Limits {
        &self.limits
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; NaN marks a missing (empty) cell under [`Cells::Strict`].
    Numeric(Vec<f64>),
    /// Text (an empty cell is the empty string).
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

    /// The present (non-NaN) numbers of a number column; nothing for a text column.
    pub fn present(&self) -> Vec<f64> {
        match self {
            Column::Numeric(v) => v.iter().copied().filter(|x| !x.is_nan()).collect(),
            Column::Categorical(_) => Vec::new(),
        }
    }

    fn empty(kind: Kind, rows: usize) -> Column {
        match kind {
            Kind::Number => Column::Numeric(Vec::with_capacity(rows)),
            Kind::Text => Column::Categorical(Vec::with_capacity(rows)),
        }
    }

    fn append(&mut self, other: Column) {
        match (self, other) {
            (Column::Numeric(a), Column::Numeric(mut b)) => a.append(&mut b),
            (Column::Categorical(a), Column::Categorical(mut b)) => a.append(&mut b),
            // Parts of one read share their kinds.
            _ => {}
        }
    }
}

/// A table: column names and their values, column by column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column names, in the order read.
    pub names: Vec<String>,
    /// Columns, in the order of `names`.
    pub columns: Vec<Column>,
    /// Physical line of each row (only under [`Cells::PerRow`]).
    lines: Vec<usize>,
    /// (row, column) of invalid cells, by row (only under [`Cells::PerRow`]).
    invalid: Vec<(usize, usize)>,
}

impl Table {
    /// A table of the given columns (of equal length).
    pub fn new(names: Vec<String>, columns: Vec<Column>) -> Table {
        Table {
            names,
            columns,
            lines: Vec::new(),
            invalid: Vec::new(),
        }
    }

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

    /// The physical line on which data row `row` (from 0) starts, when known (read under
    /// [`Cells::PerRow`]).
    pub fn line(&self, row: usize) -> Option<usize> {
        self.lines.get(row).copied()
    }

    /// The first column (index into `columns`) whose cell in data row `row` is invalid
    /// (under [`Cells::PerRow`]), if any.
    pub fn first_invalid(&self, row: usize) -> Option<usize> {
        let at = self.invalid.partition_point(|&(r, _)| r < row);
        self.invalid
            .get(at)
            .filter(|&&(r, _)| r == row)
            .map(|&(_, c)| c)
    }

    /// Read the table in a file: its size is checked against [`Limits::max_bytes`] before
    /// anything is read (through [`vigil_core::read_bounded`], which refuses FIFOs, devices and
    /// folders); errors name the path.
    pub fn read_path(path: &Path, schema: &Schema) -> Result<Table, TableError> {
        let bytes =
            vigil_core::read_bounded(path, schema.limits.max_bytes).map_err(TableError::Read)?;
        Table::parse(&bytes, &path.display().to_string(), schema)
    }

    /// Parse CSV bytes (see the crate documentation for the format); `file` names the input in
    /// errors.
    pub fn parse(bytes: &[u8], file: &str, schema: &Schema) -> Result<Table, TableError> {
        Table::parse_split(bytes, file, schema, crate::parallel::MIN_PARALLEL_BYTES)
    }

    /// [`Table::parse`], parsing the body in stretches from `min_parallel` bytes on.
    pub(crate) fn parse_split(
        bytes: &[u8],
        file: &str,
        schema: &Schema,
        min_parallel: usize,
    ) -> Result<Table, TableError> {
        if bytes.len() as u64 > schema.limits.max_bytes {
            return Err(TableError::TooLarge {
                file: file.to_owned(),
                limit: schema.limits.max_bytes,
            });
        }
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let limits = &schema.limits;
        let mut lexer = Lexer::new(bytes, 1, limits.max_columns, limits.max_cell_bytes);
        let syntax = |line: usize, fault: Fault| TableError::Syntax {
            file: file.to_owned(),
            line,
            fault,
        };
        let mut spans = Vec::new();
        let header_line = lexer
            .next_record(&mut spans)
            .map_err(|(l, f)| syntax(l, f))?
            .ok_or_else(|| syntax(1, Fault::NoHeader))?;
        let plan = Plan::new(bytes, &spans, header_line, file, schema)?;
        let body = lexer.rest();
        let first_line = lexer.line();
        let part = crate::parallel::parse_body(body, first_line, &plan, file, min_parallel)?;
        Ok(Table {
            names: plan.names,
            columns: part.columns,
            lines: part.lines,
            invalid: part.invalid,
        })
    }
}

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
    fn new(
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

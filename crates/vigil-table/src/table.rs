//! Tables: what the reader returns, and the reading itself (header, then the body in one piece
//! or in parallel stretches).

use std::path::Path;

use crate::body::Plan;
use crate::error::{Fault, TableError};
use crate::lex::Lexer;
use crate::schema::{Column, Schema};

/// A table: column names and their values, column by column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column names, in the order read.
    pub names: Vec<String>,
    /// Columns, in the order of `names`.
    pub columns: Vec<Column>,
    /// Physical line of each row (only under [`Cells::PerRow`](crate::Cells::PerRow)).
    lines: Vec<usize>,
    /// (row, column) of invalid cells, by row (only under [`Cells::PerRow`](crate::Cells::PerRow)).
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
    /// [`Cells::PerRow`](crate::Cells::PerRow)).
    pub fn line(&self, row: usize) -> Option<usize> {
        self.lines.get(row).copied()
    }

    /// The first column (index into `columns`) whose cell in data row `row` is invalid
    /// (under [`Cells::PerRow`](crate::Cells::PerRow)), if any.
    pub fn first_invalid(&self, row: usize) -> Option<usize> {
        let at = self.invalid.partition_point(|&(r, _)| r < row);
        self.invalid
            .get(at)
            .filter(|&&(r, _)| r == row)
            .map(|&(_, c)| c)
    }

    /// Read the table in a file: its size is checked against [`crate::Limits::max_bytes`] before
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

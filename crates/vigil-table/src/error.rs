//! The error type of this crate.

/// Everything that can go wrong while reading a table. Every variant names the input (`file`:
/// a path or another label) and, where there is one, the physical line (1 is the header), so
/// callers can print it as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file could not be opened or read, is not a regular file, or is larger than
    /// [`crate::Limits::max_bytes`] (checked before anything is read).
    #[error("{0}")]
    Read(vigil_core::ReadError),
    /// The input given as bytes is larger than [`crate::Limits::max_bytes`].
    #[error("{file}: larger than the limit of {limit} bytes")]
    TooLarge {
        /// The input.
        file: String,
        /// The bound, in bytes.
        limit: u64,
    },
    /// The text is not a table: bad quoting, a ragged row, a bad header, a limit passed.
    #[error("{file}: line {line}: {fault}")]
    Syntax {
        /// The input.
        file: String,
        /// 1-based physical line where the problem was found (a record's first line for a
        /// ragged row or an unterminated quote).
        line: usize,
        /// What is wrong.
        fault: Fault,
    },
    /// A cell does not hold what its column needs (only when cells are [`crate::Cells::Strict`]).
    #[error("{file}: line {line}, row {row}, column {column:?}: {fault}")]
    Cell {
        /// The input.
        file: String,
        /// 1-based physical line where the row starts.
        line: usize,
        /// 1-based data row (the header is row 0).
        row: usize,
        /// The column's name from the header.
        column: String,
        /// What is wrong with the cell.
        fault: CellFault,
    },
    /// A column asked for by name is not in the header.
    #[error("{file}: missing column {column:?}")]
    MissingColumn {
        /// The input.
        file: String,
        /// The name asked for.
        column: String,
    },
}

/// What is wrong with the text of a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    /// The input holds no header row.
    #[error("empty input: no header row")]
    NoHeader,
    /// The header is not UTF-8.
    #[error("header is not UTF-8")]
    HeaderNotUtf8,
    /// A column that is read has an empty name.
    #[error("empty column name in header")]
    EmptyName,
    /// A column that is read is named twice.
    #[error("duplicate column name {0:?}")]
    DuplicateName(String),
    /// A record has another number of fields than the header.
    #[error("{found} fields, the header has {expected}")]
    Ragged {
        /// Fields in the record.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A quoted field is not closed before the end of the input.
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    /// A quote inside a field that does not start with one.
    #[error("quote inside an unquoted field")]
    StrayQuote,
    /// Text between a closing quote and the end of the field.
    #[error("text after a closing quote")]
    TextAfterQuote,
    /// More data rows than [`crate::Limits::max_rows`].
    #[error("more than the limit of {0} data rows")]
    TooManyRows(usize),
    /// More columns than [`crate::Limits::max_columns`].
    #[error("more than the limit of {0} columns")]
    TooManyColumns(usize),
    /// A cell longer than [`crate::Limits::max_cell_bytes`].
    #[error("cell longer than the limit of {0} bytes")]
    CellTooLong(usize),
    /// More cells kept than [`crate::Limits::max_cells`].
    #[error("more than the limit of {0} cells")]
    TooManyCells(usize),
}

/// What is wrong with one cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CellFault {
    /// The cell is not UTF-8.
    #[error("cell is not UTF-8")]
    NotUtf8,
    /// A number column's cell is not a decimal number.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// A number column's cell is a number but not finite (NaN, an infinity, or beyond f64).
    #[error("{0:?} is not a finite number")]
    NotFinite(String),
}

//! How a table is asked for: a [`Schema`] of columns by name, each read as a [`Kind`], with a
//! policy for invalid [`Cells`]; and the [`Column`]s it fills.

use crate::limits::Limits;

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
    /// is not UTF-8, is marked invalid ([`crate::Table::first_invalid`]) and the row is kept; `nan` and
    /// `inf` are kept as values for the caller to judge. The line of every row is kept
    /// ([`crate::Table::line`]).
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
    pub(crate) only: Option<Vec<String>>,
    pub(crate) optional: Vec<String>,
    pub(crate) text: Vec<String>,
    pub(crate) cells: Cells,
    pub(crate) limits: Limits,
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

    pub(crate) fn empty(kind: Kind, rows: usize) -> Column {
        match kind {
            Kind::Number => Column::Numeric(Vec::with_capacity(rows)),
            Kind::Text => Column::Categorical(Vec::with_capacity(rows)),
        }
    }

    pub(crate) fn append(&mut self, other: Column) {
        match (self, other) {
            (Column::Numeric(a), Column::Numeric(mut b)) => a.append(&mut b),
            (Column::Categorical(a), Column::Categorical(mut b)) => a.append(&mut b),
            // Parts of one read share their kinds.
            _ => {}
        }
    }
}

//! Bounds on what a table may make the reader hold.

/// Bounds on what one input may make the reader hold. Every bound is checked while reading,
/// before memory for more is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes (default 1 GiB). A file's size is checked before any
    /// byte of it is read.
    pub max_bytes: u64,
    /// Most data rows (default 10 000 000).
    pub max_rows: usize,
    /// Most fields in any record, header included (default 4096).
    pub max_columns: usize,
    /// Longest cell, in bytes after unquoting (default 4096).
    pub max_cell_bytes: usize,
    /// Most cells kept (data rows times columns read; default 50 000 000: 400 MB of numbers; a
    /// text cell costs its text plus about 24 bytes).
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

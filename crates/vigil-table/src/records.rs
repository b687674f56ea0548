//! Records as they lie in the input: for each data row, its byte range and line, with the kind
//! every column's cells allow. This is what a manifest digests (the raw bytes of each record),
//! without keeping any cell.

use rayon::prelude::*;

use crate::error::{Fault, TableError};
use crate::lex::{Lexer, Span};
use crate::limits::Limits;
use crate::number::{is_plain_finite, parse_number, Number};
use crate::schema::Kind;

/// One data record: the bytes `start..end` of the input it was read from, and the physical line
/// it starts on.
///
/// The range covers the record from its first byte up to, not including, the `\n` that ends it
/// and one `\r` right before that `\n` (or before the end of the input); quotes, doubled quotes
/// and line breaks inside quoted fields are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawRecord {
    /// Offset of the record's first byte in the input (a byte-order mark counts).
    pub start: usize,
    /// Offset just after the record's last byte.
    pub end: usize,
    /// 1-based physical line the record starts on (the header is line 1).
    pub line: usize,
}

/// The records of a table: its header, each data record's place in the input, and the kind each
/// column's cells allow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Records {
    /// The header record's place in the input (after a byte-order mark), as data records'.
    pub head: RawRecord,
    /// Header names, trimmed, in file order (checked non-empty and unique).
    pub header: Vec<String>,
    /// Data records in file order (completely empty lines skipped as [`crate::Table`] skips
    /// them).
    pub rows: Vec<RawRecord>,
    /// For each header column: [`Kind::Number`] when every non-empty cell is a finite decimal
    /// number (and at least one is), else [`Kind::Text`].
    pub kinds: Vec<Kind>,
}

impl Records {
    /// The bytes of record `row` in `input` (the bytes the records were read from).
    pub fn bytes<'a>(&self, input: &'a [u8], row: usize) -> Option<&'a [u8]> {
        let r = self.rows.get(row)?;
        input.get(r.start..r.end)
    }

    /// Read the records of CSV `bytes` (the format of [`crate::Table::parse`], with the same
    /// errors, naming `file` and the line); large inputs are read on every core.
    ///
    /// ```
    /// use vigil_table::{Kind, Limits, Records};
    ///
    /// let csv = b"id,x\r\n7,\"a,b\"\r\n8,2\r\n";
    /// let r = Records::read(csv, "x.csv", &Limits::default())?;
    /// assert_eq!(r.header, ["id", "x"]);
    /// assert_eq!(r.bytes(csv, 0), Some(&b"7,\"a,b\""[..]));
    /// assert_eq!(r.rows[1].line, 3);
    /// assert_eq!(r.kinds, [Kind::Number, Kind::Text]);
    /// # Ok::<(), vigil_table::TableError>(())
    /// ```
    pub fn read(bytes: &[u8], file: &str, limits: &Limits) -> Result<Records, TableError> {
        Records::read_split(bytes, file, limits, crate::parallel::MIN_PARALLEL_BYTES)
    }

    pub(crate) fn read_split(
        bytes: &[u8],
        file: &str,
        limits: &Limits,
        min_parallel: usize,
    ) -> Result<Records, TableError> {
        if bytes.len() as u64 > limits.max_bytes {
            return Err(TableError::TooLarge {
                file: file.to_owned(),
                limit: limits.max_bytes,
            });
        }
        let bom = if bytes.starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            0
        };
        let text = bytes.get(bom..).unwrap_or_default();
        let syntax = |line: usize, fault: Fault| TableError::Syntax {
            file: file.to_owned(),
            line,
            fault,
        };
        let mut lexer = Lexer::new(text, 1, limits.max_columns, limits.max_cell_bytes);
        let mut spans = Vec::new();
        lexer
            .next_record(&mut spans)
            .map_err(|(l, f)| syntax(l, f))?
            .ok_or_else(|| syntax(1, Fault::NoHeader))?;
        let mut header: Vec<String> = Vec::with_capacity(spans.len());
        for s in &spans {
            let name = std::str::from_utf8(&s.bytes(text))
                .map_err(|_| syntax(1, Fault::HeaderNotUtf8))?
                .trim()
                .to_owned();
            if name.is_empty() {
                return Err(syntax(1, Fault::EmptyName));
            }
            if header.contains(&name) {
                return Err(syntax(1, Fault::DuplicateName(name)));
            }
            header.push(name);
        }
        let offset = bom + (text.len() - lexer.rest().len());
        let mut head_end = offset;
        if head_end > bom && bytes.get(head_end - 1) == Some(&b'\n') {
            head_end -= 1;
        }
        if head_end > bom && bytes.get(head_end - 1) == Some(&b'\r') {
            head_end -= 1;
        }
        let head = RawRecord {
            start: bom,
            end: head_end,
            line: 1,
        };
        let body = lexer.rest();
        let first_line = lexer.line();
        let width = header.len();
        let one_pass = || scan_part(body, first_line, 0, offset, width, limits, file);
        let part = if body.len() < min_parallel.max(1) {
            one_pass()?
        } else {
            let threads = rayon::current_num_threads().max(2);
            let cuts = crate::parallel::cut_points(body, threads * 4);
            let mut jobs = Vec::new();
            let mut line = first_line;
            for w in cuts.windows(2) {
                let (Some(&a), Some(&b)) = (w.first(), w.get(1)) else {
                    continue;
                };
                let stretch = body.get(a..b).unwrap_or_default();
                jobs.push((stretch, line, offset + a));
                line += memchr::memchr_iter(b'\n', stretch).count();
            }
            let parts: Vec<Result<Scan, TableError>> = jobs
                .par_iter()
                .map(|&(s, line, at)| {
                    scan_part(
                        s,
                        line,
                        0,
                        at,
                        width,
                        &Limits {
                            max_rows: usize::MAX,
                            ..*limits
                        },
                        file,
                    )
                })
                .collect();
            let mut whole = Scan::new(width);
            let mut failed = false;
            for p in parts {
                match p {
                    Ok(p) => whole.append(p),
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            if failed || whole.rows.len() > limits.max_rows {
                // One pass names the first error exactly (its line and row).
                one_pass()?
            } else {
                whole
            }
        };
        let kinds = part
            .numbers
            .iter()
            .zip(&part.texts)
            .map(|(&n, &t)| {
                if n > 0 && !t {
                    Kind::Number
                } else {
                    Kind::Text
                }
            })
            .collect();
        Ok(Records {
            head,
            header,
            rows: part.rows,
            kinds,
        })
    }
}

/// What one stretch of the body holds.
struct Scan {
    rows: Vec<RawRecord>,
    /// Per column: how many cells were numbers.
    numbers: Vec<usize>,
    /// Per column: whether a non-empty cell was not a finite number.
    texts: Vec<bool>,
}

impl Scan {
    fn new(width: usize) -> Scan {
        Scan {
            rows: Vec::new(),
            numbers: vec![0; width],
            texts: vec![false; width],
        }
    }

    fn append(&mut self, other: Scan) {
        self.rows.extend(other.rows);
        for (a, b) in self.numbers.iter_mut().zip(other.numbers) {
            *a += b;
        }
        for (a, b) in self.texts.iter_mut().zip(other.texts) {
            *a |= b;
        }
    }
}

fn scan_part(
    body: &[u8],
    first_line: usize,
    first_row: usize,
    offset: usize,
    width: usize,
    limits: &Limits,
    file: &str,
) -> Result<Scan, TableError> {
    let mut lexer = Lexer::new(body, first_line, limits.max_columns, limits.max_cell_bytes);
    let mut scan = Scan::new(width);
    let mut spans: Vec<Span> = Vec::with_capacity(width);
    let syntax = |line: usize, fault: Fault| TableError::Syntax {
        file: file.to_owned(),
        line,
        fault,
    };
    loop {
        let start = body.len() - lexer.rest().len();
        let Some(line) = lexer
            .next_record(&mut spans)
            .map_err(|(l, f)| syntax(l, f))?
        else {
            break;
        };
        if width > 1 && spans.len() == 1 && spans.first().is_some_and(Span::is_empty) {
            continue;
        }
        let row = first_row + scan.rows.len() + 1;
        if row > limits.max_rows {
            return Err(syntax(line, Fault::TooManyRows(limits.max_rows)));
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
        let mut end = body.len() - lexer.rest().len();
        if end > start && body.get(end - 1) == Some(&b'\n') {
            end -= 1;
        }
        if end > start && body.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        for ((span, n), t) in spans
            .iter()
            .zip(scan.numbers.iter_mut())
            .zip(scan.texts.iter_mut())
        {
            if *t {
                continue;
            }
            let cell = span.bytes(body);
            // Most cells are plain decimals: their syntax alone says they are finite numbers.
            if is_plain_finite(&cell) {
                *n += 1;
                continue;
            }
            match parse_number(&cell) {
                Number::Empty => {}
                Number::Value(x) if x.is_finite() => *n += 1,
                _ => *t = true,
            }
        }
        scan.rows.push(RawRecord {
            start: offset + start,
            end: offset + end,
            line,
        });
    }
    Ok(scan)
}

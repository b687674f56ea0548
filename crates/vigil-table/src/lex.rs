//! Splitting CSV bytes into records and fields, without copying: RFC 4180 with the usual
//! relaxations (see the crate documentation).

use std::borrow::Cow;

use crate::error::Fault;

/// One field of a record: the bytes `start..end` of the input (inside the quotes for a quoted
/// field), with `escapes` doubled quotes to undo.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: usize,
    end: usize,
    escapes: usize,
}

impl Span {
    /// The field's bytes, unquoted.
    pub(crate) fn bytes<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let raw = input.get(self.start..self.end).unwrap_or_default();
        if self.escapes == 0 {
            Cow::Borrowed(raw)
        } else {
            let mut out = Vec::with_capacity(raw.len() - self.escapes);
            let mut skip = false;
            for &b in raw {
                if b == b'"' && !skip {
                    skip = true;
                    out.push(b);
                } else if skip && b == b'"' {
                    skip = false;
                } else {
                    skip = false;
                    out.push(b);
                }
            }
            Cow::Owned(out)
        }
    }

    /// True for an empty field.
    pub(crate) fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A cursor over CSV bytes that hands out one record at a time.
pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    max_columns: usize,
    max_cell_bytes: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer over `bytes`, whose first byte is on physical line `line`.
    pub(crate) fn new(
        bytes: &'a [u8],
        line: usize,
        max_columns: usize,
        max_cell_bytes: usize,
    ) -> Self {
        Lexer {
            bytes,
            pos: 0,
            line,
            max_columns,
            max_cell_bytes,
        }
    }

    /// Reads the next record's fields into `spans` (cleared first); returns the physical line
    /// the record starts on, or `None` at the end of the input. Errors carry their line.
    pub(crate) fn next_record(
        &mut self,
        spans: &mut Vec<Span>,
    ) -> Result<Option<usize>, (usize, Fault)> {
        spans.clear();
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let start_line = self.line;
        let bytes = self.bytes;
        loop {
            // One field per turn; `self.pos` is at its first byte.
            if bytes.get(self.pos) == Some(&b'"') {
                let start = self.pos + 1;
                let mut at = start;
                let mut escapes = 0;
                let end = loop {
                    let rest = bytes.get(at..).unwrap_or_default();
                    let Some(q) = memchr::memchr(b'"', rest) else {
                        return Err((start_line, Fault::UnterminatedQuote));
                    };
                    let q = at + q;
                    if bytes.get(q + 1) == Some(&b'"') {
                        escapes += 1;
                        at = q + 2;
                    } else {
                        break q;
                    }
                };
                let content = bytes.get(start..end).unwrap_or_default();
                self.line += memchr::memchr_iter(b'\n', content).count();
                if end - start - escapes > self.max_cell_bytes {
                    return Err((self.line, Fault::CellTooLong(self.max_cell_bytes)));
                }
                spans.push(Span {
                    start,
                    end,
                    escapes,
                });
                self.pos = end + 1;
                while bytes.get(self.pos) == Some(&b'\r') {
                    self.pos += 1;
                }
                match bytes.get(self.pos) {
                    None => return Ok(Some(start_line)),
                    Some(b'\n') => {
                        self.pos += 1;
                        self.line += 1;
                        return Ok(Some(start_line));
                    }
                    Some(b',') => self.pos += 1,
                    Some(b'"') => return Err((self.line, Fault::StrayQuote)),
                    Some(_) => return Err((self.line, Fault::TextAfterQuote)),
                }
            } else {
                let rest = bytes.get(self.pos..).unwrap_or_default();
                let stop = memchr::memchr3(b',', b'\n', b'"', rest).map(|i| self.pos + i);
                let (end, next) = match stop.map(|i| (i, bytes.get(i))) {
                    Some((_, Some(b'"'))) => return Err((self.line, Fault::StrayQuote)),
                    Some((i, Some(b','))) => (i, Some(b',')),
                    Some((i, _)) => (i, Some(b'\n')),
                    None => (bytes.len(), None),
                };
                let start = self.pos;
                let mut trimmed = end;
                if next != Some(b',') && trimmed > start && bytes.get(trimmed - 1) == Some(&b'\r') {
                    trimmed -= 1;
                }
                if trimmed - start > self.max_cell_bytes {
                    return Err((self.line, Fault::CellTooLong(self.max_cell_bytes)));
                }
                spans.push(Span {
                    start,
                    end: trimmed,
                    escapes: 0,
                });
                match next {
                    None => {
                        self.pos = bytes.len();
                        return Ok(Some(start_line));
                    }
                    Some(b'\n') => {
                        self.pos = end + 1;
                        self.line += 1;
                        return Ok(Some(start_line));
                    }
                    _ => self.pos = end + 1,
                }
            }
            if spans.len() >= self.max_columns {
                return Err((self.line, Fault::TooManyColumns(self.max_columns)));
            }
        }
    }

    /// Bytes not yet read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// The physical line of the next byte.
    pub(crate) fn line(&self) -> usize {
        self.line
    }
}

//! Decimal numbers in cells.

/// What a number column's cell holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// Nothing but white space.
    Empty,
    /// A decimal number (possibly `nan`, `inf`, or beyond `f64` and so infinite).
    Value(f64),
    /// Anything else.
    Bad,
}

/// White space as `str::trim` sees it, for ASCII bytes.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// Parse a cell: surrounding white space is ignored; the grammar is Rust's `f64::from_str`
/// (decimal with optional sign, fraction and exponent; `inf`, `infinity`, `nan` in any case).
pub(crate) fn parse_number(cell: &[u8]) -> Number {
    let start = cell
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(cell.len());
    let end = cell
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    let core = cell.get(start..end).unwrap_or_default();
    if core.is_ascii() {
        if core.is_empty() {
            return Number::Empty;
        }
        return parse_ascii(core);
    }
    // Rare: non-ASCII white space around the number, or garbage.
    match std::str::from_utf8(cell) {
        Ok(text) => {
            let t = text.trim();
            if t.is_empty() {
                Number::Empty
            } else if t.is_ascii() {
                parse_ascii(t.as_bytes())
            } else {
                Number::Bad
            }
        }
        Err(_) => Number::Bad,
    }
}

fn parse_ascii(core: &[u8]) -> Number {
    match std::str::from_utf8(core)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(x) => Number::Value(x),
        None => Number::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_is_rusts() {
        for s in [
            "1",
            "-1.5",
            "+2",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "inf",
            "-Infinity",
            "NaN",
            " 7 ",
            "\t8\r",
        ] {
            let want: f64 = s.trim().parse().unwrap_or_else(|_| panic!("{s}"));
            match parse_number(s.as_bytes()) {
                Number::Value(x) => assert!(x == want || (x.is_nan() && want.is_nan()), "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
        for s in ["", "  ", "\u{a0}"] {
            assert_eq!(parse_number(s.as_bytes()), Number::Empty, "{s:?}");
        }
        for s in [
            "abc",
            "1,2",
            "0x10",
            "1e",
            "--1",
            "\u{a0}1\u{a0}x",
            "\u{663}",
        ] {
            assert_eq!(parse_number(s.as_bytes()), Number::Bad, "{s:?}");
        }
        assert_eq!(parse_number("\u{a0}3\u{a0}".as_bytes()), Number::Value(3.0));
    }
}

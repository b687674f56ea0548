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
    // The common cell: a plain decimal, nothing around it.
    if let Some(x) = exact_fast_path(cell) {
        return Number::Value(x);
    }
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
    if let Some(x) = exact_fast_path(core) {
        return Number::Value(x);
    }
    match std::str::from_utf8(core)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(x) => Number::Value(x),
        None => Number::Bad,
    }
}

/// Whether `cell` is, by its syntax alone, a decimal that parses to a finite `f64`: an optional
/// sign, 1 to 200 digits with at most one point among them, and an optional exponent of one or
/// two digits. Such a value is below 10^200 x 10^99, well under `f64::MAX` (about 1.8e308).
/// `false` means "look closer" ([`parse_number`]), not "not a number": white space, `inf`,
/// longer exponents and the like answer `false`. Cheaper than computing the value, for the
/// record scan that only needs each column's kind.
pub(crate) fn is_plain_finite(cell: &[u8]) -> bool {
    let rest = match cell.split_first() {
        Some((b'-' | b'+', r)) => r,
        Some(_) => cell,
        None => return false,
    };
    let mut digits = 0usize;
    let mut point = false;
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 || digits > 200 {
        return false;
    }
    match rest.get(i..).unwrap_or_default() {
        [] => true,
        [b'e' | b'E', exp @ ..] => {
            let exp = match exp.split_first() {
                Some((b'-' | b'+', e)) => e,
                _ => exp,
            };
            (1..=2).contains(&exp.len()) && exp.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Powers of ten that are exact as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's exact fast path, for the common cell such as `-0.12345678` or `61` or `2.5e3`:
/// when the decimal digits form an integer `m < 2^53` and the power of ten `e` has
/// `|e| <= 22`, both `m` and `10^|e|` are exact doubles and one IEEE multiplication or division
/// rounds the exact quotient correctly, which is what `f64::from_str` returns. Anything else
/// (more digits, larger exponents, `inf`, `nan`, bad text) returns `None` and goes to
/// `f64::from_str`.
fn exact_fast_path(s: &[u8]) -> Option<f64> {
    let (negative, rest) = match s.split_first()? {
        (b'-', r) => (true, r),
        (b'+', r) => (false, r),
        _ => (false, s),
    };
    let mut m: u64 = 0;
    let mut digits = 0usize;
    let mut scale: i32 = 0; // digits after the point
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'0'..=b'9' => {
                m = m.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                digits += 1;
                if seen_point {
                    scale += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 || m >= 1 << 53 {
        return None;
    }
    let mut exp: i32 = 0;
    if let Some(&b) = rest.get(i) {
        if b != b'e' && b != b'E' {
            return None;
        }
        i += 1;
        let (neg_exp, start) = match rest.get(i) {
            Some(b'-') => (true, i + 1),
            Some(b'+') => (false, i + 1),
            _ => (false, i),
        };
        let tail = rest.get(start..)?;
        if tail.is_empty() || tail.len() > 4 || !tail.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for &d in tail {
            exp = exp * 10 + i32::from(d - b'0');
        }
        if neg_exp {
            exp = -exp;
        }
    }
    let e = exp - scale;
    let x = m as f64;
    let v = if e >= 0 {
        x * *POW10.get(usize::try_from(e).ok()?)?
    } else {
        x / *POW10.get(usize::try_from(-e).ok()?)?
    };
    Some(if negative { -v } else { v })
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

    /// What the syntax check calls finite parses to a finite number; everything it sends on
    /// to a closer look still gets the same answer from [`parse_number`].
    #[test]
    fn plain_finite_cells_parse_finite() {
        for s in [
            "0",
            "-1.5",
            "+2",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "9e99",
            &"9".repeat(200),
        ] {
            assert!(is_plain_finite(s.as_bytes()), "{s}");
        }
        for s in [
            "",
            "-",
            ".",
            "1e",
            "1e+",
            "1e123",
            "inf",
            "NaN",
            " 7",
            "7 ",
            "1.2.3",
            "0x1",
            &"9".repeat(201),
        ] {
            assert!(!is_plain_finite(s.as_bytes()), "{s:?}");
        }
        // The largest the check allows is still finite.
        let edge = format!("{}e99", "9".repeat(200));
        assert!(is_plain_finite(edge.as_bytes()));
        assert!(matches!(parse_number(edge.as_bytes()), Number::Value(x) if x.is_finite()));
    }

    proptest::proptest! {
        /// Bytes the syntax check accepts always parse to a finite value.
        #[test]
        fn plain_finite_implies_finite(s in "[+-]?[0-9]{0,210}[.]?[0-9]{0,20}([eE][+-]?[0-9]{0,3})?") {
            if is_plain_finite(s.as_bytes()) {
                proptest::prop_assert!(
                    matches!(parse_number(s.as_bytes()), Number::Value(x) if x.is_finite()),
                    "{}", s
                );
            }
        }
    }

    #[test]
    fn fast_path_agrees_with_from_str_bit_for_bit() {
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "+0.0",
            "1",
            "-1",
            "0.1",
            "0.3",
            "123456789012345",
            "9007199254740991",
            "9007199254740993",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "4.35",
            "2.5e3",
            "2.5E-3",
            "12345678901234567890",
            ".5",
            "5.",
            "1e",
            "1e+",
            "1.2.3",
            "-",
            "+",
            "e5",
            "1e99999",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..200_000 {
            let r = next();
            let digits = (r % 17) as usize + 1;
            let m = next() % 10u64.pow(digits as u32);
            let point = (next() % (digits as u64 + 1)) as usize;
            let mut t = format!("{m:0digits$}");
            t.insert(point, '.');
            if r % 3 == 0 {
                t = format!("-{t}");
            }
            if r % 5 == 0 {
                t = format!("{t}e{}", (next() % 60) as i64 - 30);
            }
            cases.push(t);
        }
        for c in &cases {
            let want = c.parse::<f64>().ok();
            let got = match parse_ascii(c.as_bytes()) {
                Number::Value(x) => Some(x),
                _ => None,
            };
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{c}");
        }
    }
}

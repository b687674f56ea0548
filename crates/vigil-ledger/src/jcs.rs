//! RFC 8785 JSON Canonicalization Scheme over a strict, bounded, duplicate-refusing parser.
//!
//! `serde_json` keeps the last of duplicate keys silently, so events are parsed here: the
//! parser refuses duplicate object keys, invalid UTF-8, lone surrogates, control characters in
//! strings, integers beyond +/-2^53 whose value would change when read as an IEEE double
//! (`9007199254740993`; an integer that is exactly a double, or is the RFC 8785 form of its
//! double such as `604214024854787800`, round-trips and is accepted), non-finite
//! numbers and anything beyond the [`Limits`]. The canonical form sorts object members by
//! their UTF-16 code units, writes strings with the minimal escapes of RFC 8785 section 3.2.2.2
//! and numbers as ECMAScript `Number.prototype.toString` does (via `ryu-js`).

use crate::error::JcsError;

/// Bounds on one event (one JSON text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes (default 1 MiB).
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects (default 64).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 20,
            max_depth: 64,
        }
    }
}

/// The largest integer magnitude an IEEE double holds exactly: 2^53.
const MAX_SAFE: &[u8] = b"9007199254740992";

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    /// Members sorted by UTF-16 code units of the key, no duplicates.
    Object(Vec<(String, Value)>),
}

/// Canonicalize one event: a JSON object, returned in RFC 8785 form. Every canonical output is
/// accepted again as input (a log's entries can always be appended to another log).
pub fn canonicalize_event(input: &[u8], limits: &Limits) -> Result<Vec<u8>, JcsError> {
    event(input, limits)
}

/// Re-check a stored entry: the same rules as [`canonicalize_event`].
pub(crate) fn recanonicalize_entry(input: &[u8], limits: &Limits) -> Result<Vec<u8>, JcsError> {
    event(input, limits)
}

fn event(input: &[u8], limits: &Limits) -> Result<Vec<u8>, JcsError> {
    let value = parse(input, limits)?;
    if !matches!(value, Value::Object(_)) {
        return Err(err(0, "not a JSON object"));
    }
    let mut out = Vec::with_capacity(input.len());
    write_value(&value, &mut out);
    Ok(out)
}

/// Canonicalize any JSON text (RFC 8785), with the same refusals as [`canonicalize_event`]
/// except that the top level may be any value.
pub fn canonicalize(input: &[u8], limits: &Limits) -> Result<Vec<u8>, JcsError> {
    let value = parse(input, limits)?;
    let mut out = Vec::with_capacity(input.len());
    write_value(&value, &mut out);
    Ok(out)
}

fn err(offset: usize, reason: impl Into<String>) -> JcsError {
    JcsError {
        offset,
        reason: reason.into(),
    }
}

/// [`canonicalize`] again; kept for the fuzz target's round-trip check.
#[doc(hidden)]
pub fn recanonicalize(input: &[u8], limits: &Limits) -> Result<Vec<u8>, JcsError> {
    let value = parse(input, limits)?;
    let mut out = Vec::with_capacity(input.len());
    write_value(&value, &mut out);
    Ok(out)
}

fn parse(input: &[u8], limits: &Limits) -> Result<Value, JcsError> {
    if input.len() > limits.max_bytes {
        return Err(err(
            limits.max_bytes,
            format!(
                "event is {} bytes, over the limit of {}",
                input.len(),
                limits.max_bytes
            ),
        ));
    }
    if let Err(e) = std::str::from_utf8(input) {
        return Err(err(e.valid_up_to(), "invalid UTF-8"));
    }
    let mut p = Parser {
        s: input,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    if p.pos != input.len() {
        return Err(err(p.pos, "trailing characters after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), JcsError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(self.pos, format!("expected '{}'", b as char)))
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, JcsError> {
        if self.s.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(err(self.pos, "invalid literal"))
        }
    }

    fn value(&mut self) -> Result<Value, JcsError> {
        match self.peek() {
            None => Err(err(self.pos, "unexpected end of input")),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'[') => self.array(),
            Some(b'{') => self.object(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(c) => Err(err(
                self.pos,
                format!("unexpected character {:?}", c as char),
            )),
        }
    }

    fn enter(&mut self) -> Result<(), JcsError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(err(
                self.pos,
                format!("nesting deeper than the limit of {}", self.max_depth),
            ));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Value, JcsError> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(err(self.pos, "expected ',' or ']' in array")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn object(&mut self) -> Result<Value, JcsError> {
        let start = self.pos;
        self.enter()?;
        self.pos += 1;
        let mut members: Vec<(String, Value)> = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(err(self.pos, "expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            self.expect(b':')?;
            self.ws();
            let v = self.value()?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(err(self.pos, "expected ',' or '}' in object")),
            }
        }
        self.depth -= 1;
        members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        for pair in members.windows(2) {
            if let [a, b] = pair {
                if a.0 == b.0 {
                    return Err(err(start, format!("duplicate key {:?}", a.0)));
                }
            }
        }
        Ok(Value::Object(members))
    }

    fn hex4(&mut self) -> Result<u32, JcsError> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| err(self.pos, "truncated \\u escape"))?;
        let mut v = 0u32;
        for &d in digits {
            let x = (d as char)
                .to_digit(16)
                .ok_or_else(|| err(self.pos, "bad hex digit in \\u escape"))?;
            v = v * 16 + x;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JcsError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The whole input is valid UTF-8 and runs end at ASCII bytes, so this cannot fail.
            let run = std::str::from_utf8(self.s.get(run_start..self.pos).unwrap_or_default())
                .map_err(|_| err(run_start, "invalid UTF-8"))?;
            out.push_str(run);
            match self.peek() {
                None => return Err(err(self.pos, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let at = self.pos;
                    self.pos += 1;
                    let e = self.peek().ok_or_else(|| err(at, "unterminated escape"))?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(err(at, "lone high surrogate"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(err(at, "high surrogate not followed by low"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(err(at, "lone low surrogate"));
                            } else {
                                hi
                            };
                            let ch = char::from_u32(code)
                                .ok_or_else(|| err(at, "invalid \\u escape"))?;
                            out.push(ch);
                        }
                        _ => return Err(err(at, "invalid escape")),
                    }
                }
                Some(_) => return Err(err(self.pos, "control character in string")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JcsError> {
        let start = self.pos;
        let lexeme = lex_number(self.s, start).map_err(|(at, why)| err(at, why))?;
        self.pos = lexeme.end;
        let (int_start, int_end, integer) = (lexeme.int_start, lexeme.int_end, lexeme.integer);
        let text = self.s.get(start..self.pos).unwrap_or_default();
        let n: f64 = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| err(start, "invalid number"))?;
        if !n.is_finite() {
            return Err(err(start, "number is out of the IEEE double range"));
        }
        if integer {
            let digits = self.s.get(int_start..int_end).unwrap_or_default();
            let big = digits.len() > MAX_SAFE.len()
                || (digits.len() == MAX_SAFE.len() && digits > MAX_SAFE);
            // Beyond 2^53 an integer literal is accepted when reading it as a double keeps it:
            // its value is exactly the double (10000000000000000), or it is the RFC 8785 form
            // of that double (604214024854787800, as Vigil itself writes 6.042140248547878e17).
            // 9007199254740993 would silently become ...992: refused.
            let round_trips = big
                && (format_number(n).as_deref().map(str::as_bytes) == Some(text)
                    || exact_integer(n).as_bytes() == digits);
            if big && !round_trips {
                return Err(err(
                    start,
                    format!(
                        "integer {} is beyond +/-2^53 and would not survive as an IEEE double",
                        String::from_utf8_lossy(text)
                    ),
                ));
            }
        }
        Ok(Value::Number(n))
    }
}

/// Where a JSON number (RFC 8259 grammar) lies in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberLexeme {
    /// Just after its last byte.
    pub end: usize,
    /// Where its integer digits start (after any `-`).
    pub int_start: usize,
    /// Just after its integer digits.
    pub int_end: usize,
    /// True when it has neither a fraction nor an exponent.
    pub integer: bool,
}

/// Reads the JSON number starting at `start` of `s` (`-`, then `0` or a digit 1-9 and more
/// digits, then an optional fraction and exponent, each with at least one digit). Its value is
/// not computed. The error gives the offset and what is wrong.
pub fn lex_number(s: &[u8], start: usize) -> Result<NumberLexeme, (usize, &'static str)> {
    let at = |i: usize| s.get(i).copied();
    let digits = |mut i: usize| {
        while let Some(b'0'..=b'9') = at(i) {
            i += 1;
        }
        i
    };
    let int_start = if at(start) == Some(b'-') {
        start + 1
    } else {
        start
    };
    let int_end = match at(int_start) {
        Some(b'0') => int_start + 1,
        Some(b'1'..=b'9') => digits(int_start + 1),
        _ => return Err((int_start, "invalid number")),
    };
    let mut end = int_end;
    let mut integer = true;
    if at(end) == Some(b'.') {
        integer = false;
        let after = digits(end + 1);
        if after == end + 1 {
            return Err((after, "invalid number: no digits after '.'"));
        }
        end = after;
    }
    if let Some(b'e' | b'E') = at(end) {
        integer = false;
        end += 1;
        if let Some(b'+' | b'-') = at(end) {
            end += 1;
        }
        let after = digits(end);
        if after == end {
            return Err((after, "invalid number: no digits in exponent"));
        }
        end = after;
    }
    Ok(NumberLexeme {
        end,
        int_start,
        int_end,
        integer,
    })
}

/// The exact decimal digits of an integral double's magnitude (Rust formats floats with a given
/// precision exactly, not by shortest round trip).
fn exact_integer(n: f64) -> String {
    format!("{:.0}", n.abs())
}

fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(*n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

/// ECMAScript Number-to-String of a finite double (RFC 8785 section 3.2.2.3).
fn write_number(n: f64, out: &mut Vec<u8>) {
    if n == 0.0 {
        out.push(b'0'); // both +0 and -0
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format_finite(n).as_bytes());
}

/// Format a finite double as RFC 8785 (ECMAScript) does; exposed for tests.
#[doc(hidden)]
pub fn format_number(n: f64) -> Option<String> {
    if !n.is_finite() {
        return None;
    }
    let mut out = Vec::new();
    write_number(n, &mut out);
    String::from_utf8(out).ok()
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c if c < 0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Result<String, JcsError> {
        canonicalize(s.as_bytes(), &Limits::default()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn refusals() {
        let l = Limits::default();
        assert!(canonicalize_event(b"[1]", &l).is_err());
        assert!(canonicalize_event(b"{\"a\":1,\"a\":2}", &l)
            .unwrap_err()
            .reason
            .contains("duplicate key"));
        assert!(canonicalize_event(b"{\"a\":9007199254740993}", &l).is_err());
        assert!(canonicalize_event(b"{\"a\":-9007199254740993}", &l).is_err());
        assert!(canonicalize_event(b"{\"a\":9007199254740992}", &l).is_ok());
        assert!(canonicalize_event(b"{\"a\":1e400}", &l).is_err());
        assert!(canonicalize_event(b"{\"a\":\"\\ud800\"}", &l).is_err());
        assert!(canonicalize_event(b"{\"a\":01}", &l).is_err());
        assert!(canonicalize_event(b"{\"a\":1} x", &l).is_err());
        assert!(canonicalize_event(b"{\"a\":\"\x01\"}", &l).is_err());
        assert!(canonicalize_event(b"\xef\xbb\xbf{}", &l).is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(canon(&format!("{{\"a\":{deep}}}")).is_err());
        let small = Limits {
            max_bytes: 4,
            max_depth: 64,
        };
        assert!(canonicalize_event(b"{\"a\":1}", &small).is_err());
    }

    /// Issue 20 item 5: `vigil log append` refused Vigil's own canonical output. `{"x":1e16}`
    /// is stored as `{"x":10000000000000000}`, which is exact and must be accepted again; only
    /// a literal whose value changes as a double is refused.
    #[test]
    fn issue20_5_canonical_output_is_accepted_again() {
        let l = Limits::default();
        let out = canonicalize_event(b"{\"x\":1e16}", &l).unwrap();
        assert_eq!(out, b"{\"x\":10000000000000000}");
        assert_eq!(canonicalize_event(&out, &l).unwrap(), out);
        let big = canonicalize_event(b"{\"x\":6.042140248547878e17}", &l).unwrap();
        assert_eq!(big, b"{\"x\":604214024854787800}");
        assert_eq!(canonicalize_event(&big, &l).unwrap(), big);
        assert!(canonicalize_event(b"{\"x\":18446744073709551616}", &l).is_ok());
        assert!(canonicalize_event(b"{\"x\":9007199254740993}", &l).is_err());
        assert!(canonicalize_event(b"{\"x\":18446744073709551617}", &l).is_err());
    }

    proptest::proptest! {
        /// Every canonical output is accepted as input and is a fixed point.
        #[test]
        fn canonical_output_round_trips(x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let l = Limits::default();
            let text = format!("{{\"x\":{x:e}}}");
            let out = canonicalize_event(text.as_bytes(), &l).unwrap();
            proptest::prop_assert_eq!(canonicalize_event(&out, &l).unwrap(), out);
        }
    }

    /// The shared number lexer: where each part ends, and the offset of what is wrong.
    #[test]
    fn numbers_are_lexed_without_their_values() {
        let l = lex_number(b"[-120.5e+3,", 1).unwrap();
        assert_eq!(
            (l.end, l.int_start, l.int_end, l.integer),
            (10, 2, 5, false)
        );
        let l = lex_number(b"0]", 0).unwrap();
        assert_eq!((l.end, l.integer), (1, true));
        assert_eq!(lex_number(b"-x", 0), Err((1, "invalid number")));
        assert_eq!(
            lex_number(b"1.e5", 0),
            Err((2, "invalid number: no digits after '.'"))
        );
        assert_eq!(
            lex_number(b"1e+", 0),
            Err((3, "invalid number: no digits in exponent"))
        );
        // A leading zero ends the integer part: "01" is a number "0" followed by "1".
        assert_eq!(lex_number(b"01", 0).map(|l| l.end), Ok(1));
    }

    #[test]
    fn zero_and_escapes() {
        assert_eq!(canon("[-0, 0.0, -0.0e5]").unwrap(), "[0,0,0]");
        assert_eq!(
            canon("[\"\\u001f\\b\\/\\u00e9\"]").unwrap(),
            "[\"\\u001f\\b/\u{e9}\"]"
        );
    }
}

//! A validating scanner for RFC 8785 canonical JSON events: it decides whether bytes are
//! exactly the canonical form that `vigil_ledger::canonicalize_event` writes, reading them once
//! and building no value tree, so that the collector can check a push of 20,000 entries without
//! parsing and re-serialising each one.
//!
//! `check_event(b)` is `Ok` exactly when `canonicalize_event(b)` is `Ok(c)` with `c == b`
//! (property-tested against it, and fuzzed by `fuzz/fuzz_targets/collector_canonical.rs`). The
//! canonical form has no whitespace; object members are sorted by the UTF-16 code units of
//! their keys, with no duplicates; strings escape only `"`, `\` and control characters (`\b`
//! `\t` `\n` `\f` `\r` short, the others as `\u00xx` in lowercase hex), everything else raw
//! UTF-8; numbers are written as ECMAScript's `Number.prototype.toString` writes them.

use std::cmp::Ordering;

use vigil_ledger::Limits;

/// Why bytes are not a canonical event, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCanonical {
    /// Byte offset where the scanner stopped.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl std::fmt::Display for NotCanonical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

/// Checks that `input` is a JSON object in RFC 8785 canonical form within `limits`.
pub fn check_event(input: &[u8], limits: &Limits) -> Result<(), NotCanonical> {
    if input.len() > limits.max_bytes {
        return Err(nc(limits.max_bytes, "larger than the event size limit"));
    }
    if let Err(e) = std::str::from_utf8(input) {
        return Err(nc(e.valid_up_to(), "invalid UTF-8"));
    }
    if input.first() != Some(&b'{') {
        return Err(nc(0, "not a JSON object (or not canonical)"));
    }
    let mut s = Scanner {
        s: input,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
    };
    s.value()?;
    if s.pos != input.len() {
        return Err(nc(s.pos, "bytes after the JSON value"));
    }
    Ok(())
}

fn nc(offset: usize, reason: &'static str) -> NotCanonical {
    NotCanonical { offset, reason }
}

struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

/// A string's content (between the quotes) as written, and whether it is plain ASCII without
/// escapes (then its bytes are its UTF-16 code units).
#[derive(Clone, Copy)]
struct Key<'a> {
    raw: &'a [u8],
    plain: bool,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8, reason: &'static str) -> Result<(), NotCanonical> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(nc(self.pos, reason))
        }
    }

    fn value(&mut self) -> Result<(), NotCanonical> {
        match self.peek() {
            Some(b'n') => self.literal(b"null"),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'"') => self.string().map(|_| ()),
            Some(b'[') => self.array(),
            Some(b'{') => self.object(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(nc(self.pos, "unexpected character (or whitespace)")),
            None => Err(nc(self.pos, "unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), NotCanonical> {
        if self.s.get(self.pos..).is_some_and(|r| r.starts_with(word)) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(nc(self.pos, "invalid literal"))
        }
    }

    fn enter(&mut self) -> Result<(), NotCanonical> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(nc(self.pos, "nested deeper than the limit"));
        }
        self.pos += 1;
        Ok(())
    }

    fn array(&mut self) -> Result<(), NotCanonical> {
        self.enter()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.value()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(nc(self.pos, "expected ',' or ']' (or whitespace)")),
            }
        }
    }

    fn object(&mut self) -> Result<(), NotCanonical> {
        self.enter()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut previous: Option<Key<'a>> = None;
        loop {
            if self.peek() != Some(b'"') {
                return Err(nc(self.pos, "expected a string key (or whitespace)"));
            }
            let at = self.pos;
            let key = self.string()?;
            if let Some(p) = previous {
                if key_order(p, key) != Ordering::Less {
                    return Err(nc(at, "object keys not in canonical order, or duplicated"));
                }
            }
            previous = Some(key);
            self.eat(b':', "expected ':' (or whitespace)")?;
            self.value()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(nc(self.pos, "expected ',' or '}' (or whitespace)")),
            }
        }
    }

    /// A string in canonical form; returns its content as written.
    fn string(&mut self) -> Result<Key<'a>, NotCanonical> {
        self.pos += 1; // the opening quote
        let start = self.pos;
        let mut plain = true;
        loop {
            // Plain ASCII runs, eight bytes at a time: stop at a word holding '"', '\\', a
            // control character or a non-ASCII byte, and look at that word byte by byte.
            while let Some(word) = self
                .s
                .get(self.pos..self.pos + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
            {
                if special(u64::from_le_bytes(word)) {
                    break;
                }
                self.pos += 8;
            }
            let Some(c) = self.peek() else {
                return Err(nc(self.pos, "unterminated string"));
            };
            match c {
                b'"' => {
                    let raw = self.s.get(start..self.pos).unwrap_or_default();
                    self.pos += 1;
                    return Ok(Key { raw, plain });
                }
                b'\\' => {
                    plain = false;
                    let at = self.pos;
                    match self.s.get(self.pos + 1).copied() {
                        Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
                        Some(b'u') => {
                            // Only control characters without a short escape, as \u00xx.
                            let esc = self.s.get(self.pos + 2..self.pos + 6);
                            let v = match esc {
                                Some([b'0', b'0', h @ (b'0' | b'1'), l]) => {
                                    let low = match l {
                                        b'0'..=b'9' => l - b'0',
                                        b'a'..=b'f' => l - b'a' + 10,
                                        _ => return Err(nc(at, "escape not in canonical form")),
                                    };
                                    (h - b'0') * 16 + low
                                }
                                _ => return Err(nc(at, "escape not in canonical form")),
                            };
                            if matches!(v, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return Err(nc(at, "escape not in canonical form"));
                            }
                            self.pos += 6;
                        }
                        _ => return Err(nc(at, "escape not in canonical form")),
                    }
                }
                0..=0x1f => return Err(nc(self.pos, "control character in string")),
                0x80.. => {
                    plain = false;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn number(&mut self) -> Result<(), NotCanonical> {
        let start = self.pos;
        let lexeme =
            vigil_ledger::internal::lex_number(self.s, start).map_err(|(at, why)| nc(at, why))?;
        self.pos = lexeme.end;
        let (int_digits, integer) = (lexeme.int_end - lexeme.int_start, lexeme.integer);
        let text = self.s.get(start..self.pos).unwrap_or_default();
        // An integer of at most 15 digits is exactly a double and ECMAScript writes it as
        // itself; only -0 is written otherwise ("0").
        if integer && int_digits <= 15 && text != b"-0" {
            return Ok(());
        }
        let canonical = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .and_then(vigil_ledger::internal::format_number);
        if canonical.as_deref().map(str::as_bytes) == Some(text) {
            Ok(())
        } else {
            Err(nc(start, "number not in canonical form"))
        }
    }
}

/// Whether any byte of `w` is '"', '\\', below 0x20 or above 0x7f (exact: the classic
/// "has zero byte" and "has byte less than" word tricks).
fn special(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(0x20 * ONES) & !w & HIGH;
    (w & HIGH) | control | zero(w ^ (u64::from(b'"') * ONES)) | zero(w ^ (u64::from(b'\\') * ONES))
        != 0
}

/// The UTF-16 code units of a canonical string's content (already checked).
fn utf16(raw: &[u8]) -> Vec<u16> {
    let mut out = Vec::with_capacity(raw.len());
    let text = std::str::from_utf8(raw).unwrap_or_default();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let c = if c == '\\' {
            match chars.next() {
                Some('b') => '\u{8}',
                Some('f') => '\u{c}',
                Some('n') => '\n',
                Some('r') => '\r',
                Some('t') => '\t',
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}')
                }
                Some(other) => other, // '"' and '\\'
                None => '\\',
            }
        } else {
            c
        };
        let mut buf = [0u16; 2];
        out.extend_from_slice(c.encode_utf16(&mut buf));
    }
    out
}

/// Orders two keys by their UTF-16 code units, as RFC 8785 sorts members.
fn key_order(a: Key<'_>, b: Key<'_>) -> Ordering {
    if a.plain && b.plain {
        return a.raw.cmp(b.raw);
    }
    utf16(a.raw).cmp(&utf16(b.raw))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use vigil_ledger::canonicalize_event;

    fn reference(b: &[u8]) -> bool {
        canonicalize_event(b, &Limits::default()).is_ok_and(|c| c == b)
    }

    fn ours(b: &[u8]) -> bool {
        check_event(b, &Limits::default()).is_ok()
    }

    #[test]
    fn the_word_test_finds_exactly_the_special_bytes() {
        for b in 0..=255u8 {
            let want = b == b'"' || b == b'\\' || !(0x20..=0x7f).contains(&b);
            for at in 0..8 {
                let mut w = [b'a'; 8];
                w[at] = b;
                assert_eq!(special(u64::from_le_bytes(w)), want, "{b:#x} at {at}");
            }
        }
        assert!(!special(u64::from_le_bytes(*b"plain tx")));
    }

    #[test]
    fn known_cases() {
        let yes: &[&[u8]] = &[
            b"{}",
            br#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
            br#"{"a":-1.5,"b":1e+21,"c":1e-7,"d":0.000001,"e":0,"f":123456789012345}"#,
            br#"{"x":10000000000000000,"y":604214024854787800,"z":9007199254740992}"#,
            "{\"s\":\"\\u001f\\b\\t\\n\\f\\r\\\"\\\\/é\u{7f}\u{10000}\"}".as_bytes(),
            // UTF-16 order: U+10000 (D800 DC00) sorts before U+E000.
            "{\"\u{10000}\":1,\"\u{e000}\":2}".as_bytes(),
            br#"{"":0,"a":0,"aa":0,"b":0}"#,
        ];
        for y in yes {
            assert!(reference(y), "reference: {}", String::from_utf8_lossy(y));
            assert!(ours(y), "{}", String::from_utf8_lossy(y));
        }
        let no: &[&[u8]] = &[
            b"[]",
            b" {}",
            b"{} ",
            b"{\"a\": 1}",
            br#"{"b":1,"a":2}"#,
            br#"{"a":1,"a":1}"#,
            "{\"\u{e000}\":1,\"\u{10000}\":2}".as_bytes(),
            br#"{"a":1.0}"#,
            br#"{"a":-0}"#,
            br#"{"a":1E3}"#,
            br#"{"a":01}"#,
            br#"{"a":1e400}"#,
            br#"{"a":9007199254740993}"#,
            br#"{"a":"\u0041"}"#,
            br#"{"a":"\u000A"}"#,
            br#"{"a":"\u000a"}"#,
            br#"{"a":"\/"}"#,
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            br#"{"a":tru}"#,
            br#"{"a":1"#,
        ];
        for n in no {
            assert!(!reference(n), "reference: {}", String::from_utf8_lossy(n));
            assert!(!ours(n), "{}", String::from_utf8_lossy(n));
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(64), "]".repeat(64));
        assert_eq!(ours(deep.as_bytes()), reference(deep.as_bytes()));
        assert!(!ours(deep.as_bytes()));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(1 << 20));
        assert!(!ours(big.as_bytes()));
    }

    /// Arbitrary JSON values (keys and strings from a small alphabet with the characters that
    /// matter: escapes, controls, non-ASCII, astral).
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let text = "[a-c\"\\\\/\u{1}\u{8}\n\u{1f}\u{7f}é\u{e000}\u{10000}]{0,4}";
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|i| serde_json::json!(i)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::json!(f)),
            (-1_000_000i64..1_000_000, 0u32..8)
                .prop_map(|(m, e)| serde_json::json!(m as f64 / 10f64.powi(e as i32))),
            text.prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                proptest::collection::vec((text, inner), 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Agreement on canonical outputs, on serde_json's (often not canonical) text, and on
        /// both after a byte is changed, inserted or removed.
        #[test]
        fn agrees_with_the_canonicalizer(
            members in proptest::collection::vec(("[a-z\u{e9}\u{10000}]{0,3}", json()), 0..5),
            at in any::<usize>(),
            byte in prop_oneof![Just(b' '), Just(b'"'), Just(b'\\'), Just(b'0'), Just(b'.'),
                                Just(b'e'), Just(b'-'), Just(b','), Just(b'}'), Just(b'u'),
                                any::<u8>()],
            edit in 0u8..3,
        ) {
            let value = serde_json::Value::Object(members.into_iter().collect());
            let text = serde_json::to_vec(&value).unwrap();
            let mut samples = vec![text.clone()];
            if let Ok(c) = canonicalize_event(&text, &Limits::default()) {
                samples.push(c);
            }
            for s in samples.clone() {
                let mut m = s.clone();
                let i = at % (m.len() + 1);
                match edit {
                    0 if i < m.len() => m[i] = byte,
                    1 => m.insert(i, byte),
                    _ if i < m.len() => { m.remove(i); }
                    _ => {}
                }
                samples.push(m);
            }
            for s in samples {
                prop_assert_eq!(ours(&s), reference(&s), "{}", String::from_utf8_lossy(&s));
            }
        }

        /// Every number the canonicalizer writes is accepted, and other spellings of it are not.
        #[test]
        fn numbers_agree(x in any::<f64>().prop_filter("finite", |f| f.is_finite()),
                         spelling in 0u8..4) {
            let text = match spelling {
                0 => format!("{x}"),
                1 => format!("{x:e}"),
                2 => format!("{x:E}"),
                _ => format!("{x:?}"),
            };
            let doc = format!("{{\"n\":{text}}}");
            prop_assert_eq!(ours(doc.as_bytes()), reference(doc.as_bytes()), "{}", doc);
            if let Ok(c) = canonicalize_event(doc.as_bytes(), &Limits::default()) {
                prop_assert!(ours(&c), "{}", String::from_utf8_lossy(&c));
            }
        }
    }
}

//! NumPy `.npy`: the header checked against the data size; object arrays' pickles scanned.

use crate::blob::Blob;
use crate::context::Ctx;
use crate::cursor::Reader;
use crate::kind::Format;
use crate::{Rule, Severity};

struct NpyHeader {
    descr: String,
    shape: Vec<u64>,
    object: bool,
    structured: bool,
}

fn parse_npy_header(h: &str) -> Option<NpyHeader> {
    let descr_at = h.find("'descr'")?;
    let after = h
        .get(descr_at + 7..)?
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let (descr, structured) = if let Some(rest) = after.strip_prefix('\'') {
        (rest.get(..rest.find('\'')?)?.to_string(), false)
    } else if after.starts_with('[') {
        let end = after.find("],").or_else(|| after.rfind(']'))?;
        (after.get(..=end)?.to_string(), true)
    } else {
        return None;
    };
    let shape_at = h.find("'shape'")?;
    let s = h
        .get(shape_at + 7..)?
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('(')?;
    let s = s.get(..s.find(')')?)?;
    let mut shape = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        shape.push(part.trim_end_matches('L').parse::<u64>().ok()?);
    }
    let object = if structured {
        descr.contains("'O") || descr.contains("'|O")
    } else {
        descr
            .trim_start_matches(['<', '>', '|', '='])
            .starts_with('O')
    };
    Some(NpyHeader {
        descr,
        shape,
        object,
        structured,
    })
}

fn npy_itemsize(descr: &str) -> Option<u64> {
    let d = descr.trim_start_matches(['<', '>', '|', '=']);
    let kind = d.chars().next()?;
    let n: u64 = d
        .get(1..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    match kind {
        'U' => n.checked_mul(4),
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'M' | 'm' | 'a' => Some(n),
        _ => None,
    }
}

/// From the first bytes of a `.npy` stream: (object array?, offset of the data).
pub(crate) fn npy_head(head: &[u8]) -> Option<(bool, u64)> {
    let (hlen, hstart) = match head.get(6)? {
        1 => (
            u64::from(u16::from_le_bytes([*head.get(8)?, *head.get(9)?])),
            10u64,
        ),
        2 | 3 => (
            u64::from(u32::from_le_bytes(head.get(8..12)?.try_into().ok()?)),
            12u64,
        ),
        _ => return None,
    };
    let raw = head.get(hstart as usize..(hstart + hlen) as usize)?;
    let h = parse_npy_header(std::str::from_utf8(raw).ok()?)?;
    Some((h.object, hstart + hlen))
}

/// Scan a `.npy` file: header, size, and the pickle of an object array.
pub(crate) fn scan(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>, depth: usize) -> Format {
    // Magic (6 bytes), version (2), header length (2 in version 1, 4 in versions 2 and 3).
    let mut r = Reader::new(blob);
    let lengths = r.skip("magic", 6).and_then(|()| {
        let major = r.u8("version")?;
        r.skip("minor version", 1)?;
        match major {
            1 => Ok(Some((u64::from(r.u16("header length")?), 10u64))),
            2 | 3 => Ok(Some((u64::from(r.u32("header length")?), 12u64))),
            v => {
                ctx.fail(
                    Rule::NumpyMalformed,
                    format!(".npy format version {v} is unknown"),
                    member,
                );
                Ok(None)
            }
        }
    });
    let (hlen, hstart) = match lengths {
        Ok(Some(l)) => l,
        Ok(None) => return Format::Npy,
        Err(e) => {
            ctx.fail(Rule::NumpyMalformed, format!(".npy header: {e}"), member);
            return Format::Npy;
        }
    };
    if hlen > 1 << 20 || hstart + hlen > blob.len() {
        ctx.fail(
            Rule::NumpyMalformed,
            format!(
                ".npy header length {hlen} does not fit the {}-byte file",
                blob.len()
            ),
            member,
        );
        return Format::Npy;
    }
    let raw = blob.head(hstart, hlen as usize).unwrap_or_default();
    let Some(h) = std::str::from_utf8(&raw).ok().and_then(parse_npy_header) else {
        ctx.fail(
            Rule::NumpyMalformed,
            ".npy header is not a dict with descr and shape".into(),
            member,
        );
        return Format::Npy;
    };
    let data_off = hstart + hlen;
    let rest = blob.len() - data_off;
    if h.object {
        ctx.add(
            Severity::Low,
            Rule::NumpyObjectArray,
            format!(
                "object array (dtype {}): loading needs allow_pickle=True; its pickle was scanned",
                h.descr
            ),
            None,
            member,
        );
        let Ok(data) = blob.slice(data_off, rest) else {
            return Format::Npy;
        };
        let _ = crate::formats::pickle::scan_blob(ctx, &data, member, depth + 1, false);
        return Format::Npy;
    }
    if !h.structured {
        let want = npy_itemsize(&h.descr)
            .and_then(|s| h.shape.iter().try_fold(s, |a, d| a.checked_mul(*d)));
        match want {
            Some(w) if w == rest => {}
            Some(w) => ctx.fail(
                Rule::NumpyMalformed,
                format!("header says {w} data bytes but {rest} follow"),
                member,
            ),
            None => ctx.fail(
                Rule::NumpyMalformed,
                format!("dtype {} or shape {:?} is not understood", h.descr, h.shape),
                member,
            ),
        }
    }
    Format::Npy
}

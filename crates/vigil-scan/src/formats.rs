//! Smaller formats: NumPy `.npy`, safetensors, GGUF, HDF5 (Keras legacy), tar (legacy PyTorch)
//! and the Keras v3 `config.json`.

use std::collections::HashSet;

use serde_json::Value;

use crate::blob::Blob;
use crate::globals::{judge, Verdict};
use crate::scan::{Ctx, Scanner};
use crate::{Rule, Severity};

// ---------------------------------------------------------------------------------------------
// NumPy .npy

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
pub(crate) fn npy(
    scanner: &Scanner,
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    member: Option<&str>,
    depth: usize,
) -> String {
    let head = blob.head(0, 12).unwrap_or_default();
    let major = head.get(6).copied().unwrap_or(0);
    let (hlen, hstart) = match major {
        1 => (
            u64::from(u16::from_le_bytes([
                head.get(8).copied().unwrap_or(0),
                head.get(9).copied().unwrap_or(0),
            ])),
            10u64,
        ),
        2 | 3 => (
            head.get(8..12)
                .and_then(|b| b.try_into().ok())
                .map_or(0, |b| u64::from(u32::from_le_bytes(b))),
            12u64,
        ),
        v => {
            ctx.fail(
                Rule::NumpyMalformed,
                format!(".npy format version {v} is unknown"),
                member,
            );
            return "npy".into();
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
        return "npy".into();
    }
    let raw = blob.head(hstart, hlen as usize).unwrap_or_default();
    let Some(h) = std::str::from_utf8(&raw).ok().and_then(parse_npy_header) else {
        ctx.fail(
            Rule::NumpyMalformed,
            ".npy header is not a dict with descr and shape".into(),
            member,
        );
        return "npy".into();
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
            return "npy".into();
        };
        let _ = scanner.scan_pickle(ctx, &data, member, depth + 1, false);
        return "npy".into();
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
    "npy".into()
}

// ---------------------------------------------------------------------------------------------
// safetensors

fn st_dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" | "E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "C128" => 128,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// Check a safetensors header: length, dtypes, shapes, offsets in bounds and non-overlapping.
pub(crate) fn safetensors(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> String {
    let n = blob
        .head(0, 8)
        .ok()
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes);
    let bad = |ctx: &mut Ctx<'_>, why: String| ctx.fail(Rule::SafetensorsMalformed, why, member);
    if n > ctx.limits().max_header {
        bad(
            ctx,
            format!(
                "header length {n} is over the {}-byte limit",
                ctx.limits().max_header
            ),
        );
        return "safetensors".into();
    }
    let raw = match blob.head(8, n as usize) {
        Ok(r) if r.len() as u64 == n => r,
        _ => {
            bad(ctx, format!("header length {n} passes the end of the file"));
            return "safetensors".into();
        }
    };
    let header: serde_json::Map<String, Value> = match serde_json::from_slice(&raw) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            bad(ctx, "header is not a JSON object".into());
            return "safetensors".into();
        }
        Err(e) => {
            bad(ctx, format!("header is not valid JSON: {e}"));
            return "safetensors".into();
        }
    };
    let data_len = blob.len() - 8 - n;
    let mut ranges = Vec::new();
    for (name, v) in &header {
        if name == "__metadata__" {
            if !v
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
            {
                bad(ctx, "__metadata__ is not a map of strings".into());
            }
            continue;
        }
        let dtype = v.get("dtype").and_then(Value::as_str).unwrap_or("");
        let Some(bits) = st_dtype_bits(dtype) else {
            bad(ctx, format!("tensor {name:?}: unknown dtype {dtype:?}"));
            continue;
        };
        let shape: Option<Vec<u64>> = v
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let offs: Option<Vec<u64>> = v
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let (Some(shape), Some(offs)) = (shape, offs) else {
            bad(
                ctx,
                format!("tensor {name:?}: shape or data_offsets missing or negative"),
            );
            continue;
        };
        let [b, e] = offs.as_slice() else {
            bad(
                ctx,
                format!("tensor {name:?}: data_offsets must have two entries"),
            );
            continue;
        };
        if b > e || *e > data_len {
            bad(ctx, format!("tensor {name:?}: offsets [{b}, {e}] are outside the {data_len}-byte data section"));
            continue;
        }
        let elems = shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
        let want = elems
            .and_then(|x| x.checked_mul(bits))
            .map(|b| b.div_ceil(8));
        if want != Some(e - b) {
            bad(ctx, format!("tensor {name:?}: shape {shape:?} of {dtype} needs {want:?} bytes but offsets give {}", e - b));
        }
        ranges.push((*b, *e, name.clone()));
    }
    ranges.sort();
    let mut end = 0u64;
    let mut last = String::new();
    for (b, e, name) in &ranges {
        if *b < end {
            bad(ctx, format!("tensors {last:?} and {name:?} overlap"));
        } else if *b > end {
            bad(
                ctx,
                format!("gap of {} bytes before tensor {name:?}", b - end),
            );
        }
        if *e > end {
            end = *e;
            last = name.clone();
        }
    }
    if end < data_len && !ranges.is_empty() {
        bad(
            ctx,
            format!(
                "{} bytes after the last tensor are not described by the header",
                data_len - end
            ),
        );
    }
    "safetensors".into()
}

// ---------------------------------------------------------------------------------------------
// GGUF

const TEMPLATE_MARKERS: &[&str] = &[
    "__class__",
    "__globals__",
    "__subclasses__",
    "__builtins__",
    "__init__",
    "__mro__",
    "__base__",
    "__import__",
    "__getattribute__",
    "__dict__",
    "__reduce__",
    "__code__",
    "__self__",
    "__func__",
    "lipsum",
    "cycler",
    "joiner",
    ".popen",
    "os.system",
    "|attr",
    "\\x5f",
    "\\u005f",
    "_TemplateReference",
    "import os",
    "subprocess",
];

struct Cur<'b> {
    blob: &'b Blob,
    pos: u64,
}

impl Cur<'_> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, String> {
        let v = self
            .blob
            .head(self.pos, n as usize)
            .map_err(|e| e.to_string())?;
        if v.len() as u64 != n {
            return Err(format!(
                "{n} bytes at offset {} pass the end of the file",
                self.pos
            ));
        }
        self.pos += n;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| "short read")?))
    }
}

fn gguf_string(c: &mut Cur<'_>, v1: bool, max: u64) -> Result<String, String> {
    let n = if v1 { u64::from(c.u32()?) } else { c.u64()? };
    if n > max {
        return Err(format!(
            "string of {n} bytes at offset {} is over the limit",
            c.pos
        ));
    }
    Ok(String::from_utf8_lossy(&c.bytes(n)?).into_owned())
}

fn gguf_skip(
    c: &mut Cur<'_>,
    t: u32,
    v1: bool,
    max: u64,
    depth: usize,
) -> Result<Option<String>, String> {
    let fixed = match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        8 => return gguf_string(c, v1, max).map(Some),
        9 => {
            if depth > 2 {
                return Err("arrays nested too deeply".into());
            }
            let it = c.u32()?;
            let n = if v1 { u64::from(c.u32()?) } else { c.u64()? };
            let size = match it {
                0 | 1 | 7 => 1,
                2 | 3 => 2,
                4..=6 => 4,
                10..=12 => 8,
                _ => 0,
            };
            if size > 0 {
                let total = n.checked_mul(size).ok_or("array size overflows")?;
                if c.pos.checked_add(total).is_none_or(|e| e > c.blob.len()) {
                    return Err(format!("array of {n} items passes the end of the file"));
                }
                c.pos += total;
            } else {
                if n > max {
                    return Err(format!("array of {n} items is over the limit"));
                }
                for _ in 0..n {
                    gguf_skip(c, it, v1, max, depth + 1)?;
                }
            }
            return Ok(None);
        }
        other => return Err(format!("unknown value type {other}")),
    };
    c.bytes(fixed)?;
    Ok(None)
}

/// Read a GGUF header and metadata; check chat templates for template injection.
pub(crate) fn gguf(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> String {
    let max = ctx.limits().max_header;
    let entries = ctx.limits().max_entries;
    let mut c = Cur { blob, pos: 4 };
    let res: Result<(), String> = (|| {
        let version = c.u32()?;
        if !(1..=3).contains(&version) {
            return Err(format!("version {version} is unknown"));
        }
        let v1 = version == 1;
        let (tensors, kvs) = if v1 {
            (u64::from(c.u32()?), u64::from(c.u32()?))
        } else {
            (c.u64()?, c.u64()?)
        };
        if kvs > entries || tensors > entries {
            return Err(format!(
                "{kvs} metadata entries and {tensors} tensors are over the limit"
            ));
        }
        for _ in 0..kvs {
            let key = gguf_string(&mut c, v1, max)?;
            let t = c.u32()?;
            if let Some(s) = gguf_skip(&mut c, t, v1, max, 0)? {
                if key.starts_with("tokenizer.chat_template") {
                    let hits: Vec<&str> = TEMPLATE_MARKERS
                        .iter()
                        .copied()
                        .filter(|m| s.contains(m))
                        .collect();
                    if !hits.is_empty() {
                        ctx.add(
                            Severity::Critical,
                            Rule::GgufTemplateInjection,
                            format!("{key} uses {} which reach Python internals when the template is rendered", hits.join(", ")),
                            None,
                            member,
                        );
                    }
                }
            }
        }
        for _ in 0..tensors {
            let name = gguf_string(&mut c, v1, max)?;
            let nd = c.u32()?;
            if nd > 8 {
                return Err(format!("tensor {name:?} has {nd} dimensions"));
            }
            let mut elems: u64 = 1;
            for _ in 0..nd {
                let d = if v1 { u64::from(c.u32()?) } else { c.u64()? };
                elems = elems
                    .checked_mul(d)
                    .ok_or_else(|| format!("tensor {name:?} size overflows"))?;
            }
            c.u32()?;
            let off = c.u64()?;
            if off > blob.len() || elems > blob.len().saturating_mul(8) {
                return Err(format!("tensor {name:?} lies outside the file"));
            }
        }
        Ok(())
    })();
    if let Err(why) = res {
        ctx.fail(Rule::GgufMalformed, format!("GGUF header: {why}"), member);
    }
    "gguf".into()
}

// ---------------------------------------------------------------------------------------------
// HDF5 (legacy Keras .h5): the model config is a JSON attribute near the start.

/// Look for Lambda layers in the model config of a legacy Keras HDF5 file.
pub(crate) fn hdf5(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> String {
    let window = blob.head(0, 16 << 20).unwrap_or_default();
    for pat in [
        &b"\"class_name\": \"Lambda\""[..],
        b"\"class_name\":\"Lambda\"",
    ] {
        if window.windows(pat.len()).any(|w| w == pat) {
            ctx.add(
                Severity::Critical,
                Rule::KerasLambda,
                "legacy Keras HDF5 model config has a Lambda layer, whose bytecode runs on load"
                    .into(),
                None,
                member,
            );
            break;
        }
    }
    "hdf5".into()
}

// ---------------------------------------------------------------------------------------------
// tar (legacy PyTorch: sys_info, pickle, storages, tensors)

fn octal(b: &[u8]) -> Option<u64> {
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        // GNU base-256
        return b
            .get(1..)?
            .iter()
            .try_fold(0u64, |a, x| a.checked_mul(256)?.checked_add(u64::from(*x)));
    }
    let s: String = b
        .iter()
        .take_while(|c| **c != 0 && **c != b' ')
        .map(|c| *c as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// Scan each regular member of a tar archive in place.
pub(crate) fn tar(
    scanner: &Scanner,
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    member: Option<&str>,
    depth: usize,
) -> String {
    let mut pos = 0u64;
    let mut long_name: Option<String> = None;
    let mut names = Vec::new();
    let mut count = 0usize;
    while pos + 512 <= blob.len() {
        let h = blob.head(pos, 512).unwrap_or_default();
        if h.iter().all(|b| *b == 0) {
            break;
        }
        count += 1;
        if count > scanner.limits().max_members {
            ctx.fail(Rule::ResourceLimit, "too many tar members".into(), member);
            break;
        }
        let Some(size) = h.get(124..136).and_then(octal) else {
            ctx.fail(
                Rule::ArchiveMalformed,
                format!("tar header at offset {pos} has a bad size field"),
                member,
            );
            break;
        };
        let typ = h.get(156).copied().unwrap_or(0);
        let mut name: String = String::from_utf8_lossy(h.get(..100).unwrap_or_default())
            .trim_end_matches('\0')
            .to_string();
        let prefix = String::from_utf8_lossy(h.get(345..500).unwrap_or_default())
            .trim_end_matches('\0')
            .to_string();
        if !prefix.is_empty() && h.get(257..262) == Some(b"ustar") {
            name = format!("{prefix}/{name}");
        }
        if let Some(l) = long_name.take() {
            name = l;
        }
        let data_at = pos + 512;
        let Ok(data) = blob.slice(data_at, size) else {
            ctx.fail(
                Rule::ArchiveMalformed,
                format!("tar member {name:?} passes the end of the archive"),
                member,
            );
            break;
        };
        match typ {
            b'L' => {
                long_name = data.head(0, 4096).ok().map(|b| {
                    String::from_utf8_lossy(&b)
                        .trim_end_matches('\0')
                        .to_string()
                });
            }
            b'0' | 0 | b'7' => {
                let full = match member {
                    Some(p) => format!("{p}!{name}"),
                    None => name.clone(),
                };
                let n = name.trim_start_matches("./");
                let quiet = matches!(n, "storages" | "tensors");
                let head = data.head(0, 2).unwrap_or_default();
                if quiet && matches!(head.as_slice(), [0x80, ..]) {
                    let _ = scanner.scan_pickle(ctx, &data, Some(&full), depth + 1, true);
                } else {
                    let kind = scanner.scan_blob(ctx, &data, Some(&full), depth + 1);
                    if let crate::scan::Kind::Binary = kind {
                        ctx.add(
                            Severity::Medium,
                            Rule::UnknownFormat,
                            "member is binary data in no known model format".into(),
                            None,
                            Some(&full),
                        );
                    }
                }
                names.push(n.to_string());
            }
            _ => {}
        }
        pos = data_at + size.div_ceil(512) * 512;
    }
    if names.iter().any(|n| n == "pickle") && names.iter().any(|n| n == "storages") {
        "pytorch-legacy-tar".into()
    } else {
        "tar".into()
    }
}

// ---------------------------------------------------------------------------------------------
// Keras v3 config.json

const KERAS_MODULES: &[&str] = &["keras", "tensorflow", "tf_keras", "tf"];

fn keras_walk(
    ctx: &mut Ctx<'_>,
    v: &Value,
    member: &str,
    depth: usize,
    seen: &mut HashSet<String>,
) {
    if depth > 256 {
        ctx.fail(
            Rule::ResourceLimit,
            "config nested too deeply".into(),
            Some(member),
        );
        return;
    }
    match v {
        Value::Object(m) => {
            let class = m.get("class_name").and_then(Value::as_str).unwrap_or("");
            if class == "__lambda__" {
                ctx.add(Severity::Critical, Rule::KerasLambda, "serialized lambda function: its marshalled Python bytecode runs when the model is loaded with safe_mode off".into(), None, Some(member));
            }
            if class == "Lambda" {
                let name = m
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                ctx.add(Severity::Critical, Rule::KerasLambda, format!("Lambda layer {name:?}: its marshalled Python bytecode runs when the model is loaded with safe_mode off"), None, Some(member));
            }
            if let Some(module) = m.get("module").and_then(Value::as_str) {
                let top = module.split('.').next().unwrap_or("");
                if !KERAS_MODULES.contains(&top) {
                    let name = if class == "function" {
                        m.get("config")
                            .and_then(Value::as_str)
                            .unwrap_or(class)
                            .to_string()
                    } else {
                        class.to_string()
                    };
                    let global = format!("{module}.{name}");
                    if seen.insert(global.clone()) && judge(&global) != Verdict::Safe {
                        let (sev, why) = match judge(&global) {
                            Verdict::Deny(s, why) => (s, why.to_string()),
                            _ => (
                                Severity::Medium,
                                "a custom object from outside Keras runs its own code".to_string(),
                            ),
                        };
                        ctx.add(
                            sev,
                            Rule::KerasUnknownModule,
                            format!("config deserializes {global}: {why}"),
                            Some(&global),
                            Some(member),
                        );
                    }
                }
            }
            for val in m.values() {
                keras_walk(ctx, val, member, depth + 1, seen);
            }
        }
        Value::Array(a) => {
            for val in a {
                keras_walk(ctx, val, member, depth + 1, seen);
            }
        }
        _ => {}
    }
}

/// Check a Keras v3 `config.json` for Lambda layers and objects from outside Keras.
pub(crate) fn keras_config(ctx: &mut Ctx<'_>, bytes: &[u8], member: &str) {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            ctx.fail(
                Rule::KerasMalformed,
                format!("config.json is not valid JSON: {e}"),
                Some(member),
            );
            return;
        }
    };
    keras_walk(ctx, &v, member, 0, &mut HashSet::new());
}

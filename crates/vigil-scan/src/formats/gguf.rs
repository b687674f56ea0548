//! GGUF v1-v3: header, metadata and tensor infos; chat templates checked for injection.

use crate::blob::Blob;
use crate::context::Ctx;
use crate::cursor::Reader;
use crate::kind::Format;
use crate::{Rule, Severity};

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

fn gguf_string(c: &mut Reader<'_>, v1: bool, max: u64) -> Result<String, String> {
    let n = if v1 {
        u64::from(c.u32("gguf field")?)
    } else {
        c.u64("gguf field")?
    };
    if n > max {
        return Err(format!(
            "string of {n} bytes at offset {} is over the limit",
            c.pos()
        ));
    }
    Ok(String::from_utf8_lossy(&c.take("gguf string", n)?).into_owned())
}

fn gguf_skip(
    c: &mut Reader<'_>,
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
            let it = c.u32("gguf field")?;
            let n = if v1 {
                u64::from(c.u32("gguf field")?)
            } else {
                c.u64("gguf field")?
            };
            let size = match it {
                0 | 1 | 7 => 1,
                2 | 3 => 2,
                4..=6 => 4,
                10..=12 => 8,
                _ => 0,
            };
            if size > 0 {
                let total = n.checked_mul(size).ok_or("array size overflows")?;
                if total > c.left() {
                    return Err(format!("array of {n} items passes the end of the file"));
                }
                c.skip("gguf array", total)?;
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
    c.skip("gguf value", fixed)?;
    Ok(None)
}

/// Read a GGUF header and metadata; check chat templates for template injection.
/// Read a GGUF header and metadata; check chat templates for template injection.
pub(crate) fn scan(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> Format {
    let max = ctx.limits().max_header;
    let entries = ctx.limits().max_entries;
    let mut c = match Reader::window(blob, "GGUF header", 4, blob.len().saturating_sub(4)) {
        Ok(c) => c,
        Err(e) => {
            ctx.fail(Rule::GgufMalformed, format!("GGUF header: {e}"), member);
            return Format::Gguf;
        }
    };
    let res: Result<(), String> = (|| {
        let version = c.u32("gguf field")?;
        if !(1..=3).contains(&version) {
            return Err(format!("version {version} is unknown"));
        }
        let v1 = version == 1;
        let (tensors, kvs) = if v1 {
            (
                u64::from(c.u32("gguf field")?),
                u64::from(c.u32("gguf field")?),
            )
        } else {
            (c.u64("gguf field")?, c.u64("gguf field")?)
        };
        if kvs > entries || tensors > entries {
            return Err(format!(
                "{kvs} metadata entries and {tensors} tensors are over the limit"
            ));
        }
        for _ in 0..kvs {
            let key = gguf_string(&mut c, v1, max)?;
            let t = c.u32("gguf field")?;
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
            let nd = c.u32("gguf field")?;
            if nd > 8 {
                return Err(format!("tensor {name:?} has {nd} dimensions"));
            }
            let mut elems: u64 = 1;
            for _ in 0..nd {
                let d = if v1 {
                    u64::from(c.u32("gguf field")?)
                } else {
                    c.u64("gguf field")?
                };
                elems = elems
                    .checked_mul(d)
                    .ok_or_else(|| format!("tensor {name:?} size overflows"))?;
            }
            c.u32("gguf field")?;
            let off = c.u64("gguf field")?;
            if off > blob.len() || elems > blob.len().saturating_mul(8) {
                return Err(format!("tensor {name:?} lies outside the file"));
            }
        }
        Ok(())
    })();
    if let Err(why) = res {
        ctx.fail(Rule::GgufMalformed, format!("GGUF header: {why}"), member);
    }
    Format::Gguf
}

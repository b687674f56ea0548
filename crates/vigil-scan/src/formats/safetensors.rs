//! safetensors: header length, JSON, dtypes, shapes against offsets, bounds and overlap.

use crate::blob::Blob;
use crate::context::Ctx;
use crate::cursor::Reader;
use crate::kind::Format;
use serde_json::Value;

use crate::Rule;

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
pub(crate) fn scan(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> Format {
    let bad = |ctx: &mut Ctx<'_>, why: String| ctx.fail(Rule::SafetensorsMalformed, why, member);
    let n = match Reader::new(blob).u64("safetensors header length") {
        Ok(n) => n,
        Err(e) => {
            bad(ctx, e.to_string());
            return Format::Safetensors;
        }
    };
    if n > ctx.limits().max_header {
        bad(
            ctx,
            format!(
                "header length {n} is over the {}-byte limit",
                ctx.limits().max_header
            ),
        );
        return Format::Safetensors;
    }
    let raw = match blob.head(8, n as usize) {
        Ok(r) if r.len() as u64 == n => r,
        _ => {
            bad(ctx, format!("header length {n} passes the end of the file"));
            return Format::Safetensors;
        }
    };
    let header: serde_json::Map<String, Value> = match serde_json::from_slice(&raw) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            bad(ctx, "header is not a JSON object".into());
            return Format::Safetensors;
        }
        Err(e) => {
            bad(ctx, format!("header is not valid JSON: {e}"));
            return Format::Safetensors;
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
    Format::Safetensors
}

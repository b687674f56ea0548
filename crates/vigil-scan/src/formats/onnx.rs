//! A bounded reader for the parts of ONNX's protobuf that matter: operator domains, tensor
//! shapes, and external-data locations. Tensor payloads (`raw_data`, typed data fields) are
//! skipped by length, never read.

use std::path::{Component, Path};

use crate::blob::Blob;
use crate::context::Ctx;
use crate::kind::Format;
use crate::protobuf::{Pb, R};
use crate::{Rule, Severity};

const KNOWN_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
];

struct Walk<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    member: Option<&'c str>,
    local_domains: Vec<String>,
    domains: Vec<String>,
    has_graph: bool,
}

/// Whether the whole blob parses as a SentencePiece ModelProto (tokenizer.model): top-level
/// fields 1-5 only, all length-delimited, with at least one piece.
pub(crate) fn is_sentencepiece(blob: &Blob, max_steps: u64) -> bool {
    if blob.head(0, 1).ok().and_then(|h| h.first().copied()) != Some(0x0a) {
        return false;
    }
    let mut pb = Pb::new(blob, max_steps);
    let mut pieces = 0u64;
    let mut ok = true;
    let res = pb.fields(0, blob.len(), &mut |_, field, wire, _, _| {
        match (field, wire) {
            (1, 2) => pieces += 1,
            (2..=5, 2) => {}
            _ => ok = false,
        }
        Ok(())
    });
    res.is_ok() && ok && pieces > 0
}

/// If the blob parses as an ONNX ModelProto with a graph, scan it and return `onnx`.
pub(crate) fn scan_if_onnx(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> Option<Format> {
    // ModelProto almost always opens with ir_version (field 1, varint).
    if blob.head(0, 1).ok()?.first() != Some(&0x08) {
        return None;
    }
    let max_steps = ctx.limits().max_entries;
    let mut pb = Pb::new(blob, max_steps);
    // First pass: is this a model at all?
    let mut graph = false;
    let mut plausible = true;
    let probe = pb.fields(0, blob.len(), &mut |_, field, wire, _, _| {
        match (field, wire) {
            (1 | 5, 0) | (2 | 3 | 4 | 6 | 7 | 8 | 14 | 20 | 25, 2) => {}
            _ => plausible = false,
        }
        if field == 7 {
            graph = true;
        }
        Ok(())
    });
    if !plausible || !graph {
        return None;
    }
    let mut child = ctx.child();
    let mut w = Walk {
        ctx: &mut child,
        member,
        local_domains: Vec::new(),
        domains: Vec::new(),
        has_graph: false,
    };
    let mut pb = Pb::new(blob, max_steps);
    let res = probe.and_then(|()| w.model(&mut pb, 0, blob.len()));
    let _ = w.has_graph;
    let domains = std::mem::take(&mut w.domains);
    let local = std::mem::take(&mut w.local_domains);
    for d in domains {
        if !KNOWN_DOMAINS.contains(&d.as_str()) && !local.contains(&d) {
            child.add(
                Severity::Medium,
                Rule::OnnxUnknownDomain,
                format!("operators from domain {d:?} need custom code registered in the runtime"),
                None,
                member,
            );
        }
    }
    if let Err(why) = res {
        child.fail(Rule::OnnxMalformed, format!("ONNX protobuf: {why}"), member);
    }
    ctx.absorb(child);
    Some(Format::Onnx)
}

impl Walk<'_, '_> {
    fn model(&mut self, pb: &mut Pb<'_>, start: u64, end: u64) -> R<()> {
        pb.fields(
            start,
            end,
            &mut |pb, field, wire, len, at| match (field, wire) {
                (7, 2) => self.graph(pb, at, at + len, 0),
                (25, 2) => self.function(pb, at, at + len),
                _ => Ok(()),
            },
        )
    }

    fn function(&mut self, pb: &mut Pb<'_>, start: u64, end: u64) -> R<()> {
        pb.fields(
            start,
            end,
            &mut |pb, field, wire, len, at| match (field, wire) {
                (10, 2) => {
                    let d = pb.string(at, len)?;
                    self.local_domains.push(d);
                    Ok(())
                }
                (7, 2) => self.node(pb, at, at + len, 1),
                _ => Ok(()),
            },
        )
    }

    fn graph(&mut self, pb: &mut Pb<'_>, start: u64, end: u64, depth: usize) -> R<()> {
        if depth > 32 {
            return Err("subgraphs nested deeper than 32".into());
        }
        self.has_graph = true;
        pb.fields(
            start,
            end,
            &mut |pb, field, wire, len, at| match (field, wire) {
                (1, 2) => self.node(pb, at, at + len, depth),
                (5, 2) => self.tensor(pb, at, at + len),
                (15, 2) => pb.fields(at, at + len, &mut |pb, f, w, l, a| {
                    if (f == 1 || f == 2) && w == 2 {
                        self.tensor(pb, a, a + l)
                    } else {
                        Ok(())
                    }
                }),
                (11..=13, 2) => self.value_info(pb, at, at + len),
                _ => Ok(()),
            },
        )
    }

    fn node(&mut self, pb: &mut Pb<'_>, start: u64, end: u64, depth: usize) -> R<()> {
        pb.fields(
            start,
            end,
            &mut |pb, field, wire, len, at| match (field, wire) {
                (7, 2) => {
                    let d = pb.string(at, len)?;
                    if !self.domains.contains(&d) && self.domains.len() < 1024 {
                        self.domains.push(d);
                    }
                    Ok(())
                }
                (5, 2) => pb.fields(at, at + len, &mut |pb, f, w, l, a| match (f, w) {
                    (5, 2) => self.tensor(pb, a, a + l),
                    (6, 2) | (11, 2) => self.graph(pb, a, a + l, depth + 1),
                    (10, 2) => self.tensor(pb, a, a + l),
                    _ => Ok(()),
                }),
                _ => Ok(()),
            },
        )
    }

    fn tensor(&mut self, pb: &mut Pb<'_>, start: u64, end: u64) -> R<()> {
        let mut dims: Vec<i64> = Vec::new();
        let mut name = String::new();
        let mut locations = Vec::new();
        pb.fields(start, end, &mut |pb, field, wire, len, at| {
            match (field, wire) {
                (1, 0) => dims.push(len as i64),
                (1, 2) => pb.packed(at, len, &mut dims)?,
                (8, 2) => name = pb.string(at, len)?,
                (13, 2) => {
                    let mut key = String::new();
                    let mut value = String::new();
                    pb.fields(at, at + len, &mut |pb, f, w, l, a| {
                        match (f, w) {
                            (1, 2) => key = pb.string(a, l)?,
                            (2, 2) => value = pb.string(a, l)?,
                            _ => {}
                        }
                        Ok(())
                    })?;
                    if key == "location" {
                        locations.push(value);
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        self.check_dims(&name, &dims);
        for loc in locations {
            self.external(&name, &loc);
        }
        Ok(())
    }

    fn check_dims(&mut self, name: &str, dims: &[i64]) {
        let mut total: u64 = 1;
        for d in dims {
            if *d < 0 {
                self.ctx.add(
                    Severity::Medium,
                    Rule::OnnxImplausibleShape,
                    format!("tensor {name:?} has a negative dimension {d}"),
                    None,
                    self.member,
                );
                return;
            }
            total = total.saturating_mul(*d as u64);
        }
        if total > 1 << 40 {
            self.ctx.add(
                Severity::Medium,
                Rule::OnnxImplausibleShape,
                format!("tensor {name:?} declares {total} elements (shape {dims:?})"),
                None,
                self.member,
            );
        }
    }

    fn value_info(&mut self, pb: &mut Pb<'_>, start: u64, end: u64) -> R<()> {
        let mut name = String::new();
        let mut dims = Vec::new();
        pb.fields(start, end, &mut |pb, field, wire, len, at| {
            match (field, wire) {
                (1, 2) => name = pb.string(at, len)?,
                // type -> tensor_type -> shape -> dim -> dim_value
                (2, 2) => pb.fields(at, at + len, &mut |pb, f, w, l, a| {
                    if f == 1 && w == 2 {
                        pb.fields(a, a + l, &mut |pb, f, w, l, a| {
                            if f == 2 && w == 2 {
                                pb.fields(a, a + l, &mut |pb, f, w, l, a| {
                                    if f == 1 && w == 2 {
                                        pb.fields(a, a + l, &mut |_, f, w, v, _| {
                                            if f == 1 && w == 0 {
                                                dims.push(v as i64);
                                            }
                                            Ok(())
                                        })?;
                                    }
                                    Ok(())
                                })?;
                            }
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?,
                _ => {}
            }
            Ok(())
        })?;
        self.check_dims(&name, &dims);
        Ok(())
    }

    fn external(&mut self, name: &str, loc: &str) {
        let p = Path::new(loc);
        let drive = loc.as_bytes().get(1) == Some(&b':');
        let escapes = p.is_absolute()
            || loc.starts_with('/')
            || loc.starts_with('\\')
            || drive
            || loc.contains(':')
            || {
                let mut depth: i64 = 0;
                let mut out = false;
                for c in loc.split(['/', '\\']) {
                    match c {
                        "" | "." => {}
                        ".." => {
                            depth -= 1;
                            if depth < 0 {
                                out = true;
                            }
                        }
                        _ => depth += 1,
                    }
                }
                out
            };
        if escapes {
            self.ctx.add(
                Severity::High,
                Rule::OnnxExternalDataEscape,
                format!(
                    "tensor {name:?} reads external data from {loc:?}, outside the model's folder"
                ),
                None,
                self.member,
            );
        } else if self.member.is_none() {
            if let Some(dir) = &self.ctx.dir {
                let clean: std::path::PathBuf = p
                    .components()
                    .filter(|c| matches!(c, Component::Normal(_)))
                    .collect();
                let full = dir.join(clean);
                // A symlink inside the folder can still point outside it.
                if let (Ok(real), Ok(root)) =
                    (std::fs::canonicalize(&full), std::fs::canonicalize(dir))
                {
                    if !real.starts_with(&root) {
                        self.ctx.add(
                            Severity::High,
                            Rule::OnnxExternalDataEscape,
                            format!("tensor {name:?} reads external data from {loc:?}, a link to {} outside the model's folder", real.display()),
                            None,
                            self.member,
                        );
                    }
                }
                self.ctx.external.push(full);
            }
        }
    }
}

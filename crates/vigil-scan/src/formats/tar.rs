//! tar (legacy PyTorch: sys_info, pickle, storages, tensors): each regular member scanned in place.

use crate::blob::Blob;
use crate::context::Ctx;
use crate::kind::{Format, Kind};
use crate::{Rule, Severity};

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
pub(crate) fn scan(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>, depth: usize) -> Format {
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
        if count > ctx.limits().max_members {
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
                    let _ =
                        crate::formats::pickle::scan_blob(ctx, &data, Some(&full), depth + 1, true);
                } else {
                    let kind = ctx.scan(&data, Some(&full), depth + 1);
                    if let Kind::Binary = kind.innermost() {
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
        Format::PytorchLegacyTar
    } else {
        Format::Tar
    }
}

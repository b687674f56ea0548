//! Checking one signature file with one key, and the files of a bundle against a manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vigil_attest::SigstoreBundle;
use vigil_core::PublicKey;

use crate::error::{BundleError, Discrepancy};
use crate::hash::{self, ByteSource, Progress};
use crate::manifest::{Manifest, Resource};
use crate::path::ResourcePath;
use crate::predicate;
use crate::walk::{self, FileEntry};
use crate::Limits;

/// The default signature file name inside a bundle, as `model_signing` names it.
pub const DEFAULT_SIGNATURE: &str = "model.sig";

/// The signature path for `dir` given an optional explicit path.
pub(crate) fn signature_path(dir: &Path, explicit: Option<&Path>) -> PathBuf {
    explicit.map_or_else(|| dir.join(DEFAULT_SIGNATURE), Path::to_path_buf)
}

/// The name of `path` inside `dir`, if it lies inside it (the file itself need not exist).
pub(crate) fn name_inside(dir: &Path, path: &Path) -> Option<ResourcePath> {
    let root = dir.canonicalize().ok()?;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let parent = abs.parent()?.canonicalize().ok()?;
    let full = parent.join(abs.file_name()?);
    let rel = full.strip_prefix(&root).ok()?;
    ResourcePath::from_relative(rel).ok()
}

/// Top-level signature files other signers may have left (`model.sig`, `model.*.sig`).
pub(crate) fn sibling_signatures(dir: &Path) -> Vec<ResourcePath> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if let Some(name) = e.file_name().to_str() {
                let is_sig = name == DEFAULT_SIGNATURE
                    || (name.starts_with("model.") && name.ends_with(".sig") && name.len() > 10);
                if is_sig && e.file_type().is_ok_and(|t| t.is_file()) {
                    if let Ok(p) = ResourcePath::parse(name) {
                        out.push(p);
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// Signature files are detached metadata, never part of what is signed: the one being checked
/// and every top-level `model.sig` / `model.*.sig` (other signers') are left out of the check.
pub(crate) fn detached_signatures(dir: &Path, sig_path: &Path) -> Vec<ResourcePath> {
    let mut out = sibling_signatures(dir);
    out.extend(name_inside(dir, sig_path));
    out
}

/// Reads a signature file, refusing files over the size limit.
/// A signature that does not exist is [`BundleError::SignatureMissing`] (the bundle fails the
/// check); one that cannot be read, or is not a regular file, is [`BundleError::File`] (the check
/// cannot be run). Nothing blocks: a FIFO is refused, never opened for a writer to appear.
pub(crate) fn read_signature(path: &Path, limits: &Limits) -> Result<Vec<u8>, BundleError> {
    vigil_core::read_bounded(path, limits.max_signature_bytes).map_err(|e| match e {
        vigil_core::ReadError::TooLarge { max, .. } => BundleError::Limit {
            what: format!("{}: signature file size", path.display()),
            limit: max,
        },
        e if e.is_not_found() => BundleError::SignatureMissing {
            path: path.to_path_buf(),
            message: e.reason(),
        },
        other => BundleError::File(other),
    })
}

/// Checks a signature's envelope with `key` and returns the manifest it signs. Nothing on disk
/// besides the signature is read.
pub(crate) fn check_signature(
    sig_path: &Path,
    bytes: &[u8],
    key: &PublicKey,
    limits: &Limits,
) -> Result<Manifest, BundleError> {
    let bad = |error| BundleError::Signature {
        path: sig_path.to_path_buf(),
        error,
    };
    let bundle = SigstoreBundle::parse(bytes).map_err(bad)?;
    let payload = bundle.verify(key).map_err(bad)?;
    predicate::parse_statement(payload, sig_path, limits)
}

/// The key hint of a signature file, if it has one (no check is made).
pub(crate) fn key_hint(bytes: &[u8]) -> Option<String> {
    SigstoreBundle::parse(bytes).ok().and_then(|b| b.key_hint)
}

/// Lists and hashes the files the manifest's serialization covers and compares them with it.
pub(crate) fn check_files(
    dir: &Path,
    manifest: &Manifest,
    extra_ignore: &[ResourcePath],
    source: &dyn ByteSource,
    limits: &Limits,
    progress: Option<Progress<'_>>,
) -> Result<Vec<FileEntry>, BundleError> {
    let mut ignore = manifest.serialization.ignore_paths.clone();
    ignore.extend_from_slice(extra_ignore);
    let files = walk::list_files(dir, &ignore, manifest.serialization.allow_symlinks, limits)?;
    let actual = hash::hash_files(&files, manifest.serialization.method, source, progress)?;
    let problems = compare(manifest, &actual);
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(BundleError::Mismatch {
            dir: dir.to_path_buf(),
            problems,
        })
    }
}

/// Every difference between a signed manifest and the resources computed from disk.
pub(crate) fn compare(expected: &Manifest, actual: &[Resource]) -> Vec<Discrepancy> {
    fn group(resources: &[Resource]) -> BTreeMap<&ResourcePath, Vec<Piece>> {
        let mut map: BTreeMap<&ResourcePath, Vec<Piece>> = BTreeMap::new();
        for r in resources {
            map.entry(&r.path).or_default().push((r.range, r.digest));
        }
        map
    }
    let want = group(&expected.resources);
    let have = group(actual);
    let mut problems = Vec::new();
    let mut missing = Vec::new();
    let mut unsigned = Vec::new();
    for (name, pieces) in &want {
        match have.get(name) {
            None => missing.push((*name, pieces)),
            Some(found) if found == pieces => {}
            Some(found) => problems.push(Discrepancy::Changed {
                name: name.to_string(),
                detail: change_detail(pieces, found),
            }),
        }
    }
    for (name, pieces) in &have {
        if !want.contains_key(name) {
            unsigned.push((*name, pieces));
        }
    }
    for (name, pieces) in unsigned {
        if let Some(pos) = missing.iter().position(|(_, p)| *p == pieces) {
            let (from, _) = missing.remove(pos);
            problems.push(Discrepancy::Renamed {
                from: from.to_string(),
                to: name.to_string(),
            });
        } else {
            problems.push(Discrepancy::Unsigned {
                name: name.to_string(),
            });
        }
    }
    problems.extend(missing.into_iter().map(|(n, _)| Discrepancy::Missing {
        name: n.to_string(),
    }));
    problems.sort_by(|a, b| a.name().cmp(b.name()));
    problems
}

/// A signed piece of a file: its byte range (none for a whole file) and digest.
type Piece = (Option<(u64, u64)>, [u8; 32]);

fn change_detail(want: &[Piece], have: &[Piece]) -> String {
    match (want, have) {
        ([(None, w)], [(None, h)]) => {
            format!("signed sha256 {}, found {}", hex::encode(w), hex::encode(h))
        }
        _ => {
            let ranges = |v: &[Piece]| v.iter().filter_map(|(r, _)| *r).collect::<Vec<_>>();
            if ranges(want) != ranges(have) {
                let size = |v: &[Piece]| {
                    v.iter()
                        .filter_map(|(r, _)| r.map(|(_, e)| e))
                        .max()
                        .unwrap_or(0)
                };
                format!("size was {} bytes, is {} bytes", size(want), size(have))
            } else {
                let bad: Vec<String> = want
                    .iter()
                    .zip(have)
                    .filter(|(w, h)| w.1 != h.1)
                    .filter_map(|(w, _)| w.0.map(|(s, e)| format!("{s}..{e}")))
                    .collect();
                format!("bytes {} differ", bad.join(", "))
            }
        }
    }
}

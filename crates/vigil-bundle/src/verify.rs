//! Signing a bundle directory, and checking one against a signature and a key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vigil_core::{KeyId, PublicKey, SigningKey};

use crate::error::{BundleError, Discrepancy};
use crate::format::{self, PAYLOAD_TYPE};
use crate::hash::{self, ByteSource, Disk, Progress};
use crate::manifest::{HashMethod, Manifest, Resource, Serialization};
use crate::path::ResourcePath;
use crate::walk::{self, FileEntry, GIT_PATHS};
use crate::Limits;

/// The default signature file name inside a bundle, as `model_signing` names it.
pub const DEFAULT_SIGNATURE: &str = "model.sig";

/// How to sign a bundle. `SignOptions::default()` signs as `model_signing sign key` does:
/// whole files, SHA-256, git paths ignored, symlinks refused, signature at `DIR/model.sig`.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// Where to write the signature; `None` is `DIR/model.sig`.
    pub signature: Option<PathBuf>,
    /// Whole files or shards.
    pub method: HashMethod,
    /// More paths to leave out. A relative path is taken from the current directory, as
    /// `model_signing` does; one that does not land inside the bundle that way is taken
    /// relative to the bundle. A path that is in neither is refused.
    pub ignore_paths: Vec<PathBuf>,
    /// Leave out `.git`, `.gitattributes`, `.github` and `.gitignore` (default true).
    pub ignore_git_paths: bool,
    /// Follow symbolic links to files instead of refusing them (default false).
    pub allow_symlinks: bool,
    /// Bounds on what is read.
    pub limits: Limits,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            signature: None,
            method: HashMethod::Files,
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
            allow_symlinks: false,
            limits: Limits::default(),
        }
    }
}

/// What signing produced.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The signed manifest.
    pub manifest: Manifest,
    /// Where the signature was written.
    pub signature_path: PathBuf,
    /// The signer's key id.
    pub key_id: KeyId,
}

/// A signature that verified, and the files that match it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The manifest the signature vouches for, checked against the files.
    pub manifest: Manifest,
    /// The signature file.
    pub signature_path: PathBuf,
    /// The key that signed it.
    pub key_id: KeyId,
}

/// The signature path for `dir` given an optional explicit path.
pub fn signature_path(dir: &Path, explicit: Option<&Path>) -> PathBuf {
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

fn resolve_ignore(dir: &Path, p: &Path) -> Result<ResourcePath, BundleError> {
    if let Some(name) = name_inside(dir, p) {
        return Ok(name);
    }
    if p.is_relative() {
        if let Some(s) = p.to_str() {
            if let Ok(name) = ResourcePath::parse(s.trim_end_matches('/')) {
                return Ok(name);
            }
        }
    }
    Err(BundleError::Directory {
        path: p.to_path_buf(),
        reason: format!("ignore path is not inside the bundle {}", dir.display()),
    })
}

/// Signs the bundle directory `dir` with `key`, writing the signature atomically.
///
/// Signature files of other signers at the top of `dir` (`model.sig`, `model.*.sig`) are left
/// out and recorded as ignored, so that several signers can sign the same bundle in any order.
pub fn sign(
    dir: &Path,
    key: &SigningKey,
    options: &SignOptions,
    progress: Option<Progress<'_>>,
) -> Result<Signed, BundleError> {
    let sig_path = signature_path(dir, options.signature.as_deref());
    let mut ignore: Vec<ResourcePath> = Vec::new();
    if options.ignore_git_paths {
        ignore.extend(GIT_PATHS.iter().filter_map(|p| ResourcePath::parse(p).ok()));
    }
    if let Some(own) = name_inside(dir, &sig_path) {
        ignore.push(own);
    }
    ignore.extend(sibling_signatures(dir));
    for p in &options.ignore_paths {
        ignore.push(resolve_ignore(dir, p)?);
    }
    ignore.sort();
    ignore.dedup();
    let files = walk::list_files(dir, &ignore, options.allow_symlinks, &options.limits)?;
    let resources = hash::hash_files(&files, options.method, &Disk, progress)?;
    let manifest = Manifest {
        model_name: model_name(dir),
        serialization: Serialization {
            method: options.method,
            allow_symlinks: options.allow_symlinks,
            ignore_paths: ignore,
        },
        resources,
    };
    let payload = format::statement_json(&manifest);
    let signature = key.sign(&format::pae(PAYLOAD_TYPE, payload.as_bytes()));
    let public = key.public_key();
    let key_id = public.key_id();
    let text = format::bundle_json(payload.as_bytes(), &signature, key_id.as_str());
    write_atomically(&sig_path, text.as_bytes())?;
    Ok(Signed {
        manifest,
        signature_path: sig_path,
        key_id,
    })
}

/// The subject name: the directory's final component, as `model_signing` names it.
fn model_name(dir: &Path) -> String {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| *n != "..");
    match name {
        Some(n) if !n.is_empty() && n != "." => n.to_string(),
        _ => dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .unwrap_or_default(),
    }
}

/// Writes `bytes` to `path` atomically and durably ([`vigil_core::write_atomic`]).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    vigil_core::write_atomic(path, bytes).map_err(|e| match e {
        vigil_core::ReadError::Io { source, .. } => BundleError::io(path, source),
        other => BundleError::io(path, std::io::Error::other(other.to_string())),
    })
}

/// Reads a signature file, refusing files over the size limit.
pub(crate) fn read_signature(path: &Path, limits: &Limits) -> Result<Vec<u8>, BundleError> {
    crate::trust::read_bounded(path, limits.max_signature_bytes, "signature file size")
}

/// Checks a signature's envelope with `key` and returns the statement it signs. Nothing on disk
/// besides the signature is read.
pub fn check_signature(
    sig_path: &Path,
    bytes: &[u8],
    key: &PublicKey,
    limits: &Limits,
) -> Result<Manifest, BundleError> {
    let bundle = format::parse_bundle(bytes, sig_path)?;
    let key_id = key.key_id();
    if let Some(hint) = &bundle.key_hint {
        if !hint.eq_ignore_ascii_case(key_id.as_str()) {
            return Err(BundleError::SignatureInvalid {
                path: sig_path.to_path_buf(),
                reason: format!("signed by key {hint}, not by the given key {key_id}"),
            });
        }
    }
    if bundle.payload_type != PAYLOAD_TYPE {
        return Err(BundleError::SignatureFormat {
            path: sig_path.to_path_buf(),
            reason: format!(
                "payloadType '{}', expected '{PAYLOAD_TYPE}'",
                bundle.payload_type
            ),
        });
    }
    key.verify(
        &format::pae(&bundle.payload_type, &bundle.payload),
        &bundle.signature,
    )
    .map_err(|e| BundleError::SignatureInvalid {
        path: sig_path.to_path_buf(),
        reason: e.to_string(),
    })?;
    format::parse_statement(&bundle.payload, sig_path, limits)
}

/// The key hint of a signature file, if it has one (no check is made).
pub(crate) fn key_hint(sig_path: &Path, bytes: &[u8]) -> Option<String> {
    format::parse_bundle(bytes, sig_path)
        .ok()
        .and_then(|b| b.key_hint)
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

/// Verifies the bundle `dir` against the signature at `signature` (default `DIR/model.sig`)
/// with `key`: the envelope signature, the statement, and every file's digest. Files added,
/// removed, renamed or changed, symlinks where none are allowed, and names that leave the
/// bundle are all failures.
pub fn verify(
    dir: &Path,
    key: &PublicKey,
    signature: Option<&Path>,
    limits: &Limits,
    progress: Option<Progress<'_>>,
) -> Result<Verified, BundleError> {
    let sig_path = signature_path(dir, signature);
    let bytes = read_signature(&sig_path, limits)?;
    let manifest = check_signature(&sig_path, &bytes, key, limits)?;
    let extra = detached_signatures(dir, &sig_path);
    check_files(dir, &manifest, &extra, &Disk, limits, progress)?;
    Ok(Verified {
        manifest,
        signature_path: sig_path,
        key_id: key.key_id(),
    })
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

//! Signing a bundle directory, as `model_signing sign key` does.

use std::path::{Path, PathBuf};

use vigil_attest::SigstoreBundle;
use vigil_core::{KeyId, Signer};

use crate::check::{name_inside, sibling_signatures, signature_path};
use crate::error::BundleError;
use crate::hash::{self, Disk, Progress};
use crate::manifest::{HashMethod, Manifest, Serialization};
use crate::path::ResourcePath;
use crate::predicate;
use crate::walk::{self, GIT_PATHS};
use crate::Limits;

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
    /// Follow symbolic links to files instead of refusing them (default false). A link to a
    /// directory is refused either way.
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

/// Signs the bundle directory `dir` with `signer`, writing the signature atomically.
///
/// Signature files of other signers at the top of `dir` (`model.sig`, `model.*.sig`) are left
/// out and recorded as ignored, so that several signers can sign the same bundle in any order.
pub fn sign(
    dir: &Path,
    signer: &dyn Signer,
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
    let payload =
        predicate::statement(&manifest)
            .to_json()
            .map_err(|error| BundleError::Signature {
                path: sig_path.clone(),
                error,
            })?;
    let bundle = SigstoreBundle::sign_statement(payload.into_bytes(), signer).map_err(|error| {
        BundleError::Signature {
            path: sig_path.clone(),
            error,
        }
    })?;
    vigil_core::write_atomic(&sig_path, bundle.to_json().as_bytes())?;
    Ok(Signed {
        manifest,
        signature_path: sig_path,
        key_id: signer.public_key().key_id(),
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

//! Deciding whether a bundle is trusted: one key, or a trust policy; and `VerifiedBundle`, which
//! hands out exactly the bytes that were verified.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use vigil_core::{KeyId, PublicKey};

use crate::config::{BundleConfig, CONFIG_FILE, MAX_CONFIG_BYTES};
use crate::error::BundleError;
use crate::hash::{self, ByteSource, Disk, Progress};
use crate::manifest::Manifest;
use crate::path::ResourcePath;
use crate::policy::TrustPolicy;
use crate::verify::{self, sibling_signatures, signature_path};
use crate::walk::FileEntry;
use crate::Limits;

/// What makes a bundle trusted.
#[derive(Debug, Clone)]
pub enum Trust {
    /// One public key and its signature file (default `DIR/model.sig`).
    Key {
        /// The key.
        key: PublicKey,
        /// The signature file; `None` is `DIR/model.sig`.
        signature: Option<PathBuf>,
    },
    /// A trust policy (k-of-n signers, revocation, minimum version).
    Policy(TrustPolicy),
}

/// What happened to one signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureStatus {
    /// It verified and counts toward the threshold.
    Counted {
        /// The signer's name (the key id when signing with a single key).
        signer: String,
        /// The signer's role.
        role: String,
        /// The key.
        key_id: KeyId,
    },
    /// It verified, but the same key already counted.
    Duplicate {
        /// The key.
        key_id: KeyId,
    },
    /// Its key is revoked.
    Revoked {
        /// The key.
        key_id: KeyId,
    },
    /// No trusted key made it.
    UnknownSigner {
        /// The key hint in the signature, if any.
        hint: Option<String>,
    },
    /// It is malformed, does not verify, or the files do not match it.
    Invalid {
        /// Why.
        reason: String,
    },
}

/// The outcome for one signature file.
#[derive(Debug, Clone)]
pub struct SignatureReport {
    /// The signature file.
    pub path: PathBuf,
    /// What happened to it.
    pub status: SignatureStatus,
}

/// The result of a trust decision that succeeded.
#[derive(Debug, Clone)]
pub struct TrustReport {
    /// Each signature file checked.
    pub signatures: Vec<SignatureReport>,
    /// Distinct signers required.
    pub threshold: usize,
    /// The bundle's `vigil.toml`, when it has one (read from verified bytes).
    pub config: Option<BundleConfig>,
    /// The manifest of the first counted signature.
    pub manifest: Manifest,
}

impl TrustReport {
    /// The signatures that counted.
    pub fn counted(&self) -> impl Iterator<Item = &SignatureReport> {
        self.signatures
            .iter()
            .filter(|s| matches!(s.status, SignatureStatus::Counted { .. }))
    }
}

/// Decides whether the bundle at `dir` is trusted, streaming its files from disk.
/// On failure the error says why; with a policy it lists every signature's fate.
pub fn check_trust(
    dir: &Path,
    trust: &Trust,
    limits: &Limits,
    progress: Option<Progress<'_>>,
) -> Result<TrustReport, BundleError> {
    evaluate(dir, trust, &Disk, limits, progress).map(|(report, _)| report)
}

fn evaluate(
    dir: &Path,
    trust: &Trust,
    source: &dyn ByteSource,
    limits: &Limits,
    progress: Option<Progress<'_>>,
) -> Result<(TrustReport, Vec<Manifest>), BundleError> {
    match trust {
        Trust::Key { key, signature } => {
            let sig_path = signature_path(dir, signature.as_deref());
            let bytes = verify::read_signature(&sig_path, limits)?;
            let manifest = verify::check_signature(&sig_path, &bytes, key, limits)?;
            let extra = verify::detached_signatures(dir, &sig_path);
            verify::check_files(dir, &manifest, &extra, source, limits, progress)?;
            let config = read_config(dir, &manifest, limits)?;
            let key_id = key.key_id();
            let report = TrustReport {
                signatures: vec![SignatureReport {
                    path: sig_path,
                    status: SignatureStatus::Counted {
                        signer: key_id.to_string(),
                        role: String::new(),
                        key_id,
                    },
                }],
                threshold: 1,
                config,
                manifest: manifest.clone(),
            };
            Ok((report, vec![manifest]))
        }
        Trust::Policy(policy) => evaluate_policy(dir, policy, source, limits, progress),
    }
}

fn evaluate_policy(
    dir: &Path,
    policy: &TrustPolicy,
    source: &dyn ByteSource,
    limits: &Limits,
    progress: Option<Progress<'_>>,
) -> Result<(TrustReport, Vec<Manifest>), BundleError> {
    let names = policy
        .signatures
        .clone()
        .unwrap_or_else(|| sibling_signatures(dir));
    if names.is_empty() {
        return Err(BundleError::PolicyUnsatisfied(format!(
            "no signature files (model.sig, model.*.sig) in {}",
            dir.display()
        )));
    }
    let mut detached = sibling_signatures(dir);
    detached.extend(names.iter().cloned());
    let mut reports = Vec::new();
    let mut manifests = Vec::new();
    let mut counted: Vec<(KeyId, String)> = Vec::new();
    for name in &names {
        let sig_path = dir.join(name.as_str());
        let status = match check_one(dir, &sig_path, &detached, policy, source, limits, progress) {
            Ok((signer, manifest)) => {
                let key_id = signer.key.key_id();
                if counted.iter().any(|(k, _)| *k == key_id) {
                    SignatureStatus::Duplicate { key_id }
                } else {
                    counted.push((key_id.clone(), signer.role.clone()));
                    manifests.push(manifest);
                    SignatureStatus::Counted {
                        signer: signer.name.clone(),
                        role: signer.role.clone(),
                        key_id,
                    }
                }
            }
            Err(status) => status,
        };
        reports.push(SignatureReport {
            path: sig_path,
            status,
        });
    }
    let explain = |head: String| {
        let mut msg = head;
        for r in &reports {
            msg.push_str(&format!("; {}: {}", r.path.display(), describe(&r.status)));
        }
        BundleError::PolicyUnsatisfied(msg)
    };
    if counted.len() < policy.threshold {
        return Err(explain(format!(
            "{} of {} required distinct signers",
            counted.len(),
            policy.threshold
        )));
    }
    for role in &policy.required_roles {
        if !counted.iter().any(|(_, r)| r == role) {
            return Err(explain(format!("no valid signature from role '{role}'")));
        }
    }
    let Some(first) = manifests.first().cloned() else {
        return Err(explain("no signature counted".into()));
    };
    let config = read_config(dir, &first, limits)?;
    if let Some(min) = &policy.min_bundle_version {
        let Some(cfg) = &config else {
            return Err(BundleError::PolicyUnsatisfied(format!(
                "the policy sets min_bundle_version {min} but the bundle has no signed {CONFIG_FILE}"
            )));
        };
        if cfg.version < *min {
            return Err(BundleError::PolicyUnsatisfied(format!(
                "bundle version {} is lower than the minimum {min} (rollback refused)",
                cfg.version
            )));
        }
    }
    let report = TrustReport {
        signatures: reports,
        threshold: policy.threshold,
        config,
        manifest: first,
    };
    Ok((report, manifests))
}

/// A short description of a signature's fate.
pub fn describe(status: &SignatureStatus) -> String {
    match status {
        SignatureStatus::Counted {
            signer,
            role,
            key_id,
        } if role.is_empty() => {
            let _ = signer;
            format!("valid, signed by key {key_id}")
        }
        SignatureStatus::Counted {
            signer,
            role,
            key_id,
        } => {
            format!("valid, signed by {signer} ({role}, key {key_id})")
        }
        SignatureStatus::Duplicate { key_id } => {
            format!("valid, but key {key_id} already counted")
        }
        SignatureStatus::Revoked { key_id } => format!("signed by revoked key {key_id}"),
        SignatureStatus::UnknownSigner { hint: Some(h) } => {
            format!("signed by key {h}, which the policy does not list")
        }
        SignatureStatus::UnknownSigner { hint: None } => {
            "no key in the policy verifies it".to_string()
        }
        SignatureStatus::Invalid { reason } => reason.clone(),
    }
}

fn check_one<'p>(
    dir: &Path,
    sig_path: &Path,
    all_sigs: &[ResourcePath],
    policy: &'p TrustPolicy,
    source: &dyn ByteSource,
    limits: &Limits,
    progress: Option<Progress<'_>>,
) -> Result<(&'p crate::policy::Signer, Manifest), SignatureStatus> {
    let invalid = |e: BundleError| SignatureStatus::Invalid {
        reason: e.to_string(),
    };
    let bytes = verify::read_signature(sig_path, limits).map_err(invalid)?;
    let hint = verify::key_hint(sig_path, &bytes);
    let candidates: Vec<&crate::policy::Signer> = match &hint {
        Some(h) => policy
            .signers
            .iter()
            .filter(|s| s.key.key_id().as_str().eq_ignore_ascii_case(h))
            .collect(),
        None => policy.signers.iter().collect(),
    };
    if let Some(h) = &hint {
        if let Ok(id) = h.parse::<KeyId>() {
            if policy.revoked.contains(&id) {
                return Err(SignatureStatus::Revoked { key_id: id });
            }
        }
    }
    let mut last_err = None;
    for signer in candidates {
        if policy.revoked.contains(&signer.key.key_id()) {
            continue;
        }
        match verify::check_signature(sig_path, &bytes, &signer.key, limits) {
            Ok(manifest) => {
                verify::check_files(dir, &manifest, all_sigs, source, limits, progress)
                    .map_err(invalid)?;
                return Ok((signer, manifest));
            }
            Err(e) => last_err = Some(e),
        }
    }
    match (last_err, hint) {
        (Some(e @ (BundleError::SignatureFormat { .. } | BundleError::Statement { .. })), _) => {
            Err(invalid(e))
        }
        (Some(e), Some(_)) => Err(invalid(e)),
        (_, hint) => Err(SignatureStatus::UnknownSigner { hint }),
    }
}

/// Reads `vigil.toml` if the manifest covers it, checking its bytes against the manifest.
fn read_config(
    dir: &Path,
    manifest: &Manifest,
    limits: &Limits,
) -> Result<Option<BundleConfig>, BundleError> {
    let Ok(name) = ResourcePath::parse(CONFIG_FILE) else {
        return Ok(None);
    };
    let Some(bytes) = read_verified(dir, manifest, &name, MAX_CONFIG_BYTES as u64, limits)? else {
        return Ok(None);
    };
    BundleConfig::parse(&bytes, &dir.join(CONFIG_FILE)).map(Some)
}

/// Reads one covered file into memory and checks it against the manifest before returning it.
fn read_verified(
    dir: &Path,
    manifest: &Manifest,
    name: &ResourcePath,
    max: u64,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, BundleError> {
    let wanted: Vec<_> = manifest
        .resources
        .iter()
        .filter(|r| &r.path == name)
        .collect();
    if wanted.is_empty() {
        // A signed empty file has no shards; check it really is empty.
        return Ok(None);
    }
    let path = dir.join(name.as_str());
    let bytes = read_bounded(&path, max.min(limits.max_load_bytes), "file size")?;
    for r in &wanted {
        let (start, end) = match r.range {
            Some((s, e)) => (s, Some(e)),
            None => (0, None),
        };
        if hash::digest_memory(&bytes, start, end) != Some(r.digest) {
            return Err(BundleError::Mismatch {
                dir: dir.to_path_buf(),
                problems: vec![crate::Discrepancy::Changed {
                    name: name.to_string(),
                    detail: "changed after it was verified".into(),
                }],
            });
        }
    }
    let total: u64 = wanted
        .iter()
        .map(|r| r.range.map_or(bytes.len() as u64, |(s, e)| e - s))
        .sum();
    if total != bytes.len() as u64 {
        return Err(BundleError::Mismatch {
            dir: dir.to_path_buf(),
            problems: vec![crate::Discrepancy::Changed {
                name: name.to_string(),
                detail: "size changed after it was verified".into(),
            }],
        });
    }
    Ok(Some(bytes))
}

/// A whole file of at most `max` bytes; `what` names it in the limit error
/// (`"{path}: {what}"`).
pub(crate) fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, BundleError> {
    vigil_core::read_bounded(path, max).map_err(|e| match e {
        vigil_core::ReadError::TooLarge { max, .. } => BundleError::Limit {
            what: format!("{}: {what}", path.display()),
            limit: max,
        },
        vigil_core::ReadError::Io { source, .. } => BundleError::io(path, source),
        other => BundleError::io(path, std::io::Error::other(other.to_string())),
    })
}

/// One file's bytes, read at most once (or why they could not be read).
type LoadCell = Arc<OnceLock<Result<Arc<[u8]>, String>>>;

/// Files read once into memory; every digest is computed over these bytes.
struct Memory {
    cache: Mutex<HashMap<PathBuf, LoadCell>>,
    loaded: AtomicU64,
    max: u64,
}

impl Memory {
    fn load(&self, file: &FileEntry) -> Result<Arc<[u8]>, BundleError> {
        let cell = {
            let mut map = self.cache.lock().map_err(|_| BundleError::Limit {
                what: "internal lock poisoned".into(),
                limit: 0,
            })?;
            map.entry(file.path.clone()).or_default().clone()
        };
        let result = cell.get_or_init(|| {
            let budget = self.max.saturating_sub(self.loaded.load(Ordering::SeqCst));
            let bytes = read_bounded(&file.path, budget, "file size").map_err(|e| e.to_string())?;
            self.loaded.fetch_add(bytes.len() as u64, Ordering::SeqCst);
            Ok(Arc::from(bytes))
        });
        result
            .clone()
            .map_err(|reason| BundleError::UnsupportedFile {
                path: file.path.clone(),
                reason,
            })
    }
}

impl ByteSource for Memory {
    fn digest(
        &self,
        file: &FileEntry,
        start: u64,
        end: Option<u64>,
        progress: Option<Progress<'_>>,
    ) -> Result<[u8; 32], BundleError> {
        let data = self.load(file)?;
        let digest =
            hash::digest_memory(&data, start, end).ok_or_else(|| BundleError::UnsupportedFile {
                path: file.path.clone(),
                reason: "file changed size while it was being read".into(),
            })?;
        if let Some(p) = progress {
            p(end.unwrap_or(data.len() as u64).saturating_sub(start));
        }
        Ok(digest)
    }
}

/// A bundle whose files were read once, hashed, and found to match a trusted signature. The
/// bytes it hands out are the bytes that were hashed: a file changed on disk after the check
/// cannot reach the caller (no time-of-check to time-of-use gap).
///
/// ```no_run
/// use vigil_bundle::{Limits, Trust, VerifiedBundle};
/// use vigil_core::PublicKey;
///
/// let key = PublicKey::load("demo-keys/signing-key.pub.pem".as_ref())?;
/// let bundle = VerifiedBundle::open(
///     "bundle".as_ref(),
///     &Trust::Key { key, signature: None },
///     &Limits::default(),
/// )?;
/// let model: &[u8] = bundle.file("model.onnx").expect("signed model");
/// println!("{} bytes of verified model", model.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct VerifiedBundle {
    dir: PathBuf,
    files: BTreeMap<ResourcePath, Arc<[u8]>>,
    report: TrustReport,
}

impl VerifiedBundle {
    /// Verifies `dir` under `trust`, keeping every verified file's bytes in memory (up to
    /// `limits.max_load_bytes` in all).
    pub fn open(dir: &Path, trust: &Trust, limits: &Limits) -> Result<VerifiedBundle, BundleError> {
        let memory = Memory {
            cache: Mutex::new(HashMap::new()),
            loaded: AtomicU64::new(0),
            max: limits.max_load_bytes,
        };
        let (report, manifests) = evaluate(dir, trust, &memory, limits, None)?;
        // A file is handed out only if every counted signature covers it.
        let mut files = BTreeMap::new();
        let cache = memory.cache.into_inner().map_err(|_| BundleError::Limit {
            what: "internal lock poisoned".into(),
            limit: 0,
        })?;
        if let Some(first) = manifests.first() {
            for name in first.files() {
                if !manifests.iter().all(|m| m.files().contains(&name)) {
                    continue;
                }
                let bytes = cache
                    .get(&dir.join(name.as_str()))
                    .and_then(|cell| cell.get().cloned())
                    .and_then(Result::ok);
                if let Some(bytes) = bytes {
                    files.insert(name.clone(), bytes);
                }
            }
        }
        Ok(VerifiedBundle {
            dir: dir.to_path_buf(),
            files,
            report,
        })
    }

    /// The verified bytes of a file, by its name in the bundle (`model.onnx`, `reference/x.json`).
    /// `None` if no counted signature covers it. A signed empty file under a shard signature
    /// has no shards and is returned as empty only when every counted manifest is by files.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        let name = ResourcePath::parse(name).ok()?;
        self.files.get(&name).map(|b| &b[..])
    }

    /// Every verified file, in signature order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(k, v)| (k.as_str(), &v[..]))
    }

    /// The bundle's `vigil.toml`, if signed.
    pub fn config(&self) -> Option<&BundleConfig> {
        self.report.config.as_ref()
    }

    /// The subject digest of the (first counted) signature: one digest that names this exact
    /// bundle content, for audit records.
    pub fn digest(&self) -> [u8; 32] {
        self.report.manifest.root_digest()
    }

    /// How each signature fared.
    pub fn report(&self) -> &TrustReport {
        &self.report
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

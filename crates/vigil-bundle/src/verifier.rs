//! [`BundleVerifier`]: deciding whether a bundle is trusted, under one key or a trust policy.

use std::path::{Path, PathBuf};

use vigil_attest::{Counted, TrustFailure, TrustedSigner};
use vigil_core::PublicKey;

use crate::check::{self, sibling_signatures, signature_path};
use crate::error::BundleError;
use crate::hash::{ByteSource, Disk, Progress};
use crate::manifest::Manifest;
use crate::memory::{self, Memory};
use crate::path::ResourcePath;
use crate::policy::BundlePolicy;
use crate::report::TrustReport;
use crate::status::{SignatureReport, SignatureStatus};
use crate::verified::VerifiedBundle;
use crate::Limits;

/// What makes a bundle trusted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Trust {
    /// One public key; its signature file is `DIR/model.sig` unless
    /// [`BundleVerifier::signature_path`] names another.
    Key(PublicKey),
    /// A trust policy (k-of-n signers, revocation, minimum version).
    Policy(BundlePolicy),
}

/// Verifies a bundle directory: the required choices up front, the rest by setters.
///
/// ```
/// use vigil_bundle::{sign, BundleVerifier, SignOptions, Trust};
/// use vigil_core::{KeyAlgorithm, SigningKey};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("model.onnx"), b"weights")?;
/// let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
/// sign(dir.path(), &key, &SignOptions::default(), None)?;
///
/// let bundle = BundleVerifier::new(dir.path(), Trust::Key(key.public_key())).verify()?;
/// assert_eq!(bundle.file("model.onnx"), Some(&b"weights"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BundleVerifier<'a> {
    dir: PathBuf,
    trust: Trust,
    limits: Limits,
    signature: Option<PathBuf>,
    progress: Option<Progress<'a>>,
    keep: Option<crate::memory::Keep<'a>>,
    known: Option<crate::memory::Known<'a>>,
}

impl std::fmt::Debug for BundleVerifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleVerifier")
            .field("dir", &self.dir)
            .field("trust", &self.trust)
            .field("limits", &self.limits)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

impl<'a> BundleVerifier<'a> {
    /// Verifies the bundle directory `dir` under `trust`, with [`Limits::default`].
    pub fn new(dir: impl Into<PathBuf>, trust: Trust) -> BundleVerifier<'a> {
        BundleVerifier {
            dir: dir.into(),
            trust,
            limits: Limits::default(),
            signature: None,
            progress: None,
            keep: None,
            known: None,
        }
    }

    /// Whole-file SHA-256 digests, by bundle name, that the caller computed over the bytes as
    /// it wrote them into the directory (an updater unpacking a release it downloaded). For a
    /// file that [`keep`](Self::keep) does not keep, a known digest stands for reading the file
    /// back; kept files are always read and hashed, so their bytes and digest agree. Only pass
    /// digests of files you wrote yourself into a directory no one else writes.
    pub fn known_digests(mut self, known: &'a std::collections::HashMap<String, [u8; 32]>) -> Self {
        self.known = Some(known);
        self
    }

    /// Keep only the files `keep` accepts (by bundle name, such as `model.onnx`) for
    /// [`VerifiedBundle::file`]; the others are verified by streaming them from disk and are not
    /// held (a large bundle whose user reads a few of its files). Default: keep every file.
    pub fn keep(mut self, keep: &'a (dyn Fn(&str) -> bool + Sync)) -> Self {
        self.keep = Some(keep);
        self
    }

    /// Bounds on what is read.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The signature file for [`Trust::Key`] (default `DIR/model.sig`); it may lie outside the
    /// bundle. A policy names its own signature files, so with [`Trust::Policy`] this is a
    /// [`BundleError::Usage`] error.
    pub fn signature_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.signature = Some(path.into());
        self
    }

    /// Called with the number of bytes just hashed, from any thread.
    pub fn progress(mut self, progress: Progress<'a>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Verifies and keeps every verified file's bytes in memory (up to
    /// [`Limits::max_load_bytes`] in all): each file is read once, hashed, and the same bytes
    /// are handed out by [`VerifiedBundle::file`], so nothing can change between the check and
    /// its use.
    pub fn verify(self) -> Result<VerifiedBundle, BundleError> {
        let memory = Memory::new(self.limits.max_load_bytes, self.keep, self.known);
        let (report, manifests) = self.evaluate(&memory)?;
        let loaded = memory.into_files()?;
        Ok(VerifiedBundle::new(self.dir, report, &manifests, loaded))
    }

    /// Verifies by streaming the files from disk, keeping none of them: for a bundle that is
    /// checked but not loaded (a command-line check, an update staged for later). The report
    /// says how each signature fared.
    pub fn check(self) -> Result<TrustReport, BundleError> {
        self.evaluate(&Disk).map(|(report, _)| report)
    }

    fn evaluate(
        &self,
        source: &dyn ByteSource,
    ) -> Result<(TrustReport, Vec<Manifest>), BundleError> {
        let memo = crate::hash::Memo::new(source);
        let source: &dyn ByteSource = &memo;
        match &self.trust {
            Trust::Key(key) => self.evaluate_key(key, source),
            Trust::Policy(policy) => {
                if self.signature.is_some() {
                    return Err(BundleError::Usage(
                        "a signature path applies to a single key; a trust policy names its \
                         own signature files"
                            .into(),
                    ));
                }
                self.evaluate_policy(policy, source)
            }
        }
    }

    fn evaluate_key(
        &self,
        key: &PublicKey,
        source: &dyn ByteSource,
    ) -> Result<(TrustReport, Vec<Manifest>), BundleError> {
        let dir = &self.dir;
        let limits = &self.limits;
        let sig_path = signature_path(dir, self.signature.as_deref());
        let bytes = check::read_signature(&sig_path, limits)?;
        let manifest = check::check_signature(&sig_path, &bytes, key, limits)?;
        let extra = check::detached_signatures(dir, &sig_path);
        check::check_files(dir, &manifest, &extra, source, limits, self.progress)?;
        let config = memory::read_config(dir, &manifest, limits)?;
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

    fn evaluate_policy(
        &self,
        policy: &BundlePolicy,
        source: &dyn ByteSource,
    ) -> Result<(TrustReport, Vec<Manifest>), BundleError> {
        let dir = &self.dir;
        let limits = &self.limits;
        let names = policy
            .signatures
            .clone()
            .unwrap_or_else(|| sibling_signatures(dir));
        let untrusted =
            |failure: TrustFailure, signatures: Vec<SignatureReport>| BundleError::Untrusted {
                dir: dir.clone(),
                failure: Box::new(failure),
                signatures,
            };
        if names.is_empty() {
            return Err(untrusted(TrustFailure::NoSignatures, Vec::new()));
        }
        let mut detached = sibling_signatures(dir);
        detached.extend(names.iter().cloned());
        let mut reports = Vec::new();
        let mut manifests = Vec::new();
        let mut tally = policy.trust.tally();
        for name in &names {
            let sig_path = dir.join(name.as_str());
            let status = match self.check_one(&sig_path, &detached, policy, source)? {
                Ok((signer, manifest)) => {
                    let key_id = signer.key.key_id();
                    match tally.count(signer) {
                        Counted::New => {
                            manifests.push(manifest);
                            SignatureStatus::Counted {
                                signer: signer.name.clone(),
                                role: signer.role.clone(),
                                key_id,
                            }
                        }
                        Counted::SameKey => SignatureStatus::Duplicate { key_id },
                        _ => SignatureStatus::DuplicateSigner {
                            signer: signer.name.clone(),
                            key_id,
                        },
                    }
                }
                Err(status) => status,
            };
            reports.push(SignatureReport {
                path: sig_path,
                status,
            });
        }
        if let Err(failure) = tally.decide() {
            return Err(untrusted(failure, reports));
        }
        let Some(first) = manifests.first().cloned() else {
            return Err(untrusted(
                TrustFailure::Counted {
                    valid: 0,
                    threshold: policy.trust.threshold,
                },
                reports,
            ));
        };
        let config = memory::read_config(dir, &first, limits)?;
        if let Err(failure) = policy
            .trust
            .check_version(config.as_ref().map(|c| &c.version))
        {
            return Err(untrusted(failure, reports));
        }
        let report = TrustReport {
            signatures: reports,
            threshold: policy.trust.threshold,
            config,
            manifest: first,
        };
        Ok((report, manifests))
    }

    /// One signature file under a policy: its signer and manifest, or why it does not count.
    /// A file that cannot be read (other than a missing one) stops the whole check: the
    /// decision cannot be made.
    #[allow(clippy::type_complexity)]
    fn check_one<'p>(
        &self,
        sig_path: &Path,
        all_sigs: &[ResourcePath],
        policy: &'p BundlePolicy,
        source: &dyn ByteSource,
    ) -> Result<Result<(&'p TrustedSigner, Manifest), SignatureStatus>, BundleError> {
        let invalid = |e: BundleError| -> Result<_, BundleError> {
            if e.is_failed_check() {
                Ok(Err(SignatureStatus::Invalid {
                    reason: e.to_string(),
                }))
            } else {
                Err(e)
            }
        };
        let limits = &self.limits;
        let bytes = match check::read_signature(sig_path, limits) {
            Ok(b) => b,
            Err(e) => return invalid(e),
        };
        let hint = check::key_hint(&bytes);
        let candidates = match policy.trust.candidates(hint.as_deref()) {
            Ok(c) => c,
            Err(TrustFailure::Revoked { key_id }) => {
                return Ok(Err(SignatureStatus::Revoked { key_id }))
            }
            Err(other) => {
                return Ok(Err(SignatureStatus::Invalid {
                    reason: other.to_string(),
                }))
            }
        };
        let mut last_err = None;
        for signer in candidates {
            match check::check_signature(sig_path, &bytes, &signer.key, limits) {
                Ok(manifest) => {
                    if let Err(e) = check::check_files(
                        &self.dir,
                        &manifest,
                        all_sigs,
                        source,
                        limits,
                        self.progress,
                    ) {
                        return invalid(e);
                    }
                    return Ok(Ok((signer, manifest)));
                }
                Err(e) => last_err = Some(e),
            }
        }
        match (last_err, hint) {
            (
                Some(
                    e @ BundleError::Signature {
                        error:
                            vigil_attest::AttestError::Malformed(_)
                            | vigil_attest::AttestError::Statement(_)
                            | vigil_attest::AttestError::PredicateType { .. },
                        ..
                    },
                ),
                _,
            ) => invalid(e),
            (Some(e), Some(_)) => invalid(e),
            (_, hint) => Ok(Err(SignatureStatus::UnknownSigner { hint })),
        }
    }
}

//! Trust policies: several keys with names and roles, k-of-n distinct signers, required signers
//! and roles, revoked keys, and a minimum version (anti-rollback).
//!
//! # Policy file (TOML)
//!
//! ```toml
//! # Two distinct signers (by name) out of those below must have signed.
//! threshold = 2
//! # Refuse an artifact whose version is lower (anti-rollback). Optional.
//! min_bundle_version = "1.2.0"
//! # Every role listed must be among the signers that count. Optional.
//! required_roles = ["qa-release"]
//! # Key ids (hex SHA-256 of the public key PEM, as `vigil key generate` prints) that no longer
//! # count, whatever they signed. Optional.
//! revoked = ["4f2c...e1"]
//!
//! [[signer]]
//! name = "alice"              # who, for reports; signers are counted by name
//! role = "ml-lead"            # what they vouch for
//! key = "keys/alice.pub.pem"  # SPKI PEM, relative to this policy file
//!
//! [[signer]]
//! name = "quinn"
//! role = "qa-release"
//! key = "keys/quinn.pub.pem"
//! required = true             # no decision without quinn's signature. Optional.
//! ```
//!
//! A signer may be listed more than once with different keys (a key rotation): each key is
//! trusted, but the signer counts once toward the threshold. Names and roles must not be empty,
//! and one key cannot belong to two names. The user of a policy (a bundle, a dataset manifest)
//! may allow keys of its own in the same file, such as vigil-bundle's `signatures`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vigil_core::{KeyId, PublicKey};

/// The most bytes a policy file may have.
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// A signer the policy trusts: one key of a named person or system, with a role.
#[derive(Debug, Clone)]
pub struct TrustedSigner {
    /// Who signs; signers are counted by name.
    pub name: String,
    /// The role the signer vouches for.
    pub role: String,
    /// The signer's public key.
    pub key: PublicKey,
    /// Whether no decision can succeed without this signer.
    pub required: bool,
}

/// A parsed trust policy. See the module documentation for the file format.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// Distinct signers (by name) required.
    pub threshold: usize,
    /// Lowest acceptable version of what is signed.
    pub min_version: Option<semver::Version>,
    /// Roles that must be among the counted signers.
    pub required_roles: Vec<String>,
    /// Key ids that never count.
    pub revoked: BTreeSet<KeyId>,
    /// The trusted signers (a name may appear with several keys).
    pub signers: Vec<TrustedSigner>,
}

/// Why a trust decision failed: typed, so that callers (an updater, a collector) can tell a
/// rollback from a missing signer without reading a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustFailure {
    /// There was no signature to check at all.
    #[error("no signatures")]
    NoSignatures,
    /// Fewer distinct signers than the threshold.
    #[error("{valid} of {threshold} required distinct signers")]
    Counted {
        /// Distinct signers whose signatures counted.
        valid: usize,
        /// Distinct signers required.
        threshold: usize,
    },
    /// A signer the policy marks as required did not sign.
    #[error("no valid signature from required signer '{name}'")]
    RequiredSigner {
        /// The signer's name.
        name: String,
    },
    /// No counted signer has a required role.
    #[error("no valid signature from role '{role}'")]
    MissingRole {
        /// The role.
        role: String,
    },
    /// The version is lower than the policy's minimum.
    #[error("version {version} is lower than the minimum {minimum} (rollback refused)")]
    Rollback {
        /// The version of what was signed.
        version: semver::Version,
        /// The policy's minimum.
        minimum: semver::Version,
    },
    /// The policy sets a minimum version but what was signed states none.
    #[error("the policy sets a minimum version {minimum} but no signed version was found")]
    Unversioned {
        /// The policy's minimum.
        minimum: semver::Version,
    },
    /// A signature was made by a revoked key.
    #[error("signed by revoked key {key_id}")]
    Revoked {
        /// The key.
        key_id: KeyId,
    },
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read (missing, not a regular file, too large).
    #[error(transparent)]
    File(#[from] vigil_core::ReadError),
    /// The file's content is not a valid policy.
    #[error("{}: invalid trust policy: {reason}", path.display())]
    Invalid {
        /// The policy file.
        path: PathBuf,
        /// What is wrong, naming the field.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    threshold: i64,
    #[serde(default)]
    min_bundle_version: Option<String>,
    #[serde(default)]
    required_roles: Vec<String>,
    #[serde(default)]
    revoked: Vec<String>,
    #[serde(default, rename = "signer")]
    signers: Vec<SignerFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerFile {
    name: String,
    role: String,
    key: PathBuf,
    #[serde(default)]
    required: bool,
}

fn one_line(e: impl fmt::Display) -> String {
    e.to_string()
        .lines()
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

impl TrustPolicy {
    /// Reads a policy file (without blocking, regular files only); key paths in it are relative
    /// to its directory.
    pub fn load(path: &Path) -> Result<TrustPolicy, PolicyError> {
        let bytes = vigil_core::read_bounded(path, MAX_POLICY_BYTES)?;
        let base = path.parent().unwrap_or(Path::new("."));
        TrustPolicy::parse(&bytes, path, base)
    }

    /// Parses policy bytes; `path` names the file in errors, `base` resolves key paths.
    pub fn parse(bytes: &[u8], path: &Path, base: &Path) -> Result<TrustPolicy, PolicyError> {
        TrustPolicy::parse_with(bytes, path, base, &[]).map(|(p, _)| p)
    }

    /// [`TrustPolicy::parse`] for a user that allows keys of its own at the top of the file:
    /// those named in `extra` are taken out and returned, every other unknown key is refused.
    pub fn parse_with(
        bytes: &[u8],
        path: &Path,
        base: &Path,
        extra: &[&str],
    ) -> Result<(TrustPolicy, toml::Table), PolicyError> {
        let bad = |reason: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(bad(format!("larger than {MAX_POLICY_BYTES} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
        let mut table: toml::Table = text.parse().map_err(|e| bad(one_line(e)))?;
        let mut own = toml::Table::new();
        for key in extra {
            if let Some(v) = table.remove(*key) {
                own.insert((*key).to_string(), v);
            }
        }
        let file: PolicyFile = toml::Value::Table(table)
            .try_into()
            .map_err(|e| bad(one_line(e)))?;
        Ok((TrustPolicy::from_file(file, base).map_err(bad)?, own))
    }

    fn from_file(file: PolicyFile, base: &Path) -> Result<TrustPolicy, String> {
        if file.signers.is_empty() {
            return Err("no [[signer]] listed".into());
        }
        let mut revoked = BTreeSet::new();
        for id in &file.revoked {
            revoked.insert(id.parse::<KeyId>().map_err(|e| format!("revoked: {e}"))?);
        }
        let mut signers: Vec<TrustedSigner> = Vec::new();
        for (i, s) in file.signers.iter().enumerate() {
            if s.name.trim().is_empty() {
                return Err(format!("signer #{}: name is empty", i + 1));
            }
            if s.role.trim().is_empty() {
                return Err(format!("signer '{}': role is empty", s.name));
            }
            let key = PublicKey::load(&base.join(&s.key))
                .map_err(|e| format!("signer '{}': {e}", s.name))?;
            let id = key.key_id();
            if let Some(other) = signers
                .iter()
                .find(|o| o.key.key_id() == id && o.name != s.name)
            {
                return Err(format!(
                    "signer '{}': key {id} is already the key of signer '{}'",
                    s.name, other.name
                ));
            }
            signers.push(TrustedSigner {
                name: s.name.clone(),
                role: s.role.clone(),
                key,
                required: s.required,
            });
        }
        let usable = |s: &&TrustedSigner| !revoked.contains(&s.key.key_id());
        let names: BTreeSet<&str> = signers
            .iter()
            .filter(usable)
            .map(|s| s.name.as_str())
            .collect();
        let threshold = usize::try_from(file.threshold)
            .ok()
            .filter(|t| *t >= 1)
            .ok_or_else(|| format!("threshold {} must be at least 1", file.threshold))?;
        if threshold > names.len() {
            return Err(format!(
                "threshold {threshold} can never be met: only {} distinct signers with unrevoked keys",
                names.len()
            ));
        }
        for role in &file.required_roles {
            if role.trim().is_empty() {
                return Err("required_roles: a role is empty".into());
            }
            if !signers.iter().filter(usable).any(|s| &s.role == role) {
                return Err(format!("required role '{role}' has no unrevoked signer"));
            }
        }
        for s in signers.iter().filter(|s| s.required) {
            if !names.contains(s.name.as_str()) {
                return Err(format!(
                    "signer '{}' is required but all its keys are revoked",
                    s.name
                ));
            }
        }
        let min_version =
            match &file.min_bundle_version {
                None => None,
                Some(v) => Some(semver::Version::parse(v).map_err(|e| {
                    format!("min_bundle_version '{v}' is not a semantic version: {e}")
                })?),
            };
        Ok(TrustPolicy {
            threshold,
            min_version,
            required_roles: file.required_roles,
            revoked,
            signers,
        })
    }

    /// The signers whose key may have made a signature with this key hint (every signer when
    /// there is no hint), revoked keys left out. A hint that names a revoked key is
    /// [`TrustFailure::Revoked`].
    pub fn candidates(&self, hint: Option<&str>) -> Result<Vec<&TrustedSigner>, TrustFailure> {
        if let Some(h) = hint {
            if let Ok(id) = h.parse::<KeyId>() {
                if self.revoked.contains(&id) {
                    return Err(TrustFailure::Revoked { key_id: id });
                }
            }
        }
        Ok(self
            .signers
            .iter()
            .filter(|s| !self.revoked.contains(&s.key.key_id()))
            .filter(|s| hint.is_none_or(|h| s.key.key_id().as_str().eq_ignore_ascii_case(h)))
            .collect())
    }

    /// A fresh count of distinct signers under this policy.
    pub fn tally(&self) -> Tally<'_> {
        Tally {
            policy: self,
            counted: Vec::new(),
        }
    }

    /// Checks a version against the minimum (when the policy sets one).
    pub fn check_version(&self, version: Option<&semver::Version>) -> Result<(), TrustFailure> {
        let Some(minimum) = &self.min_version else {
            return Ok(());
        };
        match version {
            None => Err(TrustFailure::Unversioned {
                minimum: minimum.clone(),
            }),
            Some(v) if v < minimum => Err(TrustFailure::Rollback {
                version: v.clone(),
                minimum: minimum.clone(),
            }),
            Some(_) => Ok(()),
        }
    }
}

/// Whether a verified signature counted, or its signer had already counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Counted {
    /// A new signer: it counts toward the threshold.
    New,
    /// The same key already counted.
    SameKey,
    /// The same signer (by name) already counted, with another key.
    SameSigner,
}

/// Distinct signers counted so far under a policy, and the decision they support.
#[derive(Debug, Clone)]
pub struct Tally<'p> {
    policy: &'p TrustPolicy,
    counted: Vec<&'p TrustedSigner>,
}

impl<'p> Tally<'p> {
    /// Counts a signer whose signature verified. Signers count once by key and once by name.
    pub fn count(&mut self, signer: &'p TrustedSigner) -> Counted {
        let id = signer.key.key_id();
        if self.counted.iter().any(|c| c.key.key_id() == id) {
            Counted::SameKey
        } else if self.counted.iter().any(|c| c.name == signer.name) {
            Counted::SameSigner
        } else {
            self.counted.push(signer);
            Counted::New
        }
    }

    /// The signers that counted, in order.
    pub fn counted(&self) -> &[&'p TrustedSigner] {
        &self.counted
    }

    /// Whether the counted signers satisfy the threshold, the required signers and the
    /// required roles (in that order).
    pub fn decide(&self) -> Result<(), TrustFailure> {
        let policy = self.policy;
        if self.counted.len() < policy.threshold {
            return Err(TrustFailure::Counted {
                valid: self.counted.len(),
                threshold: policy.threshold,
            });
        }
        for s in policy.signers.iter().filter(|s| s.required) {
            if !self.counted.iter().any(|c| c.name == s.name) {
                return Err(TrustFailure::RequiredSigner {
                    name: s.name.clone(),
                });
            }
        }
        for role in &policy.required_roles {
            if !self.counted.iter().any(|c| &c.role == role) {
                return Err(TrustFailure::MissingRole { role: role.clone() });
            }
        }
        Ok(())
    }
}

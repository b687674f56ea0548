//! Trust policies: several keys with roles, k-of-n distinct signers, revoked keys, and a minimum
//! bundle version (anti-rollback).
//!
//! # Policy file (TOML)
//!
//! ```toml
//! # Two distinct signers out of the three below must have signed this exact bundle.
//! threshold = 2
//! # Refuse bundles whose vigil.toml [bundle] version is lower (anti-rollback). Optional.
//! min_bundle_version = "1.2.0"
//! # Every role listed must be among the signers that count. Optional.
//! required_roles = ["qa-release"]
//! # Key ids (hex SHA-256 of the public key PEM, as `vigil key generate` prints) that no longer
//! # count, whatever they signed. Optional.
//! revoked = ["4f2c...e1"]
//! # Signature files to check, relative to the bundle. Optional; by default every top-level
//! # `model.sig` and `model.*.sig`.
//! signatures = ["model.sig", "model.qa.sig"]
//!
//! [[signer]]
//! name = "alice"            # who, for reports
//! role = "ml-lead"          # what they vouch for
//! key = "keys/alice.pub.pem"  # SPKI PEM, relative to this policy file
//!
//! [[signer]]
//! name = "quinn"
//! role = "qa-release"
//! key = "keys/quinn.pub.pem"
//! ```
//!
//! Each signature file is matched to a signer by its key hint (or, without a hint, by trying
//! every signer's key). A signature counts when its signer is listed and not revoked, its
//! envelope verifies, and every file of the bundle matches its manifest. The same key signing
//! twice counts once. Signatures that do not count are reported with the reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vigil_core::{KeyId, PublicKey};

use crate::error::BundleError;
use crate::path::ResourcePath;

/// The most bytes a policy file may have.
pub(crate) const MAX_POLICY_BYTES: usize = 1 << 20;

/// A signer the policy trusts.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Who signs, for reports.
    pub name: String,
    /// The role the signer vouches for.
    pub role: String,
    /// The signer's public key.
    pub key: PublicKey,
}

/// A parsed trust policy. See the module documentation for the file format.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// Distinct signers required.
    pub threshold: usize,
    /// Lowest acceptable `[bundle] version` in `vigil.toml`.
    pub min_bundle_version: Option<semver::Version>,
    /// Roles that must be among the counted signers.
    pub required_roles: Vec<String>,
    /// Key ids that never count.
    pub revoked: BTreeSet<KeyId>,
    /// Signature files to check; `None` means every top-level `model.sig` / `model.*.sig`.
    pub signatures: Option<Vec<ResourcePath>>,
    /// The trusted signers.
    pub signers: Vec<Signer>,
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
    #[serde(default)]
    signatures: Option<Vec<String>>,
    #[serde(default, rename = "signer")]
    signers: Vec<SignerFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerFile {
    name: String,
    role: String,
    key: PathBuf,
}

impl TrustPolicy {
    /// Reads a policy file; key paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<TrustPolicy, BundleError> {
        let bytes = std::fs::read(path).map_err(|e| BundleError::io(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        TrustPolicy::parse(&bytes, path, base)
    }

    /// Parses policy bytes; `path` names the file in errors, `base` resolves key paths.
    pub fn parse(bytes: &[u8], path: &Path, base: &Path) -> Result<TrustPolicy, BundleError> {
        let bad = |reason: String| BundleError::PolicyFormat {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(bad(format!("larger than {MAX_POLICY_BYTES} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            bad(e
                .to_string()
                .lines()
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string())
        })?;
        if file.signers.is_empty() {
            return Err(bad("no [[signer]] listed".into()));
        }
        let mut revoked = BTreeSet::new();
        for id in &file.revoked {
            revoked.insert(
                id.parse::<KeyId>()
                    .map_err(|e| bad(format!("revoked: {e}")))?,
            );
        }
        let mut signers = Vec::new();
        for s in &file.signers {
            let key_path = base.join(&s.key);
            let key =
                PublicKey::load(&key_path).map_err(|e| bad(format!("signer '{}': {e}", s.name)))?;
            signers.push(Signer {
                name: s.name.clone(),
                role: s.role.clone(),
                key,
            });
        }
        let usable: BTreeSet<KeyId> = signers
            .iter()
            .map(|s| s.key.key_id())
            .filter(|id| !revoked.contains(id))
            .collect();
        let threshold = usize::try_from(file.threshold)
            .ok()
            .filter(|t| *t >= 1)
            .ok_or_else(|| bad(format!("threshold {} must be at least 1", file.threshold)))?;
        if threshold > usable.len() {
            return Err(bad(format!(
                "threshold {threshold} can never be met: only {} distinct unrevoked signer keys",
                usable.len()
            )));
        }
        for role in &file.required_roles {
            if !signers
                .iter()
                .any(|s| &s.role == role && !revoked.contains(&s.key.key_id()))
            {
                return Err(bad(format!(
                    "required role '{role}' has no unrevoked signer"
                )));
            }
        }
        let min_bundle_version = match &file.min_bundle_version {
            None => None,
            Some(v) => Some(semver::Version::parse(v).map_err(|e| {
                bad(format!(
                    "min_bundle_version '{v}' is not a semantic version: {e}"
                ))
            })?),
        };
        let signatures = match file.signatures {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|s| ResourcePath::parse(s).map_err(|e| bad(format!("signatures: {e}"))))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(TrustPolicy {
            threshold,
            min_bundle_version,
            required_roles: file.required_roles,
            revoked,
            signatures,
            signers,
        })
    }
}

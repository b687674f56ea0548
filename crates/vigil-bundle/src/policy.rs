//! A bundle's trust policy: a [`vigil_attest::TrustPolicy`] (signers with names and roles, k-of-n
//! distinct signers, required signers and roles, revoked keys, minimum version) plus the
//! signature files to check.
//!
//! # Policy file (TOML)
//!
//! The format is [`vigil_attest::TrustPolicy`]'s, where `min_bundle_version` applies to
//! `vigil.toml`'s `[bundle] version`, and one key of the bundle's own:
//!
//! ```toml
//! threshold = 2
//! min_bundle_version = "1.2.0"
//! required_roles = ["qa-release"]
//! # Signature files to check, relative to the bundle. Optional; by default every top-level
//! # `model.sig` and `model.*.sig`.
//! signatures = ["model.sig", "model.qa.sig"]
//!
//! [[signer]]
//! name = "alice"
//! role = "ml-lead"
//! key = "keys/alice.pub.pem"
//!
//! [[signer]]
//! name = "quinn"
//! role = "qa-release"
//! key = "keys/quinn.pub.pem"
//! ```
//!
//! Each signature file is matched to a signer by its key hint (or, without a hint, by trying
//! every signer's key). A signature counts when its signer is listed and not revoked, its
//! envelope verifies, and every file of the bundle matches its manifest. The same key, or the
//! same signer name with another key, counts once. Signatures that do not count are reported
//! with the reason.

use std::path::Path;

use vigil_attest::{PolicyError, TrustPolicy, MAX_POLICY_BYTES};

use crate::path::ResourcePath;

/// A trust policy for bundles. See the module documentation for the file format.
#[derive(Debug, Clone)]
pub struct BundlePolicy {
    /// Signers, threshold, roles, revocations and the minimum `[bundle] version`.
    pub trust: TrustPolicy,
    /// Signature files to check; `None` means every top-level `model.sig` / `model.*.sig`.
    pub signatures: Option<Vec<ResourcePath>>,
}

impl From<TrustPolicy> for BundlePolicy {
    fn from(trust: TrustPolicy) -> Self {
        BundlePolicy {
            trust,
            signatures: None,
        }
    }
}

impl BundlePolicy {
    /// Reads a policy file (without blocking, regular files only); key paths in it are relative
    /// to its directory.
    pub fn load(path: &Path) -> Result<BundlePolicy, PolicyError> {
        let bytes = vigil_core::read_bounded(path, MAX_POLICY_BYTES)?;
        let base = path.parent().unwrap_or(Path::new("."));
        BundlePolicy::parse(&bytes, path, base)
    }

    /// Parses policy bytes; `path` names the file in errors, `base` resolves key paths.
    pub fn parse(bytes: &[u8], path: &Path, base: &Path) -> Result<BundlePolicy, PolicyError> {
        let (trust, own) = TrustPolicy::parse_with(bytes, path, base, &["signatures"])?;
        let bad = |reason: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let signatures = match own.get("signatures") {
            None => None,
            Some(toml::Value::Array(list)) => Some(
                list.iter()
                    .map(|v| match v {
                        toml::Value::String(s) => {
                            ResourcePath::parse(s).map_err(|e| bad(format!("signatures: {e}")))
                        }
                        _ => Err(bad("signatures: every entry must be a string".into())),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(bad("signatures: must be an array of strings".into())),
        };
        Ok(BundlePolicy { trust, signatures })
    }
}

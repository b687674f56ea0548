//! [`VerifiedBundle`]: a bundle whose verified bytes are kept and handed out.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::BundleConfig;
use crate::manifest::Manifest;
use crate::path::ResourcePath;
use crate::report::TrustReport;

/// A bundle whose files were read once, hashed, and found to match a trusted signature. The
/// bytes it hands out are the bytes that were hashed: a file changed on disk after the check
/// cannot reach the caller (no time-of-check to time-of-use gap). Made by
/// [`crate::BundleVerifier::verify`].
///
/// ```no_run
/// use vigil_bundle::{BundleVerifier, Trust};
/// use vigil_core::PublicKey;
///
/// let key = PublicKey::load("demo-keys/signing-key.pub.pem".as_ref())?;
/// let bundle = BundleVerifier::new("bundle", Trust::Key(key)).verify()?;
/// let model: &[u8] = bundle.file("model.onnx").ok_or("the model is not signed")?;
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
    /// Keeps the files that every counted manifest covers.
    pub(crate) fn new(
        dir: PathBuf,
        report: TrustReport,
        manifests: &[Manifest],
        mut loaded: HashMap<PathBuf, Arc<[u8]>>,
    ) -> VerifiedBundle {
        let mut files = BTreeMap::new();
        if let Some(first) = manifests.first() {
            for name in first.files() {
                if !manifests.iter().all(|m| m.files().contains(&name)) {
                    continue;
                }
                if let Some(bytes) = loaded.remove(&dir.join(name.as_str())) {
                    files.insert(name.clone(), bytes);
                }
            }
        }
        VerifiedBundle { dir, files, report }
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

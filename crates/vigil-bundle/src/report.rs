//! The facts of a trust decision that succeeded.

use crate::config::BundleConfig;
use crate::manifest::Manifest;
use crate::status::{SignatureReport, SignatureStatus};

/// The facts of a trust decision that succeeded.
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

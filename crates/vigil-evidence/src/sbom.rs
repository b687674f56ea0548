//! Reading the packages of a CycloneDX SBOM (JSON, any 1.x version): every component's purl,
//! nested components included.

use std::path::Path;

use crate::error::EvidenceError;
use crate::osv::Package;

/// Largest SBOM read.
pub const MAX_SBOM_BYTES: u64 = 64 << 20;
/// Deepest component nesting followed.
const MAX_DEPTH: usize = 64;

fn collect(
    value: &serde_json::Value,
    depth: usize,
    out: &mut Vec<String>,
    path: &Path,
) -> Result<(), EvidenceError> {
    if depth > MAX_DEPTH {
        return Err(EvidenceError::Parse {
            path: path.to_path_buf(),
            reason: format!("components nest deeper than {MAX_DEPTH}"),
        });
    }
    if let Some(list) = value.get("components").and_then(|c| c.as_array()) {
        for c in list {
            if let Some(p) = c.get("purl").and_then(|p| p.as_str()) {
                out.push(p.to_string());
            }
            collect(c, depth + 1, out, path)?;
        }
    }
    Ok(())
}

/// The packages of the SBOM at `path`, in document order, without duplicates. The SBOM's own
/// subject (`metadata.component`) is included when it has a purl.
pub fn read_sbom_packages(path: &Path) -> Result<Vec<Package>, EvidenceError> {
    let bytes = vigil_core::read_bounded(path, MAX_SBOM_BYTES)?;
    let doc: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| EvidenceError::Parse {
            path: path.to_path_buf(),
            reason: format!("not JSON: {e}"),
        })?;
    if doc.get("bomFormat").and_then(|f| f.as_str()) != Some("CycloneDX") {
        return Err(EvidenceError::Parse {
            path: path.to_path_buf(),
            reason: "bomFormat is not \"CycloneDX\"".into(),
        });
    }
    let mut purls = Vec::new();
    if let Some(p) = doc
        .get("metadata")
        .and_then(|m| m.get("component"))
        .and_then(|c| c.get("purl"))
        .and_then(|p| p.as_str())
    {
        purls.push(p.to_string());
    }
    collect(&doc, 0, &mut purls, path)?;
    let mut seen = std::collections::BTreeSet::new();
    purls
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .map(|p| Package::from_purl(&p))
        .collect()
}

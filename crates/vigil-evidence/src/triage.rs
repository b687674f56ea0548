//! The triage file: a manufacturer's analysis of each matched vulnerability, as CycloneDX VEX
//! analysis states.
//!
//! ```toml
//! [[triage]]
//! id = "RUSTSEC-2024-0001"          # an OSV id or one of its aliases (CVE-..., GHSA-...)
//! purl = "pkg:cargo/foo@1.2.3"      # optional: only this package (with or without @version)
//! state = "not_affected"            # resolved | resolved_with_pedigree | exploitable |
//!                                   # in_triage | false_positive | not_affected
//! justification = "code_not_reachable"   # optional, a CycloneDX justification
//! detail = "the vulnerable function is never called"
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::error::EvidenceError;
use crate::osv::Match;

/// Largest triage file read.
pub const MAX_TRIAGE_BYTES: u64 = 4 << 20;

/// The CycloneDX 1.6 analysis states.
pub const STATES: [&str; 6] = [
    "resolved",
    "resolved_with_pedigree",
    "exploitable",
    "in_triage",
    "false_positive",
    "not_affected",
];

/// The CycloneDX 1.6 analysis justifications.
pub const JUSTIFICATIONS: [&str; 9] = [
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
];

/// One `[[triage]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    /// OSV id or alias.
    pub id: String,
    /// Only this package (`pkg:...`, with or without `@version`).
    #[serde(default)]
    pub purl: Option<String>,
    /// CycloneDX analysis state.
    pub state: String,
    /// CycloneDX analysis justification.
    #[serde(default)]
    pub justification: Option<String>,
    /// Free text.
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriageFile {
    #[serde(default)]
    triage: Vec<Triage>,
}

/// Reads and checks a triage file: every state and justification must be a CycloneDX one,
/// named with the entry's position.
pub fn read_triage(path: &Path) -> Result<Vec<Triage>, EvidenceError> {
    let text = vigil_core::read_bounded_string(path, MAX_TRIAGE_BYTES)?;
    let file: TriageFile = toml::from_str(&text).map_err(|e| EvidenceError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    for (i, t) in file.triage.iter().enumerate() {
        let bad = |reason: String| EvidenceError::Parse {
            path: path.to_path_buf(),
            reason: format!("triage[{i}] ({}): {reason}", t.id),
        };
        if t.id.trim().is_empty() {
            return Err(bad("id is empty".into()));
        }
        if !STATES.contains(&t.state.as_str()) {
            return Err(bad(format!(
                "state {:?} is not one of {}",
                t.state,
                STATES.join(", ")
            )));
        }
        if let Some(j) = &t.justification {
            if !JUSTIFICATIONS.contains(&j.as_str()) {
                return Err(bad(format!(
                    "justification {j:?} is not one of {}",
                    JUSTIFICATIONS.join(", ")
                )));
            }
        }
    }
    Ok(file.triage)
}

fn purl_matches(triage: &str, purl: &str) -> bool {
    if triage == purl {
        return true;
    }
    // A triage purl without a version covers every version of the package.
    !triage.contains('@')
        && purl
            .rsplit_once('@')
            .is_some_and(|(base, _)| base == triage)
}

/// Whether `t` is about match `m`: same id or alias, and the same package if it names one.
pub(crate) fn applies(t: &Triage, m: &Match) -> bool {
    (t.id == m.id || m.aliases.contains(&t.id))
        && t.purl.as_deref().is_none_or(|p| purl_matches(p, &m.purl))
}

/// Fills each match's `state` from the first triage entry that applies to it, and returns the
/// ids of the triage entries that applied to no match.
pub fn apply(matches: &mut [Match], triage: &[Triage]) -> Vec<String> {
    for m in matches.iter_mut() {
        let t = triage.iter().find(|t| applies(t, m));
        m.state = t.map(|t| t.state.clone());
        m.justification = t.and_then(|t| t.justification.clone());
        m.detail = t.and_then(|t| t.detail.clone());
    }
    triage
        .iter()
        .filter(|t| !matches.iter().any(|m| applies(t, m)))
        .map(|t| t.id.clone())
        .collect()
}

//! Evidence for a premarket submission, generated from checks that ran.
//!
//! - [`Deployment`]: `deploy.toml`, how a device is deployed and where the reports of checks
//!   that ran elsewhere are.
//! - [`threat_model`]: every row of the threat catalog (`docs/threats.toml`) evaluated against
//!   live checks of the bundle and the deployment; [`threat_dragon`] exports it.
//! - [`aibom`] and [`sbom`]: CycloneDX 1.6 documents of the verified model and of Vigil itself.
//! - [`match_packages`]: offline vulnerability matching of an SBOM's purls against OSV records
//!   (schema 1.6: `SEMVER` and `ECOSYSTEM` ranges with `introduced`, `fixed`, `last_affected`
//!   and `limit` events, `versions` lists, withdrawn records and other ecosystems never
//!   matching), with a triage file giving CycloneDX analysis states.
//! - [`PackFacts`], [`index_html`], [`readme`]: the evidence pack, with the test records, ledger
//!   facts and refusal counts it reports.
//!
//! # Example
//! ```
//! use vigil_evidence::{match_packages, Package, Record};
//!
//! let record: Record = serde_json::from_str(r#"{"id": "RUSTSEC-2099-0001",
//!     "affected": [{"package": {"ecosystem": "crates.io", "name": "foo"},
//!                   "ranges": [{"type": "SEMVER",
//!                               "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}]}]}"#)?;
//! let packages = [Package::from_purl("pkg:cargo/foo@1.1.9")?, Package::from_purl("pkg:cargo/foo@1.2.0")?];
//! let matches = match_packages(&packages, &[record]);
//! assert_eq!(matches.len(), 1);
//! assert_eq!(matches[0].fixed.as_deref(), Some("1.2.0"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod aibom;
mod bom;
mod deploy;
mod error;
mod facts;
mod osv;
mod pack;
mod sbom;
mod threat_dragon;
mod threats;
mod triage;
mod vex;

// The public interface.
pub use error::EvidenceError;
// The deployment description, deploy.toml.
pub use deploy::{
    CollectorRef, Contact, Deployment, Device, Evidence, Gateway, LedgerRef, Support, Update,
    MAX_DEPLOYMENT_BYTES,
};
// OSV records and matching.
pub use osv::{
    match_packages, read_records, Affected, Event, Match, OsvPackage, Package, Range, Record,
    Severity, Verdict, MAX_RECORDS, MAX_RECORD_BYTES,
};
// Writing BOMs (the CycloneDX 1.6 model is serde-cyclonedx's).
pub use aibom::aibom;
// Facts the pack reports: test records, ledgers, metrics.
pub use facts::{
    ledger_facts, metrics_refusals, read_test_records, LedgerFacts, TestKind, TestRecord,
    TEST_RECORD_FORMAT,
};
// The evidence pack.
pub use pack::{index_html, readme, PackFacts, PackJson, FILES as PACK_FILES, SECTIONS};
// The threat model, and its Threat Dragon export.
pub use bom::{dependencies_from_metadata, sbom, Dependency};
pub use serde_cyclonedx::cyclonedx::v_1_6 as cyclonedx;
pub use threat_dragon::{threat_dragon, TdModel, TD_VERSION};
pub use threats::{
    catalog, threat_model, Check, Inputs, Row, Status, Threat, ThreatModel, CATALOG,
};
// SBOM packages.
pub use sbom::{read_sbom_packages, MAX_SBOM_BYTES};
// The VEX document.
pub use vex::Vex;
// Triage.
pub use triage::{
    apply as apply_triage, read_triage, Triage, JUSTIFICATIONS, MAX_TRIAGE_BYTES, STATES,
};

/// The result of `vigil evidence vulns`: every match, and the triage entries that matched
/// nothing. Its JSON is the command's `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VulnReport {
    /// Every (package, record) match, in purl then id order.
    pub matches: Vec<Match>,
    /// Ids of triage entries that applied to no match.
    pub unmatched_triage: Vec<String>,
}

impl VulnReport {
    /// True when some match has no triage state: the command exits 1.
    pub fn has_untriaged(&self) -> bool {
        self.matches.iter().any(|m| m.state.is_none())
    }
}

/// Matches the SBOM at `sbom` against the OSV records under `osv_dir`, applying `triage`.
pub fn vulns(
    sbom: &std::path::Path,
    osv_dir: &std::path::Path,
    triage: &[Triage],
) -> Result<VulnReport, EvidenceError> {
    let packages = read_sbom_packages(sbom)?;
    let records = read_records(osv_dir)?;
    let mut matches = match_packages(&packages, &records);
    let unmatched_triage = apply_triage(&mut matches, triage);
    Ok(VulnReport {
        matches,
        unmatched_triage,
    })
}

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    /// Parses arbitrary bytes as an OSV record and judges a few packages against it, and as a
    /// triage file; must never panic.
    pub fn fuzz_osv(data: &[u8]) {
        if let Ok(record) = serde_json::from_slice::<crate::Record>(data) {
            for purl in [
                "pkg:cargo/foo@1.2.3",
                "pkg:cargo/foo@0.0.0-rc.1",
                "pkg:pypi/foo@1.0",
                "pkg:npm/%40s/foo@2.0.0",
            ] {
                if let Ok(p) = crate::Package::from_purl(purl) {
                    let _ = record.judge(&p);
                }
            }
            let _ = record.severity_label();
        }
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::Package::from_purl(text);
            let _ = toml::from_str::<toml::Value>(text);
            let _ = crate::Deployment::parse(
                text,
                std::path::Path::new("deploy.toml"),
                std::path::Path::new("."),
            );
        }
    }

    /// Parses arbitrary bytes as a test record and as a `/metrics` snapshot; must never panic.
    pub fn fuzz_records(data: &[u8]) {
        let _ = crate::TestRecord::parse(data);
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::facts::parse_refusals(text, std::path::Path::new("metrics.txt"));
        }
    }
}

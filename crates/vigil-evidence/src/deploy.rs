//! `deploy.toml`: how a device is deployed, the input the threat model, the SBOM's support
//! fields and the evidence pack read (issue 18 item 1). Documented in `docs/evidence.md`; each
//! example device ships a commented one.
//!
//! Paths in the file are relative to the file's folder. Unknown keys are errors (a misspelt
//! control must not read as a missing one), and so are dates that are not `YYYY-MM-DD`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::EvidenceError;

/// Largest `deploy.toml` read.
pub const MAX_DEPLOYMENT_BYTES: u64 = 1 << 20;

/// A parsed `deploy.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// `[device]`: what the device is and what it is for.
    pub device: Device,
    /// `[gateway]`: the network interface in front of the guard.
    pub gateway: Gateway,
    /// `[ledger]`: the device's audit ledger.
    #[serde(default)]
    pub ledger: Option<LedgerRef>,
    /// `[update]`: where signed updates come from.
    #[serde(default)]
    pub update: Option<Update>,
    /// `[collector]`: the fleet collector the device pushes to.
    #[serde(default)]
    pub collector: Option<CollectorRef>,
    /// `[evidence]`: reports of checks that ran elsewhere (scan, assess, data manifests).
    #[serde(default)]
    pub evidence: Evidence,
    /// `[support]`: the FDA's support fields.
    pub support: Support,
    /// `[contact]`: coordinated vulnerability disclosure.
    pub contact: Contact,
}

/// `[device]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The device's name.
    pub name: String,
    /// The manufacturer.
    pub manufacturer: String,
    /// Its intended use, as labelled.
    pub intended_use: String,
    /// The bundle the device runs, relative to the file.
    pub bundle: PathBuf,
    /// Patients one device serves at once (multi-patient harm view): 1 for a bedside monitor.
    #[serde(default = "one")]
    pub patients: u32,
}

fn one() -> u32 {
    1
}

/// `[gateway]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Where it listens (`HOST:PORT`).
    pub address: String,
    /// Whether it requires client certificates (mutual TLS). `false` is a finding.
    pub mtls: bool,
    /// Its clients file (names and roles), relative to the file.
    #[serde(default)]
    pub clients: Option<PathBuf>,
}

/// `[ledger]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerRef {
    /// The ledger database, relative to the file.
    pub path: PathBuf,
    /// The public key its checkpoints are signed with.
    #[serde(default)]
    pub public_key: Option<PathBuf>,
}

/// `[update]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// The TUF repository (URL or folder).
    pub repository: String,
    /// The device's update state folder, relative to the file.
    #[serde(default)]
    pub state: Option<PathBuf>,
}

/// `[collector]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorRef {
    /// Its URL.
    pub url: String,
}

/// `[evidence]`: outputs of checks that ran elsewhere, relative to the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// `vigil scan --sarif` output for the bundle.
    #[serde(default)]
    pub scan: Option<PathBuf>,
    /// `vigil assess ... --json` reports (robustness, membership, extraction, with
    /// `--subgroup` for subgroups): one path or a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub assess: Vec<PathBuf>,
    /// Signed data manifests (`vigil data manifest`).
    #[serde(default)]
    pub data_manifests: Vec<PathBuf>,
    /// The public key the data manifests are signed with. Without it their signatures cannot
    /// be checked, and the data rows fail.
    #[serde(default)]
    pub data_key: Option<PathBuf>,
    /// Test records (`vigil-test-record/v1`: fuzzing, crash trials, interop suites): files, or
    /// folders of `*.json` records.
    #[serde(default)]
    pub test_records: Vec<PathBuf>,
    /// A snapshot of the gateway's `/metrics` (Prometheus text): its refusal counts (TLS
    /// handshakes without a valid client certificate, unknown clients) go in the pack.
    #[serde(default)]
    pub metrics: Option<PathBuf>,
}

/// A path or a list of paths.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

/// `[support]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Support {
    /// The level of support (for instance `security updates`).
    pub level: String,
    /// The end-of-support date, `YYYY-MM-DD`.
    pub end_of_support: String,
}

/// `[contact]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Where vulnerabilities are reported (a URL or an address).
    pub disclosure: String,
    /// An e-mail address, if separate.
    #[serde(default)]
    pub email: Option<String>,
}

impl Deployment {
    /// Reads and checks `path` (at most [`MAX_DEPLOYMENT_BYTES`]); relative paths in it become
    /// relative to its folder.
    pub fn load(path: &Path) -> Result<Deployment, EvidenceError> {
        let text = vigil_core::read_bounded_string(path, MAX_DEPLOYMENT_BYTES)?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Deployment::parse(&text, path, base)
    }

    /// Parses `text` (named `path` in errors), resolving relative paths against `base`.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Deployment, EvidenceError> {
        let bad = |reason: String| EvidenceError::Parse {
            path: path.to_path_buf(),
            reason,
        };
        let mut d: Deployment = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if !is_date(&d.support.end_of_support) {
            return Err(bad(format!(
                "support.end_of_support: {:?} is not a date YYYY-MM-DD",
                d.support.end_of_support
            )));
        }
        for (key, value) in [
            ("device.name", &d.device.name),
            ("device.manufacturer", &d.device.manufacturer),
            ("device.intended_use", &d.device.intended_use),
            ("gateway.address", &d.gateway.address),
            ("support.level", &d.support.level),
            ("contact.disclosure", &d.contact.disclosure),
        ] {
            if value.trim().is_empty() {
                return Err(bad(format!("{key}: must not be empty")));
            }
        }
        if d.device.patients == 0 {
            return Err(bad("device.patients: must be at least 1".into()));
        }
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        join(&mut d.device.bundle);
        if let Some(c) = &mut d.gateway.clients {
            join(c);
        }
        if let Some(l) = &mut d.ledger {
            join(&mut l.path);
            if let Some(k) = &mut l.public_key {
                join(k);
            }
        }
        if let Some(u) = &mut d.update {
            if let Some(s) = &mut u.state {
                join(s);
            }
        }
        if let Some(s) = &mut d.evidence.scan {
            join(s);
        }
        let e = &mut d.evidence;
        e.assess.iter_mut().for_each(join);
        e.data_manifests.iter_mut().for_each(join);
        e.test_records.iter_mut().for_each(join);
        for p in [&mut e.data_key, &mut e.metrics].into_iter().flatten() {
            join(p);
        }
        Ok(d)
    }
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let num = |p: &str, len: usize| {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    matches!(
        (num(y, 4), num(m, 2), num(d, 2)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[device]
name = "ward monitor"
manufacturer = "Example Medical"
intended_use = "decision support"
bundle = "bundle"

[gateway]
address = "0.0.0.0:8443"
mtls = true

[support]
level = "security updates"
end_of_support = "2031-12-31"

[contact]
disclosure = "https://example.org/security"
"#;

    #[test]
    fn a_minimal_file_parses_and_paths_follow_the_file() {
        let d = Deployment::parse(MINIMAL, Path::new("deploy.toml"), Path::new("/dev/x")).unwrap();
        assert_eq!(d.device.bundle, Path::new("/dev/x/bundle"));
        assert!(d.gateway.mtls);
        assert_eq!(d.device.patients, 1);
        assert!(d.ledger.is_none());
    }

    #[test]
    fn bad_files_name_the_key() {
        let p = Path::new("deploy.toml");
        let b = Path::new(".");
        let e = Deployment::parse(&MINIMAL.replace("mtls = true", "mtsl = true"), p, b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("deploy.toml") && e.contains("mtsl"), "{e}");
        let e = Deployment::parse(&MINIMAL.replace("2031-12-31", "soon"), p, b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("support.end_of_support"), "{e}");
        let e = Deployment::parse(&MINIMAL.replace("\"security updates\"", "\" \""), p, b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("support.level"), "{e}");
        assert!(Deployment::parse(&MINIMAL.replace("mtls = true\n", ""), p, b).is_err());
    }

    #[test]
    fn assess_reports_are_one_path_or_a_list() {
        let p = Path::new("deploy.toml");
        let b = Path::new("/d");
        let one = format!("{MINIMAL}\n[evidence]\nassess = \"a.json\"\n");
        let d = Deployment::parse(&one, p, b).unwrap();
        assert_eq!(d.evidence.assess, [Path::new("/d/a.json")]);
        let many = format!(
            "{MINIMAL}\n[evidence]\nassess = [\"a.json\", \"b.json\"]\ntest_records = [\"r\"]\ndata_key = \"k.pem\"\n"
        );
        let d = Deployment::parse(&many, p, b).unwrap();
        assert_eq!(d.evidence.assess.len(), 2);
        assert_eq!(d.evidence.test_records, [Path::new("/d/r")]);
        assert_eq!(d.evidence.data_key.as_deref(), Some(Path::new("/d/k.pem")));
        let bad = format!("{MINIMAL}\n[evidence]\nassess = 3\n");
        assert!(Deployment::parse(&bad, p, b).is_err());
    }

    #[test]
    fn dates() {
        assert!(is_date("2031-12-31"));
        assert!(!is_date("2031-13-01"));
        assert!(!is_date("31-12-2031"));
        assert!(!is_date("2031-1-01"));
    }
}

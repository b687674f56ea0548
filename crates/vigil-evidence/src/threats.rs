//! The threat model: every row of `docs/threats.toml` evaluated against live checks of the
//! bundle and the deployment. A control whose check did not run, or failed, is a finding:
//! nothing here is a hand-written claim.
//!
//! A row is `met` when every check passed, `missing` when a check the row requires failed
//! (the bundle's signature for T07, mutual TLS for T15...) or when none passed, `partial`
//! otherwise.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_bundle::VerifiedBundle;

use crate::deploy::Deployment;
use crate::error::EvidenceError;
use crate::facts::{read_test_records, TestKind, TestRecord};

/// The threat catalog, as shipped (`docs/threats.toml`).
pub const CATALOG: &str = include_str!("../../../docs/threats.toml");

/// One row of the catalog.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Threat {
    /// `T01`...
    pub id: String,
    /// The AAMI CR515 life-cycle phase.
    pub phase: String,
    /// The threat.
    pub threat: String,
    /// The FDA's name for it.
    pub fda_name: String,
    /// MITRE ATLAS techniques.
    pub atlas: Vec<String>,
    /// OWASP ML Top 10 entries.
    pub owasp: Vec<String>,
    /// Vigil's control.
    pub control: String,
    /// The evidence that proves it.
    pub evidence: String,
    /// The evidence, item by item.
    #[serde(default)]
    pub evidence_items: Vec<String>,
}

#[derive(Deserialize)]
struct Catalog {
    threat: Vec<Threat>,
}

/// The catalog's rows.
pub fn catalog() -> Result<Vec<Threat>, EvidenceError> {
    let c: Catalog = toml::from_str(CATALOG).map_err(|e| EvidenceError::Parse {
        path: "docs/threats.toml".into(),
        reason: e.to_string(),
    })?;
    Ok(c.threat)
}

/// A row's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every check passed.
    Met,
    /// Some checks passed; none the row requires failed.
    Partial,
    /// A required check failed, or none passed.
    Missing,
    /// The threat does not apply to this deployment (the reason says why).
    NotApplicable,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's name.
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was checked: the file or command and the finding.
    pub evidence: String,
}

/// One evaluated row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The threat id.
    pub id: String,
    /// Its status.
    pub status: Status,
    /// Why it is not met (`null` when met).
    pub reason: Option<String>,
    /// The checks that ran.
    pub checks: Vec<Check>,
}

/// `vigil evidence threats --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreatModel {
    /// Every row, in catalog order.
    pub threats: Vec<Row>,
    /// Rows per status, and the total.
    pub summary: BTreeMap<String, usize>,
}

impl ThreatModel {
    /// Whether any row is `missing` (the command then exits 1).
    pub fn has_missing(&self) -> bool {
        self.threats.iter().any(|r| r.status == Status::Missing)
    }
}

/// What the checks look at.
pub struct Inputs<'a> {
    /// The bundle as verified, or why it did not verify.
    pub bundle: Result<&'a VerifiedBundle, String>,
    /// The bundle directory (for the live scan).
    pub bundle_dir: &'a Path,
    /// The deployment.
    pub deployment: &'a Deployment,
}

/// The checks each row runs; `true` marks a check the row requires.
fn checks_for(id: &str) -> &'static [(&'static str, bool)] {
    match id {
        "T01" => &[("data_manifests", true)],
        "T02" => &[("data_manifests", true)],
        "T03" => &[
            ("data_manifests", false),
            ("assess_membership", false),
            ("output_policy", false),
        ],
        "T04" => &[
            ("scan_bundle", true),
            ("bundle_signature", true),
            ("scan_report", false),
            ("fuzzing", false),
        ],
        "T05" => &[
            ("scan_bundle", true),
            ("scan_report", false),
            ("fuzzing", false),
        ],
        "T06" => &[("assess_robustness", true)],
        "T07" => &[("bundle_signature", true)],
        "T08" => &[("bundle_signature", true), ("trust_policy_k_of_n", true)],
        "T09" => &[
            ("input_contract", true),
            ("guard_calibration", true),
            ("assess_robustness", false),
        ],
        "T10" => &[("input_contract", true)],
        "T11" => &[
            ("extraction_monitor", true),
            ("rate_limits", false),
            ("output_policy", false),
            ("mtls", false),
        ],
        "T12" => &[("output_policy", true), ("assess_membership", false)],
        "T13" => &[("rate_limits", true)],
        "T14" => &[("mtls", true), ("ledger", false)],
        "T15" => &[("mtls", true), ("client_roles", false)],
        "T16" => &[("guard_calibration", true), ("collector", false)],
        "T17" => &[("acceptance_set", true), ("update_tuf", false)],
        "T18" => &[
            ("update_tuf", true),
            ("bundle_signature", true),
            ("acceptance_set", false),
            ("crash_trials", false),
        ],
        "T19" => &[
            ("ledger", true),
            ("collector", false),
            ("crash_trials", false),
        ],
        "T20" => &[("assess_subgroups", true)],
        _ => &[],
    }
}

fn table<'b>(b: &'b VerifiedBundle, key: &str) -> Option<&'b toml::Table> {
    b.config()?.document.get(key)?.as_table()
}

fn read_json(path: &Path) -> Result<serde_json::Value, String> {
    let bytes = vigil_core::read_bounded(path, 64 << 20).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// The deployment's test records and the errors reading them, read once per threat model.
type Records = (Vec<TestRecord>, Vec<String>);

fn run_check(name: &str, inp: &Inputs<'_>, records: &Records) -> Check {
    let (ok, evidence) = evaluate(name, inp, records);
    Check {
        check: name.to_string(),
        ok,
        evidence,
    }
}

fn evaluate(name: &str, inp: &Inputs<'_>, (records, unreadable): &Records) -> (bool, String) {
    let d = inp.deployment;
    let bundle = inp.bundle.as_ref();
    let need_bundle = |f: &dyn Fn(&VerifiedBundle) -> (bool, String)| match bundle {
        Ok(b) => f(b),
        Err(why) => (false, format!("the bundle did not verify: {why}")),
    };
    match name {
        "bundle_signature" => need_bundle(&|b| {
            (
                true,
                format!(
                    "{}: verified, subject sha256:{}",
                    inp.bundle_dir.display(),
                    hex::encode(b.digest())
                ),
            )
        }),
        "trust_policy_k_of_n" => need_bundle(&|b| {
            let t = b.report().threshold;
            (
                t >= 2,
                format!("trust threshold {t} distinct signer(s) (k-of-n needs at least 2)"),
            )
        }),
        "scan_bundle" => {
            let scanner = vigil_scan::Scanner::new(
                vigil_scan::Limits::default(),
                vigil_scan::Policy::default(),
            );
            let outcome = scanner.scan_paths(&[inp.bundle_dir]);
            let high = outcome
                .reports
                .iter()
                .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
                .filter(|(_, f)| f.severity >= vigil_scan::Severity::High)
                .count();
            let files = outcome.reports.len();
            let ok = high == 0 && outcome.errors.is_empty();
            (ok, format!("vigil scan {} (live): {files} files, {high} findings at HIGH or above, {} unreadable", inp.bundle_dir.display(), outcome.errors.len()))
        }
        "scan_report" => match &d.evidence.scan {
            None => (false, "no [evidence] scan report in the deployment".into()),
            Some(p) => match read_json(p) {
                Ok(v) => match v.get("runs").and_then(|r| r.as_array()) {
                    Some(runs) => {
                        let results = runs
                            .iter()
                            .filter_map(|r| r.get("results").and_then(|x| x.as_array()))
                            .flatten();
                        let (mut all, mut errors) = (0, 0);
                        for r in results {
                            all += 1;
                            // SARIF's default level is "warning".
                            if r.get("level").and_then(|l| l.as_str()) == Some("error") {
                                errors += 1;
                            }
                        }
                        (
                            errors == 0,
                            format!(
                                "{}: SARIF, {all} result(s), {errors} at level error",
                                p.display()
                            ),
                        )
                    }
                    None => (false, format!("{}: not SARIF (no runs)", p.display())),
                },
                Err(e) => (false, e),
            },
        },
        "fuzzing" | "crash_trials" => {
            let kind = if name == "fuzzing" {
                TestKind::Fuzz
            } else {
                TestKind::CrashTrials
            };
            let mine: Vec<&TestRecord> = records.iter().filter(|r| r.kind == kind).collect();
            let runs: u64 = mine.iter().map(|r| r.runs).sum();
            let failed: Vec<&str> = mine
                .iter()
                .filter(|r| r.failures > 0)
                .map(|r| r.name.as_str())
                .collect();
            let what = if name == "fuzzing" {
                "fuzz target(s)"
            } else {
                "crash-trial harness(es)"
            };
            if mine.is_empty() {
                let mut why = format!("deploy.toml [evidence] test_records hold no {what}");
                if !unreadable.is_empty() {
                    why.push_str(&format!(" ({})", unreadable.join("; ")));
                }
                (false, why)
            } else {
                (
                    failed.is_empty() && unreadable.is_empty(),
                    format!(
                        "{} {what}, {runs} runs, failures in: {}{}",
                        mine.len(),
                        if failed.is_empty() {
                            "none".to_string()
                        } else {
                            failed.join(", ")
                        },
                        if unreadable.is_empty() {
                            String::new()
                        } else {
                            format!("; unreadable: {}", unreadable.join("; "))
                        }
                    ),
                )
            }
        }
        "input_contract" => need_bundle(&|b| {
            let features = table(b, "contract")
                .and_then(|c| c.get("features"))
                .and_then(toml::Value::as_array)
                .map(|f| {
                    let ranged = f
                        .iter()
                        .filter(|x| x.get("min").is_some() && x.get("max").is_some())
                        .count();
                    (f.len(), ranged)
                });
            match features {
                Some((n, r)) if n > 0 && r == n => (
                    true,
                    format!("vigil.toml [contract]: {n} features, each with a physical range"),
                ),
                Some((n, r)) => (
                    false,
                    format!("vigil.toml [contract]: {r} of {n} features have a range"),
                ),
                None => (false, "vigil.toml has no [[contract.features]]".into()),
            }
        }),
        "guard_calibration" => need_bundle(&|b| {
            match b.file("reference/guard.json") {
            Some(bytes) => (true, format!("reference/guard.json: signed, {} bytes (detector thresholds, reference statistics)", bytes.len())),
            None => (false, "no signed reference/guard.json: the guard's detectors are not calibrated".into()),
        }
        }),
        "output_policy" => need_bundle(&|b| {
            let out = table(b, "output");
            let mode = out
                .and_then(|o| o.get("mode"))
                .and_then(toml::Value::as_str)
                .unwrap_or("full");
            let decimals = out
                .and_then(|o| o.get("decimals"))
                .and_then(toml::Value::as_integer);
            let ok = mode != "full" || decimals.is_some();
            (
                ok,
                format!("vigil.toml [output] mode = {mode:?}, decimals = {decimals:?}"),
            )
        }),
        "extraction_monitor" => need_bundle(&|b| match table(b, "extraction") {
            Some(e) => (
                true,
                format!(
                    "vigil.toml [extraction]: {} settings (PRADA {}, OOD share {})",
                    e.len(),
                    e.get("prada").map_or("off".into(), |v| v.to_string()),
                    e.get("ood_share").map_or("-".into(), |v| v.to_string())
                ),
            ),
            None => (false, "vigil.toml has no [extraction] monitor".into()),
        }),
        "rate_limits" => need_bundle(&|b| {
            let l = table(b, "limits");
            let has = |k: &str| l.is_some_and(|l| l.contains_key(k));
            let ok = has("rate_per_second") && has("query_budget") && has("max_payload_values");
            (
                ok,
                format!(
                    "vigil.toml [limits]: rate {}, budget {}, payload bound {}",
                    has("rate_per_second"),
                    has("query_budget"),
                    has("max_payload_values")
                ),
            )
        }),
        "mtls" => (
            d.gateway.mtls,
            format!("deploy.toml [gateway] mtls = {}", d.gateway.mtls),
        ),
        "client_roles" => match (&d.gateway.clients, d.gateway.mtls) {
            (Some(c), true) if c.is_file() => {
                (true, format!("{}: client names and roles", c.display()))
            }
            (Some(c), true) => (false, format!("{}: missing", c.display())),
            (_, false) => (false, "roles need client certificates: mtls is off".into()),
            (None, true) => (false, "deploy.toml [gateway] names no clients file".into()),
        },
        "ledger" => match &d.ledger {
            None => (false, "deploy.toml has no [ledger]".into()),
            Some(l) if !l.path.exists() => (false, format!("{}: no ledger yet", l.path.display())),
            Some(l) => match vigil_ledger::Ledger::open(&l.path) {
                Ok(log) => (
                    true,
                    format!(
                        "{}: {} entries, every stored hash and checkpoint verified",
                        l.path.display(),
                        log.size()
                    ),
                ),
                Err(e) => (false, format!("{}: {e}", l.path.display())),
            },
        },
        "collector" => match &d.collector {
            Some(c) => (
                true,
                format!(
                    "deploy.toml [collector] {}: checkpoints witnessed, alarms and drift gathered",
                    c.url
                ),
            ),
            None => (
                false,
                "deploy.toml has no [collector]: no fleet witness or monitoring".into(),
            ),
        },
        "acceptance_set" => need_bundle(&|b| match b.config().map(|c| c.acceptance()) {
            Some(Ok(Some(spec))) if b.file(&spec.data).is_some() => (
                true,
                format!(
                    "vigil.toml [acceptance]: {} (signed), accuracy at least {}",
                    spec.data, spec.min_accuracy
                ),
            ),
            Some(Ok(Some(spec))) => (
                false,
                format!(
                    "vigil.toml [acceptance] names {}, which is not a signed file",
                    spec.data
                ),
            ),
            Some(Err(e)) => (false, e.to_string()),
            Some(Ok(None)) | None => (false, "vigil.toml has no [acceptance] set".into()),
        }),
        "update_tuf" => match d.update.as_ref().and_then(|u| u.state.as_ref()) {
            None => (
                false,
                "deploy.toml has no [update] state: updates are not managed by vigil update".into(),
            ),
            Some(state) => {
                let file = state.join("state.json");
                match read_json(&file) {
                    Ok(v) => {
                        let history = v
                            .get("history")
                            .and_then(|h| h.as_array())
                            .map_or(0, Vec::len);
                        (
                            history > 0,
                            format!("{}: {history} activation(s) through TUF", file.display()),
                        )
                    }
                    Err(e) => (false, e),
                }
            }
        },
        "data_manifests" => data_manifests(d, bundle.ok().copied()),
        "assess_robustness" | "assess_membership" | "assess_subgroups" => {
            let key = match name {
                "assess_robustness" => "attacks",
                "assess_membership" => "policies",
                _ => "subgroups",
            };
            if d.evidence.assess.is_empty() {
                return (
                    false,
                    "deploy.toml [evidence] names no assess report".into(),
                );
            }
            let mut seen = Vec::new();
            for p in &d.evidence.assess {
                match read_json(p) {
                    Ok(v) => match v.get(key) {
                        Some(found) => return (true, assess_summary(p, key, found)),
                        None => seen.push(format!("{}: no {key}", p.display())),
                    },
                    Err(e) => seen.push(e),
                }
            }
            (false, seen.join("; "))
        }
        other => (false, format!("no such check {other}")),
    }
}

/// What an assess report's `key` says, in a line.
fn assess_summary(path: &Path, key: &str, found: &serde_json::Value) -> String {
    let n = found.as_array().map_or(0, Vec::len);
    let detail = match key {
        "attacks" => {
            let worst = found
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    let through = a
                        .get("guard")
                        .and_then(|g| g.get("success_rate_through_guard"))
                        .and_then(|x| x.as_f64());
                    a.get("success_rate")
                        .and_then(|x| x.as_f64())
                        .map(|s| (s, through))
                })
                .fold((0.0f64, None::<f64>), |(s, t), (s2, t2)| {
                    (
                        s.max(s2),
                        match (t, t2) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            (a, b) => a.or(b),
                        },
                    )
                });
            format!(
                "{n} attack run(s); highest success rate {:.3} on the bare model, {} through the guard",
                worst.0,
                worst.1.map_or("none".to_string(), |t| format!("{t:.3}"))
            )
        }
        _ => format!("{n} {key}"),
    };
    format!("{}: {detail}", path.display())
}

/// The data rows' check: every manifest the deployment names verifies with `data_key` (its
/// signature, sidecar and Merkle root), and every data-set root the verified bundle's
/// `vigil.toml` names (`[data.<split>] manifest_root`) is one of theirs.
fn data_manifests(d: &Deployment, bundle: Option<&VerifiedBundle>) -> (bool, String) {
    let m = &d.evidence.data_manifests;
    if m.is_empty() {
        return (
            false,
            "deploy.toml [evidence] names no data manifests".into(),
        );
    }
    let Some(key_path) = &d.evidence.data_key else {
        return (
            false,
            format!(
                "{} data manifest(s) named, but no [evidence] data_key: their signatures cannot be checked",
                m.len()
            ),
        );
    };
    let key = match vigil_core::PublicKey::load(key_path) {
        Ok(k) => k,
        Err(e) => return (false, format!("{}: {e}", key_path.display())),
    };
    let mut roots = Vec::new();
    let mut problems = Vec::new();
    for p in m {
        match vigil_data::open(p, Some(&key)) {
            Ok(o) => roots.push(o.manifest.merkle_root.clone()),
            Err(e) => problems.push(e.to_string()),
        }
    }
    let named: Vec<(String, String)> = match bundle.and_then(VerifiedBundle::config) {
        None => Vec::new(),
        Some(config) => match config.data_sets() {
            Ok(sets) => sets
                .into_iter()
                .filter_map(|s| Some((s.split, s.manifest_root?)))
                .collect(),
            Err(e) => {
                problems.push(format!("the bundle's vigil.toml: {e}"));
                Vec::new()
            }
        },
    };
    for (split, root) in &named {
        if !roots.contains(root) {
            problems.push(format!(
                "the bundle's [data.{split}] root {root} is not the root of any verified manifest"
            ));
        }
    }
    if !problems.is_empty() {
        return (false, problems.join("; "));
    }
    (
        true,
        format!(
            "{} data manifest(s) verified with {} (signature, sidecar, Merkle root); the bundle names {} of their roots",
            m.len(),
            key_path.display(),
            named.len()
        ),
    )
}

/// Evaluates every row of the catalog.
pub fn threat_model(inputs: &Inputs<'_>) -> Result<ThreatModel, EvidenceError> {
    let mut cache: BTreeMap<&str, Check> = BTreeMap::new();
    let records = read_test_records(&inputs.deployment.evidence.test_records);
    let mut rows = Vec::new();
    for t in catalog()? {
        let spec = checks_for(&t.id);
        let mut checks = Vec::new();
        for (name, _) in spec {
            let c = cache
                .entry(name)
                .or_insert_with(|| run_check(name, inputs, &records))
                .clone();
            checks.push(c);
        }
        let failed_required: Vec<&str> = spec
            .iter()
            .zip(&checks)
            .filter(|((_, req), c)| *req && !c.ok)
            .map(|((n, _), _)| *n)
            .collect();
        let passed = checks.iter().filter(|c| c.ok).count();
        let (status, reason) = if spec.is_empty() {
            (
                Status::Missing,
                Some("no control of Vigil checks this row".to_string()),
            )
        } else if !failed_required.is_empty() {
            (
                Status::Missing,
                Some(format!(
                    "required check(s) failed: {}",
                    failed_required.join(", ")
                )),
            )
        } else if passed == 0 {
            (
                Status::Missing,
                Some(format!(
                    "no check passed: {}",
                    checks
                        .iter()
                        .map(|c| c.check.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            )
        } else if passed == checks.len() {
            (Status::Met, None)
        } else {
            let failed: Vec<&str> = checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.check.as_str())
                .collect();
            (
                Status::Partial,
                Some(format!("failed: {}", failed.join(", "))),
            )
        };
        rows.push(Row {
            id: t.id,
            status,
            reason,
            checks,
        });
    }
    let mut summary = BTreeMap::new();
    for s in ["met", "partial", "missing", "not_applicable"] {
        summary.insert(s.to_string(), 0);
    }
    for r in &rows {
        let key = match r.status {
            Status::Met => "met",
            Status::Partial => "partial",
            Status::Missing => "missing",
            Status::NotApplicable => "not_applicable",
        };
        *summary.entry(key.to_string()).or_insert(0) += 1;
    }
    summary.insert("total".into(), rows.len());
    Ok(ThreatModel {
        threats: rows,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_whose_checks_are_all_optional_is_missing_when_none_passed() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"
[device]
name = "d"
manufacturer = "m"
intended_use = "u"
bundle = "bundle"
[gateway]
address = "127.0.0.1:1"
mtls = true
[support]
level = "l"
end_of_support = "2031-12-31"
[contact]
disclosure = "x"
"#;
        let d = Deployment::parse(text, Path::new("deploy.toml"), dir.path()).unwrap();
        let model = threat_model(&Inputs {
            bundle: Err("not signed".into()),
            bundle_dir: dir.path(),
            deployment: &d,
        })
        .unwrap();
        let row = |id: &str| model.threats.iter().find(|r| r.id == id).unwrap();
        // T03's checks (data manifests, membership report, output policy) are all optional.
        assert_eq!(row("T03").status, Status::Missing, "{:?}", row("T03"));
        assert!(row("T03")
            .reason
            .as_deref()
            .unwrap()
            .contains("no check passed"));
        // T14: mutual TLS required and on, the ledger optional and absent: partial.
        assert_eq!(row("T14").status, Status::Partial);
        assert_eq!(model.summary["total"], 20);
    }
}

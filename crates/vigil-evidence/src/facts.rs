//! Facts the evidence pack reports besides the threat model, each read from a record a check
//! left: test records (fuzzing, crash trials, interop suites), the device's ledgers (update
//! steps, gateway refusals) and a snapshot of the gateway's `/metrics`.
//!
//! A test record is one JSON object, format `vigil-test-record/v1`, written by the script that
//! ran the test (`scripts/fuzz-smoke`, `interop/update-crash/run.sh`,
//! `interop/ledger-crash/run.sh`, with `VIGIL_TEST_RECORDS=DIR`):
//!
//! ```json
//! {"format": "vigil-test-record/v1", "kind": "fuzz", "name": "bundle_manifest",
//!  "tool": "cargo-fuzz (libFuzzer)", "runs": 812345, "failures": 0, "seconds": 10,
//!  "finished": "2026-12-05T09:00:00Z", "detail": "seed corpus fuzz/seeds/bundle_manifest"}
//! ```
//!
//! `kind` is `fuzz` (runs are executions, failures crashes), `crash_trials` (runs are trials,
//! failures trials that left no complete verified state) or `interop` (runs are cases).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::deploy::Deployment;

/// The format string of a test record.
pub const TEST_RECORD_FORMAT: &str = "vigil-test-record/v1";

/// Largest test record read.
const MAX_RECORD_BYTES: u64 = 1 << 20;
/// Most test records read from the folders a deployment names.
const MAX_RECORDS: usize = 10_000;
/// Largest `/metrics` snapshot read.
const MAX_METRICS_BYTES: u64 = 4 << 20;

/// What a test record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// A fuzzing campaign: runs are executions, failures crashes.
    Fuzz,
    /// Kill trials: runs are trials, failures trials that left no complete, verified state.
    CrashTrials,
    /// An interoperability suite: runs are cases, failures failed cases.
    Interop,
}

/// One test record (`vigil-test-record/v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRecord {
    /// Always [`TEST_RECORD_FORMAT`].
    pub format: String,
    /// What was tested.
    pub kind: TestKind,
    /// The fuzz target, harness or suite.
    pub name: String,
    /// The tool that ran it.
    pub tool: String,
    /// Executions, trials or cases.
    pub runs: u64,
    /// Crashes, failed trials or failed cases.
    pub failures: u64,
    /// How long it ran.
    pub seconds: f64,
    /// When it finished (RFC 3339).
    pub finished: String,
    /// Anything else, for people.
    #[serde(default)]
    pub detail: String,
}

impl TestRecord {
    /// Parses one record, checking its format string.
    pub fn parse(bytes: &[u8]) -> Result<TestRecord, String> {
        let r: TestRecord = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if r.format != TEST_RECORD_FORMAT {
            return Err(format!(
                "format {:?}, expected {TEST_RECORD_FORMAT:?}",
                r.format
            ));
        }
        if !r.seconds.is_finite() || r.seconds < 0.0 {
            return Err(format!("seconds: {} is not a duration", r.seconds));
        }
        Ok(r)
    }
}

/// Reads the test records `paths` name: files, or folders whose `*.json` files are records
/// (not recursive). Unreadable or malformed records are returned as errors naming the file,
/// never skipped silently.
pub fn read_test_records(paths: &[PathBuf]) -> (Vec<TestRecord>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut found: Vec<PathBuf> = rd
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|f| f.extension().is_some_and(|x| x == "json"))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => errors.push(format!("{}: {e}", p.display())),
            }
        } else {
            files.push(p.clone());
        }
    }
    if files.len() > MAX_RECORDS {
        errors.push(format!(
            "{} test records named; only the first {MAX_RECORDS} were read",
            files.len()
        ));
        files.truncate(MAX_RECORDS);
    }
    let mut records = Vec::new();
    for f in files {
        match vigil_core::read_bounded(&f, MAX_RECORD_BYTES) {
            Ok(bytes) => match TestRecord::parse(&bytes) {
                Ok(r) => records.push(r),
                Err(e) => errors.push(format!("{}: not a test record: {e}", f.display())),
            },
            Err(e) => errors.push(e.to_string()),
        }
    }
    (records, errors)
}

/// Refusal counts from a Prometheus text snapshot of the gateway's `/metrics`
/// (`vigil_refusals_total{reason="..."} N`), by reason.
pub fn metrics_refusals(path: &Path) -> Result<Vec<(String, u64)>, String> {
    let text =
        vigil_core::read_bounded_string(path, MAX_METRICS_BYTES).map_err(|e| e.to_string())?;
    parse_refusals(&text, path)
}

/// [`metrics_refusals`] of `text`, named `path` in errors.
pub(crate) fn parse_refusals(text: &str, path: &Path) -> Result<Vec<(String, u64)>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("vigil_refusals_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            return Err(format!("{}: malformed line {line:?}", path.display()));
        };
        let reason = labels
            .split(',')
            .find_map(|l| l.trim().strip_prefix("reason=\""))
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or("");
        let n = value
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{}: malformed value in {line:?}", path.display()))?;
        if !n.is_finite() || n < 0.0 {
            return Err(format!("{}: malformed value in {line:?}", path.display()));
        }
        *out.entry(reason.to_string()).or_insert(0) += n as u64;
    }
    Ok(out.into_iter().collect())
}

/// What the device's ledgers say: update steps and their timing, and the gateway's refusals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LedgerFacts {
    /// Update ledger events, by step and outcome (`refresh ok`, `refused tuf_hash`...).
    pub update_events: Vec<(String, u64)>,
    /// Seconds from each release's download to its activation, by version.
    pub time_to_deploy: Vec<(String, f64)>,
    /// Seconds from each release's publication (its signed target's `custom.published`) to its
    /// activation on this device, by version: the time to patch.
    pub time_to_patch: Vec<(String, f64)>,
    /// Gateway ledger refusals, by event and reason (`client_refused unknown_client`...).
    pub gateway_refusals: Vec<(String, u64)>,
    /// Ledgers named but not readable, with why.
    pub errors: Vec<String>,
}

/// Reads the update ledger (`[update] state`/ledger.db) and the gateway's ledger
/// (`[ledger] path`) of a deployment. A ledger that is named but cannot be opened is reported
/// in [`LedgerFacts::errors`].
pub fn ledger_facts(d: &Deployment) -> LedgerFacts {
    let mut facts = LedgerFacts::default();
    if let Some(state) = d.update.as_ref().and_then(|u| u.state.as_ref()) {
        let path = state.join("ledger.db");
        match read_events(&path) {
            Ok(events) => update_facts(&events, &mut facts),
            Err(e) => facts.errors.push(e),
        }
    }
    if let Some(l) = &d.ledger {
        if l.path.exists() {
            match read_events(&l.path) {
                Ok(events) => {
                    let mut counts = BTreeMap::new();
                    for e in events {
                        let key = match e {
                            vigil_ledger::Event::ClientRefused(c) => {
                                format!("client_refused {}", c.reason)
                            }
                            vigil_ledger::Event::GatewayRefusal(r) => {
                                format!("request_refused {}", r.reason)
                            }
                            _ => continue,
                        };
                        *counts.entry(key).or_insert(0u64) += 1;
                    }
                    facts.gateway_refusals = counts.into_iter().collect();
                }
                Err(e) => facts.errors.push(e),
            }
        }
    }
    facts
}

fn read_events(path: &Path) -> Result<Vec<vigil_ledger::Event>, String> {
    let log = vigil_ledger::Ledger::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = log
        .entries(0, log.size())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Entries of kinds this build does not know are skipped: they are counted by no fact.
    Ok(entries
        .iter()
        .filter_map(|e| vigil_ledger::Event::from_json(e).ok())
        .collect())
}

fn update_facts(events: &[vigil_ledger::Event], facts: &mut LedgerFacts) {
    use vigil_ledger::UpdatePhase;
    let mut counts = BTreeMap::new();
    let mut downloaded = BTreeMap::new();
    for e in events {
        let vigil_ledger::Event::UpdateStep(s) = e else {
            continue;
        };
        let step = serde_json::to_value(s.step)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let key = match &s.reason {
            Some(r) => format!("{step} {r}"),
            None => format!("{step} ok"),
        };
        *counts.entry(key).or_insert(0u64) += 1;
        let v = s.version.clone().unwrap_or_default();
        match s.step {
            UpdatePhase::Download => {
                downloaded.insert(v, s.time_ms);
            }
            UpdatePhase::Activate => {
                let secs = |t0: u64| s.time_ms.saturating_sub(t0) as f64 / 1000.0;
                if let Some(t0) = downloaded.get(&v) {
                    facts.time_to_deploy.push((v.clone(), secs(*t0)));
                }
                if let Some(p) = s.published_ms {
                    facts.time_to_patch.push((v, secs(p)));
                }
            }
            _ => {}
        }
    }
    facts.update_events = counts.into_iter().collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, failures: u64) -> String {
        format!(
            r#"{{"format":"vigil-test-record/v1","kind":"{kind}","name":"t","tool":"x","runs":10,"failures":{failures},"seconds":1.5,"finished":"2026-12-05T09:00:00Z"}}"#
        )
    }

    #[test]
    fn records_are_read_from_files_and_folders_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("records");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("a.json"), record("fuzz", 0)).unwrap();
        std::fs::write(folder.join("b.json"), record("crash_trials", 1)).unwrap();
        std::fs::write(folder.join("notes.txt"), "ignored").unwrap();
        std::fs::write(folder.join("c.json"), r#"{"format":"other"}"#).unwrap();
        let single = dir.path().join("one.json");
        std::fs::write(&single, record("interop", 0)).unwrap();
        let (records, errors) =
            read_test_records(&[folder.clone(), single, dir.path().join("gone.json")]);
        let kinds: Vec<_> = records.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [TestKind::Fuzz, TestKind::CrashTrials, TestKind::Interop]
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("c.json")));
        assert!(errors.iter().any(|e| e.contains("gone.json")));
    }

    #[test]
    fn a_record_of_another_format_or_a_negative_duration_is_refused() {
        let wrong = record("fuzz", 0).replace("vigil-test-record/v1", "v0");
        assert!(TestRecord::parse(wrong.as_bytes()).is_err());
        let negative = record("fuzz", 0).replace("1.5", "-1");
        assert!(TestRecord::parse(negative.as_bytes()).is_err());
        let unknown = record("fuzz", 0).replace("\"tool\"", "\"extra\":1,\"tool\"");
        assert!(TestRecord::parse(unknown.as_bytes()).is_err());
    }

    #[test]
    fn refusals_are_summed_by_reason_from_a_metrics_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.txt");
        std::fs::write(
            &p,
            "# HELP vigil_refusals_total x\n# TYPE vigil_refusals_total counter\n\
             vigil_refusals_total{reason=\"tls_handshake\"} 3\n\
             vigil_refusals_total{reason=\"unknown_client\"} 1\n\
             vigil_requests_total{route=\"/v1\",status=\"200\"} 9\n",
        )
        .unwrap();
        assert_eq!(
            metrics_refusals(&p).unwrap(),
            [
                ("tls_handshake".to_string(), 3),
                ("unknown_client".to_string(), 1)
            ]
        );
        std::fs::write(&p, "vigil_refusals_total{reason=\"x\"} NaN\n").unwrap();
        assert!(metrics_refusals(&p).is_err());
        std::fs::write(&p, "vigil_refusals_total{reason=\"x\" 3\n").unwrap();
        assert!(metrics_refusals(&p).is_err());
    }

    #[test]
    fn time_to_patch_and_to_deploy_come_from_update_steps() {
        let step = |t, step, published| {
            vigil_ledger::Event::UpdateStep(vigil_ledger::UpdateStep {
                time_ms: t,
                step,
                name: "n".into(),
                version: Some("1.1.0".into()),
                ok: true,
                reason: None,
                detail: String::new(),
                published_ms: published,
            })
        };
        let events = [
            step(10_000, vigil_ledger::UpdatePhase::Download, Some(4_000)),
            step(12_500, vigil_ledger::UpdatePhase::Activate, Some(4_000)),
        ];
        let mut facts = LedgerFacts::default();
        update_facts(&events, &mut facts);
        assert_eq!(facts.time_to_deploy, [("1.1.0".to_string(), 2.5)]);
        assert_eq!(facts.time_to_patch, [("1.1.0".to_string(), 8.5)]);
        assert_eq!(
            facts.update_events,
            [
                ("activate ok".to_string(), 1),
                ("download ok".to_string(), 1)
            ]
        );
    }
}

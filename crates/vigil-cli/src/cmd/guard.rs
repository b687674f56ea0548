//! `vigil guard`: calibrate a bundle's detectors, evaluate them, and run rows through the guard.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;
use vigil_bundle::{BundlePolicy, Trust};
use vigil_core::PublicKey;
use vigil_guard::{
    calibrate_with_reference, parse_csv, AuditSink, CsvLimits, DangerousNoAudit, DriftSettings,
    Guard, GuardOptions, JsonLinesAudit, RequestOptions, Verdict,
};

use crate::outcome::Outcome;

/// The runtime guard: contract, detectors, extraction monitor and output policy of a bundle.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Fit the detectors' reference statistics and thresholds on clean rows.
    ///
    /// Writes DIR/reference/guard.json. Thresholds are set by cross-validation on the clean
    /// rows so that at most --fpr of clean inputs are flagged. The bundle changes: sign it
    /// again afterwards (vigil bundle sign).
    Calibrate(CalibrateArgs),
    /// Measure the guard on clean rows and attack rows.
    ///
    /// Reports the false-positive rate on the clean rows, the share of attack rows abstained,
    /// and the attack success that gets through (attack rows accepted with a label other than
    /// their `label` column). Each row is screened alone (no rate limit or extraction monitor).
    Evaluate(EvaluateArgs),
    /// Run the rows of a CSV through the guard as one client's stream, in order.
    ///
    /// Columns are matched by the contract's feature names; extra columns (such as `label`)
    /// are ignored; a missing column is an error before any row runs. Rows arrive spaced at
    /// the contract's sustained rate (`[limits] rate_per_second`), so the stream is
    /// deterministic.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct CalibrateArgs {
    /// The bundle directory (its files are read without verification: this is a build step).
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    /// Clean rows (CSV with the contract's feature columns and an optional `label` column).
    #[arg(long, value_name = "CLEAN.csv")]
    clean: PathBuf,
    /// Further clean rows (such as the model's training rows) that join the clean rows in
    /// fitting the Mahalanobis statistics; they never set a threshold.
    #[arg(long, value_name = "TRAIN.csv")]
    reference: Option<PathBuf>,
    /// Target false-positive rate of all detectors together [default: `[detectors] fpr`].
    #[arg(long, value_name = "RATE")]
    fpr: Option<f64>,
    /// Print one JSON object: {"reference","rows","fpr","cv_false_positive_rate","thresholds",
    /// "flagged"} (flagged: clean rows over each threshold, out of fold).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct EvaluateArgs {
    /// The bundle directory.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    /// Clean rows: every abstention among them is a false positive.
    #[arg(long, value_name = "CLEAN.csv")]
    clean: PathBuf,
    /// Attack rows (with a `label` column holding the true class, for attack success).
    #[arg(long, value_name = "ATTACK.csv")]
    attack: PathBuf,
    /// Verify the bundle with this public key first [default: no verification].
    #[arg(long, value_name = "PUB.pem", conflicts_with = "policy")]
    key: Option<PathBuf>,
    /// Verify the bundle under this trust policy first.
    #[arg(long, value_name = "POLICY.toml")]
    policy: Option<PathBuf>,
    /// Print one JSON object (see docs/guard.md).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("trust").required(true).args(["key", "policy"])))]
struct RunArgs {
    /// The bundle directory.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    /// Public key PEM of the bundle's signer (signature DIR/model.sig).
    #[arg(long, value_name = "PUB.pem")]
    key: Option<PathBuf>,
    /// Trust policy instead of a single key.
    #[arg(long, value_name = "POLICY.toml", conflicts_with = "key")]
    policy: Option<PathBuf>,
    /// Rows to run (CSV with a header).
    #[arg(long, value_name = "ROWS.csv")]
    input: PathBuf,
    /// The client identity the stream belongs to.
    #[arg(long, value_name = "ID", default_value = "cli")]
    client: String,
    /// Append the audit events as JSON lines to this file (synced before each answer).
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Feed accepted rows to a drift monitor with these reference statistics (a drift.json as
    /// `vigil drift reference` writes, built from the contract's feature columns and
    /// optionally a confidence column). A row where the monitor raises an alarm lists
    /// "drift" in its alarms; the alarm also goes to the audit as a `drift.alarm` event.
    #[arg(long, value_name = "drift.json")]
    drift_reference: Option<PathBuf>,
    /// Drift monitor: observations per window.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 200,
        requires = "drift_reference"
    )]
    drift_window: usize,
    /// Drift monitor: run the KS tests every N observations once the window is full.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 50,
        requires = "drift_reference"
    )]
    drift_check_every: u64,
    /// Drift monitor: significance level after the Bonferroni correction across streams.
    #[arg(
        long,
        value_name = "A",
        default_value_t = 0.01,
        requires = "drift_reference"
    )]
    drift_alpha: f64,
    /// Print one JSON object per row:
    /// {"row","verdict","reason","label","scores","alarms"}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Calibrate(a) => run_calibrate(a),
        Verb::Evaluate(a) => run_evaluate(a),
        Verb::Run(a) => run_rows(a),
    }
}

/// `--key PUB.pem | --policy POLICY.toml`, one of them required: the trust a command verifies a
/// bundle under (evidence, update, assess).
#[derive(Debug, clap::Args)]
pub(crate) struct TrustArgs {
    /// The bundle signer's public key (signature model.sig in the bundle).
    #[arg(
        long,
        value_name = "PUB.pem",
        conflicts_with = "policy",
        required_unless_present = "policy"
    )]
    pub(crate) key: Option<PathBuf>,
    /// A trust policy for the bundle's signatures (k-of-n signers) instead of a single key.
    #[arg(long, value_name = "POLICY.toml")]
    pub(crate) policy: Option<PathBuf>,
}

impl TrustArgs {
    /// The trust given.
    pub(crate) fn trust(&self) -> anyhow::Result<Trust> {
        trust(self.key.as_deref(), self.policy.as_deref())?
            .ok_or_else(|| anyhow::anyhow!("--key or --policy is required"))
    }
}

/// The trust to verify a bundle under: `--key` or `--policy` (none: no verification).
pub(crate) fn trust(key: Option<&Path>, policy: Option<&Path>) -> anyhow::Result<Option<Trust>> {
    Ok(match (key, policy) {
        (Some(k), _) => Some(Trust::Key(PublicKey::load(k)?)),
        (None, Some(p)) => Some(Trust::Policy(BundlePolicy::load(p)?)),
        (None, None) => None,
    })
}

fn open(dir: &Path, trust: Option<&Trust>, audit: Arc<dyn AuditSink>) -> anyhow::Result<Guard> {
    open_with(dir, trust, GuardOptions::new(audit))
}

fn open_with(dir: &Path, trust: Option<&Trust>, options: GuardOptions) -> anyhow::Result<Guard> {
    let guard = match trust {
        Some(t) => Guard::open(dir, t, options)?,
        None => Guard::dangerous_open_unverified(dir, options)?,
    };
    Ok(guard)
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    crate::read_bounded(path, CsvLimits::default().max_bytes)
}

#[derive(Serialize)]
struct CalibrateJson {
    reference: String,
    rows: usize,
    fpr: f64,
    cv_false_positive_rate: f64,
    thresholds: BTreeMap<String, f64>,
    flagged: BTreeMap<String, usize>,
}

fn run_calibrate(a: CalibrateArgs) -> anyhow::Result<Outcome> {
    let c = calibrate_with_reference(&a.bundle, &a.clean, a.reference.as_deref(), a.fpr)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let j = CalibrateJson {
            reference: c.path.display().to_string(),
            rows: c.rows,
            fpr: c.fpr,
            cv_false_positive_rate: c.cv_false_positive_rate,
            thresholds: c.thresholds.clone(),
            flagged: c.flagged.clone(),
        };
        writeln!(out, "{}", serde_json::to_string(&j)?)?;
    } else {
        writeln!(
            out,
            "calibrated on {} clean rows at false-positive rate {} (cross-validated: {:.4}; \
             one row is {:.4})",
            c.rows,
            c.fpr,
            c.cv_false_positive_rate,
            1.0 / c.rows.max(1) as f64
        )?;
        for (k, v) in &c.thresholds {
            let n = c.flagged.get(k).copied().unwrap_or(0);
            writeln!(
                out,
                "  {k:<16} threshold {v:.6} (over it out of fold: {n} of {} clean rows)",
                c.rows
            )?;
        }
        writeln!(out, "wrote {}", c.path.display())?;
    }
    let coarse: Vec<&str> = c
        .flagged
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| k.as_str())
        .collect();
    if !coarse.is_empty() {
        eprintln!(
            "vigil: note: {} at the largest clean score: {} clean rows are too few to set \
             {} any lower at false-positive rate {}; more clean rows give finer thresholds",
            coarse.join(", "),
            c.rows,
            if coarse.len() == 1 { "it" } else { "them" },
            c.fpr
        );
    }
    eprintln!(
        "vigil: the bundle changed: sign it again (vigil bundle sign --key PRIV.pem {})",
        a.bundle.display()
    );
    Ok(Outcome::Ok)
}

/// `vigil guard evaluate --json`: one object.
#[derive(Serialize)]
struct EvaluateJson {
    verified: bool,
    clean_rows: usize,
    false_positives: usize,
    false_positive_rate: f64,
    attack_rows: usize,
    attack_abstained: usize,
    detection_rate: f64,
    evasions: usize,
    evasions_abstained: usize,
    evasion_detection_rate: f64,
    attack_success_through: usize,
    attack_success_rate: f64,
    reasons: BTreeMap<String, usize>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn run_evaluate(a: EvaluateArgs) -> anyhow::Result<Outcome> {
    let t = trust(a.key.as_deref(), a.policy.as_deref())?;
    let guard = open(&a.bundle, t.as_ref(), Arc::new(DangerousNoAudit))?;
    let limits = CsvLimits::default();
    let rows = |path: &Path| -> anyhow::Result<_> {
        let text = read(path)?;
        Ok(parse_csv(
            &text,
            &path.display().to_string(),
            guard.contract(),
            &limits,
        )?)
    };
    let clean = rows(&a.clean)?;
    let attack = rows(&a.attack)?;
    let mut shape = [0usize; 2];
    let mut false_positives = 0;
    for row in &clean {
        let abstained = match &row.values {
            Err(_) => true,
            Ok(v) => guard.screen(&guard.row(v, &mut shape)).reason.is_some(),
        };
        false_positives += usize::from(abstained);
    }
    let (mut abstained_n, mut evasions, mut evasions_abstained, mut through) = (0, 0, 0, 0);
    let mut reasons = BTreeMap::new();
    for row in &attack {
        let (reason, class) = match &row.values {
            Err(r) => (Some(r.clone()), None),
            Ok(v) => {
                let s = guard.screen(&guard.row(v, &mut shape));
                (s.reason, s.class)
            }
        };
        let wrong = matches!((class, row.label), (Some(c), Some(l)) if c != l);
        evasions += usize::from(wrong);
        match reason {
            Some(r) => {
                abstained_n += 1;
                evasions_abstained += usize::from(wrong);
                *reasons.entry(r.code().to_string()).or_insert(0) += 1;
            }
            None => through += usize::from(wrong),
        }
    }
    let j = EvaluateJson {
        verified: t.is_some(),
        clean_rows: clean.len(),
        false_positives,
        false_positive_rate: ratio(false_positives, clean.len()),
        attack_rows: attack.len(),
        attack_abstained: abstained_n,
        detection_rate: ratio(abstained_n, attack.len()),
        evasions,
        evasions_abstained,
        evasion_detection_rate: ratio(evasions_abstained, evasions),
        attack_success_through: through,
        attack_success_rate: ratio(through, attack.len()),
        reasons,
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string(&j)?)?;
    } else {
        if !j.verified {
            writeln!(out, "note: bundle not verified (give --key or --policy)")?;
        }
        writeln!(
            out,
            "clean:  {} rows, {} abstained: false-positive rate {:.4}",
            j.clean_rows, j.false_positives, j.false_positive_rate
        )?;
        writeln!(
            out,
            "attack: {} rows, {} abstained: detection rate {:.4}",
            j.attack_rows, j.attack_abstained, j.detection_rate
        )?;
        writeln!(
            out,
            "evasions (model wrong on the row): {}, abstained {}: {:.4}",
            j.evasions, j.evasions_abstained, j.evasion_detection_rate
        )?;
        writeln!(
            out,
            "attack success through the guard: {} rows ({:.4})",
            j.attack_success_through, j.attack_success_rate
        )?;
        for (k, v) in &j.reasons {
            writeln!(out, "  {k:<24} {v}")?;
        }
    }
    Ok(Outcome::Ok)
}

/// `vigil guard run --json`: one line per row.
#[derive(Serialize)]
struct RowJson<'a> {
    row: usize,
    verdict: &'static str,
    reason: Option<String>,
    label: Option<&'a str>,
    scores: BTreeMap<&'static str, f64>,
    alarms: Vec<&'static str>,
}

fn run_rows(a: RunArgs) -> anyhow::Result<Outcome> {
    let t = trust(a.key.as_deref(), a.policy.as_deref())?;
    let audit: Arc<dyn AuditSink> = match &a.audit {
        Some(p) => Arc::new(JsonLinesAudit::open(p)?),
        None => Arc::new(DangerousNoAudit),
    };
    let mut options = GuardOptions::new(audit);
    if let Some(p) = &a.drift_reference {
        options = options.drift(
            DriftSettings::load(p)?
                .window(a.drift_window)
                .check_every(a.drift_check_every)
                .alpha(a.drift_alpha),
        );
    }
    let guard = open_with(&a.bundle, t.as_ref(), options)?;
    let rows = parse_csv(
        &read(&a.input)?,
        &a.input.display().to_string(),
        guard.contract(),
        &CsvLimits::default(),
    )?;
    let step = 1.0 / guard.config().limits.rate_per_second;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut shape = [0usize; 2];
    for (i, row) in rows.iter().enumerate() {
        let at = Duration::from_secs_f64(step * i as f64);
        let (verdict, reason, label, scores, alarms) = match &row.values {
            Err(r) => ("abstain", Some(r.wire()), None, BTreeMap::new(), Vec::new()),
            Ok(v) => {
                let request = RequestOptions::new().at(at);
                let d = guard.infer(&a.client, &guard.row(v, &mut shape), &request);
                // One code per kind of alarm: several drifting streams are one `drift`.
                let mut alarms: Vec<&'static str> = d.alarms.iter().map(|x| x.code()).collect();
                alarms.dedup();
                match d.verdict {
                    Verdict::Accept { output } => {
                        let label = guard
                            .contract()
                            .labels
                            .get(output.class)
                            .map(String::as_str);
                        ("accept", None, label, d.scores, alarms)
                    }
                    Verdict::Abstain { reason } => {
                        ("abstain", Some(reason.wire()), None, d.scores, alarms)
                    }
                }
            }
        };
        if a.json {
            let j = RowJson {
                row: i,
                verdict,
                reason,
                label,
                scores,
                alarms,
            };
            writeln!(out, "{}", serde_json::to_string(&j)?)?;
        } else {
            writeln!(
                out,
                "row {i} (line {}): {verdict}{}{}{}",
                row.line,
                reason.map(|r| format!(" {r}")).unwrap_or_default(),
                label.map(|l| format!(" {l}")).unwrap_or_default(),
                if alarms.is_empty() {
                    String::new()
                } else {
                    format!(" ALARM {}", alarms.join(","))
                }
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

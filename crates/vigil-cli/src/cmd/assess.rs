//! `vigil assess`: robustness of a signed bundle under evasion attacks, bare and through its
//! guard.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use vigil_assess::{
    extraction, extraction_html, membership, membership_html, performance, performance_html,
    robustness, robustness_html, write_adversarial_csv, write_scores_csv, Attack, HsjParams,
    Labelled, NoiseKind, Norm, RobustnessOptions, Strategy, Target,
};

use crate::outcome::Outcome;

/// Assess a signed bundle before release: evasion attacks at stated budgets, bare and through
/// its guard.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Attack every row the model gets right (black-box evasion) and replay successes through
    /// the guard.
    ///
    /// Budgets are in units of each feature's population standard deviation over the
    /// calibration rows (`distance_scale` in the bundle's reference/guard.json). Every success
    /// is checked (float32 row inside the contract and the budget, and the bare model's class
    /// differs from the true label) before it is counted. See docs/assess.md.
    Robustness(RobustnessArgs),
    /// Membership inference (loss, confidence, calibrated) under each output policy the bundle
    /// could ship: the evidence for choosing one.
    ///
    /// Reports the attack AUC and the true-positive rate at 1% false-positive rate for the
    /// policies full (unrounded), rounded (the bundle's decimals), top1 and label.
    Membership(MembershipArgs),
    /// Accuracy, sensitivity, specificity and calibration error, overall and per subgroup, with
    /// 95% bootstrap confidence intervals.
    Performance(PerformanceArgs),
    /// Steal the model through the guard's answers: train a surrogate on them and report its
    /// agreement with the model, the first extraction alarm and the refused queries.
    ///
    /// One client, rate limits and query budget lifted, extraction monitor and the bundle's
    /// [alarm_response] in force. The last 30% of --data are held out (never queried) to
    /// measure agreement; the rest is the pool of the natural and jbda strategies.
    Extraction(ExtractionArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StrategyArg {
    Uniform,
    Natural,
    Jbda,
}

#[derive(Debug, clap::Args)]
struct ExtractionArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    /// Queries to send.
    #[arg(long, value_name = "N")]
    queries: usize,
    /// How queries are picked.
    #[arg(long, value_name = "STRATEGY", default_value = "natural")]
    strategy: StrategyArg,
    /// Rows (CSV with the contract's columns and `label`): the pool, and the held-out rows.
    #[arg(long, value_name = "POOL.csv")]
    data: PathBuf,
    /// Seed of the random draws.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Write a self-contained HTML report and the JSON beside it.
    #[arg(long, value_name = "REPORT.html")]
    html: Option<PathBuf>,
    /// Print one JSON object: {"strategy","queries","answered","refused","first_alarm",
    /// "heldout","agreement"}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AttackArg {
    Noise,
    Hopskipjump,
    Square,
    Boundary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NormArg {
    L2,
    Linf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NoiseArg {
    Uniform,
    Gaussian,
}

/// The bundle and its trust, shared by every verb.
#[derive(Debug, clap::Args)]
struct BundleArgs {
    /// The bundle directory.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    #[command(flatten)]
    trust: super::guard::TrustArgs,
}

impl BundleArgs {
    fn open(&self) -> anyhow::Result<Target> {
        Ok(Target::open(&self.bundle, &self.trust.trust()?)?)
    }
}

#[derive(Debug, clap::Args)]
struct RobustnessArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    /// Labelled rows (CSV: the contract's feature columns and `label`, a class index or name).
    #[arg(long, value_name = "DATA.csv")]
    data: PathBuf,
    /// Attacks to run, in this order [default: noise, hopskipjump, square, boundary].
    #[arg(long = "attack", value_name = "ATTACK")]
    attacks: Vec<AttackArg>,
    /// The norm of the budgets.
    #[arg(long, value_name = "NORM", default_value = "linf")]
    norm: NormArg,
    /// Budgets in standard deviations of the features, in this order [default: 0.25, 0.5, 1].
    #[arg(long = "budget", value_name = "EPS")]
    budgets: Vec<f64>,
    /// Queries per row (per attack, and per budget for noise and square).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_queries: u64,
    /// Assess only the first N rows of --data.
    #[arg(long, value_name = "N")]
    rows: Option<usize>,
    /// Also break the results down by this column of --data: the JSON then has a
    /// "subgroups" list [{"subgroup","rows","clean_accuracy","attacks":[{"attack","budget",
    /// "accuracy_under_attack","success_rate"}]}].
    #[arg(long, value_name = "COL")]
    subgroup: Option<String>,
    /// Seed of every random draw: the same seed gives the same numbers.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Let queries leave the contract's physical ranges (a box 3 standard deviations around the
    /// data instead); the guard then refuses such rows.
    #[arg(long)]
    ignore_contract: bool,
    /// Attack the guarded device: the attacker sees the guard's answers (scores under its
    /// output policy) and an abstention is a failed query; HopSkipJump and boundary start from
    /// the nearest rows of --data of another class.
    #[arg(long)]
    adaptive: bool,
    /// The noise attack's distribution.
    #[arg(long, value_name = "KIND", default_value = "uniform")]
    noise: NoiseArg,
    /// HopSkipJump: iterations (ART max_iter).
    #[arg(long, value_name = "N", default_value_t = 50)]
    hsj_max_iter: usize,
    /// HopSkipJump: most samples of one gradient estimate (ART max_eval).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    hsj_max_eval: usize,
    /// HopSkipJump: samples of the first gradient estimate (ART init_eval).
    #[arg(long, value_name = "N", default_value_t = 100)]
    hsj_init_eval: usize,
    /// HopSkipJump and boundary: random draws tried for a first adversarial point (ART
    /// init_size).
    #[arg(long, value_name = "N", default_value_t = 100)]
    hsj_init_size: usize,
    /// Square Attack: initial share of the features changed at once (ART p_init).
    #[arg(long, value_name = "P", default_value_t = 0.8)]
    square_p_init: f64,
    /// Square Attack: iterations, which set the schedule of its window sizes (ART max_iter)
    /// [default: --max-queries].
    #[arg(long, value_name = "N")]
    square_max_iter: Option<usize>,
    /// Write every successful adversarial row to this CSV: the contract's columns, `label`
    /// (the original row's true class), `row` (0-based index into --data), `attack`, `norm`,
    /// `budget`.
    #[arg(long, value_name = "OUT.csv")]
    emit_adversarial: Option<PathBuf>,
    /// Write a self-contained HTML report (accuracy against budget per attack, bare and
    /// through the guard) and the JSON beside it.
    #[arg(long, value_name = "REPORT.html")]
    html: Option<PathBuf>,
    /// Print one JSON object: {"clean_accuracy","rows","attacks":[{"attack","norm","budget",
    /// "accuracy_under_attack","success_rate","median_perturbation","median_queries",
    /// "guard":{"abstained","success_rate_through_guard"}}]}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct MembershipArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    /// Rows the model was trained on (CSV with the contract's columns and `label`).
    #[arg(long, value_name = "TRAIN.csv")]
    members: PathBuf,
    /// Rows it never saw.
    #[arg(long, value_name = "HOLDOUT.csv")]
    nonmembers: PathBuf,
    /// Seed of the calibrated attack's neighbours.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Write every row's score per policy and attack: row,member,policy,attack,score.
    #[arg(long, value_name = "OUT.csv")]
    emit_scores: Option<PathBuf>,
    /// Write a self-contained HTML report (ROC curves per output policy) and the JSON beside it.
    #[arg(long, value_name = "REPORT.html")]
    html: Option<PathBuf>,
    /// Print one JSON object: {"members","nonmembers","policies":[{"policy","attacks":
    /// [{"attack","auc","tpr_at_1pct_fpr"}]}]}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct PerformanceArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    /// Labelled rows (CSV with the contract's columns and `label`).
    #[arg(long, value_name = "DATA.csv")]
    data: PathBuf,
    /// A column of --data whose values define the subgroups.
    #[arg(long, value_name = "COL")]
    subgroup: Option<String>,
    /// The positive class for sensitivity and specificity (label or index) [default: the
    /// contract's first label].
    #[arg(long, value_name = "LABEL")]
    positive: Option<String>,
    /// Bootstrap resamples per interval.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the resampling.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Write a self-contained HTML report and the JSON beside it.
    #[arg(long, value_name = "REPORT.html")]
    html: Option<PathBuf>,
    /// Print one JSON object: {"rows","positive","bootstrap","seed","groups":[{"subgroup",
    /// "rows","accuracy","sensitivity","specificity","calibration_error"}]}, each statistic
    /// {"value","ci":[lo,hi]}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Robustness(a) => run_robustness(a),
        Verb::Membership(a) => run_membership(a),
        Verb::Performance(a) => run_performance(a),
        Verb::Extraction(a) => run_extraction(a),
    }
}

fn run_extraction(a: ExtractionArgs) -> anyhow::Result<Outcome> {
    let target = a.bundle.open()?;
    let all = Labelled::read(&a.data, target.contract(), None)?;
    let cut = all.len() - all.len() * 3 / 10;
    let mut pool = all.clone();
    pool.truncate(cut);
    let heldout = Labelled {
        rows: all.rows.get(cut..).unwrap_or_default().to_vec(),
        labels: all.labels.get(cut..).unwrap_or_default().to_vec(),
        ..all
    };
    let strategy = match a.strategy {
        StrategyArg::Uniform => Strategy::Uniform,
        StrategyArg::Natural => Strategy::Natural,
        StrategyArg::Jbda => Strategy::Jbda,
    };
    let r = extraction(&target, &pool, &heldout, a.queries, strategy, a.seed)?;
    emit(
        &r,
        a.html.as_deref(),
        || extraction_html(&r),
        a.json,
        |out| {
            writeln!(
                out,
                "{} queries ({}): {} answered, {} refused; first extraction alarm: {}",
                r.queries,
                r.strategy,
                r.answered,
                r.refused,
                r.first_alarm
                    .map_or("never".to_string(), |q| format!("at query {q}"))
            )?;
            writeln!(
                out,
                "surrogate agrees with the model on {} of {} held-out rows",
                r.agreement
                    .map_or("-".to_string(), |x| format!("{:.1}%", 100.0 * x)),
                r.heldout
            )?;
            Ok(())
        },
    )?;
    Ok(Outcome::Ok)
}

fn run_membership(a: MembershipArgs) -> anyhow::Result<Outcome> {
    let target = a.bundle.open()?;
    let members = Labelled::read(&a.members, target.contract(), None)?;
    let nonmembers = Labelled::read(&a.nonmembers, target.contract(), None)?;
    let result = membership(&target, &members, &nonmembers, a.seed)?;
    if let Some(path) = &a.emit_scores {
        let mut buf = Vec::new();
        write_scores_csv(&mut buf, &result)?;
        std::fs::write(path, buf).with_context(|| path.display().to_string())?;
    }
    let r = &result.report;
    emit(
        r,
        a.html.as_deref(),
        || membership_html(&result),
        a.json,
        |out| {
            writeln!(
                out,
                "{} members, {} non-members (AUC 0.5: the attack learns nothing)",
                r.members, r.nonmembers
            )?;
            writeln!(
                out,
                "{:<8} {:<11} {:>7} {:>15}",
                "policy", "attack", "AUC", "TPR at 1% FPR"
            )?;
            for p in &r.policies {
                for x in &p.attacks {
                    writeln!(
                        out,
                        "{:<8} {:<11} {:>7.4} {:>15.4}",
                        p.policy, x.attack, x.auc, x.tpr_at_1pct_fpr
                    )?;
                }
            }
            Ok(())
        },
    )?;
    Ok(Outcome::Ok)
}

fn run_performance(a: PerformanceArgs) -> anyhow::Result<Outcome> {
    let target = a.bundle.open()?;
    let data = Labelled::read(&a.data, target.contract(), a.subgroup.as_deref())?;
    let labels = &target.contract().labels;
    let positive = match &a.positive {
        None => 0,
        Some(p) => labels
            .iter()
            .position(|l| l == p)
            .or_else(|| p.parse::<usize>().ok().filter(|i| *i < labels.len()))
            .with_context(|| format!("--positive {p:?}: not one of the labels {labels:?}"))?,
    };
    let r = performance(&target, &data, positive, a.bootstrap, a.seed)?;
    emit(
        &r,
        a.html.as_deref(),
        || performance_html(&r),
        a.json,
        |out| {
            writeln!(
                out,
                "{} rows, positive class {:?}, 95% bootstrap intervals ({} resamples, seed {})",
                r.rows, r.positive, r.bootstrap, r.seed
            )?;
            let show = |e: &vigil_assess::Estimate| match (e.value, e.ci) {
                (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
                (Some(v), None) => format!("{v:.3}"),
                _ => "-".to_string(),
            };
            writeln!(
                out,
                "{:<16} {:>6} {:>22} {:>22} {:>22} {:>22}",
                "subgroup", "rows", "accuracy", "sensitivity", "specificity", "calibration error"
            )?;
            for g in &r.groups {
                writeln!(
                    out,
                    "{:<16} {:>6} {:>22} {:>22} {:>22} {:>22}",
                    g.subgroup,
                    g.rows,
                    show(&g.accuracy),
                    show(&g.sensitivity),
                    show(&g.specificity),
                    show(&g.calibration_error)
                )?;
            }
            Ok(())
        },
    )?;
    Ok(Outcome::Ok)
}

/// Writes a report: with `html`, the page `page` makes and the report's JSON beside it
/// (REPORT.json); then on standard output the JSON with `--json`, else what `text` writes.
fn emit<R: serde::Serialize>(
    report: &R,
    html: Option<&Path>,
    page: impl FnOnce() -> String,
    json: bool,
    text: impl FnOnce(&mut std::io::StdoutLock<'static>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if html.is_none() && !json {
        return text(&mut out);
    }
    let body = serde_json::to_string(report)?;
    if let Some(path) = html {
        std::fs::write(path, page()).with_context(|| path.display().to_string())?;
        let beside = path.with_extension("json");
        std::fs::write(&beside, format!("{body}\n"))
            .with_context(|| beside.display().to_string())?;
    }
    if json {
        writeln!(out, "{body}")?;
        Ok(())
    } else {
        text(&mut out)
    }
}

fn run_robustness(a: RobustnessArgs) -> anyhow::Result<Outcome> {
    let target = a.bundle.open()?;
    let mut data = Labelled::read(&a.data, target.contract(), a.subgroup.as_deref())?;
    if let Some(n) = a.rows {
        data.truncate(n);
    }
    let attacks = if a.attacks.is_empty() {
        Attack::ALL.to_vec()
    } else {
        a.attacks
            .iter()
            .map(|x| match x {
                AttackArg::Noise => Attack::Noise,
                AttackArg::Hopskipjump => Attack::HopSkipJump,
                AttackArg::Square => Attack::Square,
                AttackArg::Boundary => Attack::Boundary,
            })
            .collect()
    };
    let options = RobustnessOptions {
        attacks,
        norm: match a.norm {
            NormArg::L2 => Norm::L2,
            NormArg::Linf => Norm::Linf,
        },
        budgets: if a.budgets.is_empty() {
            RobustnessOptions::default().budgets
        } else {
            a.budgets.clone()
        },
        max_queries: a.max_queries,
        seed: a.seed,
        respect_contract: !a.ignore_contract,
        adaptive: a.adaptive,
        noise: match a.noise {
            NoiseArg::Uniform => NoiseKind::Uniform,
            NoiseArg::Gaussian => NoiseKind::Gaussian,
        },
        hsj: HsjParams {
            max_iter: a.hsj_max_iter,
            max_eval: a.hsj_max_eval,
            init_eval: a.hsj_init_eval,
            init_size: a.hsj_init_size,
        },
        square_p_init: a.square_p_init,
        square_max_iter: a.square_max_iter,
    };
    let total = (data.len() * options.attacks.len()) as u64;
    let bar = crate::progress::count("attacking rows", total);
    let result = robustness(&target, &data, &options, &|_| bar.inc(1))?;
    bar.finish();
    if let Some(path) = &a.emit_adversarial {
        write_csv(path, &target, &result.adversarial)?;
    }
    let r = &result.report;
    emit(
        r,
        a.html.as_deref(),
        || robustness_html(r, options.adaptive),
        a.json,
        |out| {
            writeln!(
                out,
                "{} rows, clean accuracy {:.4}; budgets in standard deviations ({}){}",
                r.rows,
                r.clean_accuracy,
                options.norm.name(),
                if options.adaptive {
                    "; adaptive: the attacker queries the guard"
                } else {
                    ""
                }
            )?;
            writeln!(
                out,
                "{:<12} {:>8} {:>9} {:>8} {:>9} {:>8} {:>9} {:>9}",
                "attack",
                "budget",
                "accuracy",
                "success",
                "median",
                "queries",
                "abstained",
                "through"
            )?;
            let show = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
            for x in &r.attacks {
                writeln!(
                    out,
                    "{:<12} {:>8} {:>9.4} {:>8.4} {:>9} {:>8} {:>9} {:>9}",
                    x.attack,
                    x.budget,
                    x.accuracy_under_attack,
                    x.success_rate,
                    show(x.median_perturbation),
                    x.median_queries.map_or("-".to_string(), |q| q.to_string()),
                    show(x.guard.abstained),
                    show(x.guard.success_rate_through_guard)
                )?;
            }
            for g in r.subgroups.iter().flatten() {
                writeln!(
                    out,
                    "subgroup {:?}: {} rows, clean accuracy {:.4}",
                    g.subgroup, g.rows, g.clean_accuracy
                )?;
                for x in &g.attacks {
                    writeln!(
                        out,
                        "  {:<12} {:>8} {:>9.4} {:>8.4}",
                        x.attack, x.budget, x.accuracy_under_attack, x.success_rate
                    )?;
                }
            }
            Ok(())
        },
    )?;
    Ok(Outcome::Ok)
}

fn write_csv(
    path: &Path,
    target: &Target,
    rows: &[vigil_assess::AdversarialRow],
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    write_adversarial_csv(&mut buf, target.contract(), rows)?;
    std::fs::write(path, buf).with_context(|| path.display().to_string())?;
    Ok(())
}

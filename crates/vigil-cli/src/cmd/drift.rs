//! `vigil drift`: compare current data with a reference and report distribution drift.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};
use vigil_drift::{
    compare, Column, CompareOptions, Correction, DriftReport, KsMethod, MmdOptions, ReferenceStats,
    Schema, StreamKind, Table, TestKind, TestSelection,
};

use vigil_report::{number, Binned, DriftFigure, DriftPage, DriftRow};

use crate::outcome::Outcome;

/// Detect distribution drift between a reference data set and current data.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Run two-sample tests per column of two CSV files; exit 1 when drift is found, 0 when not,
    /// 2 on usage or input errors.
    Test(TestArgs),
    /// Drift (and, with --label and --prediction, performance) per subgroup such as sex, age band
    /// or site, to surface model bias; exit 1 when any subgroup drifted.
    Subgroups(SubgroupArgs),
    /// Build the reference statistics the on-device monitors use (`DIR/drift.json`, normally a
    /// bundle's `reference/` folder) from a CSV of reference data.
    Reference(ReferenceArgs),
}

#[derive(Debug, clap::Args)]
struct SubgroupArgs {
    /// Reference data: CSV with a header row.
    #[arg(long, value_name = "REF.csv")]
    reference: PathBuf,
    /// Current data: CSV with the same columns.
    #[arg(long, value_name = "CUR.csv")]
    current: PathBuf,
    /// The column that declares the subgroup (treated as categorical, not tested itself).
    #[arg(long, value_name = "COL")]
    by: String,
    /// Columns holding categories (all others must be numeric), comma-separated.
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    categorical: Vec<String>,
    /// Test to run in each subgroup.
    #[arg(long, value_enum, default_value = "all")]
    test: TestArg,
    /// Correction of p-values across the results of each subgroup.
    #[arg(long, value_enum, default_value = "none")]
    correction: CorrectionArg,
    /// Significance level for the drift flags.
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// Permutations of the MMD test.
    #[arg(long, value_name = "N", default_value_t = 100)]
    permutations: usize,
    /// Seed of the MMD permutations.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Column with the true label (excluded from drift tests; with --prediction, gives
    /// performance per subgroup).
    #[arg(long, value_name = "COL", requires = "prediction")]
    label: Option<String>,
    /// Column with the model's prediction (excluded from drift tests).
    #[arg(long, value_name = "COL", requires = "label")]
    prediction: Option<String>,
    /// Label value counted as positive for sensitivity and specificity.
    #[arg(long, value_name = "VALUE", default_value = "1")]
    positive: String,
    /// Print one JSON object: {"groups":[{"group","reference_rows","current_rows","results":[...],
    /// "drift"} or {..., "error"}], "performance":[{"data","group","n","accuracy","sensitivity",
    /// "specificity"}], "drift":bool}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ReferenceArgs {
    /// Reference data: CSV with a header row; every numeric column becomes a monitored stream.
    #[arg(long, value_name = "DATA.csv")]
    data: PathBuf,
    /// Folder to write drift.json into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Columns holding categories, which are not monitored, comma-separated.
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    categorical: Vec<String>,
    /// Numeric columns holding model outputs (scores), comma-separated.
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    outputs: Vec<String>,
    /// Numeric column holding the model's confidence.
    #[arg(long, value_name = "COL")]
    confidence: Option<String>,
    /// Largest reference sample kept per stream (an evenly spaced subsample of the sorted data).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_sample: usize,
    /// Print one JSON object: {"path": str, "streams": [{"name": str, "kind": str, "n": int}]}.
    #[arg(long)]
    json: bool,
}

/// Which test `--test` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TestArg {
    /// Kolmogorov-Smirnov per numeric column (scipy.stats.ks_2samp).
    Ks,
    /// Cramér-von Mises per numeric column (scipy.stats.cramervonmises_2samp).
    Cvm,
    /// Chi-squared per categorical column (scipy.stats.chi2_contingency).
    Chi2,
    /// Fisher's exact test per categorical column with two values (scipy.stats.fisher_exact).
    Fisher,
    /// MMD over all numeric columns jointly (Alibi Detect's MMDDrift), feature "*".
    Mmd,
    /// Every test that applies.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KsMethodArg {
    /// Exact when both samples have at most 10000 values, asymptotic otherwise.
    Auto,
    /// Exact distribution (falls back to asymptotic when impossible, as scipy).
    Exact,
    /// Asymptotic distribution.
    Asymp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CorrectionArg {
    /// Raw p-values.
    None,
    /// Bonferroni across all results.
    Bonferroni,
    /// Benjamini-Hochberg false discovery rate across all results.
    Fdr,
}

#[derive(Debug, clap::Args)]
struct TestArgs {
    /// Reference data: CSV with a header row.
    #[arg(long, value_name = "REF.csv")]
    reference: PathBuf,
    /// Current data: CSV with the same columns.
    #[arg(long, value_name = "CUR.csv")]
    current: PathBuf,
    /// Columns holding categories (all others must be numeric), comma-separated.
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    categorical: Vec<String>,
    /// Test to run.
    #[arg(long, value_enum, default_value = "all")]
    test: TestArg,
    /// How the Kolmogorov-Smirnov p-value is computed.
    #[arg(long, value_enum, default_value = "auto")]
    ks_method: KsMethodArg,
    /// Correction of p-values across all results before flagging drift.
    #[arg(long, value_enum, default_value = "none")]
    correction: CorrectionArg,
    /// Significance level for the drift flags.
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    alpha: f64,
    /// Permutations of the MMD test.
    #[arg(long, value_name = "N", default_value_t = 100)]
    permutations: usize,
    /// Seed of the MMD permutations (the same seed gives the same p-value).
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Print one JSON object: {"results":[{"feature","test","statistic","p_value",["p_adjusted",]
    /// "drift"}...],"drift":bool}; non-finite numbers as "inf", "-inf", "nan".
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report with one plot per drifted feature.
    #[arg(long, value_name = "REPORT.html")]
    html: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Test(t) => run_test(t),
        Verb::Reference(r) => run_reference(r),
        Verb::Subgroups(g) => run_subgroups(g),
    }
}

fn selection(test: TestArg) -> TestSelection {
    match test {
        TestArg::Ks => TestSelection::One(TestKind::Ks),
        TestArg::Cvm => TestSelection::One(TestKind::Cvm),
        TestArg::Chi2 => TestSelection::One(TestKind::Chi2),
        TestArg::Fisher => TestSelection::One(TestKind::Fisher),
        TestArg::Mmd => TestSelection::One(TestKind::Mmd),
        TestArg::All => TestSelection::All,
    }
}

fn correction(c: CorrectionArg) -> Correction {
    match c {
        CorrectionArg::None => Correction::None,
        CorrectionArg::Bonferroni => Correction::Bonferroni,
        CorrectionArg::Fdr => Correction::Fdr,
    }
}

fn run_subgroups(args: SubgroupArgs) -> anyhow::Result<Outcome> {
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        anyhow::bail!("--alpha {}: must be strictly between 0 and 1", args.alpha);
    }
    if args.permutations == 0 {
        anyhow::bail!("--permutations 0: need at least one permutation");
    }
    let mut categorical: Vec<String> = args
        .categorical
        .iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    categorical.extend(
        std::iter::once(&args.by)
            .chain(&args.label)
            .chain(&args.prediction)
            .cloned(),
    );
    categorical.sort();
    categorical.dedup();
    let schema = Schema::all().text(categorical.iter().cloned());
    let reference = Table::read_path(&args.reference, &schema)?;
    let current = Table::read_path(&args.current, &schema)?;
    let options = CompareOptions {
        tests: selection(args.test),
        ks_method: KsMethod::Auto,
        correction: correction(args.correction),
        alpha: args.alpha,
        mmd: MmdOptions {
            permutations: args.permutations,
            seed: args.seed,
            ..MmdOptions::default()
        },
    };
    let mut performance = Vec::new();
    if let (Some(l), Some(p)) = (&args.label, &args.prediction) {
        for (data, table, path) in [
            ("reference", &reference, &args.reference),
            ("current", &current, &args.current),
        ] {
            let text = |name: &str| -> anyhow::Result<Vec<String>> {
                match table.column(name) {
                    Some(Column::Categorical(v)) => Ok(v.clone()),
                    _ => anyhow::bail!("{}: no column named {name:?}", path.display()),
                }
            };
            let rows = vigil_drift::performance_by_subgroup(
                &text(l)?,
                &text(p)?,
                &text(&args.by)?,
                &args.positive,
            )?;
            performance.extend(rows.into_iter().map(|r| (data, r)));
        }
    }
    let drop = |t: &Table| {
        let mut t = t.clone();
        let keep: Vec<bool> = t
            .names
            .iter()
            .map(|n| Some(n) != args.label.as_ref() && Some(n) != args.prediction.as_ref())
            .collect();
        let mut k = keep.iter();
        t.names.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        t.columns.retain(|_| *k.next().unwrap_or(&true));
        t
    };
    let groups =
        vigil_drift::compare_subgroups(&drop(&reference), &drop(&current), &args.by, &options)
            .context("subgroup drift")?;
    let drift = groups
        .iter()
        .any(|g| g.report.as_ref().is_ok_and(|r| r.drift));
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| {
                let mut o = serde_json::Map::new();
                o.insert("group".into(), json!(g.group));
                o.insert("reference_rows".into(), json!(g.reference_rows));
                o.insert("current_rows".into(), json!(g.current_rows));
                match &g.report {
                    Ok(r) => {
                        let doc = json_report(r);
                        o.insert("results".into(), doc["results"].clone());
                        o.insert("drift".into(), json!(r.drift));
                    }
                    Err(e) => {
                        o.insert("error".into(), json!(e));
                    }
                }
                Value::Object(o)
            })
            .collect();
        let perf: Vec<Value> = performance
            .iter()
            .map(|(data, r)| {
                json!({"data": data, "group": r.group, "n": r.n, "accuracy": json_number(r.accuracy),
                       "sensitivity": json_number(r.sensitivity), "specificity": json_number(r.specificity)})
            })
            .collect();
        serde_json::to_writer(
            &mut out,
            &json!({"groups": list, "performance": perf, "drift": drift}),
        )?;
        writeln!(out)?;
    } else {
        for g in &groups {
            writeln!(
                out,
                "== {} = {} ({} reference rows, {} current rows)",
                args.by, g.group, g.reference_rows, g.current_rows
            )?;
            match &g.report {
                Ok(r) => write!(
                    out,
                    "{}",
                    text_report(r, options.correction != Correction::None)
                )?,
                Err(e) => writeln!(out, "not tested: {e}")?,
            }
        }
        if !performance.is_empty() {
            writeln!(
                out,
                "== performance ({} = {:?} positive)",
                args.label.as_deref().unwrap_or(""),
                args.positive
            )?;
            writeln!(
                out,
                "{:<10}  {:<12}  {:>8}  {:>9}  {:>11}  {:>11}",
                "data", "group", "n", "accuracy", "sensitivity", "specificity"
            )?;
            for (data, r) in &performance {
                writeln!(
                    out,
                    "{:<10}  {:<12}  {:>8}  {:>9}  {:>11}  {:>11}",
                    data,
                    r.group,
                    r.n,
                    number(r.accuracy),
                    number(r.sensitivity),
                    number(r.specificity)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if drift { Outcome::Failed } else { Outcome::Ok })
}

fn run_reference(args: ReferenceArgs) -> anyhow::Result<Outcome> {
    if args.max_sample < 2 {
        anyhow::bail!("--max-sample {}: need at least 2", args.max_sample);
    }
    let categorical: Vec<String> = args
        .categorical
        .iter()
        .map(|c| c.trim().to_owned())
        .collect();
    let table = Table::read_path(&args.data, &Schema::all().text(categorical.iter().cloned()))?;
    for name in args.outputs.iter().chain(&args.confidence) {
        match table.column(name) {
            Some(Column::Numeric(_)) => {}
            Some(Column::Categorical(_)) => {
                anyhow::bail!(
                    "{}: column {name:?} is categorical, not a number",
                    args.data.display()
                )
            }
            None => anyhow::bail!("{}: no column named {name:?}", args.data.display()),
        }
    }
    let mut streams = Vec::new();
    for (name, col) in table.names.iter().zip(&table.columns) {
        if let Column::Numeric(_) = col {
            let kind = if args.outputs.contains(name) {
                StreamKind::Output
            } else if args.confidence.as_ref() == Some(name) {
                StreamKind::Confidence
            } else {
                StreamKind::Feature
            };
            streams.push((name.as_str(), kind, col.present()));
        }
    }
    if streams.is_empty() {
        anyhow::bail!("{}: no numeric column to monitor", args.data.display());
    }
    let refs: Vec<(&str, StreamKind, &[f64])> = streams
        .iter()
        .map(|(n, k, v)| (*n, *k, v.as_slice()))
        .collect();
    let stats = ReferenceStats::build(&refs, args.max_sample)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the folder", args.out.display()))?;
    stats.save(&args.out)?;
    let path = args.out.join(vigil_drift::REFERENCE_FILE);
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<Value> = streams
            .iter()
            .map(|(n, k, v)| json!({"name": n, "kind": k, "n": v.len()}))
            .collect();
        serde_json::to_writer(
            &mut out,
            &json!({"path": path.display().to_string(), "streams": list}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(out, "wrote {} ({} streams)", path.display(), streams.len())?;
    }
    Ok(Outcome::Ok)
}

fn run_test(args: TestArgs) -> anyhow::Result<Outcome> {
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        anyhow::bail!("--alpha {}: must be strictly between 0 and 1", args.alpha);
    }
    if args.permutations == 0 {
        anyhow::bail!("--permutations 0: need at least one permutation");
    }
    let categorical: Vec<String> = args
        .categorical
        .iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let schema = Schema::all().text(categorical.iter().cloned());
    let reference = Table::read_path(&args.reference, &schema)?;
    let current = Table::read_path(&args.current, &schema)?;
    for name in &reference.names {
        if current.column(name).is_none() {
            anyhow::bail!(
                "{}: no column named {name:?} (present in {})",
                args.current.display(),
                args.reference.display()
            );
        }
    }
    for name in &current.names {
        if reference.column(name).is_none() {
            anyhow::bail!(
                "{}: no column named {name:?} (present in {})",
                args.reference.display(),
                args.current.display()
            );
        }
    }
    let options = CompareOptions {
        tests: selection(args.test),
        ks_method: match args.ks_method {
            KsMethodArg::Auto => KsMethod::Auto,
            KsMethodArg::Exact => KsMethod::Exact,
            KsMethodArg::Asymp => KsMethod::Asymp,
        },
        correction: correction(args.correction),
        alpha: args.alpha,
        mmd: MmdOptions {
            permutations: args.permutations,
            seed: args.seed,
            ..MmdOptions::default()
        },
    };
    let spinner = spinner(format!(
        "testing {} columns of {} and {} rows",
        reference.names.len(),
        reference.rows(),
        current.rows()
    ));
    let report = compare(&reference, &current, &options).context("drift test");
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let report = report?;
    if let Some(path) = &args.html {
        let html = vigil_report::drift_html(&page(&report, &reference, &current, &args));
        vigil_core::write_atomic(path, html.as_bytes()).context("cannot write the report")?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &json_report(&report))?;
        writeln!(out)?;
    } else {
        write!(
            out,
            "{}",
            text_report(&report, options.correction != Correction::None)
        )?;
    }
    out.flush()?;
    Ok(if report.drift {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

/// A spinner on standard error when it is a terminal (the tests can take seconds on large
/// files); `None` otherwise, so pipes and logs stay clean.
fn spinner(message: String) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// A float as JSON: a number when finite, else the string "inf", "-inf" or "nan".
fn json_number(x: f64) -> Value {
    if x.is_nan() {
        json!("nan")
    } else if x == f64::INFINITY {
        json!("inf")
    } else if x == f64::NEG_INFINITY {
        json!("-inf")
    } else {
        json!(x)
    }
}

/// The `--json` document (see the `--json` help for its schema).
fn json_report(report: &DriftReport) -> Value {
    let results: Vec<Value> = report
        .results
        .iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            o.insert("feature".into(), json!(r.feature));
            o.insert("test".into(), json!(r.test.name()));
            o.insert("statistic".into(), json_number(r.statistic));
            o.insert("p_value".into(), json_number(r.p_value));
            if let Some(p) = r.p_adjusted {
                o.insert("p_adjusted".into(), json_number(p));
            }
            o.insert("drift".into(), json!(r.drift));
            Value::Object(o)
        })
        .collect();
    json!({"results": results, "drift": report.drift})
}

fn text_report(report: &DriftReport, adjusted: bool) -> String {
    let width = report
        .results
        .iter()
        .map(|r| r.feature.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut s = String::new();
    let _ = write!(
        s,
        "{:<width$}  {:<6}  {:>12}  {:>12}",
        "feature", "test", "statistic", "p-value"
    );
    if adjusted {
        let _ = write!(s, "  {:>12}", "p-adjusted");
    }
    let _ = writeln!(s, "  drift");
    for r in &report.results {
        let _ = write!(
            s,
            "{:<width$}  {:<6}  {:>12}  {:>12}",
            r.feature,
            r.test.name(),
            number(r.statistic),
            number(r.p_value)
        );
        if adjusted {
            let _ = write!(s, "  {:>12}", number(r.p_adjusted.unwrap_or(f64::NAN)));
        }
        let _ = writeln!(s, "  {}", if r.drift { "DRIFT" } else { "-" });
    }
    let n = report.results.iter().filter(|r| r.drift).count();
    let _ = writeln!(
        s,
        "{}",
        if report.drift {
            format!("drift found in {n} of {} results", report.results.len())
        } else {
            format!("no drift in {} results", report.results.len())
        }
    );
    s
}

/// What the HTML report shows: the results, and for each drifted feature its reference and
/// current distributions (histograms on 30 shared bins for numbers, shares of each category).
fn page(report: &DriftReport, reference: &Table, current: &Table, args: &TestArgs) -> DriftPage {
    let results = report
        .results
        .iter()
        .map(|r| DriftRow {
            feature: r.feature.clone(),
            test: r.test.name().to_owned(),
            statistic: r.statistic,
            p_value: r.p_value,
            p_adjusted: r.p_adjusted,
            drift: r.drift,
        })
        .collect();
    let mut drifted: Vec<&str> = report
        .results
        .iter()
        .filter(|r| r.drift && r.feature != "*")
        .map(|r| r.feature.as_str())
        .collect();
    drifted.dedup();
    let figures = drifted
        .into_iter()
        .filter_map(|name| {
            let binned = match (reference.column(name)?, current.column(name)?) {
                (r @ Column::Numeric(_), c @ Column::Numeric(_)) => {
                    Binned::histograms(&r.present(), &c.present(), 30)
                }
                (Column::Categorical(rv), Column::Categorical(cv)) => {
                    let counts = vigil_drift::CategoryCounts::from_samples(rv, cv);
                    Binned::proportions(&counts.categories, &counts.reference, &counts.current)
                }
                _ => return None,
            };
            Some(DriftFigure {
                feature: name.to_owned(),
                binned,
            })
        })
        .collect();
    DriftPage {
        reference: args.reference.display().to_string(),
        current: args.current.display().to_string(),
        alpha: args.alpha,
        drift: report.drift,
        results,
        joint_drift: report
            .results
            .iter()
            .any(|r| r.drift && r.test == TestKind::Mmd),
        figures,
    }
}

//! Screening a labelled CSV data set for poisoning before it reaches training: label issues by
//! confident learning ([`confident`]), outliers per class ([`outliers`]), and per-subgroup
//! counts and label rates.
//!
//! Predicted probabilities come from a file (`--pred-probs`: out-of-fold probabilities as
//! cleanlab takes them, a header naming the classes as spelled in the label column, matched
//! by name, then one row per data row) or are computed by 5-fold cross-validated logistic
//! regression on the numeric columns ([`crossval`]).

pub mod backdoor;
pub mod confident;
pub mod crossval;
mod npsort;
pub mod outliers;
#[cfg(feature = "backdoor")]
pub mod representation;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use vigil_table::{Column, Kind, Records, Schema, Table};

use crate::error::DataError;
use confident::Probabilities;

/// What to screen and how.
#[derive(Debug, Clone, Default)]
pub struct ScreenOptions {
    /// The label column.
    pub label: String,
    /// Subgroup columns (counted, not used as features).
    pub subgroups: Vec<String>,
    /// Columns that are neither features nor label (ids, dates...).
    pub exclude: Vec<String>,
    /// Out-of-fold predicted probabilities; computed by cross-validation when absent.
    pub pred_probs: Option<PathBuf>,
    /// Look for outliers per class.
    pub outliers: bool,
    /// An ONNX model whose internal representation the backdoor screen reads.
    pub model: Option<PathBuf>,
    /// The graph output holding the representation (with `model`).
    pub representation: Option<String>,
    /// Expected poisoned fraction of a class: spectral suspects are the `ceil(1.5 eps n)` top
    /// scores per class and as many from the skewed end (see [`backdoor`]).
    pub poison_fraction: Option<f64>,
}

/// A row whose label looks wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelIssue {
    /// 0-based data row.
    pub row: usize,
    /// The label given.
    pub given: String,
    /// The class the probabilities favour.
    pub suggested: String,
    /// Self-confidence: the probability of the given label (lower is more suspicious).
    pub score: f64,
}

/// A row far from the rest of its class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlier {
    /// 0-based data row.
    pub row: usize,
    /// Its label.
    pub class: String,
    /// Squared robust distance over the chi-squared 0.999 cut (above 1; higher is further).
    pub score: f64,
}

/// A row whose representation looks planted (backdoor screening).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackdoorSuspect {
    /// 0-based data row.
    pub row: usize,
    /// Its label.
    pub class: String,
    /// Spectral signature score over its class's median (comparable across classes).
    pub score: f64,
    /// Also in a small activation cluster (the second opinion).
    pub clustered: bool,
}

/// Counts of one subgroup value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subgroup {
    /// Rows with the value.
    pub count: usize,
    /// Rows per label.
    pub labels: BTreeMap<String, usize>,
    /// Share of each label among the value's rows.
    pub label_rates: BTreeMap<String, f64>,
    /// Label issues among the value's rows.
    pub label_issues: usize,
}

/// Totals of a screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Data rows.
    pub rows: usize,
    /// Classes, in probability-column order.
    pub classes: Vec<String>,
    /// Rows per class.
    pub class_counts: BTreeMap<String, usize>,
    /// `"given"` or `"logistic regression, 5-fold cross-validation"`.
    pub probabilities: String,
    /// Feature columns used (for cross-validation and outliers).
    pub features: Vec<String>,
    /// Label issues found.
    pub label_issues: usize,
    /// Label issues by `"given -> suggested"`.
    pub label_issue_pairs: BTreeMap<String, usize>,
    /// Outliers found.
    pub outliers: usize,
    /// Classes too small for the outlier screen.
    pub outliers_skipped: Vec<String>,
    /// The most outliers clean data give by chance: each row of a screened class passes the
    /// chi-squared 0.999 cut with probability 0.001, and this is the 0.999 quantile of the
    /// Poisson count over the rows screened. Outliers count as a finding
    /// ([`Report::found`]) only beyond it.
    pub outliers_by_chance: usize,
    /// Backdoor suspects found.
    pub backdoor_suspects: usize,
    /// Per subgroup column, per value.
    pub subgroups: BTreeMap<String, BTreeMap<String, Subgroup>>,
}

/// The result of a screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Label issues, most suspicious first.
    pub label_issues: Vec<LabelIssue>,
    /// Outliers, furthest first.
    pub outliers: Vec<Outlier>,
    /// Backdoor suspects, most suspicious first.
    pub backdoor_suspects: Vec<BackdoorSuspect>,
    /// Totals.
    pub summary: Summary,
}

impl Report {
    /// True when the screen found anything: a label issue, a backdoor suspect, or more
    /// outliers than clean data give by chance ([`Summary::outliers_by_chance`]); the outliers
    /// are listed either way.
    pub fn found(&self) -> bool {
        !self.label_issues.is_empty()
            || self.outliers.len() > self.summary.outliers_by_chance
            || !self.backdoor_suspects.is_empty()
    }
}

fn input(file: &str, reason: impl Into<String>) -> DataError {
    DataError::Input {
        file: file.to_owned(),
        reason: reason.into(),
    }
}

fn row_err(file: &str, row: usize, reason: impl Into<String>) -> DataError {
    DataError::Row {
        file: file.to_owned(),
        row,
        reason: reason.into(),
    }
}

/// A label cell that means "no label".
fn is_missing(label: &str) -> bool {
    let t = label.trim();
    t.is_empty() || t.eq_ignore_ascii_case("nan") || t.eq_ignore_ascii_case("na")
}

/// The data of a screen, read: labels (as text), features (row-major) and subgroups.
struct Data {
    labels: Vec<String>,
    features: Vec<String>,
    x: Vec<f64>,
    subgroups: Vec<(String, Vec<String>)>,
}

/// Read the data to screen. `need_features`: every column not named is a feature (no given
/// probabilities), else only the number columns are. `need_values`: the features' values are
/// read (cross-validation, outliers, the backdoor screen); without, only their names are
/// reported and `x` is empty.
fn read_data(
    path: &Path,
    opts: &ScreenOptions,
    need_features: bool,
    need_values: bool,
) -> Result<Data, DataError> {
    let file = path.display().to_string();
    let limits = crate::samples::csv_limits();
    let bytes = vigil_core::read_bounded(path, limits.max_bytes)?;
    let records = Records::read(&bytes, &file, &limits)?;
    let mut text: Vec<String> = vec![opts.label.clone()];
    text.extend(opts.subgroups.iter().cloned());
    for name in &text {
        if !records.header.contains(name) {
            return Err(input(&file, format!("missing column {name:?}")));
        }
    }
    let features: Vec<String> = records
        .header
        .iter()
        .zip(&records.kinds)
        .filter(|(n, _)| !text.contains(n) && !opts.exclude.contains(n))
        .filter(|(_, k)| need_features || **k == Kind::Number)
        .map(|(n, _)| n.clone())
        .collect();
    let mut wanted = if need_values {
        features.clone()
    } else {
        Vec::new()
    };
    wanted.extend(text.iter().cloned());
    let table = Table::parse(
        &bytes,
        &file,
        &Schema::only(wanted).text(text.clone()).limits(limits),
    )?;
    let n = table.rows();
    let labels = match table.column(&opts.label) {
        Some(Column::Categorical(v)) => v.clone(),
        _ => return Err(input(&file, format!("missing column {:?}", opts.label))),
    };
    for (row, l) in labels.iter().enumerate() {
        if is_missing(l) {
            return Err(row_err(
                &file,
                row,
                format!("label {l:?} in column {:?} is missing", opts.label),
            ));
        }
    }
    let d = if need_values { features.len() } else { 0 };
    let mut x = vec![0.0; n * d];
    for (j, name) in features.iter().enumerate().take(d) {
        let Some(Column::Numeric(col)) = table.column(name) else {
            continue;
        };
        for (row, &v) in col.iter().enumerate() {
            if !v.is_finite() {
                return Err(row_err(
                    &file,
                    row,
                    format!("feature {name:?} is empty (screening needs every value)"),
                ));
            }
            if let Some(slot) = x.get_mut(row * d + j) {
                *slot = v;
            }
        }
    }
    let subgroups = opts
        .subgroups
        .iter()
        .map(|g| match table.column(g) {
            Some(Column::Categorical(v)) => (g.clone(), v.clone()),
            _ => (g.clone(), Vec::new()),
        })
        .collect();
    Ok(Data {
        labels,
        features,
        x,
        subgroups,
    })
}

/// Classes sorted as numbers when every one is a number, else as text (numpy's `np.unique`
/// on the values pandas would read).
fn sorted_classes(labels: &[String]) -> Vec<String> {
    let mut classes: Vec<String> = labels.to_vec();
    classes.sort();
    classes.dedup();
    let nums: Option<Vec<f64>> = classes
        .iter()
        .map(|c| c.trim().parse::<f64>().ok())
        .collect();
    if let Some(nums) = nums {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(classes).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        classes = pairs.into_iter().map(|(_, c)| c).collect();
    }
    classes
}

/// The probability columns reordered so the classes are in sorted order, the class indices
/// cleanlab sees when the labels are encoded as scikit-learn's `LabelEncoder` (and
/// `np.unique`) encode them. The columns of the file may come in any order (they are matched by
/// name), but cleanlab's tie-breaks follow class indices: rounding the calibrated confident
/// joint breaks exact ties by index, so the order decides which class gives up a count.
fn in_sorted_class_order(names: Vec<String>, probs: Probabilities) -> (Vec<String>, Probabilities) {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names.get(a).cmp(&names.get(b)));
    if order.iter().enumerate().all(|(i, &j)| i == j) {
        return (names, probs);
    }
    let k = probs.k;
    let rows = probs.values.len().checked_div(k).unwrap_or(0);
    let mut values = Vec::with_capacity(probs.values.len());
    for r in 0..rows {
        let row = probs.row(r);
        values.extend(order.iter().map(|&j| row.get(j).copied().unwrap_or(0.0)));
    }
    let sorted = order
        .iter()
        .filter_map(|&j| names.get(j).cloned())
        .collect();
    (sorted, Probabilities { k, values })
}

/// Read predicted probabilities for `rows` data rows, with classes named by the header.
fn read_probs(path: &Path, rows: usize) -> Result<(Vec<String>, Probabilities), DataError> {
    let file = path.display().to_string();
    let table = Table::read_path(path, &Schema::all().limits(crate::samples::csv_limits()))?;
    if table.rows() != rows {
        return Err(input(
            &file,
            format!(
                "{} rows of probabilities for {rows} data rows (one row per data row)",
                table.rows()
            ),
        ));
    }
    let k = table.names.len();
    let mut values = vec![0.0; rows * k];
    for (j, col) in table.columns.iter().enumerate() {
        let Column::Numeric(col) = col else { continue };
        for (row, &v) in col.iter().enumerate() {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(row_err(
                    &file,
                    row,
                    format!(
                        "probability {v} in column {:?} is not in [0, 1]",
                        table.names.get(j).map_or("", String::as_str)
                    ),
                ));
            }
            if let Some(slot) = values.get_mut(row * k + j) {
                *slot = v;
            }
        }
    }
    Ok((table.names.clone(), Probabilities { k, values }))
}

/// The model's representation of each row (see [`representation`]).
#[cfg(feature = "backdoor")]
fn representations(
    model: &Path,
    output: &str,
    x: &[f64],
    d: usize,
) -> Result<(Vec<f64>, usize), String> {
    representation::represent(model, output, x, d)
}

/// Without the `backdoor` feature there is no model runner.
#[cfg(not(feature = "backdoor"))]
fn representations(
    _model: &Path,
    _output: &str,
    _x: &[f64],
    _d: usize,
) -> Result<(Vec<f64>, usize), String> {
    Err("this build has no model runner (feature `backdoor`)".into())
}

/// Screen the labelled CSV at `data`.
pub fn screen(data: &Path, opts: &ScreenOptions) -> Result<Report, DataError> {
    screen_with_progress(data, opts, &|_| {})
}

/// The steps [`screen_with_progress`] reports for `opts`: reading the data (and the
/// probabilities), each cross-validation fold when no probabilities are given, confident
/// learning, the outlier screen and the backdoor screen when asked for.
pub fn steps(opts: &ScreenOptions) -> u64 {
    let folds = if opts.pred_probs.is_none() {
        crossval::FOLDS as u64
    } else {
        0
    };
    2 + folds + u64::from(opts.outliers) + u64::from(opts.model.is_some())
}

/// [`screen`], telling `progress` of each step done (1 each, [`steps`] in all).
pub fn screen_with_progress(
    data: &Path,
    opts: &ScreenOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, DataError> {
    let file = data.display().to_string();
    if let Some(eps) = opts.poison_fraction {
        if !(eps > 0.0 && eps < 1.0) {
            return Err(input(
                &file,
                format!("poison fraction {eps}: must be between 0 and 1"),
            ));
        }
    }
    let need_values = opts.pred_probs.is_none() || opts.outliers || opts.model.is_some();
    let d = read_data(data, opts, opts.pred_probs.is_none(), need_values)?;
    let n = d.labels.len();
    let distinct = sorted_classes(&d.labels);
    if distinct.len() < 2 {
        return Err(input(
            &file,
            format!(
                "{} class in column {:?}: screening needs at least two",
                if distinct.is_empty() { "no" } else { "one" },
                opts.label
            ),
        ));
    }
    let (classes, probs, source) = match &opts.pred_probs {
        Some(p) => {
            let (names, probs) = read_probs(p, n)?;
            let (names, probs) = in_sorted_class_order(names, probs);
            progress(1);
            (names, probs, "given".to_string())
        }
        None => {
            if d.features.is_empty() {
                return Err(input(&file, "no numeric feature columns to fit a model on"));
            }
            let max_count = distinct
                .iter()
                .map(|c| d.labels.iter().filter(|l| *l == c).count())
                .max()
                .unwrap_or(0);
            if max_count < crossval::FOLDS {
                return Err(input(
                    &file,
                    format!(
                        "every class has fewer than {} rows: too few for {}-fold cross-validation",
                        crossval::FOLDS,
                        crossval::FOLDS
                    ),
                ));
            }
            let y: Vec<usize> = d
                .labels
                .iter()
                .map(|l| distinct.iter().position(|c| c == l).unwrap_or(0))
                .collect();
            let x = ndarray::Array2::from_shape_vec((n, d.features.len()), d.x.clone())
                .map_err(|e| input(&file, e.to_string()))?;
            progress(1);
            let probs =
                crossval::out_of_fold(&x, &y, distinct.len(), progress).map_err(|reason| {
                    DataError::Fit {
                        file: file.clone(),
                        reason,
                    }
                })?;
            (
                distinct.clone(),
                probs,
                format!(
                    "logistic regression, {}-fold cross-validation",
                    crossval::FOLDS
                ),
            )
        }
    };
    let mut y = Vec::with_capacity(n);
    for (row, l) in d.labels.iter().enumerate() {
        match classes.iter().position(|c| c == l) {
            Some(i) => y.push(i),
            None => {
                return Err(row_err(
                    &file,
                    row,
                    format!(
                        "label {l:?} has no probability column (columns: {})",
                        classes.join(", ")
                    ),
                ))
            }
        }
    }
    let name = |i: usize| classes.get(i).cloned().unwrap_or_default();
    let label_issues: Vec<LabelIssue> = confident::find_label_issues(&y, &probs)
        .into_iter()
        .map(|row| LabelIssue {
            row,
            given: d.labels.get(row).cloned().unwrap_or_default(),
            suggested: name(probs.argmax(row)),
            score: confident::self_confidence(&y, &probs, row),
        })
        .collect();
    progress(1);
    let mut by_chance = 0;
    let (outliers, skipped) = if opts.outliers {
        let (found, skipped) = outliers::per_class(&d.x, d.features.len(), &y, classes.len());
        let screened = y.iter().filter(|c| !skipped.contains(c)).count();
        by_chance = outliers::by_chance(screened);
        let found: Vec<Outlier> = found
            .into_iter()
            .map(|f| Outlier {
                row: f.row,
                class: name(f.class),
                score: f.score,
            })
            .collect();
        let present: Vec<usize> = skipped.into_iter().filter(|c| y.contains(c)).collect();
        progress(1);
        (found, present.into_iter().map(name).collect())
    } else {
        (Vec::new(), Vec::new())
    };
    let mut backdoor_suspects = Vec::new();
    if let Some(model) = &opts.model {
        let output = opts.representation.as_deref().ok_or_else(|| {
            input(
                &file,
                "--model needs --representation OUTPUT (the graph output to read)",
            )
        })?;
        if d.features.is_empty() {
            return Err(input(
                &file,
                "no numeric feature columns to run the model on",
            ));
        }
        let (reps, h) = representations(model, output, &d.x, d.features.len())
            .map_err(|reason| input(&model.display().to_string(), reason))?;
        backdoor_suspects = backdoor::screen(&reps, h, &y, classes.len(), opts.poison_fraction)
            .into_iter()
            .map(|s| BackdoorSuspect {
                row: s.row,
                class: name(s.class),
                score: s.score,
                clustered: s.clustered,
            })
            .collect();
        progress(1);
    }
    let mut pairs = BTreeMap::new();
    for li in &label_issues {
        *pairs
            .entry(format!("{} -> {}", li.given, li.suggested))
            .or_insert(0) += 1;
    }
    let mut issue_rows = vec![false; n];
    for li in &label_issues {
        if let Some(f) = issue_rows.get_mut(li.row) {
            *f = true;
        }
    }
    let mut subgroups = BTreeMap::new();
    for (g, values) in &d.subgroups {
        let mut per: BTreeMap<String, Subgroup> = BTreeMap::new();
        for (row, v) in values.iter().enumerate() {
            let s = per.entry(v.clone()).or_insert_with(|| Subgroup {
                count: 0,
                labels: BTreeMap::new(),
                label_rates: BTreeMap::new(),
                label_issues: 0,
            });
            s.count += 1;
            if let Some(l) = d.labels.get(row) {
                *s.labels.entry(l.clone()).or_insert(0) += 1;
            }
            if issue_rows.get(row) == Some(&true) {
                s.label_issues += 1;
            }
        }
        for s in per.values_mut() {
            let total = s.count.max(1) as f64;
            s.label_rates = s
                .labels
                .iter()
                .map(|(l, &c)| (l.clone(), c as f64 / total))
                .collect();
        }
        subgroups.insert(g.clone(), per);
    }
    let mut class_counts = BTreeMap::new();
    for l in &d.labels {
        *class_counts.entry(l.clone()).or_insert(0) += 1;
    }
    let summary = Summary {
        rows: n,
        classes,
        class_counts,
        probabilities: source,
        features: d.features.clone(),
        label_issues: label_issues.len(),
        label_issue_pairs: pairs,
        outliers: outliers.len(),
        outliers_skipped: skipped,
        outliers_by_chance: by_chance,
        backdoor_suspects: backdoor_suspects.len(),
        subgroups,
    };
    Ok(Report {
        label_issues,
        outliers,
        backdoor_suspects,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every step `steps` announces is reported once, with and without given probabilities,
    /// and the report is the one `screen` gives.
    #[test]
    fn progress_counts_the_announced_steps() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.csv");
        let probs = dir.path().join("p.csv");
        let mut text = String::from("a,b,label\n");
        let mut p = String::from("x,y\n");
        for i in 0..60 {
            let y = i % 2;
            text.push_str(&format!("{},{},{}\n", i % 7 + 10 * y, i % 5, ["x", "y"][y]));
            p.push_str(if y == 0 { "0.8,0.2\n" } else { "0.3,0.7\n" });
        }
        std::fs::write(&data, text).unwrap();
        std::fs::write(&probs, p).unwrap();
        for (pred_probs, outliers, expected) in [
            (None, true, 8),
            (None, false, 7),
            (Some(probs.clone()), true, 3),
            (Some(probs.clone()), false, 2),
        ] {
            let opts = ScreenOptions {
                label: "label".into(),
                pred_probs,
                outliers,
                ..ScreenOptions::default()
            };
            assert_eq!(steps(&opts), expected);
            let done = std::sync::atomic::AtomicU64::new(0);
            let report = screen_with_progress(&data, &opts, &|n| {
                done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            })
            .unwrap();
            assert_eq!(done.into_inner(), expected, "{opts:?}");
            assert_eq!(report, screen(&data, &opts).unwrap());
            assert_eq!(report.summary.features, ["a", "b"]);
        }
    }
}

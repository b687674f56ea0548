//! Running the selected tests over every column of a reference and a current table.

use crate::categorical::{chi2_contingency, fisher_exact, CategoryCounts};
use crate::correction::{adjust, Correction};
use rayon::prelude::*;

use crate::cvm::{cvm_sorted, CvmMethod};
use crate::error::DriftError;
use crate::ks::{ks_sorted, KsMethod};
use crate::mmd::{mmd_test, MmdOptions};
use crate::rng::Xoshiro256;
use crate::sort::sorted_keys;
use vigil_table::{Column, Table};

/// A two-sample test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestKind {
    /// Kolmogorov-Smirnov, per numeric column.
    Ks,
    /// Cramér-von Mises, per numeric column.
    Cvm,
    /// Chi-squared on category counts, per categorical column.
    Chi2,
    /// Fisher's exact test, per categorical column with exactly two values.
    Fisher,
    /// MMD over all numeric columns jointly (feature `*`).
    Mmd,
}

impl TestKind {
    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TestKind::Ks => "ks",
            TestKind::Cvm => "cvm",
            TestKind::Chi2 => "chi2",
            TestKind::Fisher => "fisher",
            TestKind::Mmd => "mmd",
        }
    }
}

/// Which tests a comparison runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestSelection {
    /// One test, on every column it applies to.
    One(TestKind),
    /// Every test that applies: KS and CvM per numeric column, chi-squared per categorical
    /// column, Fisher per categorical column with two values, MMD over the numeric columns
    /// (CvM and MMD only when each side has at least two observations).
    All,
    /// Every per-column test (all but MMD); each numeric column is sorted once for KS and CvM.
    Univariate,
}

/// Settings of a comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompareOptions {
    /// Tests to run.
    pub tests: TestSelection,
    /// KS p-value method.
    pub ks_method: KsMethod,
    /// Correction across all results of the run.
    pub correction: Correction,
    /// Significance level for the drift flags.
    pub alpha: f64,
    /// MMD settings. When reference and current rows together exceed `mmd.max_points`, MMD
    /// runs on seeded random subsamples (half the limit per side, more for one side when the
    /// other is smaller); `FeatureResult::sizes` gives the rows used.
    pub mmd: MmdOptions,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            tests: TestSelection::All,
            ks_method: KsMethod::Auto,
            correction: Correction::None,
            alpha: 0.05,
            mmd: MmdOptions::default(),
        }
    }
}

/// One test on one feature.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeatureResult {
    /// Column name, or `*` for MMD over all numeric columns.
    pub feature: String,
    /// The test.
    pub test: TestKind,
    /// Test statistic (Fisher: the sample odds ratio, possibly infinite or NaN).
    pub statistic: f64,
    /// The test's raw p-value, as its reference implementation computes it.
    pub p_value: f64,
    /// Natural log of the p-value, finite where the reference underflows (see [`crate::TestOutcome`]).
    pub ln_p_value: f64,
    /// The adjusted p-value, when a correction is applied.
    pub p_adjusted: Option<f64>,
    /// Whether the (adjusted) p-value is below alpha.
    pub drift: bool,
    /// Which method produced the p-value.
    pub method: &'static str,
    /// Observations in the reference and current samples used.
    pub sizes: (usize, usize),
}

/// All results of one comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DriftReport {
    /// One entry per test and feature, columns in reference header order, tests in the order
    /// ks, cvm, chi2, fisher per column, then mmd.
    pub results: Vec<FeatureResult>,
    /// True when any result drifted.
    pub drift: bool,
}

/// Compare `current` against `reference` column by column. Both tables must have the same
/// columns (order may differ); numeric and categorical kinds must agree.
pub fn compare(
    reference: &Table,
    current: &Table,
    options: &CompareOptions,
) -> Result<DriftReport, DriftError> {
    if !(options.alpha > 0.0 && options.alpha < 1.0) {
        return Err(DriftError::InvalidParameter {
            name: "alpha",
            reason: format!("{} is not strictly between 0 and 1", options.alpha),
        });
    }
    let wants = |k: TestKind| match options.tests {
        TestSelection::All => true,
        TestSelection::Univariate => k != TestKind::Mmd,
        TestSelection::One(t) => t == k,
    };
    let mut pairs = Vec::new();
    let mut numeric_names = Vec::new();
    for (name, rcol) in reference.names.iter().zip(&reference.columns) {
        let ccol = current
            .column(name)
            .ok_or_else(|| DriftError::MissingColumn {
                source_name: "current".into(),
                column: name.clone(),
            })?;
        if matches!(rcol, Column::Numeric(_)) && matches!(ccol, Column::Numeric(_)) {
            numeric_names.push(name.clone());
        }
        pairs.push((name, rcol, ccol));
    }
    // Columns are independent: test them in parallel, keeping header order.
    let per_column: Vec<Result<Vec<FeatureResult>, DriftError>> = pairs
        .par_iter()
        .map(|(name, rcol, ccol)| {
            column_tests(name, rcol, ccol, options, &wants).map_err(|e| DriftError::Feature {
                feature: (*name).clone(),
                cause: Box::new(e),
            })
        })
        .collect();
    let mut results = Vec::new();
    for r in per_column {
        results.extend(r?);
    }
    let mmd_applies = numeric_names.is_empty()
        || options.tests != TestSelection::All
        || (numeric_rows(reference, &numeric_names).1 >= 2
            && numeric_rows(current, &numeric_names).1 >= 2);
    if wants(TestKind::Mmd) && !numeric_names.is_empty() && mmd_applies {
        let dim = numeric_names.len();
        let (mut r, mut nr) = numeric_rows(reference, &numeric_names);
        let (mut c, mut nc) = numeric_rows(current, &numeric_names);
        // Above the kernel-matrix limit, test seeded random subsamples of each side (half the
        // limit each, or less when one side is small) instead of failing the whole run.
        let limit = options.mmd.max_points.max(4);
        if nr + nc > limit {
            let mut rng = Xoshiro256::seed_from_u64(options.mmd.seed ^ 0x6d6d_645f_7375_6273);
            let keep_r = nr.min((limit / 2).max(limit.saturating_sub(nc)));
            let keep_c = nc.min(limit - keep_r);
            r = subsample_rows(&r, dim, keep_r, &mut rng);
            c = subsample_rows(&c, dim, keep_c, &mut rng);
            (nr, nc) = (keep_r, keep_c);
        }
        let o = mmd_test(&r, &c, dim, &options.mmd)?;
        results.push(FeatureResult {
            feature: "*".into(),
            test: TestKind::Mmd,
            statistic: o.statistic,
            p_value: o.p_value,
            ln_p_value: o.p_value.ln(),
            p_adjusted: None,
            drift: false,
            method: "permutation",
            sizes: (nr, nc),
        });
    }
    if results.is_empty() {
        let what = match options.tests {
            TestSelection::All | TestSelection::Univariate => "any test".to_owned(),
            TestSelection::One(t) => format!("test {}", t.name()),
        };
        return Err(DriftError::InvalidParameter {
            name: "test",
            reason: format!("no column to which {what} applies"),
        });
    }
    let raw: Vec<f64> = results.iter().map(|r| r.p_value).collect();
    let adjusted = adjust(&raw, options.correction);
    for (r, adj) in results.iter_mut().zip(adjusted) {
        let p = if options.correction == Correction::None {
            r.p_value
        } else {
            r.p_adjusted = Some(adj);
            adj
        };
        r.drift = p < options.alpha;
    }
    let drift = results.iter().any(|r| r.drift);
    Ok(DriftReport { results, drift })
}

fn column_tests(
    name: &str,
    rcol: &Column,
    ccol: &Column,
    options: &CompareOptions,
    wants: &(dyn Fn(TestKind) -> bool + Sync),
) -> Result<Vec<FeatureResult>, DriftError> {
    let mut results = Vec::new();
    match (rcol, ccol) {
        (Column::Numeric(rv), Column::Numeric(cv)) => {
            // Sort each column once, as order-preserving integer keys; KS and CvM only need
            // the order and the ties of the values.
            let (r, c) = (sorted_keys(rv), sorted_keys(cv));
            if r.is_empty() || c.is_empty() {
                return Err(DriftError::SampleTooSmall {
                    test: "ks",
                    size: 0,
                    min: 1,
                });
            }
            let sizes = (r.len(), c.len());
            if wants(TestKind::Ks) {
                let o = ks_sorted(&r, &c, options.ks_method);
                results.push(result(name, TestKind::Ks, o, sizes));
            }
            // Under `All`, CvM applies only from two observations per side (scipy's minimum);
            // asked for explicitly, too small a sample is an error.
            let cvm_applies = r.len() >= 2 && c.len() >= 2;
            if wants(TestKind::Cvm) && (cvm_applies || options.tests != TestSelection::All) {
                if !cvm_applies {
                    return Err(DriftError::SampleTooSmall {
                        test: "cvm",
                        size: r.len().min(c.len()),
                        min: 2,
                    });
                }
                let o = cvm_sorted(&r, &c, CvmMethod::Auto);
                results.push(result(name, TestKind::Cvm, o, sizes));
            }
        }
        (Column::Categorical(r), Column::Categorical(c)) => {
            let counts = CategoryCounts::from_samples(r, c);
            if wants(TestKind::Chi2) {
                let o = chi2_contingency(&counts.reference, &counts.current)?;
                results.push(result(name, TestKind::Chi2, o, (r.len(), c.len())));
            }
            if wants(TestKind::Fisher) && counts.categories.len() == 2 {
                let table = [
                    [counts.reference[0], counts.reference[1]],
                    [counts.current[0], counts.current[1]],
                ];
                let o = fisher_exact(table);
                results.push(result(name, TestKind::Fisher, o, (r.len(), c.len())));
            }
        }
        _ => {
            return Err(DriftError::InvalidParameter {
                name: "columns",
                reason: format!(
                    "column {name:?} is numeric in one table and categorical in the other"
                ),
            })
        }
    }
    Ok(results)
}

fn result(
    name: &str,
    test: TestKind,
    o: crate::TestOutcome,
    sizes: (usize, usize),
) -> FeatureResult {
    FeatureResult {
        feature: name.to_owned(),
        test,
        statistic: o.statistic,
        p_value: o.p_value,
        ln_p_value: o.ln_p_value,
        p_adjusted: None,
        drift: false,
        method: o.method,
        sizes,
    }
}

/// `keep` rows chosen uniformly without replacement (order kept), row-major.
fn subsample_rows(data: &[f64], dim: usize, keep: usize, rng: &mut Xoshiro256) -> Vec<f64> {
    let n = data.len() / dim.max(1);
    if keep >= n {
        return data.to_vec();
    }
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..keep {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen = idx[..keep].to_vec();
    chosen.sort_unstable();
    chosen
        .iter()
        .flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied())
        .collect()
}

/// Row-major numeric rows over `names`, dropping rows with a missing value.
fn numeric_rows(table: &Table, names: &[String]) -> (Vec<f64>, usize) {
    let cols: Vec<&Vec<f64>> = names
        .iter()
        .filter_map(|n| match table.column(n) {
            Some(Column::Numeric(v)) => Some(v),
            _ => None,
        })
        .collect();
    let mut out = Vec::with_capacity(table.rows() * cols.len());
    let mut rows = 0;
    for i in 0..table.rows() {
        let row: Vec<f64> = cols
            .iter()
            .map(|c| c.get(i).copied().unwrap_or(f64::NAN))
            .collect();
        if row.iter().all(|x| !x.is_nan()) {
            out.extend(row);
            rows += 1;
        }
    }
    (out, rows)
}

/// Drift per subgroup: split both tables by the values of `column` (a categorical column) and
/// compare each group's current rows with the same group's reference rows. Groups present on
/// only one side are reported with an error message instead of results.
pub fn compare_subgroups(
    reference: &Table,
    current: &Table,
    column: &str,
    options: &CompareOptions,
) -> Result<Vec<SubgroupReport>, DriftError> {
    let groups = |t: &Table, label: &str| -> Result<Vec<String>, DriftError> {
        match t.column(column) {
            Some(Column::Categorical(v)) => Ok(v.clone()),
            _ => Err(DriftError::MissingColumn {
                source_name: label.into(),
                column: column.into(),
            }),
        }
    };
    let rg = groups(reference, "reference")?;
    let cg = groups(current, "current")?;
    let mut names: Vec<String> = rg.iter().chain(&cg).cloned().collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for g in names {
        let r = subset(reference, &rg, &g, column);
        let c = subset(current, &cg, &g, column);
        let outcome = compare(&r, &c, options).map_err(|e| e.to_string());
        out.push(SubgroupReport {
            group: g,
            reference_rows: r.rows(),
            current_rows: c.rows(),
            report: outcome,
        });
    }
    Ok(out)
}

/// The drift comparison of one subgroup.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SubgroupReport {
    /// The subgroup value.
    pub group: String,
    /// Reference rows in the group.
    pub reference_rows: usize,
    /// Current rows in the group.
    pub current_rows: usize,
    /// The comparison, or why it could not run (for instance too few rows).
    pub report: Result<DriftReport, String>,
}

fn subset(t: &Table, groups: &[String], g: &str, drop: &str) -> Table {
    let keep: Vec<bool> = groups.iter().map(|x| x == g).collect();
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for (name, col) in t.names.iter().zip(&t.columns) {
        if name == drop {
            continue;
        }
        names.push(name.clone());
        columns.push(match col {
            Column::Numeric(v) => Column::Numeric(
                v.iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(x, _)| *x)
                    .collect(),
            ),
            Column::Categorical(v) => Column::Categorical(
                v.iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(x, _)| x.clone())
                    .collect(),
            ),
        });
    }
    Table::new(names, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize, shift: f64) -> Table {
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 100.0 + shift)
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| ((i * 104_729) % 997) as f64 / 50.0)
            .collect();
        Table::new(
            vec!["x".into(), "y".into()],
            vec![Column::Numeric(x), Column::Numeric(y)],
        )
    }

    #[test]
    fn mmd_subsamples_above_the_limit_instead_of_failing() {
        let options = CompareOptions {
            tests: TestSelection::One(TestKind::Mmd),
            mmd: MmdOptions {
                permutations: 5,
                max_points: 100,
                ..MmdOptions::default()
            },
            ..CompareOptions::default()
        };
        let r = compare(&table(300, 0.0), &table(40, 5.0), &options).unwrap();
        assert_eq!(r.results[0].sizes, (60, 40));
        let again = compare(&table(300, 0.0), &table(40, 5.0), &options).unwrap();
        assert_eq!(r, again, "seeded subsample");
        let r = compare(&table(300, 0.0), &table(300, 5.0), &options).unwrap();
        assert_eq!(r.results[0].sizes, (50, 50));
    }
}

#[cfg(test)]
mod small_samples {
    use super::*;

    #[test]
    fn all_skips_tests_that_need_two_observations() {
        let t = |v: f64| Table::new(vec!["x".into()], vec![Column::Numeric(vec![v])]);
        let r = compare(&t(0.0), &t(1.0), &CompareOptions::default()).unwrap();
        let tests: Vec<TestKind> = r.results.iter().map(|r| r.test).collect();
        assert_eq!(tests, [TestKind::Ks]);
        let cvm = CompareOptions {
            tests: TestSelection::One(TestKind::Cvm),
            ..CompareOptions::default()
        };
        assert!(compare(&t(0.0), &t(1.0), &cvm).is_err());
    }
}

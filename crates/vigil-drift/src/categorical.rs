//! Tests on category counts: chi-squared on the 2 x k table (`scipy.stats.chi2_contingency`)
//! and Fisher's exact test on the 2 x 2 table (`scipy.stats.fisher_exact`).

use std::collections::BTreeMap;

use crate::error::DriftError;
use crate::result::TestOutcome;
use crate::special::{chi2_sf, ln_dhyper};

/// Counts of each category in a reference and a current sample, over the union of categories
/// (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CategoryCounts {
    /// Category names, sorted.
    pub categories: Vec<String>,
    /// Count of each category in the reference sample.
    pub reference: Vec<u64>,
    /// Count of each category in the current sample.
    pub current: Vec<u64>,
}

impl CategoryCounts {
    /// Count the values of two samples of labels.
    pub fn from_samples<S: AsRef<str>>(reference: &[S], current: &[S]) -> Self {
        let mut map: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for v in reference {
            map.entry(v.as_ref()).or_default().0 += 1;
        }
        for v in current {
            map.entry(v.as_ref()).or_default().1 += 1;
        }
        CategoryCounts {
            categories: map.keys().map(|k| (*k).to_owned()).collect(),
            reference: map.values().map(|c| c.0).collect(),
            current: map.values().map(|c| c.1).collect(),
        }
    }
}

/// Pearson's chi-squared test of independence on the 2 x k table whose rows are `reference` and
/// `current` counts, with scipy's defaults: Yates' continuity correction when the table has one
/// degree of freedom, p-value from the chi-squared survival function.
///
/// A table with a single category has no degrees of freedom: statistic 0, p-value 1 (as scipy).
/// Either row summing to 0 is an error, as in scipy ("expected frequencies has a zero element").
pub fn chi2_contingency(reference: &[u64], current: &[u64]) -> Result<TestOutcome, DriftError> {
    if reference.len() != current.len() {
        return Err(DriftError::DimensionMismatch {
            test: "chi2",
            left: reference.len(),
            right: current.len(),
        });
    }
    let r0: f64 = reference.iter().map(|&c| c as f64).sum();
    let r1: f64 = current.iter().map(|&c| c as f64).sum();
    let total = r0 + r1;
    let cols: Vec<f64> = reference
        .iter()
        .zip(current)
        .map(|(&a, &b)| a as f64 + b as f64)
        .collect();
    if r0 == 0.0 || r1 == 0.0 {
        return Err(DriftError::SampleTooSmall {
            test: "chi2",
            size: 0,
            min: 1,
        });
    }
    if let Some(index) = cols.iter().position(|&c| c == 0.0) {
        return Err(DriftError::InvalidParameter {
            name: "counts",
            reason: format!("category {index} is empty in both samples"),
        });
    }
    let dof = cols.len().saturating_sub(1);
    if dof == 0 {
        return Ok(TestOutcome {
            statistic: 0.0,
            p_value: 1.0,
            ln_p_value: 0.0,
            method: "asymp",
        });
    }
    let mut terms = Vec::with_capacity(2 * cols.len());
    for (row_sum, row) in [(r0, reference), (r1, current)] {
        for (&c, &col) in row.iter().zip(&cols) {
            let expected = row_sum * col / total;
            let mut observed = c as f64;
            if dof == 1 {
                let diff = expected - observed;
                if diff != 0.0 {
                    observed += diff.signum() * diff.abs().min(0.5);
                }
            }
            terms.push((observed - expected).powi(2) / expected);
        }
    }
    let stat = pairwise_sum(&terms);
    let (p, ln_p) = chi2_sf(stat, dof as f64);
    Ok(TestOutcome {
        statistic: stat,
        p_value: p,
        ln_p_value: ln_p,
        method: "asymp",
    })
}

/// NumPy's pairwise summation (blocks of 8 unrolled, split above 128 elements), so that sums
/// agree with `np.sum` to the last bit in the common cases.
pub(crate) fn pairwise_sum(xs: &[f64]) -> f64 {
    if xs.len() < 8 {
        let mut s = 0.0;
        for &x in xs {
            s += x;
        }
        s
    } else if xs.len() <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&xs[..8]);
        let mut i = 8;
        while i + 8 <= xs.len() {
            for (k, slot) in r.iter_mut().enumerate() {
                *slot += xs[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &xs[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = xs.len() / 2;
        n2 -= n2 % 8;
        pairwise_sum(&xs[..n2]) + pairwise_sum(&xs[n2..])
    }
}

/// Fisher's exact test, two-sided, on the 2 x 2 table `[[a, b], [c, d]]`, as scipy computes it:
/// the statistic is the sample odds ratio `a d / (b c)` (infinite when `b c = 0`, NaN with an
/// empty row or column), the p-value sums the hypergeometric probabilities of all tables no more
/// likely than the observed one, with scipy's relative tolerance of 1e-14.
pub fn fisher_exact(table: [[u64; 2]; 2]) -> TestOutcome {
    let [[a, b], [c, d]] = table;
    let done = |odds: f64, p: f64| TestOutcome {
        statistic: odds,
        p_value: p,
        ln_p_value: p.ln(),
        method: "exact",
    };
    if a + c == 0 || b + d == 0 || a + b == 0 || c + d == 0 {
        return done(f64::NAN, 1.0);
    }
    let odds = if c > 0 && b > 0 {
        (a as f64 * d as f64) / (c as f64 * b as f64)
    } else {
        f64::INFINITY
    };
    let n1 = (a + b) as f64;
    let n2 = (c + d) as f64;
    let n = (a + c) as f64;
    let pmf = |x: f64| ln_dhyper(x, n1, n2, n).exp();
    let lo = (n - n2).max(0.0);
    let hi = n.min(n1);
    // Sum of pmf over [from, to], adding from the far tail inward for accuracy.
    let sum_range = |from: f64, to: f64| -> f64 {
        if from > to {
            return 0.0;
        }
        let mut s = 0.0;
        let mut x = from;
        while x <= to {
            s += pmf(x);
            x += 1.0;
        }
        s
    };
    let cdf = |k: f64| sum_range(lo, k.min(hi));
    let sf = |k: f64| sum_range((k + 1.0).max(lo), hi);
    let mode = ((n + 1.0) * (n1 + 1.0) / (n1 + n2 + 2.0)).trunc();
    let a = a as f64;
    let pexact = pmf(a);
    let pmode = pmf(mode);
    let epsilon = 1e-14;
    let gamma = 1.0 + epsilon;
    if (pexact - pmode).abs() / pexact.max(pmode) <= epsilon {
        return done(odds, 1.0);
    }
    let p = if a < mode {
        let plower = cdf(a);
        if pmf(n) > pexact * gamma {
            return done(odds, plower.min(1.0));
        }
        let guess = binary_search(|x| -pmf(x), -pexact * gamma, mode, n);
        plower + sf(guess)
    } else {
        let pupper = sf(a - 1.0);
        if pmf(0.0) > pexact * gamma {
            return done(odds, pupper.min(1.0));
        }
        let guess = binary_search(pmf, pexact * gamma, 0.0, mode);
        pupper + cdf(guess)
    };
    done(odds, p.min(1.0))
}

/// scipy's `_binary_search_for_binom_tst`.
fn binary_search(f: impl Fn(f64) -> f64, d: f64, lo: f64, hi: f64) -> f64 {
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + ((hi - lo) / 2.0).floor();
        let midval = f(mid);
        if midval < d {
            lo = mid + 1.0;
        } else if midval > d {
            hi = mid - 1.0;
        } else {
            return mid;
        }
    }
    if f(lo) <= d {
        lo
    } else {
        lo - 1.0
    }
}

//! Distances between two samples without p-values: Wasserstein-1 (`scipy.stats.
//! wasserstein_distance`), population stability index and Jensen-Shannon distance over bins
//! cut at the reference's deciles.

use crate::categorical::pairwise_sum;
use crate::error::DriftError;
use crate::result::check_sample;

/// Wasserstein-1 distance between the empirical distributions of `u` and `v`, as scipy's
/// `wasserstein_distance(u, v)` (unweighted): the integral of `|U(t) - V(t)|`.
pub fn wasserstein_distance(u: &[f64], v: &[f64]) -> Result<f64, DriftError> {
    check_sample("wasserstein", u, 1)?;
    check_sample("wasserstein", v, 1)?;
    let mut us = u.to_vec();
    let mut vs = v.to_vec();
    us.sort_by(f64::total_cmp);
    vs.sort_by(f64::total_cmp);
    let mut all: Vec<f64> = us.iter().chain(&vs).copied().collect();
    all.sort_by(f64::total_cmp);
    let (nu, nv) = (us.len() as f64, vs.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut terms = Vec::with_capacity(all.len());
    for w in all.windows(2) {
        let t = w[0];
        while i < us.len() && us[i] <= t {
            i += 1;
        }
        while j < vs.len() && vs[j] <= t {
            j += 1;
        }
        terms.push((i as f64 / nu - j as f64 / nv).abs() * (w[1] - w[0]));
    }
    Ok(pairwise_sum(&terms))
}

/// Proportions of `sample` in the bins cut at `edges` (ascending): bin `k` holds values in
/// `(edges[k-1], edges[k]]`, the first bin everything up to `edges[0]`, the last everything above
/// the last edge.
pub fn bin_proportions(sample: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &x in sample {
        let k = edges.partition_point(|&e| e < x);
        counts[k] += 1;
    }
    let n = sample.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / n).collect()
}

/// Decile edges of the reference (NumPy's default linear quantile method), duplicates removed.
pub fn decile_edges(reference: &[f64]) -> Result<Vec<f64>, DriftError> {
    check_sample("psi", reference, 1)?;
    let mut s = reference.to_vec();
    s.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..10)
        .map(|k| {
            let pos = (s.len() - 1) as f64 * k as f64 / 10.0;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(s.len() - 1);
            s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
        })
        .collect();
    edges.dedup();
    Ok(edges)
}

/// Population stability index `sum (c - r) ln(c / r)` of the current sample against the
/// reference over the reference's decile bins; proportions are floored at 1e-4 so that an empty
/// bin gives a large finite value instead of infinity (the usual convention; 0.1 and 0.25 are
/// the customary "moderate" and "major shift" thresholds).
pub fn population_stability_index(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    check_sample("psi", current, 1)?;
    let edges = decile_edges(reference)?;
    let r = bin_proportions(reference, &edges);
    let c = bin_proportions(current, &edges);
    Ok(r.iter()
        .zip(&c)
        .map(|(&r, &c)| {
            let (r, c) = (r.max(1e-4), c.max(1e-4));
            (c - r) * (c / r).ln()
        })
        .sum())
}

/// Jensen-Shannon distance (natural logarithm, the square root of the divergence, as
/// `scipy.spatial.distance.jensenshannon`) between two probability vectors.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> Result<f64, DriftError> {
    if p.len() != q.len() {
        return Err(DriftError::DimensionMismatch {
            test: "jensen-shannon",
            left: p.len(),
            right: q.len(),
        });
    }
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    if !(sp > 0.0 && sq > 0.0) {
        return Err(DriftError::InvalidParameter {
            name: "p",
            reason: "probability vectors must have a positive sum".into(),
        });
    }
    let rel = |a: f64, b: f64| {
        if a > 0.0 && b > 0.0 {
            a * (a / b).ln()
        } else if a == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    };
    let mut left = 0.0;
    let mut right = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        left += rel(a, m);
        right += rel(b, m);
    }
    Ok(((left + right) / 2.0).max(0.0).sqrt())
}

/// Jensen-Shannon distance between the reference and current samples over the reference's
/// decile bins.
pub fn jensen_shannon_binned(reference: &[f64], current: &[f64]) -> Result<f64, DriftError> {
    check_sample("jensen-shannon", current, 1)?;
    let edges = decile_edges(reference)?;
    jensen_shannon(
        &bin_proportions(reference, &edges),
        &bin_proportions(current, &edges),
    )
}

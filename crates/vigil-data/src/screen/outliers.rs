//! Outliers per class by robust Mahalanobis distance: a minimum covariance determinant
//! estimate (Rousseeuw and Van Driessen's FAST-MCD concentration steps from one start: the
//! half of the class nearest its coordinate-wise median, then C-steps until the subset is
//! stable), rescaled for consistency as scikit-learn's `MinCovDet.correct_covariance` does.
//! A row is an outlier when its squared distance exceeds the chi-squared 0.999 quantile with
//! as many degrees of freedom as features; its score is that ratio (above 1, comparable
//! across classes).

/// The chi-squared quantile cut.
pub const OUTLIER_QUANTILE: f64 = 0.999;

/// The most outliers `rows` clean rows give by chance at the [`OUTLIER_QUANTILE`] cut: the
/// smallest `k` with `P(X <= k) >= 0.999` for `X ~ Poisson(0.001 rows)`, summed in log space
/// (the first terms of a large mean underflow to zero and add nothing).
pub fn by_chance(rows: usize) -> usize {
    let mean = (1.0 - OUTLIER_QUANTILE) * rows as f64;
    if mean <= 0.0 {
        return 0;
    }
    let mut log_pmf = -mean;
    let mut cdf = log_pmf.exp();
    let mut k = 0usize;
    while cdf < OUTLIER_QUANTILE && k < rows {
        k += 1;
        log_pmf += (mean / k as f64).ln();
        cdf += log_pmf.exp();
    }
    k
}

/// One outlier: its row, its class (index) and its score (squared distance over the cut).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// 0-based data row.
    pub row: usize,
    /// Class index.
    pub class: usize,
    /// Squared robust distance over the chi-squared cut (> 1).
    pub score: f64,
}

/// Outliers of each class: `x` has `d` features per row, `labels` a class per row. Classes
/// with fewer than `2 (d + 1)` rows are skipped (returned in the second list).
pub fn per_class(x: &[f64], d: usize, labels: &[usize], k: usize) -> (Vec<Found>, Vec<usize>) {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    if d == 0 {
        return (found, (0..k).collect());
    }
    let cut = chi2_quantile(OUTLIER_QUANTILE, d as f64);
    for class in 0..k {
        let rows: Vec<usize> = (0..labels.len())
            .filter(|&i| labels.get(i) == Some(&class))
            .collect();
        if rows.len() < 2 * (d + 1) {
            skipped.push(class);
            continue;
        }
        let pts: Vec<&[f64]> = rows
            .iter()
            .map(|&i| x.get(i * d..(i + 1) * d).unwrap_or_default())
            .collect();
        let Some(dist) = robust_distances(&pts, d) else {
            skipped.push(class);
            continue;
        };
        for (&row, &d2) in rows.iter().zip(&dist) {
            if d2 > cut {
                found.push(Found {
                    row,
                    class,
                    score: d2 / cut,
                });
            }
        }
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
    (found, skipped)
}

/// Squared robust Mahalanobis distances of points (MCD, see the module documentation).
fn robust_distances(pts: &[&[f64]], d: usize) -> Option<Vec<f64>> {
    let n = pts.len();
    let h = (n + d + 1).div_ceil(2);
    // Start: nearest to the coordinate-wise median (scaled by the MAD).
    let mut med = vec![0.0; d];
    let mut mad = vec![1.0; d];
    for j in 0..d {
        let mut col: Vec<f64> = pts
            .iter()
            .map(|p| p.get(j).copied().unwrap_or(0.0))
            .collect();
        let m = median(&mut col);
        let mut dev: Vec<f64> = col.iter().map(|v| (v - m).abs()).collect();
        let s = median(&mut dev);
        if let (Some(a), Some(b)) = (med.get_mut(j), mad.get_mut(j)) {
            *a = m;
            *b = if s > 0.0 { s } else { 1.0 };
        }
    }
    let start: Vec<f64> = pts
        .iter()
        .map(|p| {
            p.iter()
                .zip(&med)
                .zip(&mad)
                .map(|((v, m), s)| ((v - m) / s).powi(2))
                .sum()
        })
        .collect();
    let mut subset = smallest(&start, h);
    let mut dist = Vec::new();
    for _ in 0..30 {
        let (mean, chol) = fit(pts, &subset, d)?;
        dist = pts
            .iter()
            .map(|p| mahalanobis(p, &mean, &chol, d))
            .collect();
        let next = smallest(&dist, h);
        if next == subset {
            break;
        }
        subset = next;
    }
    // Consistency: scale so that the median distance is the chi-squared median.
    let mut sorted = dist.clone();
    let med_d = median(&mut sorted);
    if med_d > 0.0 {
        let c = chi2_quantile(0.5, d as f64) / med_d;
        for v in &mut dist {
            *v *= c;
        }
    }
    Some(dist)
}

fn smallest(v: &[f64], h: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| {
        let x = v.get(a).copied().unwrap_or(f64::INFINITY);
        let y = v.get(b).copied().unwrap_or(f64::INFINITY);
        x.total_cmp(&y).then(a.cmp(&b))
    });
    idx.truncate(h);
    idx.sort_unstable();
    idx
}

/// Mean and Cholesky factor (lower, row-major) of the covariance of the subset, with a small
/// ridge so that a flat class does not fail.
fn fit(pts: &[&[f64]], subset: &[usize], d: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let m = subset.len() as f64;
    let mut mean = vec![0.0; d];
    for &i in subset {
        for (a, v) in mean.iter_mut().zip(pts.get(i)?.iter()) {
            *a += v / m;
        }
    }
    let mut cov = vec![0.0; d * d];
    for &i in subset {
        let p = pts.get(i)?;
        for r in 0..d {
            let dr = p.get(r)? - mean.get(r)?;
            for c in 0..=r {
                let dc = p.get(c)? - mean.get(c)?;
                *cov.get_mut(r * d + c)? += dr * dc / m;
            }
        }
    }
    let trace: f64 = (0..d).filter_map(|j| cov.get(j * d + j)).sum();
    let ridge = 1e-9 * (trace / d as f64).max(1e-12);
    for j in 0..d {
        *cov.get_mut(j * d + j)? += ridge;
    }
    // Cholesky: cov = L L^T.
    let mut l = vec![0.0; d * d];
    for r in 0..d {
        for c in 0..=r {
            let mut s = *cov.get(r * d + c)?;
            for q in 0..c {
                s -= l.get(r * d + q)? * l.get(c * d + q)?;
            }
            if r == c {
                if s <= 0.0 {
                    return None;
                }
                *l.get_mut(r * d + c)? = s.sqrt();
            } else {
                *l.get_mut(r * d + c)? = s / l.get(c * d + c)?;
            }
        }
    }
    Some((mean, l))
}

fn mahalanobis(p: &[f64], mean: &[f64], l: &[f64], d: usize) -> f64 {
    // Solve L z = p - mean; distance = |z|^2.
    let mut z = vec![0.0; d];
    for r in 0..d {
        let mut s = p.get(r).copied().unwrap_or(0.0) - mean.get(r).copied().unwrap_or(0.0);
        for q in 0..r {
            s -= l.get(r * d + q).copied().unwrap_or(0.0) * z.get(q).copied().unwrap_or(0.0);
        }
        let diag = l.get(r * d + r).copied().unwrap_or(1.0);
        if let Some(zr) = z.get_mut(r) {
            *zr = s / diag;
        }
    }
    z.iter().map(|v| v * v).sum()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let hi = v.get(n / 2).copied().unwrap_or(0.0);
    if n % 2 == 1 {
        hi
    } else {
        (v.get(n / 2 - 1).copied().unwrap_or(0.0) + hi) / 2.0
    }
}

/// Chi-squared quantile by the Wilson-Hilferty approximation (relative error under 1% from 3
/// degrees of freedom on at these tail probabilities).
pub fn chi2_quantile(p: f64, k: f64) -> f64 {
    let z = normal_quantile(p);
    let a = 2.0 / (9.0 * k);
    (k * (1.0 - a + z * a.sqrt()).powi(3)).max(0.0)
}

/// Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Poisson 0.999 quantiles as scipy.stats.poisson.ppf(0.999, mean) gives them: none for no
    /// rows, 5 for a mean of 1 (P(X <= 4) = 0.9963, P(X <= 5) = 0.9994), 21 for 10, 132 for 100,
    /// 1099 for 1000.
    #[test]
    fn outliers_by_chance_are_the_poisson_quantile() {
        assert_eq!(by_chance(0), 0);
        assert_eq!(by_chance(1000), 5);
        assert_eq!(by_chance(10_000), 21);
        assert_eq!(by_chance(100_000), 132);
        assert_eq!(by_chance(1_000_000), 1099);
    }

    #[test]
    fn quantiles() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        // scipy.stats.chi2.ppf(0.999, 10) = 29.588
        assert!((chi2_quantile(0.999, 10.0) - 29.588).abs() / 29.588 < 0.01);
        // scipy.stats.chi2.ppf(0.5, 4) = 3.3567
        assert!((chi2_quantile(0.5, 4.0) - 3.3567).abs() < 0.02);
    }

    #[test]
    fn a_far_point_is_the_outlier_and_the_rest_are_not() {
        let mut x = Vec::new();
        let mut s = 1u64;
        for _ in 0..200 {
            for _ in 0..3 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x.push(((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5);
            }
        }
        x[3 * 17] = 25.0;
        let labels = vec![0usize; 200];
        let (found, skipped) = per_class(&x, 3, &labels, 1);
        assert!(skipped.is_empty());
        assert_eq!(found.first().map(|f| f.row), Some(17));
        assert!(found.len() <= 3, "{found:?}");
    }
}

//! Statistics for the detectors: class-conditional Gaussians with a shared covariance
//! (Mahalanobis distance, as Lee et al. 2018), squeezing transforms, conformal quantiles.

use serde::{Deserialize, Serialize};

use crate::contract::Feature;

/// Class-conditional Gaussian model with one shared (shrunk) covariance, stored whitened:
/// the score of `x` is `min_c ||W ((t(x) - mean) / scale) - centre_c||^2`, with `W = L^-1` for
/// the Cholesky factor `L` of the covariance, and `t` the identity or, with `log_shift`, the
/// per-feature logarithm `t(x)_j = ln(x_j + log_shift_j)` (for skewed, non-negative
/// measurements; a value at or under `-log_shift_j` maps to [`LOG_FLOOR`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Gaussian {
    pub(crate) mean: Vec<f64>,
    pub(crate) scale: Vec<f64>,
    /// Lower-triangular `W`, row-major `d * d`.
    pub(crate) whiten: Vec<f64>,
    /// Whitened class means (one per class seen in the data).
    pub(crate) centres: Vec<Vec<f64>>,
    /// Shifts of the logarithmic transform (`None`: no transform).
    pub(crate) log_shift: Option<Vec<f64>>,
}

/// What `ln(x + shift)` becomes when `x + shift` is not positive (far from any real data).
pub(crate) const LOG_FLOOR: f64 = -700.0;

/// Widest vector scored without a heap allocation.
const STACK_DIM: usize = 256;
/// Most centres (classes, or their k-means centres) scored without a heap allocation.
const STACK_CLASSES: usize = 64;

/// `ln(v + shift)` by [`ln`].
#[inline]
fn log_transform(v: f64, shift: f64) -> f64 {
    ln(v + shift)
}

/// Natural logarithm of a positive finite `x`, and [`LOG_FLOOR`] for anything else (zero,
/// negative, subnormal results below the floor, NaN, infinity): a score stays a number.
#[inline]
pub(crate) fn ln(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return LOG_FLOOR;
    }
    x.ln().max(LOG_FLOOR)
}

impl Gaussian {
    /// Fits on `rows` (each of width `d`) with class `labels`, with up to
    /// `centres_per_class` centres per class: the class mean when 1, else the k-means centres
    /// of the class's whitened rows ([`kmeans`]; each the mean of at least
    /// [`MIN_CENTRE_ROWS`] rows). The covariance is always the one within-class covariance.
    pub(crate) fn fit(
        rows: &[&[f64]],
        labels: &[usize],
        classes: usize,
        shrinkage: f64,
        log_shift: Option<Vec<f64>>,
        centres_per_class: usize,
    ) -> Result<Gaussian, String> {
        let n = rows.len();
        let d = rows.first().map(|r| r.len()).ok_or("no rows")?;
        if n < 3 || labels.len() != n {
            return Err(format!("{n} rows: too few to fit"));
        }
        if let Some(shift) = &log_shift {
            if shift.len() != d || shift.iter().any(|s| !s.is_finite()) {
                return Err("log_shift: wrong width or not finite".into());
            }
        }
        let transformed: Vec<Vec<f64>>;
        let rows: Vec<&[f64]> = match &log_shift {
            Some(shift) => {
                transformed = rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .zip(shift)
                            .map(|(v, s)| log_transform(*v, *s))
                            .collect()
                    })
                    .collect();
                transformed.iter().map(Vec::as_slice).collect()
            }
            None => rows.to_vec(),
        };
        let mut mean = vec![0.0; d];
        for r in &rows {
            for (m, v) in mean.iter_mut().zip(r.iter()) {
                *m += v / n as f64;
            }
        }
        let mut scale = vec![0.0; d];
        for r in &rows {
            for ((s, v), m) in scale.iter_mut().zip(r.iter()).zip(&mean) {
                *s += (v - m) * (v - m) / n as f64;
            }
        }
        for s in &mut scale {
            *s = if *s > 1e-18 { s.sqrt() } else { 1.0 };
        }
        let z: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&mean)
                    .zip(&scale)
                    .map(|((v, m), s)| (v - m) / s)
                    .collect()
            })
            .collect();
        let mut sums = vec![vec![0.0; d]; classes];
        let mut counts = vec![0usize; classes];
        for (row, &c) in z.iter().zip(labels) {
            let sum = sums.get_mut(c).ok_or("label out of range")?;
            for (s, v) in sum.iter_mut().zip(row) {
                *s += v;
            }
            if let Some(k) = counts.get_mut(c) {
                *k += 1;
            }
        }
        let class_means: Vec<Option<Vec<f64>>> = sums
            .into_iter()
            .zip(&counts)
            .map(|(s, &k)| (k > 0).then(|| s.into_iter().map(|v| v / k as f64).collect()))
            .collect();
        let present = counts.iter().filter(|&&k| k > 0).count();
        let dof = n.saturating_sub(present).max(1) as f64;
        let mut cov = vec![0.0; d * d];
        let mut diff = vec![0.0; d];
        for (row, &c) in z.iter().zip(labels) {
            let Some(Some(mu)) = class_means.get(c) else {
                continue;
            };
            for ((t, v), m) in diff.iter_mut().zip(row).zip(mu) {
                *t = v - m;
            }
            for i in 0..d {
                let di = diff[i];
                let rowc = &mut cov[i * d..i * d + i + 1];
                for (j, cij) in rowc.iter_mut().enumerate() {
                    *cij += di * diff[j] / dof;
                }
            }
        }
        let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum::<f64>() / d as f64;
        let target = if trace > 1e-12 { trace } else { 1.0 };
        for i in 0..d {
            for j in 0..=i {
                let v = cov[i * d + j] * (1.0 - shrinkage);
                cov[i * d + j] = if i == j { v + shrinkage * target } else { v };
            }
        }
        let l = cholesky(&cov, d)
            .ok_or("covariance is singular: raise detectors.shrinkage or give more rows")?;
        let whiten = invert_lower(&l, d);
        let centres = if centres_per_class > 1 {
            let mut by_class: Vec<Vec<Vec<f64>>> = vec![Vec::new(); classes];
            for (row, &c) in z.iter().zip(labels) {
                if let Some(points) = by_class.get_mut(c) {
                    points.push(lower_mul(&whiten, d, row));
                }
            }
            by_class
                .iter()
                .enumerate()
                .filter(|(_, points)| !points.is_empty())
                .flat_map(|(c, points)| kmeans(points, centres_per_class, c as u64))
                .collect()
        } else {
            class_means
                .iter()
                .flatten()
                .map(|mu| lower_mul(&whiten, d, mu))
                .collect()
        };
        Ok(Gaussian {
            mean,
            scale,
            whiten,
            centres,
            log_shift,
        })
    }

    pub(crate) fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Checks internal sizes (after deserialising).
    pub(crate) fn check(&self) -> Result<(), String> {
        let d = self.mean.len();
        if d == 0
            || self.scale.len() != d
            || self.whiten.len() != d * d
            || self.centres.is_empty()
            || self.centres.iter().any(|c| c.len() != d)
            || self.log_shift.as_ref().is_some_and(|s| s.len() != d)
        {
            return Err("inconsistent sizes".into());
        }
        let all = self
            .mean
            .iter()
            .chain(&self.scale)
            .chain(&self.whiten)
            .chain(self.centres.iter().flatten())
            .chain(self.log_shift.iter().flatten());
        if all.into_iter().any(|v| !v.is_finite()) || self.scale.iter().any(|s| *s <= 0.0) {
            return Err("non-finite or non-positive values".into());
        }
        Ok(())
    }

    /// The squared Mahalanobis distance to the nearest centre (no heap allocation up to
    /// 256 dimensions and 64 centres). `x` shorter than the model scores its missing values as 0.
    pub(crate) fn score<T: Copy + Into<f64>>(&self, x: &[T]) -> f64 {
        let d = self.mean.len();
        let k = self.centres.len();
        let (mut z_stack, mut z_heap) = ([0.0f64; STACK_DIM], Vec::new());
        let z = scratch(&mut z_stack, &mut z_heap, d);
        for (j, ((zj, m), s)) in z.iter_mut().zip(&self.mean).zip(&self.scale).enumerate() {
            let v = x.get(j).map_or(0.0, |v| (*v).into());
            let v = match &self.log_shift {
                Some(shift) => log_transform(v, shift.get(j).copied().unwrap_or(0.0)),
                None => v,
            };
            *zj = (v - m) / s;
        }
        let (mut acc_stack, mut acc_heap) = ([0.0f64; STACK_CLASSES], Vec::new());
        let acc = scratch(&mut acc_stack, &mut acc_heap, k);
        for (i, row) in self.whiten.chunks_exact(d.max(1)).enumerate().take(d) {
            let wi = dot(row.get(..=i).unwrap_or_default(), z);
            for (a, c) in acc.iter_mut().zip(&self.centres) {
                let t = wi - c.get(i).copied().unwrap_or(0.0);
                *a += t * t;
            }
        }
        acc.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

/// Fewest rows behind one k-means centre: every centre is the mean of at least this many
/// clean rows, so no centre is a single patient's record and no outlier gets a centre of its
/// own.
pub(crate) const MIN_CENTRE_ROWS: usize = 10;
/// Seeded k-means restarts; the one with the least within-cluster sum of squares is kept.
const KMEANS_RESTARTS: u64 = 4;
/// Most Lloyd iterations per run (they stop earlier when no point changes cluster).
const KMEANS_ITERATIONS: usize = 100;

/// The SplitMix64 output function: a fixed pseudo-random `u64` for each input (fold order,
/// k-means seeding); not for anything secret.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

/// Up to `k` centres of `points` by k-means: k-means++ seeding (Arthur and Vassilvitskii
/// 2007) and Lloyd iterations, the best of [`KMEANS_RESTARTS`] seeded runs by within-cluster
/// sum of squares. A cluster of fewer than [`MIN_CENTRE_ROWS`] points is dropped and its
/// points join the nearest other centre, so at most `points.len() / MIN_CENTRE_ROWS` centres
/// come back (at least one: the mean). Deterministic: the same points and `seed` give the
/// same centres, so calibration reproduces its reference byte for byte.
pub(crate) fn kmeans(points: &[Vec<f64>], k: usize, seed: u64) -> Vec<Vec<f64>> {
    let n = points.len();
    let k = k.min(n / MIN_CENTRE_ROWS).max(1);
    let mut best: Option<(f64, Vec<Vec<f64>>)> = None;
    let restarts = if k == 1 { 1 } else { KMEANS_RESTARTS };
    for restart in 0..restarts {
        let mut state = splitmix(seed.wrapping_mul(0x1_0000_0001).wrapping_add(restart));
        let mut uniform = || {
            state = splitmix(state);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut centres: Vec<Vec<f64>> = Vec::with_capacity(k);
        if let Some(first) = points.get(((uniform() * n as f64) as usize).min(n.saturating_sub(1)))
        {
            centres.push(first.clone());
        }
        let mut nearest: Vec<f64> = points
            .iter()
            .map(|p| centres.first().map_or(0.0, |c| squared_distance(p, c)))
            .collect();
        while centres.len() < k {
            let total: f64 = nearest.iter().sum();
            if total <= 0.0 {
                break;
            }
            let mut u = uniform() * total;
            let pick = nearest
                .iter()
                .position(|w| {
                    u -= w;
                    u < 0.0
                })
                .unwrap_or(n - 1);
            let Some(c) = points.get(pick) else { break };
            for (w, p) in nearest.iter_mut().zip(points) {
                *w = w.min(squared_distance(p, c));
            }
            centres.push(c.clone());
        }
        let (centres, inertia) = lloyd(points, centres);
        if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
            best = Some((inertia, centres));
        }
    }
    best.map(|(_, c)| c).unwrap_or_default()
}

/// Lloyd iterations from `centres`, dropping the smallest cluster while it has fewer than
/// [`MIN_CENTRE_ROWS`] points; the centres and their within-cluster sum of squares.
fn lloyd(points: &[Vec<f64>], mut centres: Vec<Vec<f64>>) -> (Vec<Vec<f64>>, f64) {
    let d = points.first().map_or(0, Vec::len);
    let mut assignment = vec![usize::MAX; points.len()];
    loop {
        // Points per centre, as of the last assignment.
        let mut counts = vec![0usize; centres.len()];
        for _ in 0..KMEANS_ITERATIONS {
            let mut changed = false;
            for (a, p) in assignment.iter_mut().zip(points) {
                let nearest = centres
                    .iter()
                    .map(|c| squared_distance(p, c))
                    .enumerate()
                    .min_by(|x, y| x.1.total_cmp(&y.1))
                    .map_or(0, |(i, _)| i);
                if *a != nearest {
                    *a = nearest;
                    changed = true;
                }
            }
            let mut sums = vec![vec![0.0; d]; centres.len()];
            counts.fill(0);
            for (&a, p) in assignment.iter().zip(points) {
                if let (Some(s), Some(k)) = (sums.get_mut(a), counts.get_mut(a)) {
                    for (t, v) in s.iter_mut().zip(p) {
                        *t += v;
                    }
                    *k += 1;
                }
            }
            for ((c, s), &k) in centres.iter_mut().zip(sums).zip(&counts) {
                if k > 0 {
                    *c = s.into_iter().map(|v| v / k as f64).collect();
                }
            }
            if !changed {
                break;
            }
        }
        let smallest = counts
            .iter()
            .enumerate()
            .min_by_key(|(_, k)| **k)
            .map(|(i, k)| (i, *k));
        match smallest {
            Some((i, k)) if k < MIN_CENTRE_ROWS && centres.len() > 1 => {
                centres.remove(i);
                assignment.fill(usize::MAX);
            }
            _ => {
                let inertia = assignment
                    .iter()
                    .zip(points)
                    .filter_map(|(&a, p)| Some(squared_distance(p, centres.get(a)?)))
                    .sum();
                return (centres, inertia);
            }
        }
    }
}

/// `len` zeroed values: in `stack` when they fit, else in `heap` (no allocation in the usual
/// case).
fn scratch<'a, const N: usize>(
    stack: &'a mut [f64; N],
    heap: &'a mut Vec<f64>,
    len: usize,
) -> &'a mut [f64] {
    if len <= N {
        stack.get_mut(..len).unwrap_or_default()
    } else {
        heap.resize(len, 0.0);
        heap
    }
}

/// Dot product over the shorter of `a` and `b`, in four independent lanes (vectorisable).
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (
        a.get(..n).unwrap_or_default(),
        b.get(..n).unwrap_or_default(),
    );
    let mut lanes = [0.0f64; 4];
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for ((l, p), q) in lanes.iter_mut().zip(x).zip(y) {
            *l += p * q;
        }
    }
    let tail: f64 = ar.iter().zip(br).map(|(p, q)| p * q).sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// Cholesky factor (lower, row-major) of a symmetric positive-definite matrix given by its
/// lower triangle; `None` if not positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Inverse of a lower-triangular matrix (forward substitution on the identity).
fn invert_lower(l: &[f64], d: usize) -> Vec<f64> {
    let mut inv = vec![0.0; d * d];
    for col in 0..d {
        for i in col..d {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for k in col..i {
                s -= l[i * d + k] * inv[k * d + col];
            }
            inv[i * d + col] = s / l[i * d + i];
        }
    }
    inv
}

fn lower_mul(w: &[f64], d: usize, x: &[f64]) -> Vec<f64> {
    (0..d)
        .map(|i| {
            w[i * d..i * d + i + 1]
                .iter()
                .zip(x)
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect()
}

/// Bit-depth reduction of each feature over its contract range to `2^bits` levels.
pub(crate) fn squeeze_bits(x: &[f32], features: &[Feature], bits: u32, out: &mut [f32]) {
    let levels = f64::from((1u32 << bits) - 1).max(1.0);
    for ((o, v), f) in out.iter_mut().zip(x).zip(features) {
        let span = f.max - f.min;
        let t = ((f64::from(*v) - f.min) / span).clamp(0.0, 1.0);
        *o = (f.min + (t * levels).round() / levels * span) as f32;
    }
}

/// Median smoothing with an odd window (edges use the shrunk window).
pub(crate) fn median_smooth(x: &[f32], window: usize, out: &mut [f32]) {
    if window == 3 && x.len() >= 2 && out.len() == x.len() {
        // The common case without sorting or branches (the values are finite: the contract
        // checked them): inside, the median of three; at the edges the window shrinks to two
        // values and the sorted pair's upper one is taken, as in the general path.
        let n = x.len();
        for (i, o) in out.iter_mut().enumerate() {
            let a = x.get(i.saturating_sub(1)).copied().unwrap_or(0.0);
            let b = x.get(i).copied().unwrap_or(0.0);
            let c = x.get((i + 1).min(n - 1)).copied().unwrap_or(0.0);
            *o = if i == 0 {
                b.max(c)
            } else if i == n - 1 {
                a.max(b)
            } else {
                a.min(b).max(a.max(b).min(c))
            };
        }
        return;
    }
    let half = window / 2;
    let mut buf = Vec::with_capacity(window);
    for (i, o) in out.iter_mut().enumerate() {
        let lo = i.saturating_sub(half);
        let hi = (i + half + 1).min(x.len());
        buf.clear();
        buf.extend_from_slice(x.get(lo..hi).unwrap_or(&[]));
        buf.sort_by(f32::total_cmp);
        *o = buf.get(buf.len() / 2).copied().unwrap_or(0.0);
    }
}

/// The `ceil(q (n + 1))`-th smallest value (a split-conformal quantile), or the largest.
pub(crate) fn conformal_quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let k = ((q * (n as f64 + 1.0)).ceil() as usize).clamp(1, n.max(1));
    sorted.get(k - 1).copied().unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mahalanobis_matches_identity_case() {
        // Two classes at +-1 on a line with unit within-class variance.
        let rows: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let c = (i % 2) as f64 * 2.0 - 1.0;
                let e = ((i * 37 % 101) as f64 / 101.0 - 0.5) * 0.2;
                vec![c + e, e * 0.5 + 0.01 * (i as f64 % 7.0)]
            })
            .collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let labels: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let g = Gaussian::fit(&refs, &labels, 2, 0.0, None, 1).unwrap();
        g.check().unwrap();
        let near = g.score(&[1.0f64, 0.0]);
        let far = g.score(&[0.0f64, 3.0]);
        assert!(near < 5.0, "{near}");
        assert!(far > 100.0, "{far}");
    }

    #[test]
    fn log_transform_equals_a_fit_on_logarithms() {
        let rows: Vec<Vec<f64>> = (0..120)
            .map(|i| {
                let a = 1.0 + (i * 13 % 29) as f64;
                let b = 0.5 + (i * 7 % 17) as f64 * 0.3;
                vec![a, a * b, (i % 5) as f64]
            })
            .collect();
        let labels: Vec<usize> = (0..120).map(|i| i % 2).collect();
        let shift = vec![0.1, 0.2, 0.05];
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let g = Gaussian::fit(&refs, &labels, 2, 0.05, Some(shift.clone()), 1).unwrap();
        g.check().unwrap();
        let logs: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().zip(&shift).map(|(v, s)| (v + s).ln()).collect())
            .collect();
        let lrefs: Vec<&[f64]> = logs.iter().map(|r| r.as_slice()).collect();
        let h = Gaussian::fit(&lrefs, &labels, 2, 0.05, None, 1).unwrap();
        for r in rows.iter().take(10) {
            let l: Vec<f64> = r.iter().zip(&shift).map(|(v, s)| (v + s).ln()).collect();
            assert!((g.score(r) - h.score(&l)).abs() < 1e-6 * (1.0 + h.score(&l)));
        }
        // A value at or under -shift is far from everything, not a NaN.
        let s = g.score(&[-1.0f64, 2.0, 1.0]);
        assert!(s.is_finite() && s > 1e3, "{s}");
        // Wrong width of the shifts is refused.
        assert!(Gaussian::fit(&refs, &labels, 2, 0.05, Some(vec![0.1]), 1).is_err());
    }

    #[test]
    fn score_matches_the_dense_product() {
        let rows: Vec<Vec<f64>> = (0..60)
            .map(|i| {
                vec![
                    (i % 7) as f64,
                    (i * 3 % 11) as f64,
                    (i * 5 % 13) as f64 * 0.5,
                ]
            })
            .collect();
        let labels: Vec<usize> = (0..60).map(|i| i % 3).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let g = Gaussian::fit(&refs, &labels, 3, 0.1, None, 1).unwrap();
        for r in &rows {
            let z: Vec<f64> = r
                .iter()
                .zip(&g.mean)
                .zip(&g.scale)
                .map(|((v, m), s)| (v - m) / s)
                .collect();
            let w = lower_mul(&g.whiten, 3, &z);
            let dense = g
                .centres
                .iter()
                .map(|c| w.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
                .fold(f64::INFINITY, f64::min);
            assert!((g.score(r) - dense).abs() < 1e-9);
        }
    }

    #[test]
    fn wide_models_score_on_the_heap_path() {
        let d = 300;
        let rows: Vec<Vec<f64>> = (0..40)
            .map(|i| (0..d).map(|j| ((i * 31 + j * 17) % 23) as f64).collect())
            .collect();
        let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let g = Gaussian::fit(&refs, &labels, 2, 0.5, None, 1).unwrap();
        let z: Vec<f64> = rows[3]
            .iter()
            .zip(&g.mean)
            .zip(&g.scale)
            .map(|((v, m), s)| (v - m) / s)
            .collect();
        let w = lower_mul(&g.whiten, d, &z);
        let dense = g
            .centres
            .iter()
            .map(|c| w.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
            .fold(f64::INFINITY, f64::min);
        assert!((g.score(&rows[3]) - dense).abs() < 1e-6 * (1.0 + dense));
    }

    /// Points around `centres`, `per` each, on a fixed lattice of offsets within `spread`.
    fn blobs(centres: &[[f64; 2]], per: usize, spread: f64) -> Vec<Vec<f64>> {
        centres
            .iter()
            .flat_map(|c| {
                (0..per).map(move |i| {
                    let a = i as f64 * 2.399_963; // golden angle: points fill a disc
                    let r = spread * ((i as f64 + 0.5) / per as f64).sqrt();
                    vec![c[0] + r * a.cos(), c[1] + r * a.sin()]
                })
            })
            .collect()
    }

    #[test]
    fn kmeans_finds_the_modes_of_a_class() {
        let points = blobs(&[[-5.0, 0.0], [5.0, 0.0]], 30, 1.0);
        let mut c = kmeans(&points, 2, 7);
        c.sort_by(|a, b| a[0].total_cmp(&b[0]));
        assert_eq!(c.len(), 2);
        assert!((c[0][0] + 5.0).abs() < 0.2 && c[0][1].abs() < 0.2, "{c:?}");
        assert!((c[1][0] - 5.0).abs() < 0.2 && c[1][1].abs() < 0.2, "{c:?}");
        // The same points and seed give the same centres, bit for bit.
        let mut again = kmeans(&points, 2, 7);
        again.sort_by(|a, b| a[0].total_cmp(&b[0]));
        assert_eq!(c, again);
        // One centre is the mean.
        let one = kmeans(&points, 1, 7);
        assert_eq!(one.len(), 1);
        let n = points.len() as f64;
        let mean: Vec<f64> = (0..2)
            .map(|j| points.iter().map(|p| p[j]).sum::<f64>() / n)
            .collect();
        assert!(squared_distance(&one[0], &mean) < 1e-18, "{one:?} {mean:?}");
    }

    #[test]
    fn kmeans_gives_no_outlier_a_centre_of_its_own() {
        // 25 points in one blob and one far outlier: at most 26 / 10 = 2 centres, and every
        // centre is the mean of at least MIN_CENTRE_ROWS points, never the outlier itself.
        let mut points = blobs(&[[0.0, 0.0]], 25, 1.0);
        points.push(vec![100.0, 100.0]);
        for k in [2, 8, 32] {
            let c = kmeans(&points, k, 1);
            assert!(!c.is_empty() && c.len() <= 2, "{k}: {c:?}");
            for centre in &c {
                let members = points
                    .iter()
                    .filter(|p| {
                        let d = squared_distance(p, centre);
                        c.iter().all(|o| d <= squared_distance(p, o))
                    })
                    .count();
                assert!(
                    members >= MIN_CENTRE_ROWS,
                    "{k}: {members} points at {centre:?}"
                );
                assert!(centre[0] < 50.0, "{k}: {centre:?}");
            }
        }
        // Fewer points than one centre needs: the mean, not nothing.
        assert_eq!(kmeans(&points[..5], 4, 1).len(), 1);
        assert!(kmeans(&[], 4, 1).is_empty());
    }

    #[test]
    fn centres_follow_a_class_that_is_not_one_cloud() {
        // Class 0 has two modes; class 1 one. With one centre per class the gap between class
        // 0's modes (where no clean row lies) scores as typical; with k-means centres it
        // scores far, and the modes themselves score closer.
        let mut rows = blobs(&[[-4.0, 0.0], [4.0, 0.0]], 40, 1.0);
        rows.extend(blobs(&[[0.0, 8.0]], 80, 1.0));
        let labels: Vec<usize> = (0..rows.len()).map(|i| usize::from(i >= 80)).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let one = Gaussian::fit(&refs, &labels, 2, 0.0, None, 1).unwrap();
        let many = Gaussian::fit(&refs, &labels, 2, 0.0, None, 4).unwrap();
        assert_eq!(one.centres.len(), 2);
        assert!(
            many.centres.len() >= 3 && many.centres.len() <= 8,
            "{}",
            many.centres.len()
        );
        assert_eq!(one.whiten, many.whiten, "the covariance does not change");
        many.check().unwrap();
        let gap = [0.0f64, 0.0];
        let mode = [4.0f64, 0.0];
        assert!(
            many.score(&gap) > 4.0 * one.score(&gap),
            "{} {}",
            many.score(&gap),
            one.score(&gap)
        );
        assert!(many.score(&mode) < one.score(&mode));
        // A class of fewer than 2 * MIN_CENTRE_ROWS rows keeps its mean on the k-means path.
        let few: Vec<&[f64]> = refs.iter().step_by(8).copied().collect();
        let few_labels: Vec<usize> = labels.iter().step_by(8).copied().collect();
        assert!(few_labels
            .iter()
            .all(|&c| few_labels.iter().filter(|&&l| l == c).count() < 20));
        let means = Gaussian::fit(&few, &few_labels, 2, 0.0, None, 1).unwrap();
        let kmeans_path = Gaussian::fit(&few, &few_labels, 2, 0.0, None, 4).unwrap();
        assert_eq!(kmeans_path.centres.len(), 2);
        for (a, b) in means.centres.iter().zip(&kmeans_path.centres) {
            assert!(squared_distance(a, b) < 1e-18, "{a:?} {b:?}");
        }
    }

    #[test]
    fn cholesky_inverse_round_trips() {
        let a = [4.0, 0.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        let w = invert_lower(&l, 2);
        // W A W^T = I for the full symmetric A = [[4,2],[2,3]].
        let full = [4.0, 2.0, 2.0, 3.0];
        for i in 0..2 {
            for j in 0..2 {
                let mut s = 0.0;
                for k in 0..2 {
                    for m in 0..2 {
                        s += w[i * 2 + k] * full[k * 2 + m] * w[j * 2 + m];
                    }
                }
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[0.0, 0.0, 0.0, 1.0], 2).is_none());
    }

    #[test]
    fn ln_floors_what_has_no_logarithm() {
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(std::f64::consts::E), 1.0);
        assert_eq!(ln(1e-303), 1e-303f64.ln());
        // Under e^-700 (subnormals included): the floor.
        assert_eq!(ln(1e-310), LOG_FLOOR);
        assert_eq!(ln(f64::MIN_POSITIVE), LOG_FLOOR);
        assert_eq!(ln(1.0), 0.0);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(ln(bad), LOG_FLOOR);
        }
    }

    #[test]
    fn median_of_three_matches_the_sorting_path() {
        let x: Vec<f32> = (0..50u32)
            .map(|i| (i.wrapping_mul(2_654_435_761u32) % 97) as f32 - 40.0)
            .collect();
        for len in [2usize, 3, 4, 50] {
            let x = &x[..len];
            let mut fast = vec![0.0; len];
            median_smooth(x, 3, &mut fast);
            // The general path: window 3 through the sorting code.
            let mut slow = vec![0.0; len];
            let mut buf = Vec::new();
            for (i, o) in slow.iter_mut().enumerate() {
                buf.clear();
                buf.extend_from_slice(&x[i.saturating_sub(1)..(i + 2).min(len)]);
                buf.sort_by(f32::total_cmp);
                *o = buf[buf.len() / 2];
            }
            assert_eq!(fast, slow, "len {len}");
        }
    }

    #[test]
    fn median_and_quantile() {
        let mut out = [0.0; 5];
        median_smooth(&[1.0, 9.0, 2.0, 3.0, 8.0], 3, &mut out);
        assert_eq!(out, [9.0, 2.0, 3.0, 3.0, 8.0]);
        let s: Vec<f64> = (1..=19).map(f64::from).collect();
        assert_eq!(conformal_quantile(&s, 0.95), 19.0);
        assert_eq!(conformal_quantile(&s, 0.5), 10.0);
    }
}

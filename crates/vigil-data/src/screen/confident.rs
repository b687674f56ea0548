//! Confident learning (Northcutt, Jiang and Chuang, JAIR 2021) as cleanlab 2.9's
//! `cleanlab.filter.find_label_issues` runs it with its defaults: `filter_by =
//! "prune_by_noise_rate"`, the calibrated confident joint, `min_examples_per_class = 1`,
//! `frac_noise = 1.0`, issues ranked by self-confidence (`return_indices_ranked_by =
//! "self_confidence"`).
//!
//! Each step follows the cleanlab source it is named after (`cleanlab/count.py`,
//! `cleanlab/filter.py`, `cleanlab/rank.py`, `cleanlab/internal/util.py` of cleanlab 2.9.0),
//! including the order of floating-point operations and numpy's pairwise summation, so that the
//! same probabilities give the same issues. `np.argsort` is not stable: in
//! `round_preserving_sum` (a row of the confident joint, where equal gaps are common) its
//! order of ties is replayed as numpy computes it with AVX-512 (`npsort`). Elsewhere (margins
//! and self-confidences of rows, where ties need equal probabilities) ties are broken by row
//! order, so equal margins or self-confidences may be ordered or cut differently.

/// `count.get_confident_thresholds` clips thresholds from below at
/// `CONFIDENT_THRESHOLDS_LOWER_BOUND = 2 * FLOATING_POINT_COMPARISON`.
const THRESHOLD_LOWER_BOUND: f64 = 2e-6;
/// `FLOATING_POINT_COMPARISON` in `cleanlab/internal/constants.py`.
const FLOATING_POINT_COMPARISON: f64 = 1e-6;
/// `TINY_VALUE` in `cleanlab/internal/constants.py`.
const TINY_VALUE: f64 = 1e-100;

/// numpy's `np.add.reduce` over a contiguous float64 array: pairwise summation with blocks of
/// 128 and eight partial sums (`pairwise_sum` in numpy's `loops_utils.h.src`).
pub(crate) fn np_sum(a: &[f64]) -> f64 {
    0.0 + pairwise(a)
}

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(a.get(..8).unwrap_or(&[0.0; 8]));
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += a.get(i + j).copied().unwrap_or(0.0);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in a.get(i..).unwrap_or_default() {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let (l, r) = a.split_at(n2);
        pairwise(l) + pairwise(r)
    }
}

/// Predicted probabilities: `n` rows of `k` columns, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Probabilities {
    /// Number of classes (columns).
    pub k: usize,
    /// `n * k` values, row by row.
    pub values: Vec<f64>,
}

impl Probabilities {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        self.values
            .get(i * self.k..(i + 1) * self.k)
            .unwrap_or_default()
    }

    /// `p[i][j]` (0 outside).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.values.get(i * self.k + j).copied().unwrap_or(0.0)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.k).unwrap_or(0)
    }

    /// The first column holding the row's largest value (`np.argmax`).
    pub fn argmax(&self, i: usize) -> usize {
        argmax(self.row(i))
    }
}

fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    let mut max = f64::NEG_INFINITY;
    for (j, &x) in row.iter().enumerate() {
        // np.argmax: the first maximum; NaN wins (not expected: inputs are checked).
        if x > max || (j == 0) {
            max = x;
            best = j;
        }
    }
    best
}

/// `count.get_confident_thresholds`: per class, the mean probability of that class over the
/// examples labelled with it (2 for a class no example has), clipped below at 2e-6.
pub(crate) fn confident_thresholds(labels: &[usize], p: &Probabilities) -> Vec<f64> {
    (0..p.k)
        .map(|k| {
            let v: Vec<f64> = labels
                .iter()
                .enumerate()
                .filter(|&(_, &l)| l == k)
                .map(|(i, _)| p.get(i, k))
                .collect();
            let t = if v.is_empty() {
                2.0
            } else {
                np_sum(&v) / v.len() as f64
            };
            t.max(THRESHOLD_LOWER_BOUND)
        })
        .collect()
}

/// `count.compute_confident_joint(calibrate=True)`: `cj[given][true]`.
pub(crate) fn confident_joint(labels: &[usize], p: &Probabilities) -> Vec<Vec<i64>> {
    let k = p.k;
    let t = confident_thresholds(labels, p);
    let mut cj = vec![vec![0i64; k]; k];
    let mut any_confident = false;
    for (i, &given) in labels.iter().enumerate() {
        let row = p.row(i);
        let mut count = 0;
        let mut first = None;
        for (j, (&x, &tj)) in row.iter().zip(&t).enumerate() {
            if x >= tj - 1e-6 {
                count += 1;
                first.get_or_insert(j);
            }
        }
        let Some(first) = first else { continue };
        any_confident = true;
        let guess = if count > 1 { argmax(row) } else { first };
        if let Some(c) = cj.get_mut(given).and_then(|r| r.get_mut(guess)) {
            *c += 1;
        }
    }
    for (j, r) in cj.iter_mut().enumerate() {
        if let Some(d) = r.get_mut(j) {
            *d = (*d).max(1);
        }
    }
    calibrate(&cj, labels, any_confident)
}

/// `count.calibrate_confident_joint`.
fn calibrate(cj: &[Vec<i64>], labels: &[usize], any_confident: bool) -> Vec<Vec<i64>> {
    let k = cj.len();
    let mut label_counts = vec![0f64; k];
    for &l in labels {
        if let Some(c) = label_counts.get_mut(l) {
            *c += 1.0;
        }
    }
    let mut cal: Vec<Vec<f64>> = cj
        .iter()
        .zip(&label_counts)
        .map(|(row, &lc)| {
            let s = row.iter().sum::<i64>() as f64;
            row.iter()
                .map(|&x| x as f64 / s.max(TINY_VALUE) * lc)
                .collect()
        })
        .collect();
    // `np.sum(calibrated_cj)` adds the cells in memory order. cleanlab's joint is
    // `confusion_matrix(..).T`, a Fortran-ordered array, and keeps that order through the
    // calibration, so the cells are added column by column (true label outer, given label
    // inner). Only the joint of no confident row is made C-ordered (`np.zeros`). The order
    // moves the total's last bit, which moves which cell `round_preserving_sum` rounds.
    let flat: Vec<f64> = if any_confident {
        (0..k)
            .flat_map(|c| {
                cal.iter()
                    .map(move |row| row.get(c).copied().unwrap_or(0.0))
            })
            .collect()
    } else {
        cal.iter().flatten().copied().collect()
    };
    let total = np_sum(&flat).max(TINY_VALUE);
    let n = np_sum(&label_counts);
    for row in &mut cal {
        for x in row.iter_mut() {
            *x = *x / total * n;
        }
    }
    cal.iter().map(|r| round_preserving_sum(r)).collect()
}

/// `internal.util.round_preserving_sum`: round each value (half to even, as numpy) and adjust
/// the ones furthest from their rounding so that the total is the rounded total.
pub(crate) fn round_preserving_sum(floats: &[f64]) -> Vec<i64> {
    let mut ints: Vec<f64> = floats.iter().map(|x| x.round_ties_even()).collect();
    let orig_sum = np_sum(floats).round_ties_even();
    let mut int_sum = np_sum(&ints).round_ties_even();
    let mut guard = 0;
    while (int_sum - orig_sum).abs() > FLOATING_POINT_COMPARISON && guard < 1000 {
        guard += 1;
        let diff = (orig_sum - int_sum).round_ties_even();
        let increment = if diff < 0.0 { -1.0 } else { 1.0 };
        let changes = (diff.abs() as usize).min(floats.len());
        // `np.argsort(floats - ints)`, ties in numpy's own order (see `npsort`): equal gaps are
        // common (cells of a row with equal counts), and which of them is rounded the other
        // way decides which rows are flagged.
        let gaps: Vec<f64> = floats.iter().zip(&ints).map(|(f, i)| f - i).collect();
        let mut order = super::npsort::argsort(&gaps);
        if increment > 0.0 {
            order.reverse();
        }
        for &i in order.iter().take(changes) {
            if let Some(x) = ints.get_mut(i) {
                *x += increment;
            }
        }
        int_sum = np_sum(&ints).round_ties_even();
    }
    ints.iter().map(|&x| x as i64).collect()
}

/// `filter._keep_at_least_n_per_class(confident_joint.T, n=1, frac_noise=1.0)`: the prune
/// count matrix, `pcm[true][given]`.
fn prune_counts(cj: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let k = cj.len();
    // pcm = cj.T
    let pcm: Vec<Vec<f64>> = (0..k)
        .map(|r| (0..k).map(|c| cell(cj, c, r) as f64).collect())
        .collect();
    let diag: Vec<f64> = (0..k).map(|j| fcell(&pcm, j, j)).collect();
    let new_diag: Vec<f64> = diag.iter().map(|&d| d.max(1.0)).collect();
    let diff: Vec<f64> = new_diag.iter().zip(&diag).map(|(a, b)| a - b).collect();
    let per_col: Vec<f64> = (0..k)
        .map(|c| {
            let nz = (0..k).filter(|&r| fcell(&pcm, r, c) != 0.0).count() as f64;
            (nz - 1.0).max(1.0)
        })
        .collect();
    let mut out = vec![vec![0i64; k]; k];
    for r in 0..k {
        for c in 0..k {
            let v = if r == c {
                new_diag.get(c).copied().unwrap_or(0.0)
            } else {
                let d = diff.get(c).copied().unwrap_or(0.0);
                let n = per_col.get(c).copied().unwrap_or(1.0);
                (fcell(&pcm, r, c) - d / n).max(0.0)
            };
            // `_reduce_prune_counts(.., 1.0)` then `.astype(int)`: truncation.
            if let Some(o) = out.get_mut(r).and_then(|row| row.get_mut(c)) {
                *o = v.trunc() as i64;
            }
        }
    }
    out
}

fn cell(m: &[Vec<i64>], r: usize, c: usize) -> i64 {
    m.get(r).and_then(|row| row.get(c)).copied().unwrap_or(0)
}

fn fcell(m: &[Vec<f64>], r: usize, c: usize) -> f64 {
    m.get(r).and_then(|row| row.get(c)).copied().unwrap_or(0.0)
}

/// `filter.find_label_issues` with its defaults, then `rank.order_label_issues` by
/// self-confidence: the rows with label issues, most suspicious (lowest probability of the
/// given label) first. `labels[i] < p.k` for every row.
pub fn find_label_issues(labels: &[usize], p: &Probabilities) -> Vec<usize> {
    let k = p.k;
    let cj = confident_joint(labels, p);
    let pcm = prune_counts(&cj);
    let mut flagged = vec![false; labels.len()];
    for class in 0..k {
        let rows: Vec<usize> = (0..labels.len())
            .filter(|&i| labels.get(i) == Some(&class))
            .collect();
        // `_prune_by_count`: nothing when the class has at most min_examples_per_class (1).
        if rows.len() <= 1 {
            continue;
        }
        for j in 0..k {
            let num2prune = usize::try_from(cell(&pcm, j, class)).unwrap_or(0);
            if j == class || num2prune == 0 {
                continue;
            }
            let mut order: Vec<(f64, usize)> = rows
                .iter()
                .map(|&i| (p.get(i, j) - p.get(i, class), i))
                .collect();
            // np.argsort(-margin): largest margin first.
            order.sort_by(|a, b| (-a.0).total_cmp(&(-b.0)).then(a.1.cmp(&b.1)));
            for &(_, i) in order.iter().take(num2prune) {
                if let Some(f) = flagged.get_mut(i) {
                    *f = true;
                }
            }
        }
    }
    // Not an issue where the model predicts the given label (`count._reduce_issues`: the
    // given label's probability raised by 1e-6 before the argmax, so a tie or a near tie
    // with another class counts as predicting it).
    let mut issues: Vec<usize> = (0..labels.len())
        .filter(|&i| {
            flagged.get(i) == Some(&true)
                && labels.get(i).is_some_and(|&l| !predicts_given(p.row(i), l))
        })
        .collect();
    issues.sort_by(|&a, &b| {
        let sa = self_confidence(labels, p, a);
        let sb = self_confidence(labels, p, b);
        sa.total_cmp(&sb).then(a.cmp(&b))
    });
    issues
}

/// Whether `np.argmax` of `row`, with the `given` column raised by `FLOATING_POINT_COMPARISON`,
/// is `given` (`count._reduce_issues`).
fn predicts_given(row: &[f64], given: usize) -> bool {
    let raised: Vec<f64> = row
        .iter()
        .enumerate()
        .map(|(j, &x)| {
            if j == given {
                x + FLOATING_POINT_COMPARISON
            } else {
                x
            }
        })
        .collect();
    argmax(&raised) == given
}

/// `rank.get_self_confidence_for_each_label`: the probability of the given label.
pub fn self_confidence(labels: &[usize], p: &Probabilities, i: usize) -> f64 {
    labels.get(i).map_or(0.0, |&l| p.get(i, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sum_order() {
        let v: Vec<f64> = (0..300).map(|i| 0.1 * i as f64 + 1e-3).collect();
        let s = np_sum(&v);
        let naive: f64 = v.iter().sum();
        assert!((s - naive).abs() < 1e-9);
        assert_eq!(np_sum(&[1.0, 2.0]), 3.0);
    }

    #[test]
    fn rounding_preserves_totals() {
        assert_eq!(round_preserving_sum(&[0.5, 0.5, 1.0]), vec![0, 1, 1]);
        assert_eq!(round_preserving_sum(&[2.5, 3.5]), vec![2, 4]);
        let r = round_preserving_sum(&[0.4, 0.4, 0.4, 0.4, 0.4]);
        assert_eq!(r.iter().sum::<i64>(), 2);
    }

    /// Regression (digits, 10 classes, 10% flips: one row in 262 differed from cleanlab): equal
    /// gaps are rounded the other way in numpy's order, not by position. Expected values are
    /// cleanlab 2.9's `round_preserving_sum` with numpy 2.4.6 on AVX-512; a stable sort gives
    /// `[.., 6, 0, 7, ..]`, `[0, 1, 5, 6, ..]` and `[2, 4, 0, 1, ..]`.
    #[test]
    fn rounding_breaks_ties_as_numpy() {
        let (a, a2, a5) = (1.2684553732002193, 2.5369107464004386, 6.342276866001097);
        let row = [a, a, a2, a, a5, 0.0, a5, a2, a, 3.8053661196006576];
        assert_eq!(
            round_preserving_sum(&row),
            vec![1, 1, 3, 1, 7, 0, 6, 3, 1, 4]
        );
        let b = 1.0349354317347643;
        let c = 5.174677158673822;
        let row = [
            0.0,
            b,
            c,
            c,
            b,
            2.0698708634695286,
            0.0,
            3.104806295204293,
            b,
        ];
        assert_eq!(round_preserving_sum(&row), vec![0, 1, 6, 5, 1, 2, 0, 3, 1]);
        let d = 0.7534389733788531;
        let row = [
            2.2603169201365594,
            3.7671948668942656,
            d,
            d,
            0.0,
            0.0,
            0.0,
            d,
            d,
        ];
        assert_eq!(round_preserving_sum(&row), vec![2, 4, 1, 0, 0, 0, 0, 1, 1]);
    }

    /// Regression (digits, 10 classes, 20% flips: one row more than cleanlab): the calibration
    /// adds the joint's cells column by column, as numpy does for cleanlab's Fortran-ordered
    /// joint; row by row the total is 1797.0000000000002 instead of 1796.9999999999998, and
    /// row 8 rounds its last count at `[.., 3, 110, ..]` instead of `[.., 2, 111, ..]`.
    /// Expected: cleanlab 2.9's `calibrate_confident_joint` of this joint.
    #[test]
    fn calibration_adds_cells_in_numpys_order() {
        let raw = vec![
            vec![114, 3, 2, 3, 5, 3, 5, 1, 6, 1],
            vec![2, 104, 3, 4, 4, 3, 3, 1, 14, 5],
            vec![3, 9, 99, 1, 1, 1, 4, 4, 8, 5],
            vec![2, 4, 3, 97, 3, 5, 4, 4, 15, 8],
            vec![3, 9, 3, 7, 113, 4, 3, 5, 8, 8],
            vec![3, 1, 3, 1, 6, 107, 3, 3, 2, 8],
            vec![11, 5, 1, 9, 1, 6, 126, 2, 4, 4],
            vec![2, 4, 2, 6, 3, 4, 3, 106, 3, 9],
            vec![4, 8, 7, 3, 5, 5, 5, 2, 83, 10],
            vec![3, 9, 2, 5, 3, 1, 6, 4, 18, 90],
        ];
        let counts = [174, 179, 167, 182, 190, 173, 197, 172, 176, 187];
        let labels: Vec<usize> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
            .collect();
        let cal = calibrate(&raw, &labels, true);
        assert_eq!(cal[8], vec![5, 11, 9, 4, 7, 7, 7, 2, 111, 13]);
        assert_eq!(cal[9], vec![4, 12, 3, 7, 4, 1, 8, 5, 24, 119]);
        assert_eq!(cal[0], vec![139, 4, 2, 4, 6, 4, 6, 1, 7, 1]);
    }

    /// A near tie with the given label is not an issue: cleanlab raises the given label's
    /// probability by 1e-6 before taking the argmax.
    #[test]
    fn a_tie_with_the_given_label_predicts_it() {
        assert!(predicts_given(&[0.5, 0.5], 1));
        assert!(predicts_given(&[0.4000005, 0.4, 0.2], 1));
        assert!(!predicts_given(&[0.4, 0.35, 0.25], 1));
        assert!(predicts_given(&[0.2, 0.8], 1));
    }

    #[test]
    fn an_obvious_flip_is_found() {
        // Two well separated classes; row 3 is labelled 0 but predicted 1 with confidence.
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let values = vec![
            0.9, 0.1, 0.8, 0.2, 0.95, 0.05, 0.05, 0.95, 0.1, 0.9, 0.2, 0.8, 0.15, 0.85, 0.1, 0.9,
        ];
        let p = Probabilities { k: 2, values };
        assert_eq!(find_label_issues(&labels, &p), vec![3]);
    }
}

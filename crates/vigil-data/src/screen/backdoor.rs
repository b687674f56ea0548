//! Backdoor screening on a model's internal representation of each row.
//!
//! * **Spectral signatures** (Tran, Li and Madry, NeurIPS 2018): per class, the representations
//!   are centred, the top right singular vector `v` of the centred matrix is found (power
//!   iteration on the covariance), and each row scores `((r - mean) . v)^2`. Planted samples
//!   share a direction of unusual variance and score high. To compare classes, a row's score is
//!   divided by its class's median score (robust to the planted rows themselves).
//! * **Activation clustering** (Chen et al., 2018), the second opinion where a trigger is not
//!   the top direction of variance: per class, the representations projected on their top
//!   principal components (up to 10) are split in two by k-means (k = 2, seeded with the two
//!   rows farthest apart along the first component); a cluster holding less than 35% of the
//!   class is suspect.
//!
//! With a poison fraction `eps`, the `ceil(1.5 eps n_c)` highest spectral scores of each class
//! are suspects (Tran et al.'s removal rule), and as many again from the end of `v` that the
//! projections' skew points to (where a minority of planted rows makes the long tail; the
//! symmetric score can rank clean rows of the other tail above them). Without, rows scoring
//! above [`SPECTRAL_CUT`] times their class's median score are. Rows of a suspect cluster are
//! added (their spectral score kept). Suspects come most suspicious first.

/// Without a poison fraction: a row is a spectral suspect above this many times its class's
/// median score (for Gaussian representations, a clean row passes it with probability 0.0007).
pub const SPECTRAL_CUT: f64 = 25.0;
/// A k-means cluster smaller than this share of its class is suspect.
pub const SMALL_CLUSTER: f64 = 0.35;

/// Most power-iteration steps per principal direction: enough for the top direction to settle
/// to 1e-12 even when the next eigenvalue is within 2% of it (0.98^2000 < 1e-17).
const POWER_STEPS: usize = 2000;

/// Power-iteration steps for the components activation clustering projects on: a subspace
/// close to the top one is all k-means needs.
const CLUSTER_POWER_STEPS: usize = 300;

/// A suspect row.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    /// 0-based data row.
    pub row: usize,
    /// Class index.
    pub class: usize,
    /// Spectral score over the class median.
    pub score: f64,
    /// In a small activation cluster.
    pub clustered: bool,
}

/// Screen representations `reps` (`h` values per row) of rows labelled `labels` (in `0..k`).
pub fn screen(
    reps: &[f64],
    h: usize,
    labels: &[usize],
    k: usize,
    eps: Option<f64>,
) -> Vec<Suspect> {
    let mut out = Vec::new();
    if h == 0 {
        return out;
    }
    for class in 0..k {
        let rows: Vec<usize> = (0..labels.len())
            .filter(|&i| labels.get(i) == Some(&class))
            .collect();
        if rows.len() < 4 {
            continue;
        }
        let centred = centre(reps, h, &rows);
        let v = top_components(&centred, h, 1, POWER_STEPS);
        let Some(v) = v.first() else { continue };
        let proj: Vec<f64> = centred.chunks(h).map(|r| dot(r, v)).collect();
        let raw: Vec<f64> = proj.iter().map(|p| p * p).collect();
        let mut sorted = raw.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let score: Vec<f64> = raw
            .iter()
            .map(|s| if mid > 0.0 { s / mid } else { 0.0 })
            .collect();
        let mut flagged = vec![false; rows.len()];
        match eps {
            Some(eps) => {
                // ceil: never fewer rows than a reference that rounds or takes a quantile.
                let cut = ((1.5 * eps * rows.len() as f64).ceil() as usize).min(rows.len());
                let mut flag_top = |key: &dyn Fn(usize) -> f64| {
                    let mut order: Vec<usize> = (0..rows.len()).collect();
                    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
                    for &i in order.iter().take(cut) {
                        flagged[i] = true;
                    }
                };
                flag_top(&|i| score[i]);
                // The planted rows sit at one end of `v`, the side the projections' skew
                // points to (a minority cluster makes the long tail): the top of that side
                // too, which the symmetric score can crowd out with the clean rows of the
                // other tail when many rows are planted.
                let skew: f64 = proj.iter().map(|p| p * p * p).sum();
                let side = if skew < 0.0 { -1.0 } else { 1.0 };
                flag_top(&|i| side * proj[i]);
            }
            None => {
                for (f, s) in flagged.iter_mut().zip(&score) {
                    *f = *s > SPECTRAL_CUT;
                }
            }
        }
        let clustered = small_cluster(&centred, h);
        for (i, &row) in rows.iter().enumerate() {
            let c = clustered.get(i).copied().unwrap_or(false);
            if flagged[i] || c {
                out.push(Suspect {
                    row,
                    class,
                    score: score[i],
                    clustered: c,
                });
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The class's rows, centred, row-major.
fn centre(reps: &[f64], h: usize, rows: &[usize]) -> Vec<f64> {
    let mut mean = vec![0.0; h];
    for &r in rows {
        for (m, v) in mean
            .iter_mut()
            .zip(reps.get(r * h..(r + 1) * h).unwrap_or_default())
        {
            *m += v / rows.len() as f64;
        }
    }
    let mut out = Vec::with_capacity(rows.len() * h);
    for &r in rows {
        let row = reps.get(r * h..(r + 1) * h).unwrap_or_default();
        out.extend(row.iter().zip(&mean).map(|(v, m)| v - m));
    }
    out
}

/// The top `m` principal directions of centred rows (power iteration with deflation on the
/// covariance `X^T X`, at most `steps` steps each).
fn top_components(x: &[f64], h: usize, m: usize, steps: usize) -> Vec<Vec<f64>> {
    let mut cov = vec![0.0; h * h];
    for row in x.chunks(h) {
        for i in 0..h {
            let ri = row.get(i).copied().unwrap_or(0.0);
            if ri == 0.0 {
                continue;
            }
            for j in 0..h {
                if let Some(c) = cov.get_mut(i * h + j) {
                    *c += ri * row.get(j).copied().unwrap_or(0.0);
                }
            }
        }
    }
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for c in 0..m.min(h) {
        // A deterministic start not orthogonal to any axis.
        let mut v: Vec<f64> = (0..h).map(|i| 1.0 + ((i + c) % 7) as f64 * 0.1).collect();
        for _ in 0..steps {
            let mut w: Vec<f64> = (0..h)
                .map(|i| dot(cov.get(i * h..(i + 1) * h).unwrap_or_default(), &v))
                .collect();
            for u in &comps {
                let p = dot(&w, u);
                for (wi, ui) in w.iter_mut().zip(u) {
                    *wi -= p * ui;
                }
            }
            let norm = dot(&w, &w).sqrt();
            if norm == 0.0 {
                break;
            }
            w.iter_mut().for_each(|x| *x /= norm);
            let delta: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            if delta < 1e-12 {
                break;
            }
        }
        comps.push(v);
    }
    comps
}

/// Activation clustering: rows of the smaller of two k-means clusters, when it is small.
fn small_cluster(x: &[f64], h: usize) -> Vec<bool> {
    let n = x.len() / h.max(1);
    let comps = top_components(x, h, 10, CLUSTER_POWER_STEPS);
    let proj: Vec<Vec<f64>> = x
        .chunks(h)
        .map(|r| comps.iter().map(|c| dot(r, c)).collect())
        .collect();
    let first: Vec<f64> = proj
        .iter()
        .map(|p| p.first().copied().unwrap_or(0.0))
        .collect();
    let (mut lo, mut hi) = (0usize, 0usize);
    for (i, v) in first.iter().enumerate() {
        if *v < first[lo] {
            lo = i;
        }
        if *v > first[hi] {
            hi = i;
        }
    }
    let mut centres = [proj[lo].clone(), proj[hi].clone()];
    let mut assign = vec![0usize; n];
    for _ in 0..100 {
        let mut changed = false;
        for (i, p) in proj.iter().enumerate() {
            let d = |c: &Vec<f64>| p.iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
            let a = usize::from(d(&centres[1]) < d(&centres[0]));
            if assign[i] != a {
                assign[i] = a;
                changed = true;
            }
        }
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> = proj
                .iter()
                .zip(&assign)
                .filter(|(_, &a)| a == c)
                .map(|(p, _)| p)
                .collect();
            if members.is_empty() {
                continue;
            }
            for (j, v) in centre.iter_mut().enumerate() {
                *v = members
                    .iter()
                    .map(|m| m.get(j).copied().unwrap_or(0.0))
                    .sum::<f64>()
                    / members.len() as f64;
            }
        }
        if !changed {
            break;
        }
    }
    let ones = assign.iter().filter(|&&a| a == 1).count();
    let small = if ones * 2 < n { 1 } else { 0 };
    let size = if small == 1 { ones } else { n - ones };
    if (size as f64) < SMALL_CLUSTER * n as f64 && size > 0 {
        assign.iter().map(|&a| a == small).collect()
    } else {
        vec![false; n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-0.5, 0.5) (a 64-bit LCG).
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        }
    }

    #[test]
    fn planted_rows_are_found_with_and_without_eps() {
        // Class 0: 200 clean rows in 8 dims plus 10 planted rows shifted along one axis.
        let mut next = uniform(99);
        let h = 8;
        let mut reps = Vec::new();
        let mut labels = Vec::new();
        for i in 0..420 {
            let planted = i % 2 == 0 && i < 40;
            for j in 0..h {
                reps.push(next() + if planted && j == 3 { 6.0 } else { 0.0 });
            }
            labels.push(i % 2);
        }
        let planted: Vec<usize> = (0..40).step_by(2).collect();
        for eps in [Some(0.1), None] {
            let found = screen(&reps, h, &labels, 2, eps);
            for p in &planted {
                assert!(found.iter().any(|s| s.row == *p), "{eps:?}: {p} missing");
            }
            let top: Vec<(usize, usize, f64, bool)> = found
                .iter()
                .take(25)
                .map(|s| (s.row, s.class, s.score, s.clustered))
                .collect();
            assert!(
                found
                    .iter()
                    .take(planted.len())
                    .all(|s| planted.contains(&s.row)),
                "{eps:?} {top:?}"
            );
        }
    }

    #[test]
    fn planted_end_is_flagged_when_clean_rows_lead_the_symmetric_score() {
        // One class: 200 clean rows, 5 clean outliers at -6 and 10 planted rows at +5 along
        // axis 0. With a cut of 10, the symmetric score takes the 5 outliers (36) before half
        // the planted rows (25); the projections' skew points to the planted end, whose top 10
        // are all planted.
        let mut next = uniform(7);
        let h = 4;
        let mut reps = Vec::new();
        for i in 0..215 {
            let shift = match i {
                0..=199 => 0.0,
                200..=204 => -6.0,
                _ => 5.0,
            };
            for j in 0..h {
                reps.push(next() + if j == 0 { shift } else { 0.0 });
            }
        }
        let labels = vec![0; 215];
        let eps = 10.0 / (1.5 * 215.0);
        let found = screen(&reps, h, &labels, 1, Some(eps));
        for row in 205..215 {
            assert!(
                found.iter().any(|s| s.row == row),
                "planted row {row} missed"
            );
        }
        // The symmetric score still ranks first.
        assert!(found.iter().take(5).all(|s| (200..205).contains(&s.row)));
    }
}

//! Maximum mean discrepancy with a Gaussian RBF kernel and a permutation p-value, as Alibi
//! Detect's `MMDDrift` (PyTorch and TensorFlow backends) computes it by default.

use rayon::prelude::*;

use crate::error::DriftError;
use crate::rng::Xoshiro256;

/// Settings of the MMD permutation test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MmdOptions {
    /// Number of random permutations (Alibi's `n_permutations`, default 100).
    pub permutations: usize,
    /// Seed of the permutation generator: the same seed gives the same p-value.
    pub seed: u64,
    /// Kernel bandwidth; `None` infers it from the reference by Alibi's median heuristic.
    pub sigma: Option<f64>,
    /// Largest pooled sample (reference plus current) accepted: the kernel matrix takes
    /// `8 N^2` bytes (200 MB at the default 5000).
    pub max_points: usize,
}

impl Default for MmdOptions {
    fn default() -> Self {
        MmdOptions {
            permutations: 100,
            seed: 0,
            sigma: None,
            max_points: 5000,
        }
    }
}

/// Result of the MMD test.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MmdOutcome {
    /// The unbiased MMD² estimate between reference and current sample.
    pub statistic: f64,
    /// Fraction of permutations whose MMD² is at least the observed one (Alibi's p-value).
    pub p_value: f64,
    /// The kernel bandwidth used.
    pub sigma: f64,
    /// MMD² of each permutation, in order.
    pub permuted: Vec<f64>,
}

/// Alibi Detect's median heuristic (`sigma_median` applied to the reference against itself):
/// `sqrt(0.5 * s)` where `s` is the element at index `n + (n^2 - n) // 2 - 1` of all `n^2`
/// squared distances (diagonal included, each clamped below at 1e-30) sorted ascending.
pub fn sigma_median(reference: &[f64], dim: usize) -> Result<f64, DriftError> {
    let n = rows(reference, dim, "mmd")?;
    let mut upper = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            upper.push(sq_dist(row(reference, dim, i), row(reference, dim, j)).max(1e-30));
        }
    }
    // In the full sorted list the n diagonal entries (1e-30) come first and each off-diagonal
    // value appears twice, so index n + k in the full list is element k / 2 of the sorted upper
    // triangle, with k = (n^2 - n) // 2 - 1.
    let s = if upper.is_empty() || (n * n - n) / 2 == 0 {
        1e-30
    } else {
        let k = ((n * n - n) / 2 - 1) / 2;
        let (_, v, _) = upper.select_nth_unstable_by(k, f64::total_cmp);
        *v
    };
    Ok((0.5 * s).sqrt())
}

fn rows(data: &[f64], dim: usize, test: &'static str) -> Result<usize, DriftError> {
    if dim == 0 || data.len() % dim != 0 {
        return Err(DriftError::InvalidParameter {
            name: "dim",
            reason: format!("{} values do not form rows of {dim}", data.len()),
        });
    }
    crate::result::check_sample(test, data, 1)?;
    Ok(data.len() / dim)
}

fn row(data: &[f64], dim: usize, i: usize) -> &[f64] {
    &data[i * dim..(i + 1) * dim]
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The MMD permutation test of `reference` (rows of `dim` values, row-major) against `current`.
///
/// The kernel is `k(x, y) = exp(-||x - y||^2 / (2 sigma^2))`; the statistic is Alibi's
/// `mmd2_from_kernel_matrix` on the pooled kernel matrix with zeroed diagonal:
/// `sum(K_xx) / (n(n-1)) + sum(K_yy) / (m(m-1)) - 2 mean(K_xy)`. Each permutation shuffles the
/// pooled rows and recomputes the statistic with the first `n` as reference; the p-value is the
/// fraction of permuted statistics at least as large as the observed one (no +1 correction, as
/// Alibi). The kernel matrix is computed once; all permutations are then one matrix product
/// of the kernel matrix with their 0/1 membership vectors (GEMM), split over the cores.
pub fn mmd_test(
    reference: &[f64],
    current: &[f64],
    dim: usize,
    options: &MmdOptions,
) -> Result<MmdOutcome, DriftError> {
    let n = rows(reference, dim, "mmd")?;
    let m = rows(current, dim, "mmd")?;
    if n < 2 || m < 2 {
        return Err(DriftError::SampleTooSmall {
            test: "mmd",
            size: n.min(m),
            min: 2,
        });
    }
    let total = n + m;
    if total > options.max_points {
        return Err(DriftError::InvalidParameter {
            name: "max_points",
            reason: format!(
                "{total} pooled rows exceed the limit of {}",
                options.max_points
            ),
        });
    }
    let sigma = match options.sigma {
        Some(s) if s > 0.0 && s.is_finite() => s,
        Some(s) => {
            return Err(DriftError::InvalidParameter {
                name: "sigma",
                reason: format!("{s} is not a positive number"),
            })
        }
        None => sigma_median(reference, dim)?,
    };
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let pooled: Vec<f64> = reference.iter().chain(current).copied().collect();
    // Full kernel matrix with zero diagonal, rows in parallel.
    let kernel: Vec<f64> = (0..total)
        .into_par_iter()
        .flat_map_iter(|i| {
            let xi = row(&pooled, dim, i);
            let pooled = &pooled;
            (0..total).map(move |j| {
                if i == j {
                    0.0
                } else {
                    (-gamma * sq_dist(xi, row(pooled, dim, j)).max(1e-30)).exp()
                }
            })
        })
        .collect();
    let row_sums: Vec<f64> = kernel.par_chunks(total).map(|r| r.iter().sum()).collect();
    let grand: f64 = row_sums.iter().sum();
    // Column 0 of the weights is the observed split, column p the p-th permutation: 1 for rows
    // in the (permuted) reference part, 0 otherwise. All of them at once as one matrix
    // product: column p of `K W` holds, for each row, its kernel sum over that reference part.
    let mut rng = Xoshiro256::seed_from_u64(options.seed);
    let splits = options.permutations + 1;
    let mut weights = ndarray::Array2::<f64>::zeros((total, splits));
    for i in 0..n {
        weights[(i, 0)] = 1.0;
    }
    for p in 1..splits {
        let mut idx: Vec<usize> = (0..total).collect();
        rng.shuffle(&mut idx);
        for &i in &idx[..n] {
            weights[(i, p)] = 1.0;
        }
    }
    let kernel = ndarray::ArrayView2::from_shape((total, total), &kernel[..]).map_err(|e| {
        DriftError::InvalidParameter {
            name: "kernel",
            reason: e.to_string(),
        }
    })?;
    // Split the columns over the cores; each block is one GEMM (matrixmultiply, through ndarray).
    let block = splits.div_ceil(rayon::current_num_threads().max(1)).max(1);
    let blocks: Vec<(usize, ndarray::Array2<f64>)> = (0..splits)
        .step_by(block)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|start| {
            let end = (start + block).min(splits);
            let w = weights.slice(ndarray::s![.., start..end]);
            (start, kernel.dot(&w))
        })
        .collect();
    let (nf, mf) = (n as f64, m as f64);
    let mut stats = vec![0.0; splits];
    for (start, kw) in blocks {
        for (j, col) in kw.columns().into_iter().enumerate() {
            let p = start + j;
            let w = weights.column(p);
            let (mut a, mut rx) = (0.0, 0.0);
            for ((&wi, &kwi), &r) in w.iter().zip(col.iter()).zip(&row_sums) {
                if wi != 0.0 {
                    a += kwi;
                    rx += r;
                }
            }
            let c = rx - a;
            let b = grand - a - 2.0 * c;
            if let Some(slot) = stats.get_mut(p) {
                *slot = a / (nf * (nf - 1.0)) + b / (mf * (mf - 1.0)) - 2.0 * c / (nf * mf);
            }
        }
    }
    let statistic = stats.first().copied().unwrap_or(f64::NAN);
    let permuted: Vec<f64> = stats.get(1..).unwrap_or_default().to_vec();
    let p_value = if permuted.is_empty() {
        f64::NAN
    } else {
        permuted.iter().filter(|&&p| statistic <= p).count() as f64 / permuted.len() as f64
    };
    Ok(MmdOutcome {
        statistic,
        p_value,
        sigma,
        permuted,
    })
}

//! Random noise of the budget's size: the baseline every other attack must beat. Draws are
//! asked in batches; the first adversarial one (in draw order) wins, and the queries counted
//! are the draws up to it, whatever the batch size.

use super::{Found, NoiseKind, Norm, Probe};
use crate::error::AssessError;
use crate::rng::Rng;

/// One draw of the noise at budget `eps`.
fn draw(x0: &[f64], eps: f64, norm: Norm, kind: NoiseKind, rng: &mut Rng) -> Vec<f64> {
    let d = x0.len();
    let mut v: Vec<f64> = match (kind, norm) {
        (NoiseKind::Uniform, Norm::Linf) => (0..d).map(|_| rng.uniform(-eps, eps)).collect(),
        (NoiseKind::Uniform, Norm::L2) => {
            let g: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            let n = g
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt()
                .max(f64::MIN_POSITIVE);
            g.iter().map(|x| x * eps / n).collect()
        }
        (NoiseKind::Gaussian, Norm::Linf) => (0..d).map(|_| rng.normal() * eps).collect(),
        (NoiseKind::Gaussian, Norm::L2) => {
            let s = eps / (d.max(1) as f64).sqrt();
            (0..d).map(|_| rng.normal() * s).collect()
        }
    };
    // Onto the budget's ball.
    match norm {
        Norm::Linf => {
            for x in &mut v {
                *x = x.clamp(-eps, eps);
            }
        }
        Norm::L2 => {
            let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n > eps && n > 0.0 {
                for x in &mut v {
                    *x *= eps / n;
                }
            }
        }
    }
    x0.iter().zip(&v).map(|(a, b)| a + b).collect()
}

/// Noise at budget `eps` on the row of `p`, until a draw flips it or the queries run out.
pub(crate) fn noise(
    p: &mut Probe<'_>,
    eps: f64,
    norm: Norm,
    kind: NoiseKind,
    rng: &mut Rng,
) -> Result<Option<Found>, AssessError> {
    let x0 = p.space.x0.clone();
    while p.left() > 0 {
        let n = usize::try_from(p.left())
            .unwrap_or(usize::MAX)
            .min(crate::target::BATCH);
        let draws: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let mut u = draw(&x0, eps, norm, kind, rng);
                p.space.clip(&mut u);
                u
            })
            .collect();
        let before = p.used;
        let sat = p.adversarial(&draws)?;
        if let Some(i) = sat.iter().position(|s| *s) {
            let u = draws.into_iter().nth(i).unwrap_or_default();
            p.used = before + i as u64 + 1;
            return Ok(Some(Found { u, queries: p.used }));
        }
    }
    Ok(None)
}

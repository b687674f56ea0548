//! HopSkipJump (Chen, Jordan and Wainwright, "HopSkipJumpAttack: a query-efficient
//! decision-based attack", IEEE S&P 2020), untargeted, following ART 1.20's
//! `art/attacks/evasion/hop_skip_jump.py` step by step: a first adversarial point drawn
//! uniformly in the box (`init_size` tries) and pulled to the boundary by an L2 binary search
//! (threshold 0.001); then `max_iter` iterations of (delta from the current distance; binary
//! search to the boundary with threshold theta = 0.01/sqrt(d) for L2, 0.01/d for L-infinity;
//! a gradient estimate from `min(init_eval * sqrt(i + 1), max_eval)` random directions at radius
//! delta, centred by the mean decision as in the authors' code; a geometric step-size search
//! from 2 * dist / sqrt(i + 1), halving until the step lands on the adversarial side).
//!
//! Differences from ART: the box is per feature (the contract's ranges), queries stop at the
//! per-row budget, the step-size search gives up after 64 halvings (ART loops until success),
//! and the attack stops once its point lies within the smallest budget.

use super::{Norm, Probe, Trail};
use crate::error::AssessError;
use crate::rng::Rng;

/// Points on the segment (L2) or in the shrinking box (L-infinity) between the original row
/// and an adversarial point, as ART's `_interpolate`.
fn interpolate(cur: &[f64], x0: &[f64], alpha: f64, norm: Norm) -> Vec<f64> {
    cur.iter()
        .zip(x0)
        .map(|(c, o)| match norm {
            Norm::L2 => (1.0 - alpha) * o + alpha * c,
            Norm::Linf => c.clamp(o - alpha, o + alpha),
        })
        .collect()
}

/// ART's `_binary_search`: the adversarial point closest to the boundary on the way from
/// `cur` (adversarial) toward `x0`.
pub(crate) fn binary_search(
    p: &mut Probe<'_>,
    cur: &[f64],
    norm: Norm,
    threshold: Option<f64>,
    theta: f64,
) -> Result<Vec<f64>, AssessError> {
    let x0 = p.space.x0.clone();
    let (mut upper, mut lower, thr) = match norm {
        Norm::L2 => (1.0, 0.0, threshold.unwrap_or(theta)),
        Norm::Linf => {
            let u = Norm::Linf.dist(cur, &x0);
            (u, 0.0, threshold.unwrap_or((u * theta).min(theta)))
        }
    };
    while upper - lower > thr && p.left() > 0 {
        let alpha = (upper + lower) / 2.0;
        let mut s = interpolate(cur, &x0, alpha, norm);
        p.space.clip(&mut s);
        if p.adversarial1(&s)? {
            upper = alpha;
        } else {
            lower = alpha;
        }
    }
    let mut out = interpolate(cur, &x0, upper, norm);
    p.space.clip(&mut out);
    Ok(out)
}

/// A first adversarial point: the given starting points (ART's `x_adv_init`), then uniform
/// draws in the box, then (where ART would give up on the row) the fallback points; then an L2
/// binary search toward the row (ART's `_init_sample`, untargeted).
pub(crate) fn initial(
    p: &mut Probe<'_>,
    init_size: usize,
    rng: &mut Rng,
) -> Result<Option<Vec<f64>>, AssessError> {
    let theta = 0.01 / (p.space.dim() as f64).sqrt();
    // `None` stands for a uniform draw, made when its turn comes.
    let order = p
        .space
        .starts
        .clone()
        .into_iter()
        .map(Some)
        .chain((0..init_size).map(|_| None))
        .chain(p.space.fallback.clone().into_iter().map(Some));
    for candidate in order {
        if p.left() == 0 {
            return Ok(None);
        }
        let point = candidate.unwrap_or_else(|| p.space.random_point(rng));
        if p.adversarial1(&point)? {
            return binary_search(p, &point, Norm::L2, Some(0.001), theta).map(Some);
        }
    }
    Ok(None)
}

/// HopSkipJump on the row of `p`, noting every adversarial iterate in `trail`.
pub(crate) fn hop_skip_jump(
    p: &mut Probe<'_>,
    norm: Norm,
    params: &super::HsjParams,
    trail: &mut Trail<'_>,
    rng: &mut Rng,
) -> Result<(), AssessError> {
    let d = p.space.dim();
    let df = d as f64;
    let theta = match norm {
        Norm::L2 => 0.01 / df.sqrt(),
        Norm::Linf => 0.01 / df,
    };
    let x0 = p.space.x0.clone();
    let Some(mut cur) = initial(p, params.init_size, rng)? else {
        return Ok(());
    };
    trail.note(&cur, &x0, p.used);
    for iter in 0..params.max_iter {
        if trail.done() || p.left() == 0 {
            break;
        }
        // ART's `_compute_delta` (before the binary search, from the current point).
        let delta: Vec<f64> = if iter == 0 {
            p.space
                .lo
                .iter()
                .zip(p.space.hi)
                .map(|(l, h)| 0.1 * (h - l))
                .collect()
        } else {
            let dist = norm.dist(&x0, &cur);
            let v = match norm {
                Norm::L2 => df.sqrt() * theta * dist,
                Norm::Linf => df * theta * dist,
            };
            vec![v; d]
        };
        cur = binary_search(p, &cur, norm, None, theta)?;
        trail.note(&cur, &x0, p.used);
        if trail.done() {
            break;
        }
        let wanted = ((params.init_eval as f64) * ((iter + 1) as f64).sqrt()) as usize;
        let num_eval = wanted
            .min(params.max_eval)
            .min(usize::try_from(p.left()).unwrap_or(usize::MAX));
        if num_eval == 0 {
            break;
        }
        let update = estimate_update(p, &cur, num_eval, &delta, norm, rng)?;
        let dist = norm.dist(&x0, &cur);
        let mut epsilon = 2.0 * dist / ((iter + 1) as f64).sqrt();
        let mut next = None;
        for _ in 0..64 {
            if p.left() == 0 {
                break;
            }
            epsilon /= 2.0;
            let mut cand: Vec<f64> = cur
                .iter()
                .zip(&update)
                .map(|(c, u)| c + epsilon * u)
                .collect();
            p.space.clip(&mut cand);
            if p.adversarial1(&cand)? {
                next = Some(cand);
                break;
            }
        }
        match next {
            Some(c) => {
                cur = c;
                trail.note(&cur, &x0, p.used);
            }
            None => break,
        }
    }
    Ok(())
}

/// ART's `_compute_update`: the sign (L-infinity) or direction (L2) of the boundary's normal,
/// estimated from `num_eval` random directions at radius `delta`.
fn estimate_update(
    p: &mut Probe<'_>,
    cur: &[f64],
    num_eval: usize,
    delta: &[f64],
    norm: Norm,
    rng: &mut Rng,
) -> Result<Vec<f64>, AssessError> {
    let d = cur.len();
    let mut evals = Vec::with_capacity(num_eval);
    for _ in 0..num_eval {
        let mut r: Vec<f64> = (0..d)
            .map(|_| match norm {
                Norm::L2 => rng.normal(),
                Norm::Linf => rng.uniform(-1.0, 1.0),
            })
            .collect();
        let n = r
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        for v in &mut r {
            *v /= n;
        }
        let mut e: Vec<f64> = cur
            .iter()
            .zip(&r)
            .zip(delta)
            .map(|((c, v), dl)| c + dl * v)
            .collect();
        p.space.clip(&mut e);
        evals.push(e);
    }
    let sat = p.adversarial(&evals)?;
    let f: Vec<f64> = sat.iter().map(|s| if *s { 1.0 } else { -1.0 }).collect();
    let mean = f.iter().sum::<f64>() / num_eval as f64;
    let mut grad = vec![0.0; d];
    for (e, fv) in evals.iter().zip(&f) {
        let w = if mean == 1.0 {
            1.0
        } else if mean == -1.0 {
            -1.0
        } else {
            fv - mean
        };
        for ((g, ev), (c, dl)) in grad.iter_mut().zip(e).zip(cur.iter().zip(delta)) {
            let rnd = if *dl > 0.0 { (ev - c) / dl } else { 0.0 };
            *g += w * rnd / num_eval as f64;
        }
    }
    Ok(match norm {
        Norm::L2 => {
            let n = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
            if n > 0.0 {
                grad.iter().map(|g| g / n).collect()
            } else {
                grad
            }
        }
        Norm::Linf => grad
            .iter()
            .map(|g| {
                if *g > 0.0 {
                    1.0
                } else if *g < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            })
            .collect(),
    })
}

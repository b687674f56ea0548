//! Square Attack (Andriushchenko, Croce, Flammarion and Hein, "Square Attack: a
//! query-efficient black-box adversarial attack via random search", ECCV 2020), untargeted,
//! after ART 1.20's `art/attacks/evasion/square_attack.py`, on a row of features seen as a
//! one-dimensional image of one channel: a "square" is a window of consecutive features covering
//! the same share of the row as ART's square covers of an image.
//!
//! - Loss: ART's `_get_logits_diff`, the true class's score minus the best other one; a candidate
//!   replaces the current point only when it lowers the loss.
//! - Share of the row changed at iteration i: ART's `_get_percentage_of_elements`, `p_init`
//!   times 1, 1/2, ... 1/512 as i / max_iter passes 0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6,
//!   0.8.
//! - L-infinity: start from the row plus +-eps per feature ("vertical stripes"); each step sets
//!   one window to +-2 eps, projected back onto the eps box and the contract's box.
//! - L2: start from 25 windows (ART: a 5 x 5 grid of tiles) each with a +/- bump, scaled to eps;
//!   each step moves the perturbation's mass of two windows into one new bump, with the
//!   renormalisation of the authors' reference code (ART divides by the product of the two
//!   norms instead, which its final rescaling to eps mostly undoes).
//!
//! Each step costs one query (ART asks three per iteration: the prediction, the current loss
//! and the candidate's loss; the first two are already known here).

use super::{Found, Norm, Probe};
use crate::error::AssessError;
use crate::rng::Rng;

/// ART's schedule of the share of elements changed.
fn share(p_init: f64, i: usize, max_iter: usize) -> f64 {
    let ip = i as f64 / max_iter.max(1) as f64;
    let intervals = [0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8];
    let k = intervals.iter().take_while(|t| **t < ip).count();
    p_init / f64::from(1u32 << k.min(9))
}

fn l2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// A window of `h` values: a positive bump on the first half, a negative one on the second,
/// each built as ART's `_get_perturbation` builds its rings (weights 1/(r+1)^2 summed from the
/// centre out), of unit L2 norm; mirrored and negated at random.
fn bump(h: usize, rng: &mut Rng) -> Vec<f64> {
    let half = |m: usize| -> Vec<f64> {
        let c = m / 2;
        (0..m)
            .map(|i| {
                let r0 = i.abs_diff(c);
                (r0..=m).map(|r| 1.0 / ((r + 1) * (r + 1)) as f64).sum()
            })
            .collect()
    };
    let m1 = h / 2;
    let mut v = half(m1);
    v.extend(half(h - m1).into_iter().map(|x| -x));
    let n = l2(&v).max(f64::MIN_POSITIVE);
    for x in &mut v {
        *x /= n;
    }
    if rng.unit() > 0.5 {
        v.reverse();
    }
    if rng.unit() > 0.5 {
        for x in &mut v {
            *x = -*x;
        }
    }
    v
}

/// Square Attack at budget `eps` on the row of `p`, for at most `max_iter` steps.
pub(crate) fn square(
    p: &mut Probe<'_>,
    eps: f64,
    norm: Norm,
    p_init: f64,
    max_iter: usize,
    rng: &mut Rng,
) -> Result<Option<Found>, AssessError> {
    let x0 = p.space.x0.clone();
    let d = x0.len();
    if d == 0 || eps <= 0.0 {
        return Ok(None);
    }
    let (mut loss, adv0) = p.loss1(&x0)?;
    if adv0 {
        return Ok(None);
    }
    // The first point.
    let mut first: Vec<f64> = match norm {
        Norm::Linf => x0.iter().map(|v| v + eps * rng.sign()).collect(),
        Norm::L2 => {
            let tiles = d.min(25);
            let mut delta = Vec::with_capacity(d);
            for t in 0..tiles {
                let len = (t + 1) * d / tiles - t * d / tiles;
                let s = rng.sign();
                delta.extend(bump(len, rng).into_iter().map(|x| x * s));
            }
            let n = l2(&delta).max(f64::MIN_POSITIVE);
            x0.iter()
                .zip(&delta)
                .map(|(v, x)| v + eps * x / n)
                .collect()
        }
    };
    p.space.clip(&mut first);
    let mut cur = x0.clone();
    if p.left() == 0 {
        return Ok(None);
    }
    let (l, adv) = p.loss1(&first)?;
    if l < loss {
        cur = first;
        loss = l;
        if adv {
            return Ok(Some(Found {
                u: cur,
                queries: p.used,
            }));
        }
    }
    for i in 0..max_iter {
        if p.left() == 0 {
            break;
        }
        let frac = share(p_init, i, max_iter);
        let mut cand = cur.clone();
        match norm {
            Norm::Linf => {
                let h = ((frac * d as f64).round() as usize).clamp(1, d);
                let start = rng.below(d - h + 1);
                let s = 2.0 * eps * rng.sign();
                for (j, v) in cand.iter_mut().enumerate().skip(start).take(h) {
                    let o = x0.get(j).copied().unwrap_or(0.0);
                    *v = (*v + s).clamp(o - eps, o + eps);
                }
            }
            Norm::L2 => {
                let mut h = ((frac * d as f64).round() as usize).max(3);
                if h % 2 == 0 {
                    h += 1;
                }
                let h = h.min(d);
                let s1 = rng.below(d - h + 1);
                let s2 = rng.below(d - h + 1);
                let mut delta: Vec<f64> = cur.iter().zip(&x0).map(|(c, o)| c - o).collect();
                let norm_cur = l2(&delta);
                let w1: Vec<f64> = delta.iter().skip(s1).take(h).copied().collect();
                let w1n = l2(&w1);
                let union: f64 = delta
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| (s1..s1 + h).contains(j) || (s2..s2 + h).contains(j))
                    .map(|(_, v)| v * v)
                    .sum::<f64>();
                let mut new: Vec<f64> = bump(h, rng)
                    .into_iter()
                    .zip(&w1)
                    .map(|(b, w)| b + w / w1n.max(1e-9))
                    .collect();
                let target = ((eps * eps - norm_cur * norm_cur).max(0.0) + union).sqrt();
                let nn = l2(&new).max(f64::MIN_POSITIVE);
                for v in &mut new {
                    *v *= target / nn;
                }
                for v in delta.iter_mut().skip(s2).take(h) {
                    *v = 0.0;
                }
                for (v, n) in delta.iter_mut().skip(s1).zip(new) {
                    *v = n;
                }
                let dn = l2(&delta).max(f64::MIN_POSITIVE);
                cand = x0
                    .iter()
                    .zip(&delta)
                    .map(|(o, v)| o + eps * v / dn)
                    .collect();
            }
        }
        p.space.clip(&mut cand);
        let (l, adv) = p.loss1(&cand)?;
        if l < loss {
            cur = cand;
            loss = l;
            if adv {
                return Ok(Some(Found {
                    u: cur,
                    queries: p.used,
                }));
            }
        }
    }
    Ok(None)
}

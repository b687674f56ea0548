//! The boundary attack (Brendel, Rauber and Bethge, "Decision-based adversarial attacks",
//! ICLR 2018), untargeted, as ART 1.20's `BoundaryAttack` with its defaults (delta 0.01,
//! epsilon 0.01, step adaptation 0.667, 25 trials of 20 samples): from a first adversarial
//! point (as HopSkipJump finds one), alternate an orthogonal step on the sphere around the row
//! and a step toward the row, adapting both step sizes to their success rates; keep the
//! closest adversarial candidate. Steps are L2; the trail notes each point's distance in the
//! norm asked for.

use super::{Norm, Probe, Trail};
use crate::error::AssessError;
use crate::rng::Rng;

const TRIALS: usize = 25;
const SAMPLES: usize = 20;
const ADAPT: f64 = 0.667;

fn l2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// ART's `_orthogonal_perturb`: a random step of relative size `delta` orthogonal to the
/// direction to the row, projected back onto the sphere around the row.
fn orthogonal(delta: f64, cur: &[f64], x0: &[f64], rng: &mut Rng) -> Vec<f64> {
    let dir: Vec<f64> = x0.iter().zip(cur).map(|(o, c)| o - c).collect();
    let dn = l2(&dir).max(f64::MIN_POSITIVE);
    let mut r: Vec<f64> = (0..cur.len()).map(|_| rng.normal()).collect();
    let rn = l2(&r).max(f64::MIN_POSITIVE);
    for v in &mut r {
        *v *= delta * dn / rn;
    }
    let dot: f64 = r.iter().zip(&dir).map(|(a, b)| a * b / dn).sum();
    for (v, g) in r.iter_mut().zip(&dir) {
        *v -= dot * g / dn;
    }
    let hyp = (1.0 + delta * delta).sqrt();
    cur.iter()
        .zip(x0)
        .zip(&r)
        .map(|((c, o), v)| c + ((1.0 - hyp) * (c - o) + v) / hyp)
        .collect()
}

/// The boundary attack on the row of `p`, noting each accepted point in `trail`.
pub(crate) fn boundary(
    p: &mut Probe<'_>,
    init_size: usize,
    trail: &mut Trail<'_>,
    rng: &mut Rng,
) -> Result<(), AssessError> {
    let x0 = p.space.x0.clone();
    let Some(mut cur) = super::hsj::initial(p, init_size, rng)? else {
        return Ok(());
    };
    trail.note(&cur, &x0, p.used);
    let (mut delta, mut epsilon) = (0.01f64, 0.01f64);
    while !trail.done() && p.left() > 0 {
        // Orthogonal step.
        let mut accepted: Option<Vec<Vec<f64>>> = None;
        for _ in 0..TRIALS {
            if p.left() == 0 {
                break;
            }
            let cands: Vec<Vec<f64>> = (0..SAMPLES)
                .map(|_| {
                    let mut c = orthogonal(delta, &cur, &x0, rng);
                    p.space.clip(&mut c);
                    c
                })
                .collect();
            let sat = p.adversarial(&cands)?;
            let ratio = sat.iter().filter(|s| **s).count() as f64 / SAMPLES as f64;
            if ratio < 0.2 {
                delta *= ADAPT;
            } else if ratio > 0.5 {
                delta /= ADAPT;
            }
            if ratio > 0.0 {
                accepted = Some(
                    cands
                        .into_iter()
                        .zip(sat)
                        .filter(|(_, s)| *s)
                        .map(|(c, _)| c)
                        .collect(),
                );
                break;
            }
        }
        let Some(advs) = accepted else {
            break;
        };
        // Step toward the row.
        let mut moved = None;
        for _ in 0..TRIALS {
            if p.left() == 0 {
                break;
            }
            let cands: Vec<Vec<f64>> = advs
                .iter()
                .map(|a| {
                    let mut c: Vec<f64> = a
                        .iter()
                        .zip(&x0)
                        .map(|(v, o)| v + epsilon * (o - v))
                        .collect();
                    p.space.clip(&mut c);
                    c
                })
                .collect();
            let sat = p.adversarial(&cands)?;
            let ratio = sat.iter().filter(|s| **s).count() as f64 / cands.len().max(1) as f64;
            if ratio < 0.2 {
                epsilon *= ADAPT;
            } else if ratio > 0.5 {
                epsilon /= ADAPT;
            }
            if ratio > 0.0 {
                moved = cands
                    .into_iter()
                    .zip(sat)
                    .filter(|(_, s)| *s)
                    .map(|(c, _)| c)
                    .min_by(|a, b| Norm::L2.dist(a, &x0).total_cmp(&Norm::L2.dist(b, &x0)));
                break;
            }
        }
        match moved {
            Some(c) => {
                cur = c;
                trail.note(&cur, &x0, p.used);
            }
            None => break,
        }
    }
    Ok(())
}

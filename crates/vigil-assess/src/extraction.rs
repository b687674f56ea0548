//! `vigil assess extraction`: how far a model can be stolen through the guard's answers.
//!
//! An attacker with one identity (rate limits and the query budget lifted, the extraction
//! monitor and the bundle's `[alarm_response]` in force) sends `queries` rows through
//! [`vigil_guard::Guard::infer`] and trains a surrogate on the answers as the output policy
//! shows them (the probabilities shown, the rest of the mass spread evenly over the classes not
//! shown; a one-hot label under label-only). Strategies:
//! - `uniform`: rows uniform in the contract's physical ranges;
//! - `natural`: rows of the pool in turn, jittered by Gaussian noise of 0.1 standard deviation
//!   after the first pass;
//! - `jbda`: Jacobian-based dataset augmentation (Papernot et al., AsiaCCS 2017): from the first
//!   pool rows, each round adds x + 0.1 sign(d p_surrogate(class of x) / dx) (standard deviations),
//!   retraining the surrogate between rounds.
//!
//! The surrogate is a softmax regression on the standardised features (full-batch gradient
//! descent, 300 steps): a linear model, so agreement is a lower bound on what a stronger
//! attacker could reach. The report gives its agreement with the bare model on held-out rows that
//! were never queried, the query at which the extraction monitor first alarmed, and how many
//! queries the guard refused.

use std::time::Duration;

use serde::Serialize;
use vigil_guard::{ClientOverrides, RequestOptions, Verdict};

use crate::data::Labelled;
use crate::error::AssessError;
use crate::rng::Rng;
use crate::target::{argmax, Target};

/// How the attacker picks its queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Uniform in the contract's physical ranges.
    Uniform,
    /// Natural rows from a pool, jittered after the first pass.
    Natural,
    /// Jacobian-based dataset augmentation from pool seeds.
    Jbda,
}

impl Strategy {
    /// `uniform`, `natural` or `jbda`.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Uniform => "uniform",
            Strategy::Natural => "natural",
            Strategy::Jbda => "jbda",
        }
    }
}

/// `vigil assess extraction --json`.
///
/// ```text
/// {"strategy":"...","queries":n,"answered":n,"refused":n,"first_alarm":q|null,
///  "heldout":m,"agreement":x}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtractionReport {
    /// The strategy.
    pub strategy: &'static str,
    /// Queries sent.
    pub queries: usize,
    /// Queries answered.
    pub answered: usize,
    /// Queries the guard refused (abstained on).
    pub refused: usize,
    /// The query (from 1) at which the extraction monitor first alarmed; `null` if never.
    pub first_alarm: Option<usize>,
    /// Held-out rows the agreement is measured on.
    pub heldout: usize,
    /// Share of the held-out rows where the surrogate and the model agree (`null` when no query
    /// was answered).
    pub agreement: Option<f64>,
}

/// A softmax regression on standardised, centred features.
struct Surrogate {
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
    mean: Vec<f64>,
}

impl Surrogate {
    fn fit(x: &[Vec<f64>], t: &[Vec<f64>], classes: usize) -> Surrogate {
        let d = x.first().map_or(0, Vec::len);
        let n = x.len().max(1) as f64;
        let mut mean = vec![0.0; d];
        for r in x {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v / n;
            }
        }
        let mut s = Surrogate {
            w: vec![vec![0.0; d]; classes],
            b: vec![0.0; classes],
            mean,
        };
        for _ in 0..300 {
            let mut gw = vec![vec![0.0; d]; classes];
            let mut gb = vec![0.0; classes];
            for (r, target) in x.iter().zip(t) {
                let p = s.probs(r);
                for (c, (pc, tc)) in p.iter().zip(target).enumerate() {
                    let e = (pc - tc) / n;
                    if let (Some(g), Some(gbc)) = (gw.get_mut(c), gb.get_mut(c)) {
                        for ((gj, v), m) in g.iter_mut().zip(r).zip(&s.mean) {
                            *gj += e * (v - m);
                        }
                        *gbc += e;
                    }
                }
            }
            for (w, g) in s.w.iter_mut().zip(&gw) {
                for (wj, gj) in w.iter_mut().zip(g) {
                    *wj -= 0.5 * (gj + 1e-4 * *wj);
                }
            }
            for (b, g) in s.b.iter_mut().zip(&gb) {
                *b -= 0.5 * g;
            }
        }
        s
    }

    fn probs(&self, r: &[f64]) -> Vec<f64> {
        let z: Vec<f64> = self
            .w
            .iter()
            .zip(&self.b)
            .map(|(w, b)| {
                b + w
                    .iter()
                    .zip(r)
                    .zip(&self.mean)
                    .map(|((wj, v), m)| wj * (v - m))
                    .sum::<f64>()
            })
            .collect();
        let mx = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - mx).exp()).collect();
        let s: f64 = e.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        e.iter().map(|v| v / s).collect()
    }

    /// The sign of the gradient of class `c`'s probability.
    fn gradient_sign(&self, r: &[f64], c: usize) -> Vec<f64> {
        let p = self.probs(r);
        let pc = p.get(c).copied().unwrap_or(0.0);
        let d = r.len();
        (0..d)
            .map(|j| {
                let wc = self.w.get(c).and_then(|w| w.get(j)).copied().unwrap_or(0.0);
                let avg: f64 = self
                    .w
                    .iter()
                    .zip(&p)
                    .map(|(w, pk)| pk * w.get(j).copied().unwrap_or(0.0))
                    .sum();
                let g = pc * (wc - avg);
                if g > 0.0 {
                    1.0
                } else if g < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// Runs the extraction test: `queries` queries picked by `strategy` (from `pool` for `natural`
/// and `jbda`), agreement measured on `heldout`.
pub fn extraction(
    target: &Target,
    pool: &Labelled,
    heldout: &Labelled,
    queries: usize,
    strategy: Strategy,
    seed: u64,
) -> Result<ExtractionReport, AssessError> {
    let contract = target.contract();
    let scale = target.scale();
    let classes = contract.labels.len();
    let std = |r: &[f32]| -> Vec<f64> {
        r.iter()
            .zip(scale)
            .map(|(v, s)| f64::from(*v) / s)
            .collect()
    };
    let phys = |u: &[f64]| -> Vec<f32> {
        u.iter()
            .zip(scale)
            .zip(&contract.features)
            .map(|((v, s), f)| (v * s).clamp(f.min, f.max) as f32)
            .collect()
    };
    if strategy != Strategy::Uniform && pool.is_empty() {
        return Err(AssessError::parameter(
            "data",
            "the strategy needs a pool of rows",
        ));
    }
    let mut rng = Rng::for_parts(&[seed, 0x4558_5452, strategy as u64]);
    let rate = target.guard().config().limits.rate_per_second.max(1e-3);
    let overrides = ClientOverrides {
        unlimited: true,
        ..ClientOverrides::default()
    };
    let mut st = Stream {
        client: target.fresh_client("extractor"),
        target,
        overrides,
        rate,
        xs: Vec::new(),
        ts: Vec::new(),
        sent: 0,
        refused: 0,
        first_alarm: None,
    };
    match strategy {
        Strategy::Uniform => {
            for _ in 0..queries {
                let u: Vec<f64> = contract
                    .features
                    .iter()
                    .zip(scale)
                    .map(|(f, s)| rng.uniform(f.min / s, f.max / s))
                    .collect();
                st.ask(&phys(&u), u);
            }
        }
        Strategy::Natural => {
            for i in 0..queries {
                let Some(r) = pool.rows.get(i % pool.len().max(1)) else {
                    break;
                };
                let mut u = std(r);
                if i >= pool.len() {
                    for v in &mut u {
                        *v += 0.1 * rng.normal();
                    }
                }
                st.ask(&phys(&u), u);
            }
        }
        Strategy::Jbda => {
            let seeds = pool.len().min((queries / 8).max(classes * 5)).min(queries);
            let mut set: Vec<Vec<f64>> = pool.rows.iter().take(seeds).map(|r| std(r)).collect();
            let mut next = set.clone();
            let mut round = 0u32;
            while st.sent < queries && !next.is_empty() {
                for u in next.drain(..) {
                    if st.sent >= queries {
                        break;
                    }
                    st.ask(&phys(&u), u);
                }
                if st.xs.is_empty() {
                    break;
                }
                let s = Surrogate::fit(&st.xs, &st.ts, classes);
                let lambda = if round % 2 == 0 { 0.1 } else { -0.1 };
                next = set
                    .iter()
                    .map(|u| {
                        let c = argmax_f64(&s.probs(u));
                        u.iter()
                            .zip(s.gradient_sign(u, c))
                            .map(|(v, g)| v + lambda * g)
                            .collect()
                    })
                    .collect();
                set.extend(next.iter().cloned());
                round += 1;
            }
        }
    }
    let agreement = if st.xs.is_empty() {
        None
    } else {
        let s = Surrogate::fit(&st.xs, &st.ts, classes);
        let flat: Vec<f32> = heldout.rows.iter().flatten().copied().collect();
        let p = target.probabilities(&flat)?;
        let agree = heldout
            .rows
            .iter()
            .zip(p.chunks(classes.max(1)))
            .filter(|(r, m)| argmax_f64(&s.probs(&std(r))) == argmax(m))
            .count();
        Some(agree as f64 / heldout.len().max(1) as f64)
    };
    Ok(ExtractionReport {
        strategy: strategy.name(),
        queries: st.sent,
        answered: st.sent - st.refused,
        refused: st.refused,
        first_alarm: st.first_alarm,
        heldout: heldout.len(),
        agreement,
    })
}

/// The attacker's stream of queries through the guard, and what it has learnt.
struct Stream<'a> {
    client: String,
    target: &'a Target,
    overrides: ClientOverrides,
    rate: f64,
    xs: Vec<Vec<f64>>,
    ts: Vec<Vec<f64>>,
    sent: usize,
    refused: usize,
    first_alarm: Option<usize>,
}

impl Stream<'_> {
    /// Sends `row` (standardised `u`) through the guard; keeps the answer for training.
    fn ask(&mut self, row: &[f32], u: Vec<f64>) {
        let guard = self.target.guard();
        let contract = self.target.contract();
        let classes = contract.labels.len();
        let mut shape = [0usize; 2];
        let request = RequestOptions::new()
            .overrides(self.overrides.clone())
            .at(Duration::from_secs_f64(self.sent as f64 / self.rate));
        let d = guard.infer(&self.client, &guard.row(row, &mut shape), &request);
        self.sent += 1;
        if self.first_alarm.is_none() && d.alarms.iter().any(|a| a.code() == "extraction") {
            self.first_alarm = Some(self.sent);
        }
        let output = match d.verdict {
            Verdict::Accept { output } => output,
            Verdict::Abstain { .. } => {
                self.refused += 1;
                return;
            }
        };
        let mut t = vec![0.0; classes];
        let mut seen = vec![false; classes];
        let mut shown = 0.0;
        for (label, p) in &output.probabilities {
            if let Some(i) = contract.labels.iter().position(|l| l == label) {
                if let (Some(ti), Some(si)) = (t.get_mut(i), seen.get_mut(i)) {
                    *ti = *p;
                    *si = true;
                    shown += p;
                }
            }
        }
        if output.probabilities.is_empty() {
            if let Some(ti) = t.get_mut(output.class) {
                *ti = 1.0;
            }
        } else {
            let hidden = seen.iter().filter(|s| !**s).count();
            if hidden > 0 {
                let rest = (1.0 - shown).max(0.0) / hidden as f64;
                for (ti, si) in t.iter_mut().zip(&seen) {
                    if !si {
                        *ti = rest;
                    }
                }
            }
        }
        self.xs.push(u);
        self.ts.push(t);
    }
}

fn argmax_f64(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if p.get(best).is_some_and(|b| v > b) {
            best = i;
        }
    }
    best
}

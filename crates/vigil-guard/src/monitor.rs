//! Per-client state: token bucket, query budget, and the extraction monitor (PRADA, Juuti et
//! al. 2019, plus the share of recent queries flagged by the detectors).

use std::collections::VecDeque;

use crate::contract::{Action, AlarmResponse, ExtractionSettings};
use crate::overrides::Admission;
use crate::swilk::Coefficients;

/// A monitor alarm raised at one request. Alarms are edge-triggered: raised when the
/// condition becomes true for a client, and raised again only after it cleared.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Alarm {
    /// The client's query stream looks like model extraction.
    Extraction {
        /// `prada` (Shapiro-Wilk W of minimum distances under delta) or `ood_share` (too many
        /// recent queries flagged by the detectors).
        signal: &'static str,
        /// W for `prada`, the flagged share for `ood_share`.
        statistic: f64,
        /// The client's query count when raised.
        queries: u64,
    },
    /// The client has used `budget_alarm_share` of its query budget.
    Volume {
        /// Queries used.
        used: u64,
        /// The budget.
        budget: u64,
    },
    /// The drift monitor fed with accepted requests found a stream drifting (raised at the
    /// request whose observation completed the window that drifted; the stream, test and
    /// p-value say what).
    Drift(vigil_ledger::DriftDetail),
}

impl Alarm {
    /// The stable code: `extraction`, `volume` or `drift`.
    pub fn code(&self) -> &'static str {
        match self {
            Alarm::Extraction { .. } => "extraction",
            Alarm::Volume { .. } => "volume",
            Alarm::Drift(_) => "drift",
        }
    }
}

/// PRADA's per-client state: a growing set per class, its distance threshold, and the window
/// of minimum distances tested for normality.
#[derive(Debug, Default)]
struct Prada {
    growing: Vec<VecDeque<Vec<f32>>>,
    /// Per class: (threshold T, count, mean, M2) of the distances that grew the set.
    thresholds: Vec<(f64, u64, f64, f64)>,
    distances: VecDeque<f64>,
    since_test: usize,
    alarmed: bool,
    last_w: Option<f64>,
    /// Shapiro-Wilk coefficients for the current window size (reused while it stays).
    coefficients: Option<Coefficients>,
    /// The values of `distances`, sorted ascending.
    sorted: Vec<f64>,
}

impl Prada {
    fn observe(
        &mut self,
        x: &[f32],
        class: usize,
        classes: usize,
        s: &ExtractionSettings,
    ) -> Option<f64> {
        if self.growing.len() != classes {
            self.growing = (0..classes).map(|_| VecDeque::new()).collect();
            self.thresholds = vec![(0.0, 0, 0.0, 0.0); classes];
        }
        let set = self.growing.get_mut(class)?;
        let t = self.thresholds.get_mut(class)?;
        let per_class = (s.history / classes).max(1);
        if set.is_empty() {
            set.push_back(x.to_vec());
            return None;
        }
        let d = set
            .iter()
            .map(|y| squared_distance(y, x))
            .fold(f64::INFINITY, f64::min)
            .sqrt();
        // An exact repeat teaches the client nothing new and has no logarithm: skipped.
        if d < 1e-6 {
            return self.last_w;
        }
        // The window in arrival order, and the same values kept sorted (for the test, without
        // sorting the whole window each time).
        let v = if s.log_distances {
            crate::stats::ln(d)
        } else {
            d
        };
        self.distances.push_back(v);
        let at = self.sorted.partition_point(|y| y.total_cmp(&v).is_lt());
        self.sorted.insert(at, v);
        while self.distances.len() > s.window {
            if let Some(old) = self.distances.pop_front() {
                let at = self.sorted.partition_point(|y| y.total_cmp(&old).is_lt());
                if self
                    .sorted
                    .get(at)
                    .is_some_and(|y| y.total_cmp(&old).is_eq())
                {
                    self.sorted.remove(at);
                }
            }
        }
        if d > t.0 {
            set.push_back(x.to_vec());
            while set.len() > per_class {
                set.pop_front();
            }
            // Welford update of the growing-set distances; T = max(T, mean - std).
            t.1 += 1;
            let delta = d - t.2;
            t.2 += delta / t.1 as f64;
            t.3 += delta * (d - t.2);
            let sd = if t.1 > 1 {
                (t.3 / (t.1 - 1) as f64).sqrt()
            } else {
                0.0
            };
            t.0 = t.0.max(t.2 - sd);
        }
        self.since_test += 1;
        if self.distances.len() >= s.min_queries && self.since_test >= s.test_every {
            self.since_test = 0;
            let n = self.sorted.len();
            if self.coefficients.as_ref().map(Coefficients::n) != Some(n) {
                self.coefficients = Coefficients::new(n);
            }
            // All distances equal (a replayed or constant stream) is as far from normal as it
            // gets: W = 0.
            let w = self
                .coefficients
                .as_ref()
                .and_then(|c| c.w_sorted(&self.sorted))
                .unwrap_or(0.0);
            self.last_w = Some(w);
        }
        self.last_w
    }
}

/// Squared L2 distance over the shorter of `a` and `b`, in eight single-precision lanes
/// (vectorisable; the inputs are float32 already), summed in double precision.
fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for ((l, p), q) in lanes.iter_mut().zip(x).zip(y) {
            let e = p - q;
            *l += e * e;
        }
    }
    let tail: f64 = ar
        .iter()
        .zip(br)
        .map(|(p, q)| {
            let e = f64::from(*p) - f64::from(*q);
            e * e
        })
        .sum();
    lanes.iter().map(|l| f64::from(*l)).sum::<f64>() + tail
}

/// One client's state.
#[derive(Debug)]
pub(crate) struct ClientState {
    tokens: f64,
    last_refill: f64,
    pub(crate) used: u64,
    volume_alarmed: bool,
    prada: Prada,
    flags: VecDeque<bool>,
    ood_alarmed: bool,
    /// Suspended by an alarm until reinstated.
    suspended: bool,
    /// Tightened by an alarm until reinstated: the divisor, and the budget cap it set.
    tightened: Option<(f64, u64)>,
}

impl ClientState {
    pub(crate) fn new(limits: &Admission, now: f64) -> Self {
        ClientState {
            tokens: limits.burst,
            last_refill: now,
            used: 0,
            volume_alarmed: false,
            prada: Prada::default(),
            flags: VecDeque::new(),
            ood_alarmed: false,
            suspended: false,
            tightened: None,
        }
    }

    /// Applies the response policy to the alarms this client raised at one request; the
    /// strongest action of each alarm, in order (`Record` when there were none).
    pub(crate) fn respond(
        &mut self,
        alarms: &[Alarm],
        policy: &AlarmResponse,
        extraction: Option<Action>,
        volume: Option<Action>,
        budget: Option<u64>,
    ) -> Vec<Action> {
        let mut actions = Vec::with_capacity(alarms.len());
        for alarm in alarms {
            let action = match alarm {
                Alarm::Extraction { .. } => extraction.unwrap_or(policy.extraction),
                Alarm::Volume { .. } => volume.unwrap_or(policy.volume),
                Alarm::Drift(_) => Action::Record,
            };
            match action {
                Action::Record => {}
                Action::Suspend => self.suspended = true,
                Action::Tighten => {
                    if self.tightened.is_none() {
                        let f = policy.tighten_factor;
                        let left = budget.unwrap_or(u64::MAX).saturating_sub(self.used);
                        let cap = self.used.saturating_add((left as f64 / f).floor() as u64);
                        self.tightened = Some((f, cap));
                        self.tokens = self.tokens.min(1.0);
                    }
                }
            }
            actions.push(action);
        }
        actions
    }

    /// Whether an alarm suspended this client.
    pub(crate) fn suspended(&self) -> bool {
        self.suspended
    }

    /// Whether an alarm tightened this client's limits.
    pub(crate) fn is_tightened(&self) -> bool {
        self.tightened.is_some()
    }

    /// Lifts a suspension or tightening; whether there was one.
    pub(crate) fn reinstate(&mut self) -> bool {
        let was = self.suspended || self.tightened.is_some();
        self.suspended = false;
        self.tightened = None;
        self.ood_alarmed = false;
        self.flags.clear();
        was
    }

    /// Rate limit then budget; on success one token and one query are used. An unlimited
    /// caller is only counted.
    pub(crate) fn admit(
        &mut self,
        limits: &Admission,
        now: f64,
        alarms: &mut Vec<Alarm>,
    ) -> Result<(), crate::Reason> {
        if self.suspended {
            return Err(crate::Reason::ClientSuspended);
        }
        if limits.unlimited {
            self.used = self.used.saturating_add(1);
            return Ok(());
        }
        let (divisor, cap) = self.tightened.unwrap_or((1.0, u64::MAX));
        let rate = limits.rate_per_second / divisor;
        let burst = (limits.burst / divisor).max(1.0);
        let elapsed = (now - self.last_refill).max(0.0);
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last_refill = self.last_refill.max(now);
        if self.tokens < 1.0 {
            return Err(crate::Reason::RateLimited);
        }
        let budget = limits.query_budget.unwrap_or(u64::MAX).min(cap);
        if self.used >= budget {
            return Err(crate::Reason::QueryBudgetExhausted);
        }
        self.tokens -= 1.0;
        self.used += 1;
        if let Some(budget) = limits.query_budget {
            let mark = (limits.budget_alarm_share * budget as f64).ceil() as u64;
            if !self.volume_alarmed && self.used >= mark.max(1) {
                self.volume_alarmed = true;
                alarms.push(Alarm::Volume {
                    used: self.used,
                    budget,
                });
            }
        }
        Ok(())
    }

    /// Feeds the extraction monitor with a request that passed the contract. `scaled` is the
    /// input scaled for distances, `class` the model's answer (None when not answered),
    /// `flagged` whether a detector flagged it.
    pub(crate) fn observe(
        &mut self,
        s: &ExtractionSettings,
        scaled: &[f32],
        class: Option<usize>,
        classes: usize,
        flagged: bool,
        alarms: &mut Vec<Alarm>,
    ) {
        self.flags.push_back(flagged);
        while self.flags.len() > s.ood_window {
            self.flags.pop_front();
        }
        if self.flags.len() == s.ood_window {
            let share = self.flags.iter().filter(|f| **f).count() as f64 / s.ood_window as f64;
            let on = share >= s.ood_share;
            if on && !self.ood_alarmed {
                alarms.push(Alarm::Extraction {
                    signal: "ood_share",
                    statistic: share,
                    queries: self.used,
                });
            }
            self.ood_alarmed = on;
        }
        if let (true, Some(class)) = (s.prada, class) {
            if let Some(w) = self.prada.observe(scaled, class, classes, s) {
                let on = w < s.delta;
                if on && !self.prada.alarmed {
                    alarms.push(Alarm::Extraction {
                        signal: "prada",
                        statistic: w,
                        queries: self.used,
                    });
                }
                self.prada.alarmed = on;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swilk::shapiro_wilk;

    #[test]
    fn squared_distance_is_the_plain_sum() {
        for n in [0usize, 1, 7, 8, 9, 30, 128] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a
                .iter()
                .zip(&b)
                .map(|(p, q)| (f64::from(*p) - f64::from(*q)).powi(2))
                .sum();
            assert!(
                (squared_distance(&a, &b) - plain).abs() < 1e-5 * (1.0 + plain),
                "n {n}"
            );
        }
    }

    #[test]
    fn the_sorted_window_follows_the_window() {
        let s = ExtractionSettings {
            prada: true,
            delta: 0.95,
            log_distances: true,
            min_queries: 20,
            history: 3000,
            window: 50,
            test_every: 7,
            ood_window: 50,
            ood_share: 0.5,
        };
        let mut p = Prada::default();
        let mut last = None;
        for i in 0..400u64 {
            let x: Vec<f32> = (0..4u64)
                .map(|j| ((i * 2_654_435_761 + j * 40_503) % 1000) as f32 / 100.0)
                .collect();
            last = p.observe(&x, (i % 2) as usize, 2, &s).or(last);
            let mut want: Vec<f64> = p.distances.iter().copied().collect();
            want.sort_by(f64::total_cmp);
            assert_eq!(p.sorted, want, "query {i}");
            if p.since_test == 0 && p.distances.len() >= s.min_queries {
                let v: Vec<f64> = p.distances.iter().copied().collect();
                assert_eq!(p.last_w, Some(shapiro_wilk(&v).unwrap_or(0.0)));
            }
        }
        assert!(last.is_some());
        assert_eq!(p.distances.len(), s.window);
    }
}

//! Per-client state: token bucket, query budget, and the extraction monitor (PRADA, Juuti et
//! al. 2019, plus the share of recent queries flagged by the detectors).

use std::collections::VecDeque;

use crate::contract::ExtractionSettings;
use crate::overrides::Admission;
use crate::swilk::shapiro_wilk;

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
}

impl Alarm {
    /// The stable code: `extraction` or `volume`.
    pub fn code(&self) -> &'static str {
        match self {
            Alarm::Extraction { .. } => "extraction",
            Alarm::Volume { .. } => "volume",
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
            .map(|y| {
                y.iter()
                    .zip(x)
                    .map(|(a, b)| {
                        let e = f64::from(*a) - f64::from(*b);
                        e * e
                    })
                    .sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min)
            .sqrt();
        // An exact repeat teaches the client nothing new and has no logarithm: skipped.
        if d < 1e-6 {
            return self.last_w;
        }
        self.distances
            .push_back(if s.log_distances { d.ln() } else { d });
        while self.distances.len() > s.window {
            self.distances.pop_front();
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
            let v: Vec<f64> = self.distances.iter().copied().collect();
            // All distances equal (a replayed or constant stream) is as far from normal as it
            // gets: W = 0.
            let w = shapiro_wilk(&v).unwrap_or(0.0);
            self.last_w = Some(w);
        }
        self.last_w
    }
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
        }
    }

    /// Rate limit then budget; on success one token and one query are used. An unlimited
    /// caller is only counted.
    pub(crate) fn admit(
        &mut self,
        limits: &Admission,
        now: f64,
        alarms: &mut Vec<Alarm>,
    ) -> Result<(), crate::Reason> {
        if limits.unlimited {
            self.used = self.used.saturating_add(1);
            return Ok(());
        }
        let elapsed = (now - self.last_refill).max(0.0);
        self.tokens = (self.tokens + elapsed * limits.rate_per_second).min(limits.burst);
        self.last_refill = self.last_refill.max(now);
        if self.tokens < 1.0 {
            return Err(crate::Reason::RateLimited);
        }
        let budget = limits.query_budget.unwrap_or(u64::MAX);
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

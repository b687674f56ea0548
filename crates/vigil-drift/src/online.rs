//! Online change detectors for a stream of performance values (for instance 1 for a wrong
//! prediction, 0 for a right one, once labels arrive): ADWIN and Page-Hinkley, as River
//! (`river.drift.ADWIN`, `river.drift.PageHinkley`, River 0.26.1) defines them, with the same
//! defaults and the same floating-point order of operations, so that they alarm on the same
//! observation.

/// ADWIN, adaptive windowing (Bifet and Gavaldà, 2007), as River implements it: exponential
/// histogram buckets, a cut test every `clock` observations once the window is longer than
/// `grace_period`, and Hoeffding-Bernstein bound
/// `eps = sqrt(2 m v ln(2 ln(W)/delta)) + 2/3 ln(2 ln(W)/delta) m`,
/// `m = 1/(n0 - min_window_length + 1) + 1/(n1 - min_window_length + 1)`, `v` the window variance.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Adwin {
    delta: f64,
    clock: u64,
    max_buckets: usize,
    min_window_length: f64,
    grace_period: f64,
    total: f64,
    variance: f64,
    width: f64,
    tick: u64,
    detections: u64,
    /// `rows[i]` holds up to `max_buckets + 1` buckets of `2^i` observations each, oldest first,
    /// as `(sum, variance)`.
    rows: Vec<Vec<(f64, f64)>>,
    drift_detected: bool,
}

impl Default for Adwin {
    fn default() -> Self {
        Adwin::new(0.002, 32, 5, 5, 10)
    }
}

impl Adwin {
    /// A detector with River's parameters (defaults: `delta = 0.002`, `clock = 32`,
    /// `max_buckets = 5`, `min_window_length = 5`, `grace_period = 10`).
    pub fn new(
        delta: f64,
        clock: u64,
        max_buckets: usize,
        min_window_length: u64,
        grace_period: u64,
    ) -> Self {
        Adwin {
            delta,
            clock: clock.max(1),
            max_buckets: max_buckets.max(1),
            min_window_length: min_window_length as f64,
            grace_period: grace_period as f64,
            total: 0.0,
            variance: 0.0,
            width: 0.0,
            tick: 0,
            detections: 0,
            rows: vec![Vec::new()],
            drift_detected: false,
        }
    }

    /// Current window length.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// Mean of the window (0 when empty).
    pub fn estimation(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.total / self.width
        }
    }

    /// Whether the last update detected a change.
    pub fn drift_detected(&self) -> bool {
        self.drift_detected
    }

    /// Add one observation; returns whether a change was detected. As in River, the detector
    /// starts afresh on the update after a detection.
    pub fn update(&mut self, x: f64) -> bool {
        if self.drift_detected {
            *self = Adwin::new(
                self.delta,
                self.clock,
                self.max_buckets,
                self.min_window_length as u64,
                self.grace_period as u64,
            );
        }
        self.insert(x);
        self.drift_detected = self.detect_change();
        self.drift_detected
    }

    fn insert(&mut self, value: f64) {
        if let Some(first) = self.rows.first_mut() {
            first.push((value, 0.0));
        }
        self.width += 1.0;
        let mut incremental = 0.0;
        if self.width > 1.0 {
            let d = value - self.total / (self.width - 1.0);
            incremental = (self.width - 1.0) * d * d / self.width;
        }
        self.variance += incremental;
        self.total += value;
        self.compress();
    }

    fn compress(&mut self) {
        let mut i = 0;
        while i < self.rows.len() {
            if self.rows[i].len() != self.max_buckets + 1 {
                break;
            }
            let n1 = (1u64 << i) as f64;
            let (t0, v0) = self.rows[i][0];
            let (t1, v1) = self.rows[i][1];
            let mu1 = t0 / n1;
            let mu2 = t1 / n1;
            let temp = n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2);
            let merged = (t0 + t1, v0 + v1 + temp);
            if i + 1 >= self.rows.len() {
                self.rows.push(Vec::new());
            }
            self.rows[i + 1].push(merged);
            self.rows[i].drain(..2);
            if self.rows[i + 1].len() <= self.max_buckets {
                break;
            }
            i += 1;
        }
    }

    fn delete_oldest(&mut self) {
        let Some(last) = self.rows.len().checked_sub(1) else {
            return;
        };
        let n = (1u64 << last) as f64;
        let Some(&(u, v)) = self.rows[last].first() else {
            return;
        };
        let mu = u / n;
        self.width -= n;
        self.total -= u;
        let mu_window = self.total / self.width;
        let inc = v + n * self.width * (mu - mu_window) * (mu - mu_window) / (n + self.width);
        self.variance -= inc;
        self.rows[last].remove(0);
        if self.rows[last].is_empty() && self.rows.len() > 1 {
            self.rows.pop();
        }
    }

    fn detect_change(&mut self) -> bool {
        let mut change = false;
        self.tick += 1;
        if self.tick % self.clock == 0 && self.width > self.grace_period {
            let mut reduce = true;
            while reduce {
                reduce = false;
                let mut exit = false;
                let (mut n0, mut n1) = (0.0f64, self.width);
                let (mut u0, mut u1) = (0.0f64, self.total);
                'outer: for i in (0..self.rows.len()).rev() {
                    if exit {
                        break;
                    }
                    let size = (1u64 << i) as f64;
                    let len = self.rows[i].len();
                    for k in 0..len {
                        n0 += size;
                        n1 -= size;
                        let t = self.rows[i][k].0;
                        u0 += t;
                        u1 -= t;
                        if i == 0 && k == len - 1 {
                            exit = true;
                            break;
                        }
                        let delta_mean = (u0 / n0) - (u1 / n1);
                        if n1 >= self.min_window_length
                            && n0 >= self.min_window_length
                            && self.cut(n0, n1, delta_mean)
                        {
                            reduce = true;
                            change = true;
                            if self.width > 0.0 {
                                self.delete_oldest();
                                break 'outer;
                            }
                        }
                    }
                }
            }
        }
        if change {
            self.detections += 1;
        }
        change
    }

    fn cut(&self, n0: f64, n1: f64, delta_mean: f64) -> bool {
        let delta_prime = (2.0 * self.width.ln() / self.delta).ln();
        let m_recip =
            1.0 / (n0 - self.min_window_length + 1.0) + 1.0 / (n1 - self.min_window_length + 1.0);
        let epsilon = (2.0 * m_recip * (self.variance / self.width) * delta_prime).sqrt()
            + 2.0 / 3.0 * delta_prime * m_recip;
        delta_mean.abs() > epsilon
    }
}

/// Page-Hinkley test as River defines it (two-sided by default): a fading-free running mean
/// `x̄`, cumulative sums `S+ = alpha S+ + (x - x̄) - delta`, `S- = alpha S- + (x - x̄) + delta`,
/// alarm when `S+ - min S+ > threshold` or `max S- - S- > threshold` after `min_instances`
/// observations; the detector restarts on the update after an alarm.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PageHinkley {
    min_instances: u64,
    delta: f64,
    threshold: f64,
    alpha: f64,
    mode: PageHinkleyMode,
    n: f64,
    mean: f64,
    sum_increase: f64,
    sum_decrease: f64,
    min_increase: f64,
    max_decrease: f64,
    drift_detected: bool,
}

/// Which changes Page-Hinkley watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageHinkleyMode {
    /// Increases of the mean.
    Up,
    /// Decreases of the mean.
    Down,
    /// Both.
    Both,
}

impl Default for PageHinkley {
    fn default() -> Self {
        PageHinkley::new(30, 0.005, 50.0, 1.0 - 0.0001, PageHinkleyMode::Both)
    }
}

impl PageHinkley {
    /// A detector with River's parameters (defaults `min_instances = 30`, `delta = 0.005`,
    /// `threshold = 50`, `alpha = 1 - 1e-4`, mode both).
    pub fn new(
        min_instances: u64,
        delta: f64,
        threshold: f64,
        alpha: f64,
        mode: PageHinkleyMode,
    ) -> Self {
        PageHinkley {
            min_instances,
            delta,
            threshold,
            alpha,
            mode,
            n: 0.0,
            mean: 0.0,
            sum_increase: 0.0,
            sum_decrease: 0.0,
            min_increase: f64::INFINITY,
            max_decrease: -1.0,
            drift_detected: false,
        }
    }

    /// Whether the last update detected a change.
    pub fn drift_detected(&self) -> bool {
        self.drift_detected
    }

    /// Add one observation; returns whether a change was detected.
    pub fn update(&mut self, x: f64) -> bool {
        if self.drift_detected {
            *self = PageHinkley::new(
                self.min_instances,
                self.delta,
                self.threshold,
                self.alpha,
                self.mode,
            );
        }
        self.n += 1.0;
        self.mean += (1.0 / self.n) * (x - self.mean);
        let dev = x - self.mean;
        self.sum_increase = self.alpha * self.sum_increase + dev - self.delta;
        self.sum_decrease = self.alpha * self.sum_decrease + dev + self.delta;
        if self.sum_increase < self.min_increase {
            self.min_increase = self.sum_increase;
        }
        if self.sum_decrease > self.max_decrease {
            self.max_decrease = self.sum_decrease;
        }
        if self.n >= self.min_instances as f64 {
            let up = self.sum_increase - self.min_increase;
            let down = self.max_decrease - self.sum_decrease;
            self.drift_detected = match self.mode {
                PageHinkleyMode::Up => up > self.threshold,
                PageHinkleyMode::Down => down > self.threshold,
                PageHinkleyMode::Both => up > self.threshold || down > self.threshold,
            };
        }
        self.drift_detected
    }
}

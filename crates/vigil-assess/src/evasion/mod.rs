//! Black-box evasion attacks on one row, in the space of standardised features (each feature
//! divided by its calibration standard deviation), inside a box (the contract's physical
//! ranges), against an [`Oracle`] that answers scores or refuses.

mod boundary;
mod hsj;
mod noise;
mod square;

pub(crate) use boundary::boundary;
pub(crate) use hsj::hop_skip_jump;
pub(crate) use noise::noise;
pub(crate) use square::square;

use crate::error::AssessError;

/// An evasion attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Attack {
    /// Random noise of the budget's size (uniform or Gaussian, [`NoiseKind`]): the baseline.
    Noise,
    /// HopSkipJump (Chen, Jordan and Wainwright, IEEE S&P 2020), decision-based, as ART 1.20.
    HopSkipJump,
    /// Square Attack (Andriushchenko et al., ECCV 2020), score-based random search.
    Square,
    /// Boundary attack (Brendel, Rauber and Bethge, ICLR 2018), decision-based, as ART 1.20.
    Boundary,
}

impl Attack {
    /// Every attack, in report order.
    pub const ALL: [Attack; 4] = [
        Attack::Noise,
        Attack::HopSkipJump,
        Attack::Square,
        Attack::Boundary,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Attack::Noise => "noise",
            Attack::HopSkipJump => "hopskipjump",
            Attack::Square => "square",
            Attack::Boundary => "boundary",
        }
    }

    /// The attack called `name`.
    pub fn from_name(name: &str) -> Option<Attack> {
        Attack::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Minimum-norm attacks run once per row and serve every budget; the others run per budget.
    pub(crate) fn minimum_norm(self) -> bool {
        matches!(self, Attack::HopSkipJump | Attack::Boundary)
    }

    pub(crate) fn id(self) -> u64 {
        match self {
            Attack::Noise => 1,
            Attack::HopSkipJump => 2,
            Attack::Square => 3,
            Attack::Boundary => 4,
        }
    }
}

/// The norm budgets are measured in (in units of each feature's standard deviation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Norm {
    /// Euclidean.
    L2,
    /// Largest absolute change of any feature.
    Linf,
}

impl Norm {
    /// `l2` or `linf`.
    pub fn name(self) -> &'static str {
        match self {
            Norm::L2 => "l2",
            Norm::Linf => "linf",
        }
    }

    /// The norm called `name`.
    pub fn from_name(name: &str) -> Option<Norm> {
        match name {
            "l2" => Some(Norm::L2),
            "linf" => Some(Norm::Linf),
            _ => None,
        }
    }

    /// The distance between `a` and `b`.
    pub fn dist(self, a: &[f64], b: &[f64]) -> f64 {
        let d = a.iter().zip(b).map(|(p, q)| (p - q).abs());
        match self {
            Norm::L2 => d.map(|v| v * v).sum::<f64>().sqrt(),
            Norm::Linf => d.fold(0.0, f64::max),
        }
    }

    pub(crate) fn id(self) -> u64 {
        match self {
            Norm::L2 => 2,
            Norm::Linf => 3,
        }
    }
}

/// The distribution of the noise attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// L-infinity: uniform in the budget's box; L2: a uniform direction, at the budget's radius.
    Uniform,
    /// Gaussian per feature (standard deviation the budget for L-infinity, budget/sqrt(d) for
    /// L2), projected onto the budget's ball.
    Gaussian,
}

/// HopSkipJump's parameters, named and defaulted as ART 1.20's `HopSkipJump`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HsjParams {
    /// Iterations (ART `max_iter`, 50).
    pub max_iter: usize,
    /// Most samples of one gradient estimate (ART `max_eval`, 10000).
    pub max_eval: usize,
    /// Samples of the first gradient estimate, grown with sqrt(iteration) (ART `init_eval`, 100).
    pub init_eval: usize,
    /// Random draws tried for a first adversarial point (ART `init_size`, 100).
    pub init_size: usize,
}

impl Default for HsjParams {
    fn default() -> Self {
        HsjParams {
            max_iter: 50,
            max_eval: 10_000,
            init_eval: 100,
            init_size: 100,
        }
    }
}

/// Answers an attacker's queries: the scores it sees for each row (physical values, row-major),
/// or `None` for a refusal (an abstention of the guard).
pub(crate) trait Oracle: Sync {
    fn ask(&self, rows: &[f32], n: usize) -> Result<Vec<Option<Vec<f64>>>, AssessError>;
}

/// The space one row is attacked in.
pub(crate) struct Space<'a> {
    /// The row, standardised.
    pub(crate) x0: Vec<f64>,
    /// The box, standardised.
    pub(crate) lo: &'a [f64],
    pub(crate) hi: &'a [f64],
    /// Standard deviations.
    pub(crate) scale: &'a [f64],
    /// Physical bounds to clamp to after rounding to float32 (the contract's), if respected.
    pub(crate) bounds: Option<(&'a [f64], &'a [f64])>,
    /// Starting points tried before uniform draws by the decision-based attacks (ART's
    /// `x_adv_init`), standardised.
    pub(crate) starts: Vec<Vec<f64>>,
    /// Starting points tried after the uniform draws all failed (rows of other classes,
    /// nearest first), standardised: where ART gives up on a row, Vigil goes on from these.
    pub(crate) fallback: Vec<Vec<f64>>,
}

/// The smallest float32 not below `v`.
fn f32_at_least(v: f64) -> f32 {
    let x = v as f32;
    if f64::from(x) < v {
        next_f32(x, true)
    } else {
        x
    }
}

/// The largest float32 not above `v`.
fn f32_at_most(v: f64) -> f32 {
    let x = v as f32;
    if f64::from(x) > v {
        next_f32(x, false)
    } else {
        x
    }
}

fn next_f32(x: f32, up: bool) -> f32 {
    if !x.is_finite() {
        return x;
    }
    if x == 0.0 {
        let tiny = f32::from_bits(1);
        return if up { tiny } else { -tiny };
    }
    let b = x.to_bits();
    if (x > 0.0) == up {
        f32::from_bits(b + 1)
    } else {
        f32::from_bits(b - 1)
    }
}

impl Space<'_> {
    /// Clips `u` into the box.
    pub(crate) fn clip(&self, u: &mut [f64]) {
        for ((v, l), h) in u.iter_mut().zip(self.lo).zip(self.hi) {
            *v = v.clamp(*l, *h);
        }
    }

    /// The physical float32 row of standardised `u`, inside the contract when respected.
    pub(crate) fn physical(&self, u: &[f64]) -> Vec<f32> {
        u.iter()
            .zip(self.scale)
            .enumerate()
            .map(|(j, (v, s))| {
                let x = v * s;
                let mut f = x as f32;
                if let Some((lo, hi)) = self.bounds {
                    if let (Some(l), Some(h)) = (lo.get(j), hi.get(j)) {
                        if f64::from(f) < *l {
                            f = f32_at_least(*l);
                        }
                        if f64::from(f) > *h {
                            f = f32_at_most(*h);
                        }
                    }
                }
                f
            })
            .collect()
    }

    pub(crate) fn dim(&self) -> usize {
        self.x0.len()
    }

    /// A point uniform in the box.
    pub(crate) fn random_point(&self, rng: &mut crate::rng::Rng) -> Vec<f64> {
        self.lo
            .iter()
            .zip(self.hi)
            .map(|(l, h)| rng.uniform(*l, *h))
            .collect()
    }
}

/// An adversarial point found, and the queries it took.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub(crate) u: Vec<f64>,
    pub(crate) queries: u64,
}

/// Probability margin by which another class must win for a point to count as adversarial: a
/// point on the boundary itself could fall either way in another runtime's float arithmetic.
pub(crate) const MARGIN: f64 = 1e-5;

/// One row's attack session: counts queries against a budget.
pub(crate) struct Probe<'a> {
    pub(crate) oracle: &'a dyn Oracle,
    pub(crate) space: &'a Space<'a>,
    pub(crate) y: usize,
    pub(crate) used: u64,
    pub(crate) max: u64,
}

/// Whether scores `s` put another class than `y` ahead by more than the margin.
pub(crate) fn adversarial(s: &[f64], y: usize) -> bool {
    let mut c = 0;
    for (i, v) in s.iter().enumerate() {
        if s.get(c).is_some_and(|b| v > b) {
            c = i;
        }
    }
    match (s.get(c), s.get(y)) {
        (Some(a), Some(b)) => c != y && a - b > MARGIN,
        _ => false,
    }
}

/// The margin loss of ART's Square Attack: the true class's score minus the best other one
/// (a refusal is the worst loss).
pub(crate) fn margin_loss(s: Option<&[f64]>, y: usize) -> f64 {
    let Some(s) = s else {
        return f64::INFINITY;
    };
    let other = s
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != y)
        .map(|(_, v)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    s.get(y).copied().unwrap_or(0.0) - other
}

impl Probe<'_> {
    pub(crate) fn left(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }

    /// Scores of `points` (at most [`Probe::left`] of them are asked; the rest get `None`).
    pub(crate) fn scores(
        &mut self,
        points: &[Vec<f64>],
    ) -> Result<Vec<Option<Vec<f64>>>, AssessError> {
        let n = points
            .len()
            .min(usize::try_from(self.left()).unwrap_or(usize::MAX));
        let mut rows = Vec::with_capacity(n * self.space.dim());
        for p in points.iter().take(n) {
            rows.extend(self.space.physical(p));
        }
        let mut out = if n == 0 {
            Vec::new()
        } else {
            self.oracle.ask(&rows, n)?
        };
        self.used += n as u64;
        out.resize(points.len(), None);
        Ok(out)
    }

    /// Whether each point is adversarial (unasked points are not).
    pub(crate) fn adversarial(&mut self, points: &[Vec<f64>]) -> Result<Vec<bool>, AssessError> {
        let y = self.y;
        Ok(self
            .scores(points)?
            .iter()
            .map(|s| s.as_deref().is_some_and(|s| adversarial(s, y)))
            .collect())
    }

    /// Whether one point is adversarial.
    pub(crate) fn adversarial1(&mut self, point: &[f64]) -> Result<bool, AssessError> {
        Ok(self
            .adversarial(&[point.to_vec()])?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// The margin loss of one point, and whether it is adversarial.
    pub(crate) fn loss1(&mut self, point: &[f64]) -> Result<(f64, bool), AssessError> {
        let s = self.scores(&[point.to_vec()])?;
        let s = s.first().and_then(|s| s.as_deref());
        Ok((
            margin_loss(s, self.y),
            s.is_some_and(|s| adversarial(s, self.y)),
        ))
    }
}

/// Records, for each budget (ascending), the first point within it.
pub(crate) struct Trail<'a> {
    pub(crate) budgets: &'a [f64],
    pub(crate) norm: Norm,
    pub(crate) found: Vec<Option<Found>>,
}

impl<'a> Trail<'a> {
    pub(crate) fn new(budgets: &'a [f64], norm: Norm) -> Self {
        Trail {
            budgets,
            norm,
            found: vec![None; budgets.len()],
        }
    }

    /// Notes adversarial point `u` after `queries` queries.
    pub(crate) fn note(&mut self, u: &[f64], x0: &[f64], queries: u64) {
        let d = self.norm.dist(u, x0);
        for (f, b) in self.found.iter_mut().zip(self.budgets) {
            if f.is_none() && d <= *b {
                *f = Some(Found {
                    u: u.to_vec(),
                    queries,
                });
            }
        }
    }

    /// True when every budget has its point.
    pub(crate) fn done(&self) -> bool {
        self.found.iter().all(Option::is_some)
    }
}

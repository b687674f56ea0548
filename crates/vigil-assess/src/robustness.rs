//! `vigil assess robustness`: evasion attacks on every row the bare model gets right, at each
//! budget, with every success checked and replayed through the guard.

use std::time::Duration;

use rayon::prelude::*;
use serde::Serialize;
use vigil_guard::{RequestOptions, Verdict};

use crate::data::Labelled;
use crate::error::AssessError;
use crate::evasion::{
    self, Attack, Found, HsjParams, NoiseKind, Norm, Oracle, Probe, Space, Trail,
};
use crate::rng::Rng;
use crate::target::{argmax, policy_view, Target};

/// Budgets are met with this much room (in standard deviations) before rounding to float32,
/// so that the emitted float32 row is still within the budget.
const ROOM: f64 = 1e-6;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustnessOptions {
    /// Attacks, in report order.
    pub attacks: Vec<Attack>,
    /// The norm of the budgets.
    pub norm: Norm,
    /// Budgets, in standard deviations of the features (calibration rows), in report order.
    pub budgets: Vec<f64>,
    /// Queries per row and attack (and budget, for the attacks that run per budget).
    pub max_queries: u64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Keep every query inside the contract's physical ranges (else a box around the data).
    pub respect_contract: bool,
    /// Attack the guarded device: the attacker queries the guard's screening (contract and
    /// detectors), sees scores as the output policy shows them, and an abstention is a failure.
    /// HopSkipJump and the boundary attack then start from the five rows of the data of another
    /// class nearest to the target (ART's `x_adv_init`) before any uniform draw, which the
    /// detectors would refuse.
    pub adaptive: bool,
    /// The noise attack's distribution.
    pub noise: NoiseKind,
    /// HopSkipJump's parameters (also the boundary attack's `init_size`).
    pub hsj: HsjParams,
    /// Square Attack's initial share of changed features (ART `p_init`, 0.8).
    pub square_p_init: f64,
    /// Square Attack's iterations, which set its schedule (ART `max_iter`); `None`: the query
    /// budget.
    pub square_max_iter: Option<usize>,
}

impl Default for RobustnessOptions {
    fn default() -> Self {
        RobustnessOptions {
            attacks: Attack::ALL.to_vec(),
            norm: Norm::Linf,
            budgets: vec![0.25, 0.5, 1.0],
            max_queries: 1000,
            seed: 0,
            respect_contract: true,
            adaptive: false,
            noise: NoiseKind::Uniform,
            hsj: HsjParams::default(),
            square_p_init: 0.8,
            square_max_iter: None,
        }
    }
}

/// `vigil assess robustness --json`: one object.
///
/// ```text
/// {"clean_accuracy":x,"rows":N,"attacks":[{"attack":"...","norm":"...","budget":eps,
///   "accuracy_under_attack":x,"success_rate":x,"median_perturbation":x,"median_queries":n,
///   "guard":{"abstained":x,"success_rate_through_guard":x}},...]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobustnessReport {
    /// Share of the rows the bare model classifies correctly.
    pub clean_accuracy: f64,
    /// Rows assessed.
    pub rows: usize,
    /// One entry per attack and budget.
    pub attacks: Vec<AttackReport>,
    /// Per subgroup, when the data has a subgroup column (`--subgroup`); absent otherwise, so
    /// the object is then exactly the documented contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subgroups: Option<Vec<SubgroupRobustness>>,
}

/// The attacks' effect on one subgroup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubgroupRobustness {
    /// The subgroup's value.
    pub subgroup: String,
    /// Its rows.
    pub rows: usize,
    /// Share of them classified correctly.
    pub clean_accuracy: f64,
    /// One entry per attack and budget, in the order of `attacks`.
    pub attacks: Vec<SubgroupAttack>,
}

/// One attack at one budget on one subgroup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubgroupAttack {
    /// The attack's name.
    pub attack: &'static str,
    /// The budget.
    pub budget: f64,
    /// Share of the subgroup's rows still classified correctly under attack.
    pub accuracy_under_attack: f64,
    /// Share of the subgroup's correctly classified rows flipped (0 when it has none).
    pub success_rate: f64,
}

/// One attack at one budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackReport {
    /// The attack's name.
    pub attack: &'static str,
    /// `l2` or `linf`.
    pub norm: &'static str,
    /// The budget, in standard deviations.
    pub budget: f64,
    /// Share of all rows still classified correctly under attack.
    pub accuracy_under_attack: f64,
    /// Share of the correctly classified rows that the attack flipped within the budget.
    pub success_rate: f64,
    /// Median size of the successful perturbations (in the norm, in standard deviations);
    /// `null` when nothing flipped.
    pub median_perturbation: Option<f64>,
    /// Median queries to a success (the lower median); `null` when nothing flipped.
    pub median_queries: Option<u64>,
    /// The successful rows replayed through the guard.
    pub guard: GuardReplay,
}

/// The successful adversarial rows replayed through the guard, as one client's stream at the
/// contract's sustained rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardReplay {
    /// Share of the successful rows the guard abstained on; `null` when nothing flipped.
    pub abstained: Option<f64>,
    /// Share of the correctly classified rows whose adversarial row the guard still answered
    /// with a wrong label (comparable with `success_rate`); `null` when nothing flipped.
    pub success_rate_through_guard: Option<f64>,
}

/// One successful adversarial row.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversarialRow {
    /// Index of the original row in the data (from 0).
    pub row: usize,
    /// The original row's true class.
    pub label: usize,
    /// The attack.
    pub attack: Attack,
    /// The norm.
    pub norm: Norm,
    /// The budget.
    pub budget: f64,
    /// The adversarial row, in contract order (float32 as the model reads it).
    pub values: Vec<f32>,
    /// Its distance to the original row, in standard deviations.
    pub perturbation: f64,
    /// Queries to find it.
    pub queries: u64,
}

/// The result of [`robustness`]: the report, and every successful adversarial row.
#[derive(Debug, Clone, PartialEq)]
pub struct Robustness {
    /// The numbers.
    pub report: RobustnessReport,
    /// The rows, by attack, budget (report order), then row.
    pub adversarial: Vec<AdversarialRow>,
}

/// The bare model: class probabilities as they are.
struct Bare<'a>(&'a Target);

impl Oracle for Bare<'_> {
    fn ask(&self, rows: &[f32], _n: usize) -> Result<Vec<Option<Vec<f64>>>, AssessError> {
        let k = self.0.contract().labels.len().max(1);
        let p = self.0.probabilities(rows)?;
        Ok(p.chunks(k)
            .map(|c| Some(c.iter().map(|v| f64::from(*v)).collect()))
            .collect())
    }
}

/// The guarded device: the guard's stateless screening; an abstention is a refusal, and the
/// scores are what the output policy shows.
struct Guarded<'a>(&'a Target);

impl Oracle for Guarded<'_> {
    fn ask(&self, rows: &[f32], _n: usize) -> Result<Vec<Option<Vec<f64>>>, AssessError> {
        let guard = self.0.guard();
        let policy = guard.config().output;
        let width = self.0.contract().width().max(1);
        Ok(rows
            .chunks(width)
            .map(|row| {
                let mut shape = [0usize; 2];
                let s = guard.screen(&guard.row(row, &mut shape));
                match (s.reason, s.probabilities) {
                    (None, Some(p)) => Some(policy_view(&p, &policy)),
                    _ => None,
                }
            })
            .collect())
    }
}

/// Lower median.
fn lower_median<T: Copy + PartialOrd>(mut v: Vec<T>) -> Option<T> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n == 0 {
        None
    } else {
        v.get((n - 1) / 2).copied()
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => Some((v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0),
    }
}

/// Runs the attacks of `options` on `data` against `target`. `progress` is called once per row
/// and attack as each finishes (`rows * attacks` calls in all), with the number finished so
/// far, from any thread.
pub fn robustness(
    target: &Target,
    data: &Labelled,
    options: &RobustnessOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Robustness, AssessError> {
    check_options(options)?;
    let contract = target.contract();
    let width = contract.width();
    let scale = target.scale();
    let n = data.len();
    // Clean predictions.
    let flat: Vec<f32> = data.rows.iter().flatten().copied().collect();
    let probs = target.probabilities(&flat)?;
    let k = contract.labels.len().max(1);
    let correct: Vec<bool> = probs
        .chunks(k)
        .zip(&data.labels)
        .map(|(p, y)| argmax(p) == *y)
        .collect();
    let n_correct = correct.iter().filter(|c| **c).count();
    // The box, standardised.
    let (lo, hi): (Vec<f64>, Vec<f64>) = if options.respect_contract {
        contract
            .features
            .iter()
            .zip(scale)
            .map(|(f, s)| (f.min / s, f.max / s))
            .unzip()
    } else {
        (0..width)
            .map(|j| {
                let s = scale.get(j).copied().unwrap_or(1.0);
                let col = data
                    .rows
                    .iter()
                    .filter_map(|r| r.get(j))
                    .map(|v| f64::from(*v) / s);
                let (mn, mx) = col.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
                (mn - 3.0, mx + 3.0)
            })
            .unzip()
    };
    let (cmin, cmax): (Vec<f64>, Vec<f64>) =
        contract.features.iter().map(|f| (f.min, f.max)).unzip();
    let bounds = options
        .respect_contract
        .then_some((cmin.as_slice(), cmax.as_slice()));
    // Rows to attack: those the model gets right (inside the contract, when it is respected).
    let targets: Vec<usize> = (0..n)
        .filter(|&i| correct.get(i).copied().unwrap_or(false))
        .filter(|&i| {
            !options.respect_contract
                || data
                    .rows
                    .get(i)
                    .is_some_and(|r| contract.check_values(r).is_ok())
        })
        .collect();
    let bare = Bare(target);
    let guarded = Guarded(target);
    let oracle: &dyn Oracle = if options.adaptive { &guarded } else { &bare };
    // Budgets ascending, with their report positions.
    let mut order: Vec<usize> = (0..options.budgets.len()).collect();
    order.sort_by(|a, b| options.budgets[*a].total_cmp(&options.budgets[*b]));
    let sorted: Vec<f64> = order
        .iter()
        .filter_map(|i| options.budgets.get(*i))
        .copied()
        .collect();
    let inner: Vec<f64> = sorted.iter().map(|b| (b - ROOM).max(0.0)).collect();
    let done = std::sync::atomic::AtomicU64::new(0);
    let mut report = Vec::new();
    let mut adversarial = Vec::new();
    for &attack in &options.attacks {
        // Rows not attacked (misclassified, or outside the contract) are finished at once.
        for _ in targets.len()..n {
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
        }
        // Per target row: the point found at each budget (ascending).
        let found: Vec<Vec<Option<Found>>> = targets
            .par_iter()
            .map(|&i| -> Result<Vec<Option<Found>>, AssessError> {
                let row = data.rows.get(i).map(Vec::as_slice).unwrap_or(&[]);
                let y = data.labels.get(i).copied().unwrap_or(0);
                let x0: Vec<f64> = row
                    .iter()
                    .zip(scale)
                    .map(|(v, s)| f64::from(*v) / s)
                    .collect();
                // The nearest rows of other classes: first in adaptive mode (uniform draws
                // rarely pass the guard), else only where ART's uniform draws all fail.
                let nearest = nearest_other(data, &x0, y, scale);
                let (starts, fallback) = if options.adaptive {
                    (nearest, Vec::new())
                } else {
                    (Vec::new(), nearest)
                };
                let space = Space {
                    x0,
                    lo: &lo,
                    hi: &hi,
                    scale,
                    bounds,
                    starts,
                    fallback,
                };
                let r = attack_row(
                    attack, options, oracle, &space, y, i as u64, &sorted, &inner,
                );
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                r
            })
            .collect::<Result<_, _>>()?;
        // Check every success: float32 row inside the contract and the budget, and it flips
        // the bare model.
        let mut per_budget: Vec<Vec<AdversarialRow>> = vec![Vec::new(); sorted.len()];
        let mut candidates = Vec::new();
        for (t, f) in targets.iter().zip(&found) {
            let row = data.rows.get(*t).map(Vec::as_slice).unwrap_or(&[]);
            let x0: Vec<f64> = row
                .iter()
                .zip(scale)
                .map(|(v, s)| f64::from(*v) / s)
                .collect();
            let space = Space {
                x0: x0.clone(),
                lo: &lo,
                hi: &hi,
                scale,
                bounds,
                starts: Vec::new(),
                fallback: Vec::new(),
            };
            for (b, hit) in f.iter().enumerate() {
                let Some(hit) = hit else { continue };
                let values = space.physical(&hit.u);
                let u: Vec<f64> = values
                    .iter()
                    .zip(scale)
                    .map(|(v, s)| f64::from(*v) / s)
                    .collect();
                let perturbation = options.norm.dist(&u, &x0);
                let budget = sorted.get(b).copied().unwrap_or(0.0);
                if perturbation > budget
                    || (options.respect_contract && contract.check_values(&values).is_err())
                {
                    continue;
                }
                candidates.push((
                    b,
                    AdversarialRow {
                        row: *t,
                        label: data.labels.get(*t).copied().unwrap_or(0),
                        attack,
                        norm: options.norm,
                        budget,
                        values,
                        perturbation,
                        queries: hit.queries,
                    },
                ));
            }
        }
        let flat: Vec<f32> = candidates
            .iter()
            .flat_map(|(_, a)| a.values.iter().copied())
            .collect();
        let p = target.probabilities(&flat)?;
        for ((b, a), s) in candidates.into_iter().zip(p.chunks(k)) {
            let s: Vec<f64> = s.iter().map(|v| f64::from(*v)).collect();
            if evasion::adversarial(&s, a.label) {
                if let Some(v) = per_budget.get_mut(b) {
                    v.push(a);
                }
            }
        }
        // Report in the budgets' given order.
        let mut reports = vec![None; sorted.len()];
        for (b, rows) in per_budget.iter().enumerate() {
            let flipped = rows.len();
            let budget = sorted.get(b).copied().unwrap_or(0.0);
            let guard = replay(target, rows, n_correct, attack, options.norm, budget);
            let r = AttackReport {
                attack: attack.name(),
                norm: options.norm.name(),
                budget,
                accuracy_under_attack: ratio(n_correct - flipped.min(n_correct), n),
                success_rate: ratio(flipped, n_correct),
                median_perturbation: median(rows.iter().map(|a| a.perturbation).collect()),
                median_queries: lower_median(rows.iter().map(|a| a.queries).collect()),
                guard,
            };
            if let Some(slot) = order.get(b).and_then(|o| reports.get_mut(*o)) {
                *slot = Some(r);
            }
        }
        report.extend(reports.into_iter().flatten());
        let mut by_order: Vec<(usize, Vec<AdversarialRow>)> = per_budget
            .into_iter()
            .enumerate()
            .map(|(b, rows)| (order.get(b).copied().unwrap_or(b), rows))
            .collect();
        by_order.sort_by_key(|(o, _)| *o);
        adversarial.extend(by_order.into_iter().flat_map(|(_, rows)| rows));
    }
    let subgroups = data
        .groups
        .as_ref()
        .map(|g| subgroups(g, &correct, &report, &adversarial));
    Ok(Robustness {
        report: RobustnessReport {
            clean_accuracy: ratio(n_correct, n),
            rows: n,
            attacks: report,
            subgroups,
        },
        adversarial,
    })
}

/// The report broken down by the subgroup of each row (values in sorted order).
fn subgroups(
    groups: &[String],
    correct: &[bool],
    report: &[AttackReport],
    adversarial: &[AdversarialRow],
) -> Vec<SubgroupRobustness> {
    let mut names: Vec<&String> = groups.iter().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let in_group = |i: usize| groups.get(i) == Some(name);
            let rows = (0..groups.len()).filter(|i| in_group(*i)).count();
            let right = (0..groups.len())
                .filter(|i| in_group(*i) && correct.get(*i).copied().unwrap_or(false))
                .count();
            let attacks = report
                .iter()
                .map(|a| {
                    let flipped = adversarial
                        .iter()
                        .filter(|x| {
                            x.attack.name() == a.attack && x.budget == a.budget && in_group(x.row)
                        })
                        .count();
                    SubgroupAttack {
                        attack: a.attack,
                        budget: a.budget,
                        accuracy_under_attack: ratio(right - flipped.min(right), rows),
                        success_rate: ratio(flipped, right),
                    }
                })
                .collect();
            SubgroupRobustness {
                subgroup: name.clone(),
                rows,
                clean_accuracy: ratio(right, rows),
                attacks,
            }
        })
        .collect()
}

/// Starting points of the adaptive decision-based attacks: the five rows of `data` labelled
/// with another class than `y` nearest to `x0` (L-infinity, standardised). An attacker who
/// knows a few labelled cases starts from them, since the guard refuses uniform draws.
fn nearest_other(data: &Labelled, x0: &[f64], y: usize, scale: &[f64]) -> Vec<Vec<f64>> {
    let mut others: Vec<(f64, Vec<f64>)> = data
        .rows
        .iter()
        .zip(&data.labels)
        .filter(|(_, l)| **l != y)
        .map(|(r, _)| {
            let u: Vec<f64> = r
                .iter()
                .zip(scale)
                .map(|(v, s)| f64::from(*v) / s)
                .collect();
            (Norm::Linf.dist(&u, x0), u)
        })
        .collect();
    others.sort_by(|a, b| a.0.total_cmp(&b.0));
    others.into_iter().take(5).map(|(_, u)| u).collect()
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn check_options(o: &RobustnessOptions) -> Result<(), AssessError> {
    if let Some(b) = o.budgets.iter().find(|b| !(b.is_finite() && **b >= 0.0)) {
        return Err(AssessError::parameter(
            "budget",
            format!("{b} is not a finite number of standard deviations >= 0"),
        ));
    }
    if o.budgets.is_empty() {
        return Err(AssessError::parameter("budget", "no budget given"));
    }
    if o.attacks.is_empty() {
        return Err(AssessError::parameter("attack", "no attack given"));
    }
    if !(o.square_p_init > 0.0 && o.square_p_init <= 1.0) {
        return Err(AssessError::parameter("p_init", "must be in (0, 1]"));
    }
    let h = &o.hsj;
    if h.init_eval == 0 || h.max_eval < h.init_eval || h.init_size == 0 {
        return Err(AssessError::parameter(
            "hopskipjump",
            "init_eval and init_size must be positive and max_eval at least init_eval",
        ));
    }
    Ok(())
}

/// One row under one attack: the point found at each budget (`sorted` ascending; `inner` the
/// same with the rounding room taken off). A point found at a smaller budget also counts for
/// every larger one (an attacker with the larger budget can run the smaller attack).
#[allow(clippy::too_many_arguments)]
fn attack_row(
    attack: Attack,
    options: &RobustnessOptions,
    oracle: &dyn Oracle,
    space: &Space<'_>,
    y: usize,
    row: u64,
    sorted: &[f64],
    inner: &[f64],
) -> Result<Vec<Option<Found>>, AssessError> {
    let norm = options.norm;
    let mut found: Vec<Option<Found>> = if attack.minimum_norm() {
        let mut rng = Rng::for_parts(&[options.seed, attack.id(), norm.id(), row]);
        let mut probe = Probe {
            oracle,
            space,
            y,
            used: 0,
            max: options.max_queries,
        };
        let mut trail = Trail::new(inner, norm);
        match attack {
            Attack::HopSkipJump => {
                evasion::hop_skip_jump(&mut probe, norm, &options.hsj, &mut trail, &mut rng)?
            }
            _ => evasion::boundary(&mut probe, options.hsj.init_size, &mut trail, &mut rng)?,
        }
        trail.found
    } else {
        let mut out = Vec::with_capacity(sorted.len());
        for (b, eps) in sorted.iter().zip(inner) {
            let mut rng = Rng::for_parts(&[options.seed, attack.id(), norm.id(), row, b.to_bits()]);
            let mut probe = Probe {
                oracle,
                space,
                y,
                used: 0,
                max: options.max_queries,
            };
            let f = if *eps <= 0.0 {
                None
            } else {
                match attack {
                    Attack::Noise => {
                        evasion::noise(&mut probe, *eps, norm, options.noise, &mut rng)?
                    }
                    _ => evasion::square(
                        &mut probe,
                        *eps,
                        norm,
                        options.square_p_init,
                        options.square_max_iter.unwrap_or_else(|| {
                            usize::try_from(options.max_queries).unwrap_or(usize::MAX)
                        }),
                        &mut rng,
                    )?,
                }
            };
            out.push(f);
        }
        out
    };
    for b in 1..found.len() {
        if found.get(b).is_some_and(Option::is_none) {
            let prev = found.get(b - 1).cloned().flatten();
            if let Some(slot) = found.get_mut(b) {
                *slot = prev;
            }
        }
    }
    Ok(found)
}

/// Replays the rows (one budget of one attack) through the guard as one client's stream.
fn replay(
    target: &Target,
    rows: &[AdversarialRow],
    n_correct: usize,
    attack: Attack,
    norm: Norm,
    budget: f64,
) -> GuardReplay {
    if rows.is_empty() {
        return GuardReplay {
            abstained: None,
            success_rate_through_guard: None,
        };
    }
    let guard = target.guard();
    let rate = guard.config().limits.rate_per_second.max(1e-3);
    let client = target.fresh_client(&format!("{}-{}-{budget}", attack.name(), norm.name()));
    let (mut abstained, mut through) = (0usize, 0usize);
    for (i, a) in rows.iter().enumerate() {
        let mut shape = [0usize; 2];
        let request = RequestOptions::new().at(Duration::from_secs_f64(i as f64 / rate));
        let d = guard.infer(&client, &guard.row(&a.values, &mut shape), &request);
        match d.verdict {
            Verdict::Accept { output } => through += usize::from(output.class != a.label),
            Verdict::Abstain { .. } => abstained += 1,
        }
    }
    GuardReplay {
        abstained: Some(ratio(abstained, rows.len())),
        success_rate_through_guard: Some(ratio(through, n_correct)),
    }
}

/// Writes `rows` as CSV: the contract's feature columns, then `label`, `row`, `attack`,
/// `norm` and `budget`.
pub fn write_adversarial_csv(
    out: &mut dyn std::io::Write,
    contract: &vigil_model::Contract,
    rows: &[AdversarialRow],
) -> std::io::Result<()> {
    let mut header: Vec<String> = contract
        .features
        .iter()
        .map(|f| csv_field(&f.name))
        .collect();
    header.extend(["label", "row", "attack", "norm", "budget"].map(String::from));
    writeln!(out, "{}", header.join(","))?;
    for a in rows {
        let mut cells: Vec<String> = a.values.iter().map(|v| format!("{v}")).collect();
        cells.push(a.label.to_string());
        cells.push(a.row.to_string());
        cells.push(a.attack.name().to_string());
        cells.push(a.norm.name().to_string());
        cells.push(format!("{}", a.budget));
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

/// A CSV field, quoted when it must be.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

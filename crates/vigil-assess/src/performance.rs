//! `vigil assess performance`: accuracy, sensitivity, specificity and calibration error per
//! subgroup, with percentile bootstrap confidence intervals (seeded).
//!
//! Sensitivity is the recall of the positive class (the contract's first label unless told),
//! specificity the share of the other rows not predicted positive. Calibration error is the
//! expected calibration error (Guo et al., ICML 2017) of the predicted class's probability over
//! 10 equal-width bins. Each interval resamples the subgroup's rows with replacement `bootstrap`
//! times and takes the 2.5th and 97.5th percentiles; a statistic with no rows to stand on (no
//! positives, say) is `null`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::data::Labelled;
use crate::error::AssessError;
use crate::rng::Rng;
use crate::target::{argmax, Target};

/// Bins of the calibration error.
const BINS: usize = 10;

/// One statistic with its 95% bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The statistic on the subgroup's rows (`null` when undefined).
    pub value: Option<f64>,
    /// 2.5th and 97.5th bootstrap percentiles (`null` when undefined).
    pub ci: Option<[f64; 2]>,
}

/// One subgroup's performance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    /// The subgroup's value (`all` for every row).
    pub subgroup: String,
    /// Its rows.
    pub rows: usize,
    /// Share classified correctly.
    pub accuracy: Estimate,
    /// Recall of the positive class.
    pub sensitivity: Estimate,
    /// Recall of the other classes as "not positive".
    pub specificity: Estimate,
    /// Expected calibration error of the predicted class's probability (10 bins).
    pub calibration_error: Estimate,
}

/// `vigil assess performance --json`.
///
/// ```text
/// {"rows":n,"positive":"...","bootstrap":b,"seed":s,"groups":[{"subgroup":"all","rows":n,
///   "accuracy":{"value":x,"ci":[lo,hi]},"sensitivity":{...},"specificity":{...},
///   "calibration_error":{...}},...]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceReport {
    /// Rows assessed.
    pub rows: usize,
    /// The positive class's label.
    pub positive: String,
    /// Bootstrap resamples per interval.
    pub bootstrap: usize,
    /// The seed of the resampling.
    pub seed: u64,
    /// `all` first, then each subgroup in sorted order.
    pub groups: Vec<GroupReport>,
}

/// One row's facts.
#[derive(Clone, Copy)]
struct Case {
    correct: bool,
    positive: bool,
    predicted_positive: bool,
    confidence: f64,
}

fn stats(cases: &[Case]) -> [Option<f64>; 4] {
    let n = cases.len();
    if n == 0 {
        return [None; 4];
    }
    let acc = cases.iter().filter(|c| c.correct).count() as f64 / n as f64;
    let pos: Vec<&Case> = cases.iter().filter(|c| c.positive).collect();
    let neg: Vec<&Case> = cases.iter().filter(|c| !c.positive).collect();
    let sens = (!pos.is_empty())
        .then(|| pos.iter().filter(|c| c.predicted_positive).count() as f64 / pos.len() as f64);
    let spec = (!neg.is_empty())
        .then(|| neg.iter().filter(|c| !c.predicted_positive).count() as f64 / neg.len() as f64);
    let mut bins = [(0usize, 0.0f64, 0.0f64); BINS];
    for c in cases {
        let b = ((c.confidence * BINS as f64) as usize).min(BINS - 1);
        if let Some(slot) = bins.get_mut(b) {
            slot.0 += 1;
            slot.1 += c.confidence;
            slot.2 += f64::from(u8::from(c.correct));
        }
    }
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|(k, conf, acc)| (*k as f64 / n as f64) * ((acc - conf) / *k as f64).abs())
        .sum();
    [Some(acc), sens, spec, Some(ece)]
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Linear interpolation between order statistics, as numpy.percentile's default.
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let a = *sorted.get(lo)?;
    let b = *sorted.get(hi)?;
    Some(a + (b - a) * (pos - lo as f64))
}

fn group(name: String, cases: &[Case], bootstrap: usize, rng: &mut Rng) -> GroupReport {
    let point = stats(cases);
    let mut draws: [Vec<f64>; 4] = Default::default();
    let n = cases.len();
    let mut sample = Vec::with_capacity(n);
    for _ in 0..bootstrap {
        sample.clear();
        for _ in 0..n {
            if let Some(c) = cases.get(rng.below(n)) {
                sample.push(*c);
            }
        }
        for (d, v) in draws.iter_mut().zip(stats(&sample)) {
            if let Some(v) = v {
                d.push(v);
            }
        }
    }
    for d in &mut draws {
        d.sort_by(f64::total_cmp);
    }
    let est = |i: usize| -> Estimate {
        let value = point.get(i).copied().flatten();
        let ci = draws
            .get(i)
            .and_then(|d| Some([percentile(d, 0.025)?, percentile(d, 0.975)?]));
        Estimate {
            value,
            ci: value.and(ci),
        }
    };
    GroupReport {
        subgroup: name,
        rows: n,
        accuracy: est(0),
        sensitivity: est(1),
        specificity: est(2),
        calibration_error: est(3),
    }
}

/// Performance of the bare model on `data`, overall and per subgroup (`data.groups`), with
/// `bootstrap` resamples per interval, seeded by `seed`; `positive` is the positive class.
pub fn performance(
    target: &Target,
    data: &Labelled,
    positive: usize,
    bootstrap: usize,
    seed: u64,
) -> Result<PerformanceReport, AssessError> {
    let contract = target.contract();
    let label = contract.labels.get(positive).cloned().ok_or_else(|| {
        AssessError::parameter(
            "positive",
            format!("class {positive} is not in the contract"),
        )
    })?;
    let k = contract.labels.len().max(1);
    let flat: Vec<f32> = data.rows.iter().flatten().copied().collect();
    let probs = target.probabilities(&flat)?;
    let cases: Vec<Case> = probs
        .chunks(k)
        .zip(&data.labels)
        .map(|(p, y)| {
            let c = argmax(p);
            Case {
                correct: c == *y,
                positive: *y == positive,
                predicted_positive: c == positive,
                confidence: p.get(c).map_or(0.0, |v| f64::from(*v)),
            }
        })
        .collect();
    let mut groups = vec![group(
        "all".into(),
        &cases,
        bootstrap,
        &mut Rng::for_parts(&[seed, 0x5045_5246, 0]),
    )];
    if let Some(g) = &data.groups {
        let mut by: BTreeMap<&str, Vec<Case>> = BTreeMap::new();
        for (name, c) in g.iter().zip(&cases) {
            by.entry(name.as_str()).or_default().push(*c);
        }
        for (i, (name, cs)) in by.into_iter().enumerate() {
            let mut rng = Rng::for_parts(&[seed, 0x5045_5246, i as u64 + 1]);
            groups.push(group(name.to_string(), &cs, bootstrap, &mut rng));
        }
    }
    Ok(PerformanceReport {
        rows: data.len(),
        positive: label,
        bootstrap,
        seed,
        groups,
    })
}

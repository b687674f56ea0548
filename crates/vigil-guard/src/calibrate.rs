//! `calibrate`: fits the reference statistics and thresholds on clean rows, by
//! cross-validation, and writes `reference/guard.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::contract::GuardConfig;
use crate::detect::{
    batch_size, forward, DetectorKind, Reference, REFERENCE_FILE, REFERENCE_FORMAT,
};
use crate::error::GuardError;
use crate::guard::read_unverified;
use crate::reason::Reason;
use crate::rows::{parse_csv, CsvLimits};
use crate::stats::{conformal_quantile, splitmix, Gaussian};
use vigil_model::Engine;

/// What calibration wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The reference file written.
    pub path: PathBuf,
    /// Clean rows used.
    pub rows: usize,
    /// Target false-positive rate.
    pub fpr: f64,
    /// Share of clean rows flagged under cross-validation at the chosen thresholds.
    pub cv_false_positive_rate: f64,
    /// Threshold per detector code.
    pub thresholds: BTreeMap<String, f64>,
    /// Per detector code, the clean rows whose out-of-fold score is over its threshold (a row
    /// may count under several detectors; `cv_false_positive_rate` counts it once). A
    /// detector that flags no row sits at the largest clean score: too few clean rows to set
    /// it any finer at this rate.
    pub flagged: BTreeMap<String, usize>,
}

/// Calibrates the bundle in `dir` on the clean CSV `clean` at false-positive rate `fpr`
/// (`None`: `[detectors] fpr`), with the Gaussians fitted on the clean rows alone. See
/// [`calibrate_with_reference`].
pub fn calibrate(dir: &Path, clean: &Path, fpr: Option<f64>) -> Result<Calibration, GuardError> {
    calibrate_with_reference(dir, clean, None, fpr)
}

/// Clean rows read from a CSV and run through the model.
struct CleanRows {
    /// SHA-256 of the file.
    sha256: String,
    xs: Vec<Vec<f64>>,
    hs: Vec<Vec<f64>>,
    labels: Vec<usize>,
    squeezing: Vec<f64>,
    low_confidence: Vec<f64>,
}

fn read_clean(
    path: &Path,
    engine: &Engine,
    config: &GuardConfig,
    model_name: &str,
) -> Result<CleanRows, GuardError> {
    let d = &config.detectors;
    let contract = &config.contract;
    let csv = vigil_core::read_bounded(path, CsvLimits::default().max_bytes)?;
    let file = path.display().to_string();
    let rows = parse_csv(&csv, &file, contract, &CsvLimits::default())?;
    let n = rows.len();
    let mut out = CleanRows {
        sha256: hex::encode(Sha256::digest(&csv)),
        xs: Vec::with_capacity(n),
        hs: Vec::with_capacity(n),
        labels: Vec::with_capacity(n),
        squeezing: Vec::with_capacity(n),
        low_confidence: Vec::with_capacity(n),
    };
    for row in &rows {
        let values = row.values.as_ref().map_err(|r| GuardError::Csv {
            file: file.clone(),
            line: row.line,
            reason: format!("clean data must be clean: {r}"),
        })?;
        contract.check_values(values).map_err(|r| GuardError::Csv {
            file: file.clone(),
            line: row.line,
            reason: format!("clean data must be clean: {}", Reason::from(r)),
        })?;
        let fwd =
            forward(engine, d, &contract.features, values).map_err(|e| GuardError::Model {
                name: model_name.to_string(),
                reason: format!("{file}: line {}: {e}", row.line),
            })?;
        let label = row.label.unwrap_or_else(|| fwd.class());
        if label >= contract.labels.len() {
            return Err(GuardError::Csv {
                file: file.clone(),
                line: row.line,
                reason: format!(
                    "label {label}: the contract has {} classes",
                    contract.labels.len()
                ),
            });
        }
        out.labels.push(label);
        if let Some(s) = fwd.squeezing {
            out.squeezing.push(s);
        }
        out.low_confidence.push(fwd.low_confidence);
        out.xs.push(values.iter().map(|v| f64::from(*v)).collect());
        if let Some(h) = fwd.hidden {
            out.hs.push(h.iter().map(|v| f64::from(*v)).collect());
        }
    }
    Ok(out)
}

/// Calibrates the bundle in `dir` on the clean CSV `clean` at false-positive rate `fpr`
/// (`None`: `[detectors] fpr`). The bundle's files are read WITHOUT verification (this runs
/// where the bundle is built); the bundle must be signed again afterwards.
///
/// `reference`: optional further clean rows (typically the model's training rows) that join
/// the clean rows in fitting the Mahalanobis detectors' Gaussians, for better-conditioned
/// covariances. They never set a threshold: thresholds come from the clean rows alone.
///
/// Thresholds: the clean rows are split into `[detectors] folds` stratified folds; each fold
/// is scored by statistics fitted on the other folds (and the reference rows), so every clean
/// row has an out-of-fold score per detector. One common quantile level `q` is then chosen,
/// the smallest for which the share of rows flagged by any detector (threshold: the
/// `ceil(q (n+1))`-th smallest out-of-fold score) is at most `fpr` less one standard error of
/// a rate estimated on n rows (`sqrt(fpr (1 - fpr) / n)`, never below `fpr / 2`). The
/// statistics written are fitted on all clean (and reference) rows.
pub fn calibrate_with_reference(
    dir: &Path,
    clean: &Path,
    reference: Option<&Path>,
    fpr: Option<f64>,
) -> Result<Calibration, GuardError> {
    let files = read_unverified(dir, &vigil_bundle::Limits::default())?;
    let config = GuardConfig::from_document(&files.config.document)?;
    let fpr = fpr.unwrap_or(config.detectors.fpr);
    if !(fpr > 0.0 && fpr < 0.5) {
        return Err(GuardError::Calibration(format!(
            "fpr {fpr}: must be in (0, 0.5)"
        )));
    }
    let d = &config.detectors;
    let contract = &config.contract;
    let engine = Engine::load(&files.config.model, &files.model, contract, batch_size(d))?;
    let file = clean.display().to_string();
    let c = read_clean(clean, &engine, &config, &files.config.model)?;
    let n = c.xs.len();
    if n < 4 * d.folds {
        return Err(GuardError::Calibration(format!(
            "{file}: {n} rows; need at least {} for {} folds",
            4 * d.folds,
            d.folds
        )));
    }
    let extra = match reference {
        Some(p) => Some(read_clean(p, &engine, &config, &files.config.model)?),
        None => None,
    };
    let CleanRows {
        sha256: clean_sha256,
        xs,
        hs,
        labels,
        squeezing,
        low_confidence,
    } = c;
    let (ref_xs, ref_hs, ref_labels) = match &extra {
        Some(e) => (e.xs.as_slice(), e.hs.as_slice(), e.labels.as_slice()),
        None => (&[][..], &[][..], &[][..]),
    };
    let mut model_scores: BTreeMap<DetectorKind, Vec<f64>> = BTreeMap::new();
    if squeezing.len() == n {
        model_scores.insert(DetectorKind::Squeezing, squeezing);
    }
    model_scores.insert(DetectorKind::LowConfidence, low_confidence);
    // The logarithmic transform's shifts: 1% of each feature's spread over all rows, less the
    // contract minimum (so ln's argument is at least that 1% on any valid input).
    let log_shift = if d.input_log {
        let all: Vec<&Vec<f64>> = xs.iter().chain(ref_xs).collect();
        let m = all.len() as f64;
        let shift = contract
            .features
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let col = || all.iter().filter_map(|r| r.get(j));
                let mean = col().sum::<f64>() / m;
                let sd = (col().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m).sqrt();
                (0.01 * sd).max(1e-9) - f.min
            })
            .collect();
        Some(shift)
    } else {
        None
    };
    // Stratified folds over a fixed pseudo-random order.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (labels.get(i).copied().unwrap_or(0), splitmix(i as u64)));
    let mut fold = vec![0usize; n];
    for (rank, &i) in order.iter().enumerate() {
        if let Some(f) = fold.get_mut(i) {
            *f = rank % d.folds;
        }
    }
    let classes = contract.labels.len();
    let oof = |data: &[Vec<f64>],
               extra_data: &[Vec<f64>],
               shift: Option<Vec<f64>>,
               centres: usize|
     -> Result<Vec<f64>, GuardError> {
        let mut out = vec![0.0; n];
        for k in 0..d.folds {
            let (mut train, mut train_labels): (Vec<&[f64]>, Vec<usize>) = (0..n)
                .filter(|&i| fold.get(i) != Some(&k))
                .filter_map(|i| Some((data.get(i)?.as_slice(), *labels.get(i)?)))
                .unzip();
            train.extend(extra_data.iter().map(Vec::as_slice));
            train_labels.extend_from_slice(ref_labels);
            let g = Gaussian::fit(
                &train,
                &train_labels,
                classes,
                d.shrinkage,
                shift.clone(),
                centres,
            )
            .map_err(GuardError::Calibration)?;
            for i in (0..n).filter(|&i| fold.get(i) == Some(&k)) {
                if let (Some(o), Some(x)) = (out.get_mut(i), data.get(i)) {
                    *o = g.score(x);
                }
            }
        }
        Ok(out)
    };
    let fit_all = |data: &[Vec<f64>],
                   extra_data: &[Vec<f64>],
                   shift: Option<Vec<f64>>,
                   centres: usize|
     -> Result<Gaussian, GuardError> {
        let refs: Vec<&[f64]> = data.iter().chain(extra_data).map(Vec::as_slice).collect();
        let all_labels: Vec<usize> = labels.iter().chain(ref_labels).copied().collect();
        Gaussian::fit(&refs, &all_labels, classes, d.shrinkage, shift, centres)
            .map_err(GuardError::Calibration)
    };
    let mut scores: BTreeMap<DetectorKind, Vec<f64>> = BTreeMap::new();
    let (mut input, mut hidden) = (None, None);
    if d.mahalanobis_input {
        scores.insert(
            DetectorKind::MahalanobisInput,
            oof(&xs, ref_xs, log_shift.clone(), d.input_centres)?,
        );
        input = Some(fit_all(&xs, ref_xs, log_shift.clone(), d.input_centres)?);
    }
    if d.mahalanobis_hidden {
        if hs.len() != n || ref_hs.len() != ref_xs.len() {
            return Err(GuardError::Calibration(
                "the model gave no hidden output".into(),
            ));
        }
        scores.insert(DetectorKind::MahalanobisHidden, oof(&hs, ref_hs, None, 1)?);
        hidden = Some(fit_all(&hs, ref_hs, None, 1)?);
    }
    for kind in [DetectorKind::Squeezing, DetectorKind::LowConfidence] {
        if kind.enabled(d) {
            if let Some(s) = model_scores.remove(&kind) {
                scores.insert(kind, s);
            }
        }
    }
    let sorted: BTreeMap<DetectorKind, Vec<f64>> = scores
        .iter()
        .map(|(k, v)| {
            let mut s = v.clone();
            s.sort_by(f64::total_cmp);
            (*k, s)
        })
        .collect();
    // At quantile level q: the share of clean rows whose out-of-fold score is over any
    // detector's threshold, the thresholds, and the rows over each threshold.
    type Level = (f64, BTreeMap<String, f64>, BTreeMap<String, usize>);
    let flagged_share = |q: f64| -> Level {
        let mut over_any = vec![false; n];
        let mut thresholds = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for (k, s) in &scores {
            let t = sorted
                .get(k)
                .map_or(f64::INFINITY, |sorted| conformal_quantile(sorted, q));
            let mut count = 0;
            for (flag, v) in over_any.iter_mut().zip(s) {
                if *v > t {
                    *flag = true;
                    count += 1;
                }
            }
            thresholds.insert(k.code().to_string(), t);
            counts.insert(k.code().to_string(), count);
        }
        let share = over_any.iter().filter(|f| **f).count() as f64 / n as f64;
        (share, thresholds, counts)
    };
    // The cross-validated share is itself an estimate from n rows: aim one standard error
    // under the stated rate (but never under half of it), so the rate holds on new data.
    let target = (fpr - (fpr * (1.0 - fpr) / n as f64).sqrt()).max(fpr / 2.0);
    let (mut lo, mut hi) = (1.0 - fpr, 1.0);
    if flagged_share(lo).0 > target {
        for _ in 0..50 {
            let mid = 0.5 * (lo + hi);
            if flagged_share(mid).0 <= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
    } else {
        hi = lo;
    }
    let (cv_rate, thresholds, flagged) = flagged_share(hi);
    let width = contract.width();
    let mut distance_mean = vec![0.0; width];
    let mut distance_scale = vec![0.0; width];
    for x in &xs {
        for (m, v) in distance_mean.iter_mut().zip(x) {
            *m += v / n as f64;
        }
    }
    for x in &xs {
        for ((s, v), m) in distance_scale.iter_mut().zip(x).zip(&distance_mean) {
            *s += (v - m) * (v - m) / n as f64;
        }
    }
    for s in &mut distance_scale {
        *s = if *s > 1e-18 { s.sqrt() } else { 1.0 };
    }
    let reference = Reference {
        format: REFERENCE_FORMAT.into(),
        model_sha256: hex::encode(Sha256::digest(&files.model)),
        clean_sha256,
        rows: n,
        reference_sha256: extra.as_ref().map(|e| e.sha256.clone()),
        reference_rows: ref_xs.len(),
        fpr,
        folds: d.folds,
        cv_false_positive_rate: cv_rate,
        squeeze_bits: d.squeeze_bits,
        median_window: d.median_window,
        input,
        hidden,
        distance_mean,
        distance_scale,
        thresholds: thresholds.clone(),
    };
    let path = dir.join(REFERENCE_FILE);
    let json = serde_json::to_vec_pretty(&reference)
        .map_err(|e| GuardError::Calibration(e.to_string()))?;
    write_atomic(&path, &json)?;
    Ok(Calibration {
        path,
        rows: n,
        fpr,
        cv_false_positive_rate: cv_rate,
        thresholds,
        flagged,
    })
}

/// Writes `bytes` and a newline to `path` atomically and durably, creating its folder.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), GuardError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| GuardError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    let mut text = Vec::with_capacity(bytes.len() + 1);
    text.extend_from_slice(bytes);
    text.push(b'\n');
    vigil_core::write_atomic(path, &text).map_err(|e| GuardError::Io {
        path: e.path().to_path_buf(),
        source: match e {
            vigil_core::ReadError::Io { source, .. } => source,
            other => std::io::Error::other(other.to_string()),
        },
    })
}

//! The detectors' forward pass and the calibrated reference they compare against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::contract::{DetectorSettings, Feature};
use crate::error::GuardError;
use crate::stats::{median_smooth, squeeze_bits, Gaussian};
use vigil_model::Engine;

/// The reference file `calibrate` writes and the guard reads, inside the bundle.
pub const REFERENCE_FILE: &str = "reference/guard.json";
/// Its `format` value.
pub(crate) const REFERENCE_FORMAT: &str = "vigil-guard-reference/2";
/// Largest reference file accepted.
pub(crate) const MAX_REFERENCE_BYTES: usize = 64 << 20;

/// A detector of the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DetectorKind {
    /// Class-conditional Mahalanobis distance on the inputs.
    MahalanobisInput,
    /// Class-conditional Mahalanobis distance on the hidden output.
    MahalanobisHidden,
    /// Feature squeezing: L1 distance between probabilities on raw and squeezed inputs.
    Squeezing,
    /// Low confidence: one minus the margin between the two most probable classes.
    LowConfidence,
}

impl DetectorKind {
    /// Every detector, in the order the guard checks them.
    pub const ALL: [DetectorKind; 4] = [
        DetectorKind::MahalanobisInput,
        DetectorKind::MahalanobisHidden,
        DetectorKind::Squeezing,
        DetectorKind::LowConfidence,
    ];

    /// The stable code: the reason code when it fires and its key in `scores`.
    pub fn code(self) -> &'static str {
        match self {
            DetectorKind::MahalanobisInput => "ood_input",
            DetectorKind::MahalanobisHidden => "ood_hidden",
            DetectorKind::Squeezing => "squeezing",
            DetectorKind::LowConfidence => "low_confidence",
        }
    }

    /// Whether `[detectors]` turns it on.
    pub(crate) fn enabled(self, s: &DetectorSettings) -> bool {
        match self {
            DetectorKind::MahalanobisInput => s.mahalanobis_input,
            DetectorKind::MahalanobisHidden => s.mahalanobis_hidden,
            DetectorKind::Squeezing => s.squeeze_bits > 0 || s.median_window > 0,
            DetectorKind::LowConfidence => s.margin,
        }
    }
}

/// Calibrated statistics and thresholds (`reference/guard.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reference {
    pub(crate) format: String,
    /// SHA-256 of the model file the statistics were computed with.
    pub(crate) model_sha256: String,
    /// SHA-256 of the clean CSV (thresholds and statistics).
    pub(crate) clean_sha256: String,
    pub(crate) rows: usize,
    /// SHA-256 of the optional reference CSV (statistics only, never thresholds).
    pub(crate) reference_sha256: Option<String>,
    pub(crate) reference_rows: usize,
    pub(crate) fpr: f64,
    pub(crate) folds: usize,
    /// Share of clean rows flagged, cross-validated.
    pub(crate) cv_false_positive_rate: f64,
    pub(crate) squeeze_bits: u32,
    pub(crate) median_window: usize,
    pub(crate) input: Option<Gaussian>,
    pub(crate) hidden: Option<Gaussian>,
    /// Per-feature centre and scale for the extraction monitor's distances.
    pub(crate) distance_mean: Vec<f64>,
    pub(crate) distance_scale: Vec<f64>,
    pub(crate) thresholds: BTreeMap<String, f64>,
}

impl Reference {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Reference, GuardError> {
        let bad = |key: &str, reason: String| GuardError::contract(REFERENCE_FILE, key, reason);
        if bytes.len() > MAX_REFERENCE_BYTES {
            return Err(bad("", format!("larger than {MAX_REFERENCE_BYTES} bytes")));
        }
        let r: Reference = serde_json::from_slice(bytes).map_err(|e| bad("", e.to_string()))?;
        if r.format != REFERENCE_FORMAT {
            return Err(bad(
                "format",
                format!("{:?}, expected {REFERENCE_FORMAT:?}", r.format),
            ));
        }
        for (name, g) in [("input", &r.input), ("hidden", &r.hidden)] {
            if let Some(g) = g {
                g.check().map_err(|e| bad(name, e))?;
            }
        }
        if r.distance_mean.len() != r.distance_scale.len()
            || r.distance_scale
                .iter()
                .any(|s| !(s.is_finite() && *s > 0.0))
            || r.distance_mean.iter().any(|m| !m.is_finite())
        {
            return Err(bad("distance_scale", "inconsistent or non-positive".into()));
        }
        if let Some((k, _)) = r.thresholds.iter().find(|(_, v)| v.is_nan()) {
            return Err(bad(&format!("thresholds.{k}"), "not a number".into()));
        }
        Ok(r)
    }
}

/// The model's answer on one row, with the model-based detector scores.
pub(crate) struct Forward {
    pub(crate) probabilities: Vec<f32>,
    pub(crate) hidden: Option<Vec<f32>>,
    pub(crate) squeezing: Option<f64>,
    pub(crate) low_confidence: f64,
}

impl Forward {
    pub(crate) fn class(&self) -> usize {
        argmax(&self.probabilities)
    }
}

pub(crate) fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p.get(best).copied().unwrap_or(f32::NEG_INFINITY) {
            best = i;
        }
    }
    best
}

/// How many rows one forward pass runs: the raw row plus one per squeezer.
pub(crate) fn batch_size(s: &DetectorSettings) -> usize {
    1 + usize::from(s.squeeze_bits > 0) + usize::from(s.median_window > 0)
}

/// Runs the raw row and its squeezed versions in one batch.
pub(crate) fn forward(
    engine: &Engine,
    s: &DetectorSettings,
    features: &[Feature],
    x: &[f32],
) -> Result<Forward, String> {
    let w = x.len();
    let mut batch = vec![0.0f32; engine.batch() * w];
    let mut row = 1;
    batch
        .get_mut(..w)
        .ok_or("batch too small")?
        .copy_from_slice(x);
    if s.squeeze_bits > 0 {
        let out = batch
            .get_mut(row * w..(row + 1) * w)
            .ok_or("batch too small")?;
        squeeze_bits(x, features, s.squeeze_bits, out);
        row += 1;
    }
    if s.median_window > 0 {
        let out = batch
            .get_mut(row * w..(row + 1) * w)
            .ok_or("batch too small")?;
        median_smooth(x, s.median_window, out);
        row += 1;
    }
    let out = engine.run(&batch)?;
    let c = engine.classes();
    let raw = out.probabilities.get(..c).ok_or("short output")?.to_vec();
    let mut squeezing = None;
    for r in 1..row {
        let p = out
            .probabilities
            .get(r * c..(r + 1) * c)
            .ok_or("short output")?;
        let l1: f64 = raw
            .iter()
            .zip(p)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum();
        squeezing = Some(squeezing.map_or(l1, |s: f64| s.max(l1)));
    }
    let mut sorted: Vec<f32> = raw.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let margin = f64::from(sorted.first().copied().unwrap_or(0.0))
        - f64::from(sorted.get(1).copied().unwrap_or(0.0));
    let hidden = match (out.hidden, engine.hidden_width()) {
        (Some(h), Some(hw)) => Some(h.get(..hw).ok_or("short hidden output")?.to_vec()),
        _ => None,
    };
    if raw.iter().any(|v| !v.is_finite()) {
        return Err("model produced a non-finite probability".into());
    }
    Ok(Forward {
        probabilities: raw,
        hidden,
        squeezing,
        low_confidence: 1.0 - margin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/devices/breast-cancer/bundle/reference/guard.json"
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn parse(v: &serde_json::Value) -> Result<Reference, GuardError> {
        Reference::parse(&serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn the_shipped_reference_parses_and_hostile_edits_are_refused() {
        let good = shipped();
        let r = parse(&good).unwrap();
        let input = r.input.as_ref().unwrap();
        assert_eq!(input.log_shift.as_ref().map(Vec::len), Some(30));
        // Scores of hostile rows are numbers, never a panic: short, long, negative, huge.
        for x in [
            vec![0.0f32; 3],
            vec![1.0f32; 300],
            vec![-1e30f32; 30],
            vec![f32::MAX; 30],
        ] {
            let s = input.score(&x);
            assert!(!s.is_nan(), "{s}");
        }
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let edits: [(&str, Edit); 6] = [
            (
                "format",
                Box::new(|v| v["format"] = "vigil-guard-reference/1".into()),
            ),
            (
                "log_shift",
                Box::new(|v| v["input"]["log_shift"] = serde_json::json!([1.0])),
            ),
            (
                "whiten",
                Box::new(|v| v["input"]["whiten"] = serde_json::json!([1.0, 2.0])),
            ),
            (
                "centres",
                Box::new(|v| v["input"]["centres"] = serde_json::json!([])),
            ),
            (
                "scale",
                Box::new(|v| v["input"]["scale"][0] = serde_json::json!(0.0)),
            ),
            ("unknown", Box::new(|v| v["extra"] = serde_json::json!(1))),
        ];
        for (what, edit) in edits {
            let mut v = good.clone();
            edit(&mut v);
            assert!(parse(&v).is_err(), "{what} accepted");
        }
        assert!(Reference::parse(b"{").is_err());
        assert!(Reference::parse(&vec![b' '; MAX_REFERENCE_BYTES + 1]).is_err());
    }
}

//! The model under assessment: a verified bundle's contract, its model compiled with tract (the
//! same plan the guard builds), the guard itself, and the unit of attack budgets.

use std::path::Path;
use std::sync::Arc;

use vigil_bundle::{BundleVerifier, Trust};
use vigil_guard::{DangerousNoAudit, Guard, GuardOptions, OutputMode, OutputPolicy};
use vigil_model::{Contract, Engine};

use crate::error::AssessError;

/// Rows per batched model call.
pub(crate) const BATCH: usize = 64;

/// A verified bundle ready to be attacked: bare (the tract engine) and through its guard.
///
/// `Send + Sync`: attacks share it between threads.
pub struct Target {
    guard: Guard,
    contract: Contract,
    one: Engine,
    many: Engine,
    scale: Vec<f64>,
    clients: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("bundle", &self.guard.bundle_name())
            .field("width", &self.contract.width())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Verifies the bundle in `dir` under `trust` and loads it: the model from the verified
    /// bytes, and the guard (which reads the same files) with no audit sink, since an
    /// assessment is not a device's traffic.
    pub fn open(dir: &Path, trust: &Trust) -> Result<Target, AssessError> {
        let bundle = BundleVerifier::new(dir, trust.clone())
            .verify()
            .map_err(|source| AssessError::Bundle {
                dir: dir.to_path_buf(),
                source,
            })?;
        let unsigned = |name: &str| AssessError::Unsigned {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        };
        let config = bundle
            .config()
            .ok_or_else(|| unsigned(vigil_bundle::CONFIG_FILE))?;
        let model = bundle
            .file(&config.model)
            .ok_or_else(|| unsigned(&config.model))?;
        let contract = Contract::from_document(&config.document)?;
        let one = Engine::load(&config.model, model, &contract, 1)?;
        let many = Engine::load(&config.model, model, &contract, BATCH)?;
        let options = GuardOptions::new(Arc::new(DangerousNoAudit)).salt([0; 32]);
        let guard = Guard::open(dir, trust, options)?;
        let scale = guard.distance_scale().to_vec();
        if scale.len() != contract.width() || scale.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(AssessError::parameter(
                "distance_scale",
                "reference/guard.json's scale does not fit the contract: calibrate again",
            ));
        }
        Ok(Target {
            guard,
            contract,
            one,
            many,
            scale,
            clients: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The input contract.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The guard of the bundle.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Each feature's population standard deviation over the calibration rows: the unit of
    /// attack budgets.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// A client identity the guard has not seen yet, so that each replay or extraction stream
    /// starts with fresh rate-limit and monitor state.
    pub(crate) fn fresh_client(&self, what: &str) -> String {
        let n = self
            .clients
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("assess-{n}-{what}")
    }

    /// The class probabilities of `rows` (row-major, `n * width` values), row-major
    /// `n * classes`, in batches through the bare model.
    pub fn probabilities(&self, rows: &[f32]) -> Result<Vec<f32>, AssessError> {
        let width = self.contract.width();
        let classes = self.contract.labels.len();
        if width == 0 || rows.len() % width != 0 {
            return Err(AssessError::Inference(format!(
                "{} values are not rows of {width}",
                rows.len()
            )));
        }
        let n = rows.len() / width;
        let mut out = Vec::with_capacity(n * classes);
        let mut padded = Vec::new();
        for chunk in rows.chunks(BATCH * width) {
            let k = chunk.len() / width;
            if k >= 8 {
                padded.clear();
                padded.extend_from_slice(chunk);
                padded.resize(BATCH * width, 0.0);
                let o = self.many.run(&padded).map_err(AssessError::Inference)?;
                out.extend(o.probabilities.iter().take(k * classes));
            } else {
                for row in chunk.chunks(width) {
                    let o = self.one.run(row).map_err(AssessError::Inference)?;
                    out.extend(o.probabilities.iter().take(classes));
                }
            }
        }
        if out.len() != n * classes {
            return Err(AssessError::Inference("short output".into()));
        }
        Ok(out)
    }
}

/// The index of the largest probability (the first on ties), as the guard and numpy's
/// `argmax` pick it.
pub(crate) fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if let Some(b) = p.get(best) {
            if *v > *b {
                best = i;
            }
        }
    }
    best
}

/// What a caller sees of probabilities `p` under an output policy: every probability (rounded
/// when the policy says), the top k (the others shown as 0), or the label alone (one-hot).
pub fn policy_view(p: &[f32], policy: &OutputPolicy) -> Vec<f64> {
    let round = |v: f32| -> f64 {
        let v = f64::from(v);
        match policy.decimals {
            Some(n) => {
                let f = 10f64.powi(n.min(15) as i32);
                (v * f).round() / f
            }
            None => v,
        }
    };
    let class = argmax(p);
    match policy.mode {
        OutputMode::Full => p.iter().map(|v| round(*v)).collect(),
        OutputMode::TopK(k) => {
            let mut ranked: Vec<(usize, f32)> = p.iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut out = vec![0.0; p.len()];
            for (i, v) in ranked.into_iter().take(k) {
                if let Some(o) = out.get_mut(i) {
                    *o = round(v);
                }
            }
            out
        }
        OutputMode::Label => (0..p.len())
            .map(|i| f64::from(u8::from(i == class)))
            .collect(),
    }
}

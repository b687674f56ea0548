//! Inference with tract, loaded from the verified model bytes and checked against the contract.

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid as _;

use crate::contract::Contract;
use crate::error::ModelError;

type Plan = TypedRunnableModel<TypedModel>;

/// A model compiled for a fixed batch of rows, checked against the contract at load.
#[derive(Debug)]
pub struct Engine {
    plan: Plan,
    batch: usize,
    width: usize,
    classes: usize,
    hidden: Option<usize>,
}

/// Outputs of one batch: row-major probabilities `[batch, classes]` and hidden `[batch, H]`.
pub struct Outputs {
    /// Class probabilities, row-major `[batch, classes]`.
    pub probabilities: Vec<f32>,
    /// Hidden features, row-major `[batch, H]`, when the contract names a hidden output.
    pub hidden: Option<Vec<f32>>,
}

impl Engine {
    /// Loads ONNX `bytes` (named `name` in the bundle) for batches of `batch` rows, and
    /// checks its input and outputs against `contract`. A graph tract panics on (it has
    /// `todo!()`s for some) is a [`ModelError::Model`], not a crash.
    pub fn load(
        name: &str,
        bytes: &[u8],
        contract: &Contract,
        batch: usize,
    ) -> Result<Engine, ModelError> {
        vigil_core::catch_panic(|| Engine::load_unfenced(name, bytes, contract, batch))
            .unwrap_or_else(|panic| {
                Err(ModelError::Model {
                    name: name.to_string(),
                    reason: format!("tract could not compile the model: {panic}"),
                })
            })
    }

    /// [`Engine::load`] without the fence.
    fn load_unfenced(
        name: &str,
        bytes: &[u8],
        contract: &Contract,
        batch: usize,
    ) -> Result<Engine, ModelError> {
        let err = |reason: String| ModelError::Model {
            name: name.to_string(),
            reason,
        };
        let mut reader = bytes;
        let model = tract_onnx::onnx()
            .model_for_read(&mut reader)
            .map_err(|e| err(format!("not a loadable ONNX model: {e:#}")))?;
        let inputs = model
            .input_outlets()
            .map_err(|e| err(format!("{e:#}")))?
            .to_vec();
        let [outlet] = inputs.as_slice() else {
            return Err(err(format!(
                "{} graph inputs; the contract has one ({})",
                inputs.len(),
                contract.input
            )));
        };
        let input_name = &model.node(outlet.node).name;
        if *input_name != contract.input {
            return Err(err(format!(
                "graph input is {input_name:?}, contract says {:?}",
                contract.input
            )));
        }
        let declared = model.input_fact(0).map_err(|e| err(format!("{e:#}")))?;
        if let Some(dt) = declared.datum_type.concretize() {
            if dt != f32::datum_type() {
                return Err(err(format!(
                    "input {input_name:?} is {dt:?}, contract says float32"
                )));
            }
        }
        if let Some(rank) = declared.shape.rank().concretize() {
            if rank != 2 {
                return Err(err(format!(
                    "input {input_name:?} has rank {rank}, contract says 2"
                )));
            }
        }
        if let Some(dim) = declared.shape.dims().nth(1).and_then(|d| d.concretize()) {
            if dim.to_i64().ok() != Some(contract.width() as i64) {
                return Err(err(format!(
                    "input {input_name:?} has width {dim}, contract says {}",
                    contract.width()
                )));
            }
        }
        let mut outputs = vec![contract.output.clone()];
        outputs.extend(contract.hidden.iter().cloned());
        let model = model
            .with_output_names(&outputs)
            .map_err(|e| err(format!("outputs {outputs:?}: {e:#}")))?
            .with_input_fact(0, f32::fact([batch, contract.width()]).into())
            .map_err(|e| err(format!("{e:#}")))?
            .into_optimized()
            .map_err(|e| err(format!("does not fit the contract's input shape: {e:#}")))?;
        let check = |ix: usize, what: &str| -> Result<usize, ModelError> {
            let fact = model.output_fact(ix).map_err(|e| err(format!("{e:#}")))?;
            if fact.datum_type != f32::datum_type() {
                return Err(err(format!(
                    "output {what:?} is {:?}, expected float32",
                    fact.datum_type
                )));
            }
            match fact.shape.as_concrete() {
                Some([b, w]) if *b == batch && *w > 0 => Ok(*w),
                other => Err(err(format!(
                    "output {what:?} has shape {other:?}, expected [N, width]"
                ))),
            }
        };
        let classes = check(0, &contract.output)?;
        if classes != contract.labels.len() {
            return Err(err(format!(
                "output {:?} has {classes} classes, contract has {} labels",
                contract.output,
                contract.labels.len()
            )));
        }
        let hidden = match &contract.hidden {
            Some(h) => Some(check(1, h)?),
            None => None,
        };
        let plan = model.into_runnable().map_err(|e| err(format!("{e:#}")))?;
        Ok(Engine {
            plan,
            batch,
            width: contract.width(),
            classes,
            hidden,
        })
    }

    /// Rows per run.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Number of classes (the contract's labels).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Width of the hidden output, if the contract names one.
    pub fn hidden_width(&self) -> Option<usize> {
        self.hidden
    }

    /// Runs `rows` (`batch * width` values, row-major). The error is tract's, as text.
    pub fn run(&self, rows: &[f32]) -> Result<Outputs, String> {
        if rows.len() != self.batch * self.width {
            return Err(format!(
                "{} values for a batch of {} x {}",
                rows.len(),
                self.batch,
                self.width
            ));
        }
        let tensor =
            Tensor::from_shape(&[self.batch, self.width], rows).map_err(|e| format!("{e:#}"))?;
        let out = self
            .plan
            .run(tvec!(tensor.into()))
            .map_err(|e| format!("{e:#}"))?;
        clear_upper_state();
        let slice = |ix: usize| -> Result<Vec<f32>, String> {
            out.get(ix)
                .ok_or_else(|| format!("missing output {ix}"))?
                .as_slice::<f32>()
                .map(<[f32]>::to_vec)
                .map_err(|e| format!("{e:#}"))
        };
        let probabilities = slice(0)?;
        if probabilities.len() != self.batch * self.classes {
            return Err("output size changed".into());
        }
        let hidden = match self.hidden {
            Some(h) => {
                let v = slice(1)?;
                if v.len() != self.batch * h {
                    return Err("hidden size changed".into());
                }
                Some(v)
            }
            None => None,
        };
        Ok(Outputs {
            probabilities,
            hidden,
        })
    }
}

/// tract's AVX kernels return with the upper halves of the vector registers dirty; until a
/// `vzeroupper`, every legacy-SSE instruction after them (the guard's own code, libm) pays a
/// false dependency on those halves. One `vzeroupper` after each run clears it.
#[allow(unsafe_code)]
fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked above), which is all `vzeroupper` needs;
            // it only clears the upper halves of vector registers, which hold no live values
            // between Rust statements.
            unsafe { zeroupper() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx")]
unsafe fn zeroupper() {
    std::arch::x86_64::_mm256_zeroupper();
}

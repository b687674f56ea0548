//! A model's internal representation of each data row, read with tract: the ONNX graph is
//! loaded (bounded read of the file), its output set to the named node, and the rows run in
//! batches. Nothing but the ONNX graph is executed.

use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid as _, ShapeFactoid};

/// Largest model file read.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;
const BATCH: usize = 256;

/// Run `x` (`d` features per row) through the model at `path` and return the output named
/// `output`, flattened per row, with its width.
///
/// The model must have one input, of `float` or `double`, whose declared shape is `[N, d]` or
/// any `[N, ...]` holding `d` values per row (an image `[N, 1, 8, 8]` for 64 pixel columns):
/// each row's features fill that shape in row-major order.
pub fn represent(
    path: &Path,
    output: &str,
    x: &[f64],
    d: usize,
) -> Result<(Vec<f64>, usize), String> {
    let bytes = vigil_core::read_bounded(path, MAX_MODEL_BYTES).map_err(|e| e.to_string())?;
    let n = x.len() / d.max(1);
    let batch = BATCH.min(n.max(1));
    let mut reader = bytes.as_slice();
    let model = tract_onnx::onnx()
        .model_for_read(&mut reader)
        .map_err(|e| format!("not a loadable ONNX model: {e:#}"))?;
    let inputs = model.input_outlets().map_err(|e| format!("{e:#}"))?.len();
    if inputs != 1 {
        return Err(format!(
            "the model has {inputs} inputs; the backdoor screen feeds it one (the features)"
        ));
    }
    let fact = model.input_fact(0).map_err(|e| format!("{e:#}"))?;
    let datum = fact.datum_type.concretize().unwrap_or(DatumType::F32);
    if datum != DatumType::F32 && datum != DatumType::F64 {
        return Err(format!(
            "the model's input is of {datum:?}; the backdoor screen feeds float or double"
        ));
    }
    let shape = row_shape(&fact.shape, d, batch);
    let plan = model
        .with_output_names([output])
        .map_err(|e| format!("output {output:?}: {e:#}"))?
        .with_input_fact(0, InferenceFact::dt_shape(datum, &shape))
        .map_err(|e| format!("{e:#}"))?
        .into_optimized()
        .map_err(|e| format!("the model does not take {d} features per row: {e:#}"))?
        .into_runnable()
        .map_err(|e| format!("{e:#}"))?;
    let mut out = Vec::new();
    let mut width = 0;
    let mut start = 0;
    while start < n {
        let end = (start + batch).min(n);
        let mut rows: Vec<f64> = x.get(start * d..end * d).unwrap_or_default().to_vec();
        rows.resize(batch * d, 0.0);
        let t = if datum == DatumType::F64 {
            Tensor::from_shape(&shape, &rows)
        } else {
            let rows: Vec<f32> = rows.iter().map(|&v| v as f32).collect();
            Tensor::from_shape(&shape, &rows)
        }
        .map_err(|e| format!("{e:#}"))?;
        let res = plan.run(tvec!(t.into())).map_err(|e| format!("{e:#}"))?;
        let o = res.first().ok_or("the model gave no output")?;
        let o = o
            .cast_to::<f64>()
            .map_err(|e| format!("output {output:?}: {e:#}"))?;
        let v = o.as_slice::<f64>().map_err(|e| format!("{e:#}"))?;
        if v.len() % batch != 0 || v.is_empty() {
            return Err(format!(
                "output {output:?} has {} values for {batch} rows",
                v.len()
            ));
        }
        width = v.len() / batch;
        if let Some(bad) = v.iter().position(|f| !f.is_finite()) {
            return Err(format!(
                "output {output:?} is not finite for row {}",
                start + bad / width
            ));
        }
        out.extend_from_slice(v.get(..(end - start) * width).unwrap_or_default());
        start = end;
    }
    Ok((out, width))
}

/// The input shape for `batch` rows of `d` features: the model's declared shape with its batch
/// dimension set, when the declared dimensions after it are known and hold `d` values; else
/// `[batch, d]`.
fn row_shape(declared: &ShapeFactoid, d: usize, batch: usize) -> Vec<usize> {
    let dims: Option<Vec<usize>> = declared
        .dims()
        .skip(1)
        .map(|dim| {
            dim.concretize()
                .and_then(|t| t.as_i64())
                .and_then(|v| usize::try_from(v).ok())
        })
        .collect();
    match dims {
        Some(rest)
            if !declared.is_open() && !rest.is_empty() && rest.iter().product::<usize>() == d =>
        {
            std::iter::once(batch).chain(rest).collect()
        }
        _ => vec![batch, d],
    }
}

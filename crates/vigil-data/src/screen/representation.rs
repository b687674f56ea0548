//! A model's internal representation of each data row, read with tract: the ONNX graph is
//! loaded (bounded read of the file), its output set to the named node, and the rows run in
//! batches. Nothing but the ONNX graph is executed.

use std::path::Path;

use tract_onnx::prelude::*;

/// Largest model file read.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;
const BATCH: usize = 256;

/// Run `x` (`d` features per row, as the model's single float input `[N, d]`) through the model
/// at `path` and return the output named `output`, flattened per row, with its width.
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
    let plan = tract_onnx::onnx()
        .model_for_read(&mut reader)
        .map_err(|e| format!("not a loadable ONNX model: {e:#}"))?
        .with_output_names([output])
        .map_err(|e| format!("output {output:?}: {e:#}"))?
        .with_input_fact(0, f32::fact([batch, d]).into())
        .map_err(|e| format!("{e:#}"))?
        .into_optimized()
        .map_err(|e| format!("the model does not take {d} features: {e:#}"))?
        .into_runnable()
        .map_err(|e| format!("{e:#}"))?;
    let mut out = Vec::new();
    let mut width = 0;
    let mut start = 0;
    while start < n {
        let end = (start + batch).min(n);
        let mut rows: Vec<f32> = x
            .get(start * d..end * d)
            .unwrap_or_default()
            .iter()
            .map(|&v| v as f32)
            .collect();
        rows.resize(batch * d, 0.0);
        let t = Tensor::from_shape(&[batch, d], &rows).map_err(|e| format!("{e:#}"))?;
        let res = plan.run(tvec!(t.into())).map_err(|e| format!("{e:#}"))?;
        let o = res.first().ok_or("the model gave no output")?;
        let o = o
            .cast_to::<f32>()
            .map_err(|e| format!("output {output:?}: {e:#}"))?;
        let v = o.as_slice::<f32>().map_err(|e| format!("{e:#}"))?;
        if v.len() % batch != 0 || v.is_empty() {
            return Err(format!(
                "output {output:?} has {} values for {batch} rows",
                v.len()
            ));
        }
        width = v.len() / batch;
        out.extend(
            v.get(..(end - start) * width)
                .unwrap_or_default()
                .iter()
                .map(|&f| f as f64),
        );
        start = end;
    }
    Ok((out, width))
}

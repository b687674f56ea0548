//! A model's internal representation of each data row, read with tract: the ONNX graph is
//! loaded (bounded read of the file), its output set to the named node, and the rows run in
//! batches. Nothing but the ONNX graph is executed.

use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid as _, ShapeFactoid};

/// Largest model file read.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;
const BATCH: usize = 256;
/// Widest representation screened (per class the screen holds a width x width covariance).
pub const MAX_WIDTH: usize = 4096;
/// Largest fixed batch a model may declare (its rows are allocated at once).
const MAX_FIXED_BATCH: usize = 4096;

/// Run `x` (`d` features per row) through the model at `path` and return the output named
/// `output`, flattened per row, with its width.
///
/// The model must have one input, of `float` or `double`, whose declared shape is `[N, d]` or
/// any `[N, ...]` holding `d` values per row (an image `[N, 1, 8, 8]` for 64 pixel columns):
/// each row's features fill that shape in row-major order. A model tract panics on (it has
/// `todo!()`s for some graphs) is an error, not a crash.
pub fn represent(
    path: &Path,
    output: &str,
    x: &[f64],
    d: usize,
) -> Result<(Vec<f64>, usize), String> {
    vigil_core::catch_panic(|| run_model(path, output, x, d))
        .unwrap_or_else(|panic| Err(format!("tract could not run the model: {panic}")))
}

/// [`represent`] without the fence.
fn run_model(path: &Path, output: &str, x: &[f64], d: usize) -> Result<(Vec<f64>, usize), String> {
    let bytes = vigil_core::read_bounded(path, MAX_MODEL_BYTES).map_err(|e| e.to_string())?;
    let n = x.len() / d.max(1);
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
    // A model exported for a fixed batch (often 1) runs batches of exactly that size: its
    // graph may reshape to it.
    let dims = known_dims(&fact.shape);
    let batch = match dims
        .as_ref()
        .and_then(|dims| dims.first().copied().flatten())
    {
        Some(b) if b > MAX_FIXED_BATCH => {
            return Err(format!(
                "the model is declared for batches of {b} rows; the screen runs at most \
                 {MAX_FIXED_BATCH}"
            ))
        }
        Some(b) if b >= 1 => b,
        _ => BATCH.min(n.max(1)),
    };
    let shape = row_shape(dims.as_deref(), d, batch);
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
        // The rows, then zeros up to a whole batch.
        let rows = x.get(start * d..end * d).unwrap_or_default();
        let pad = (batch - (end - start)) * d;
        let t = if datum == DatumType::F64 {
            let rows: Vec<f64> = rows
                .iter()
                .copied()
                .chain(std::iter::repeat_n(0.0, pad))
                .collect();
            Tensor::from_shape(&shape, &rows)
        } else {
            let rows: Vec<f32> = rows
                .iter()
                .map(|&v| v as f32)
                .chain(std::iter::repeat_n(0.0, pad))
                .collect();
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
        if width > MAX_WIDTH {
            return Err(format!(
                "output {output:?} has {width} values per row; the backdoor screen takes at most \
                 {MAX_WIDTH} (its covariance is width x width): name a narrower hidden layer"
            ));
        }
        // The batch's real rows (the zero rows padding it are not data).
        let kept = v.get(..(end - start) * width).unwrap_or_default();
        if let Some(bad) = kept.iter().position(|f| !f.is_finite()) {
            return Err(format!(
                "output {output:?} is not finite for row {}",
                start + bad / width
            ));
        }
        out.extend_from_slice(kept);
        start = end;
    }
    Ok((out, width))
}

/// The input shape for `batch` rows of `d` features: the model's declared shape (see
/// [`known_dims`]) with its batch dimension set, when the declared dimensions after it are
/// known and hold `d` values; else `[batch, d]`.
fn row_shape(declared: Option<&[Option<usize>]>, d: usize, batch: usize) -> Vec<usize> {
    let rest: Option<Vec<usize>> =
        declared.and_then(|dims| dims.get(1..).and_then(|r| r.iter().copied().collect()));
    match rest {
        Some(rest) if !rest.is_empty() && rest.iter().product::<usize>() == d => {
            std::iter::once(batch).chain(rest).collect()
        }
        _ => vec![batch, d],
    }
}

/// The declared dimensions when the rank is known, each `None` where it is symbolic or unknown.
fn known_dims(declared: &ShapeFactoid) -> Option<Vec<Option<usize>>> {
    if declared.is_open() {
        return None;
    }
    Some(
        declared
            .dims()
            .map(|dim| {
                dim.concretize()
                    .and_then(|t| t.as_i64())
                    .and_then(|v| usize::try_from(v).ok())
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of running four rows of three features through a regression model (made by
    /// tests/data/model_runner_fixtures.py).
    fn error_of(model: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(model);
        let x: Vec<f64> = (0..12).map(f64::from).collect();
        match represent(&path, "hidden", &x, 3) {
            Ok(_) => format!("{model} ran"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_model_tract_panics_on_is_an_error() {
        // A reshape to one row, which tract 0.21 reaches a todo!() compiling for four rows.
        let err = error_of("reshape_to_one_row.onnx");
        assert!(err.starts_with("tract could not run the model"), "{err}");
    }

    #[test]
    fn a_huge_fixed_batch_is_refused() {
        let err = error_of("batch_of_1e8.onnx");
        assert!(err.contains("batches of 100000000 rows"), "{err}");
    }

    #[test]
    fn a_representation_wider_than_the_screen_takes_is_refused() {
        let err = error_of("wide_output.onnx");
        assert!(err.contains("5001 values per row"), "{err}");
    }

    #[test]
    fn the_zero_rows_padding_a_batch_are_not_checked() {
        // 300 rows run as a batch of 256 and one of 44 rows padded with 212 zero rows, whose
        // log is -inf; every real row is positive, so its log is finite.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/log_of_input.onnx");
        let x: Vec<f64> = (0..900).map(|i| 1.0 + f64::from(i)).collect();
        let (reps, width) = represent(&path, "hidden", &x, 3).unwrap();
        assert_eq!((reps.len(), width), (900, 3));
        assert!((reps[899] - 900f64.ln()).abs() < 1e-4);
        // A real row that is not finite is still refused, by its number.
        let mut x = x;
        x[3 * 280] = 0.0;
        let err = represent(&path, "hidden", &x, 3).unwrap_err();
        assert!(err.contains("not finite for row 280"), "{err}");
    }
}

//! What the gateway serves: the [`InferenceBackend`] trait, the tensors it takes and gives, and
//! a deterministic toy backend for tests and examples.

use std::fmt;

use vigil_guard::Reason;

use crate::clients::Caller;
use crate::refusal::{Abstain, Abstention};

/// Element types of the Open Inference Protocol that the gateway carries.
///
/// `BYTES` and `FP16` are refused by the parser with a reason (no medical model of Vigil takes
/// them yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// `BOOL`.
    Bool,
    /// `UINT8`.
    Uint8,
    /// `UINT16`.
    Uint16,
    /// `UINT32`.
    Uint32,
    /// `UINT64`.
    Uint64,
    /// `INT8`.
    Int8,
    /// `INT16`.
    Int16,
    /// `INT32`.
    Int32,
    /// `INT64`.
    Int64,
    /// `FP32`.
    Fp32,
    /// `FP64`.
    Fp64,
}

impl DataType {
    /// The protocol's name (`FP32`...).
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::Uint8 => "UINT8",
            DataType::Uint16 => "UINT16",
            DataType::Uint32 => "UINT32",
            DataType::Uint64 => "UINT64",
            DataType::Int8 => "INT8",
            DataType::Int16 => "INT16",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
            DataType::Fp32 => "FP32",
            DataType::Fp64 => "FP64",
        }
    }

    /// Parse a protocol name; `None` for names the gateway does not carry.
    pub fn parse(name: &str) -> Option<DataType> {
        Some(match name {
            "BOOL" => DataType::Bool,
            "UINT8" => DataType::Uint8,
            "UINT16" => DataType::Uint16,
            "UINT32" => DataType::Uint32,
            "UINT64" => DataType::Uint64,
            "INT8" => DataType::Int8,
            "INT16" => DataType::Int16,
            "INT32" => DataType::Int32,
            "INT64" => DataType::Int64,
            "FP32" => DataType::Fp32,
            "FP64" => DataType::Fp64,
            _ => return None,
        })
    }

    /// Bytes per element in the binary tensor extension.
    pub fn size(self) -> usize {
        match self {
            DataType::Bool | DataType::Uint8 | DataType::Int8 => 1,
            DataType::Uint16 | DataType::Int16 => 2,
            DataType::Uint32 | DataType::Int32 | DataType::Fp32 => 4,
            DataType::Uint64 | DataType::Int64 | DataType::Fp64 => 8,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The values of a tensor, flat in row-major order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TensorData {
    /// `FP32` values.
    F32(Vec<f32>),
    /// `FP64` values.
    F64(Vec<f64>),
    /// Any integer type, widened (range checked against the declared type by the parser).
    Int(Vec<i64>),
    /// `UINT64` values.
    Uint(Vec<u64>),
    /// `BOOL` values.
    Bool(Vec<bool>),
}

impl TensorData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::Int(v) => v.len(),
            TensorData::Uint(v) => v.len(),
            TensorData::Bool(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A named tensor with its declared type and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Tensor name.
    pub name: String,
    /// Declared element type.
    pub datatype: DataType,
    /// Shape; the product of the dimensions is the number of values.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: TensorData,
}

/// A tensor's name, type and shape as the model metadata states it (`-1`: any size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub datatype: DataType,
    /// Shape, `-1` for a variable dimension.
    pub shape: Vec<i64>,
}

/// Model metadata served at `GET /v2/models/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// Model name (the `{name}` of the routes).
    pub name: String,
    /// Model version.
    pub version: String,
    /// Platform string (`onnx_onnxv1` for ONNX models).
    pub platform: String,
    /// Inputs.
    pub inputs: Vec<TensorSpec>,
    /// Outputs.
    pub outputs: Vec<TensorSpec>,
    /// Output class labels, in the order of the output's last dimension.
    pub labels: Vec<String>,
}

/// An accepted request's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Output tensors, in the metadata's order.
    pub outputs: Vec<Tensor>,
    /// Extra response parameters (for example the label, the detector scores, the ledger
    /// event id); served as the response's `parameters` object.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Monitor alarms raised by this request (`extraction`, `drift`, `volume`...), counted in
    /// the metrics.
    pub alarms: Vec<String>,
}

/// What the gateway runs each request through: the guard (with its model, or an upstream
/// server behind it) or, in tests, a toy model.
///
/// `infer` is called on the async runtime's worker threads and must not block for long (the
/// guard's per-request work is tens of microseconds); a backend that waits on I/O should
/// implement [`InferenceBackend::infer_async`] instead.
pub trait InferenceBackend: Send + Sync + 'static {
    /// The model's metadata (a backend whose model can be swapped answers for the one serving
    /// now).
    fn model(&self) -> std::sync::Arc<ModelInfo>;

    /// True when the model can answer (`/v2/health/ready`, `/v2/models/{name}/ready`).
    fn ready(&self) -> bool {
        true
    }

    /// Run one request of `caller`; an `Err` is an abstention, answered with its status.
    fn infer(&self, caller: &Caller, inputs: &[Tensor]) -> Result<Answer, Abstention>;

    /// Lift the suspension or tightening alarms put on `client`, on the word of the operator
    /// `by`; `Ok(false)` when there was none. A backend without client state refuses.
    fn reinstate(&self, client: &str, by: &str) -> Result<bool, String> {
        let _ = (client, by);
        Err("this backend keeps no client state".into())
    }

    /// Async form of [`InferenceBackend::infer`], for backends that wait on I/O (the proxy
    /// mode); by default it calls `infer`.
    fn infer_async<'a>(
        &'a self,
        caller: &'a Caller,
        inputs: &'a [Tensor],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, Abstention>> + Send + 'a>>
    {
        Box::pin(async move { self.infer(caller, inputs) })
    }
}

/// A deterministic toy model for tests and examples (NOT a medical model): input `x`, `FP32`
/// `[-1, 4]`; output `p`, `FP32` `[-1, 2]`, per row `softmax([s, -s])` with `s` the row sum
/// times 0.5. It abstains like the guard does: `wrong_input`, `wrong_dtype`, `wrong_shape`,
/// `not_finite:x[i]` and `out_of_range:x[i]` outside `[-10, 10]` (all 4xx), and
/// `rate_limited` (429) for a client whose policy has `rate_per_second` of zero.
#[derive(Debug, Clone)]
pub struct ToyBackend {
    info: std::sync::Arc<ModelInfo>,
}

impl Default for ToyBackend {
    fn default() -> Self {
        ToyBackend::new()
    }
}

impl ToyBackend {
    /// The toy model, named `toy`, version `1`.
    pub fn new() -> ToyBackend {
        ToyBackend {
            info: std::sync::Arc::new(ModelInfo {
                name: "toy".into(),
                version: "1".into(),
                platform: "vigil_toy".into(),
                inputs: vec![TensorSpec {
                    name: "x".into(),
                    datatype: DataType::Fp32,
                    shape: vec![-1, 4],
                }],
                outputs: vec![TensorSpec {
                    name: "p".into(),
                    datatype: DataType::Fp32,
                    shape: vec![-1, 2],
                }],
                labels: vec!["positive".into(), "negative".into()],
            }),
        }
    }

    /// The toy model's answer for one row (what tests compare with).
    pub fn expected(row: &[f32]) -> [f32; 2] {
        let s: f32 = row.iter().sum::<f32>() * 0.5;
        let a = s.exp();
        let b = (-s).exp();
        [a / (a + b), b / (a + b)]
    }
}

impl InferenceBackend for ToyBackend {
    fn model(&self) -> std::sync::Arc<ModelInfo> {
        self.info.clone()
    }

    fn infer(&self, caller: &Caller, inputs: &[Tensor]) -> Result<Answer, Abstention> {
        let abstain = |r: Reason| Err(Abstention::early(Abstain::Guard(r)));
        if caller.policy.rate_per_second == Some(0.0) {
            return abstain(Reason::RateLimited);
        }
        let [input] = inputs else {
            return abstain(Reason::WrongInput {
                name: String::new(),
            });
        };
        if input.name != "x" {
            return abstain(Reason::WrongInput {
                name: input.name.clone(),
            });
        }
        let TensorData::F32(values) = &input.data else {
            return abstain(Reason::WrongDtype {
                found: input.datatype.name(),
            });
        };
        let rows = match input.shape.as_slice() {
            [n, 4] if n * 4 == values.len() => *n,
            _ => {
                return abstain(Reason::WrongShape {
                    found: input.shape.clone(),
                })
            }
        };
        for (i, v) in values.iter().enumerate() {
            let feature = format!("x[{}]", i % 4);
            if !v.is_finite() {
                return abstain(Reason::NotFinite { feature });
            }
            if !(-10.0..=10.0).contains(v) {
                return abstain(Reason::OutOfRange {
                    feature,
                    value: f64::from(*v),
                    min: -10.0,
                    max: 10.0,
                });
            }
        }
        let mut out = Vec::with_capacity(rows * 2);
        let mut labels = Vec::with_capacity(rows);
        for row in values.chunks_exact(4) {
            let p = ToyBackend::expected(row);
            out.extend_from_slice(&p);
            labels.push(serde_json::Value::from(if p[0] >= p[1] {
                "positive"
            } else {
                "negative"
            }));
        }
        let mut parameters = serde_json::Map::new();
        parameters.insert("labels".into(), serde_json::Value::Array(labels));
        Ok(Answer {
            outputs: vec![Tensor {
                name: "p".into(),
                datatype: DataType::Fp32,
                shape: vec![rows, 2],
                data: TensorData::F32(out),
            }],
            parameters,
            alarms: Vec::new(),
        })
    }
}

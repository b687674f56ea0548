//! The Open Inference Protocol (KServe V2) REST wire forms: the inference request parser
//! (JSON tensors, and Triton's binary tensor data extension) and the response writer.
//!
//! Request body: `{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype",
//! "parameters"?, "data"?}], "outputs"?: [{"name", "parameters"?}]}`. `data` is the tensor's
//! values flat in row-major order, or nested arrays that match `shape` exactly. With the
//! binary extension the request carries the header `Inference-Header-Content-Length: N`: the
//! first N bytes of the body are the JSON, and each input whose parameters hold
//! `binary_data_size` takes that many little-endian bytes from the rest, in input order.
//!
//! Every failure is a message naming the field and the reason, answered as `400` with
//! `{"error": "<message>"}`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::backend::{Answer, DataType, ModelInfo, Tensor, TensorData};
use crate::limits::Limits;

pub use crate::wire::{error_body, HEADER_LENGTH};

#[derive(Debug, Deserialize)]
struct RawRequest {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    inputs: Vec<RawInput>,
    #[serde(default)]
    outputs: Option<Vec<RawOutput>>,
}

#[derive(Debug, Deserialize)]
struct RawInput {
    name: String,
    shape: Vec<Value>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct RawOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// Which outputs the client asked for, and in which form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRequest {
    /// Output name.
    pub name: String,
    /// Send its data in the binary extension.
    pub binary: bool,
}

/// A parsed inference request.
#[derive(Debug, Clone, PartialEq)]
pub struct InferRequest {
    /// The request id, echoed in the response.
    pub id: Option<String>,
    /// The input tensors.
    pub inputs: Vec<Tensor>,
    /// The outputs asked for; `None`: all of them.
    pub outputs: Option<Vec<OutputRequest>>,
    /// Send every output in binary (`parameters.binary_data_output`).
    pub binary_output: bool,
}

fn param_bool(p: &Option<Map<String, Value>>, key: &str) -> Result<bool, String> {
    match p.as_ref().and_then(|p| p.get(key)) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("parameters.{key} must be a boolean, not {other}")),
    }
}

/// Parse an inference request body. `header_length` is the value of the binary extension's
/// header, if the request had one.
pub fn parse_infer(
    body: &[u8],
    header_length: Option<usize>,
    limits: &Limits,
) -> Result<InferRequest, String> {
    if body.len() > limits.max_body_bytes {
        return Err(format!(
            "request body is larger than {} bytes",
            limits.max_body_bytes
        ));
    }
    let (json, mut binary) = match header_length {
        None => (body, &body[body.len()..]),
        Some(n) => body.split_at_checked(n).ok_or_else(|| {
            format!(
                "{HEADER_LENGTH} is {n} but the body has only {} bytes",
                body.len()
            )
        })?,
    };
    let raw: RawRequest =
        serde_json::from_slice(json).map_err(|e| format!("malformed request JSON: {e}"))?;
    let id = match raw.id {
        None => None,
        Some(Value::String(s)) if s.len() <= limits.max_name_bytes => Some(s),
        Some(Value::String(_)) => {
            return Err(format!("id is longer than {} bytes", limits.max_name_bytes))
        }
        Some(other) => return Err(format!("id must be a string, not {other}")),
    };
    let binary_output = param_bool(&raw.parameters, "binary_data_output")?;
    if raw.inputs.is_empty() {
        return Err("inputs: at least one input is required".into());
    }
    if raw.inputs.len() > limits.max_inputs {
        return Err(format!(
            "inputs: {} inputs, more than the limit of {}",
            raw.inputs.len(),
            limits.max_inputs
        ));
    }
    let mut budget = limits.max_elements;
    let mut inputs = Vec::with_capacity(raw.inputs.len());
    for (i, input) in raw.inputs.into_iter().enumerate() {
        let at = format!("inputs[{i}]");
        if input.name.len() > limits.max_name_bytes {
            return Err(format!(
                "{at}.name is longer than {} bytes",
                limits.max_name_bytes
            ));
        }
        let datatype = DataType::parse(&input.datatype).ok_or_else(|| {
            format!(
                "{at} ({:?}).datatype {:?} is not supported (BOOL, UINT8..UINT64, INT8..INT64, FP32, FP64)",
                input.name, input.datatype
            )
        })?;
        if input.shape.len() > limits.max_dims {
            return Err(format!(
                "{at} ({:?}).shape has {} dimensions, more than {}",
                input.name,
                input.shape.len(),
                limits.max_dims
            ));
        }
        let mut shape = Vec::with_capacity(input.shape.len());
        let mut count: usize = 1;
        for (d, dim) in input.shape.iter().enumerate() {
            let n = dim
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    format!(
                        "{at} ({:?}).shape[{d}] must be a non-negative integer, not {dim}",
                        input.name
                    )
                })?;
            count = count
                .checked_mul(n)
                .filter(|c| *c <= budget)
                .ok_or_else(|| {
                    format!(
                        "{at} ({:?}).shape {:?} holds more than the limit of {} elements",
                        input.name, input.shape, limits.max_elements
                    )
                })?;
            shape.push(n);
        }
        budget -= count;
        let binary_size = match input.parameters.as_ref().and_then(|p| p.get("binary_data_size")) {
            None => None,
            Some(v) => Some(v.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
                format!(
                    "{at} ({:?}).parameters.binary_data_size must be a non-negative integer, not {v}",
                    input.name
                )
            })?),
        };
        let data = match (binary_size, input.data) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{at} ({:?}): both data and binary_data_size are given",
                    input.name
                ))
            }
            (None, None) => {
                return Err(format!("{at} ({:?}): data is missing", input.name));
            }
            (Some(size), None) => {
                let want = count.saturating_mul(datatype.size());
                if size != want {
                    return Err(format!(
                        "{at} ({:?}): binary_data_size is {size} but shape {:?} of {datatype} needs {want} bytes",
                        input.name, shape
                    ));
                }
                let (bytes, rest) = binary.split_at_checked(size).ok_or_else(|| {
                    format!(
                        "{at} ({:?}): binary_data_size {size} runs past the end of the body",
                        input.name
                    )
                })?;
                binary = rest;
                decode_binary(datatype, bytes)
            }
            (None, Some(value)) => {
                let mut flat = Vec::with_capacity(count.min(1 << 16));
                flatten(&value, &shape, 0, &mut flat, count)
                    .map_err(|e| format!("{at} ({:?}).data{e}", input.name))?;
                if flat.len() != count {
                    return Err(format!(
                        "{at} ({:?}).data has {} values but shape {:?} needs {count}",
                        input.name,
                        flat.len(),
                        shape
                    ));
                }
                decode_json(datatype, &flat)
                    .map_err(|(k, e)| format!("{at} ({:?}).data[{k}]: {e}", input.name))?
            }
        };
        inputs.push(Tensor {
            name: input.name,
            datatype,
            shape,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(format!(
            "{} bytes of binary data follow the last input",
            binary.len()
        ));
    }
    let outputs = match raw.outputs {
        None => None,
        Some(list) => {
            if list.len() > limits.max_inputs {
                return Err(format!(
                    "outputs: {} requested, more than {}",
                    list.len(),
                    limits.max_inputs
                ));
            }
            let mut out = Vec::with_capacity(list.len());
            for (i, o) in list.into_iter().enumerate() {
                let binary = param_bool(&o.parameters, "binary_data")
                    .map_err(|e| format!("outputs[{i}] ({:?}).{e}", o.name))?;
                out.push(OutputRequest {
                    name: o.name,
                    binary,
                });
            }
            Some(out)
        }
    };
    Ok(InferRequest {
        id,
        inputs,
        outputs,
        binary_output,
    })
}

/// Flatten `data` that is either flat (depth 0 of an array of scalars) or nested exactly as
/// `shape`. Recursion is bounded by the number of dimensions (checked against the limits).
fn flatten<'a>(
    value: &'a Value,
    shape: &[usize],
    depth: usize,
    out: &mut Vec<&'a Value>,
    max: usize,
) -> Result<(), String> {
    let Value::Array(items) = value else {
        return Err(": must be an array".into());
    };
    let flat = items.iter().all(|v| !v.is_array());
    if flat {
        if depth != 0 && depth + 1 != shape.len() {
            return Err(format!(
                ": nested {} deep, but the shape has {} dimensions",
                depth + 1,
                shape.len()
            ));
        }
        if depth != 0 && shape.get(depth) != Some(&items.len()) {
            return Err(format!(
                ": dimension {depth} has {} values, the shape says {:?}",
                items.len(),
                shape.get(depth)
            ));
        }
        if out.len() + items.len() > max {
            return Err(format!(": more values than the shape's {max}"));
        }
        out.extend(items.iter());
        return Ok(());
    }
    if depth + 1 >= shape.len() || shape.get(depth) != Some(&items.len()) {
        return Err(format!(
            ": nested arrays do not match the shape {shape:?} at dimension {depth}"
        ));
    }
    for (i, item) in items.iter().enumerate() {
        flatten(item, shape, depth + 1, out, max).map_err(|e| format!("[{i}]{e}"))?;
    }
    Ok(())
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn decode_json(datatype: DataType, flat: &[&Value]) -> Result<TensorData, (usize, String)> {
    let bad = |k: usize, v: &Value, want: &str| {
        (
            k,
            format!(
                "expected {want} for {datatype}, found {} ({v})",
                describe(v)
            ),
        )
    };
    Ok(match datatype {
        DataType::Fp32 => TensorData::F32(
            flat.iter()
                .enumerate()
                .map(|(k, v)| {
                    // JSON numbers beyond f32's range become infinite: the guard refuses them
                    // as not finite.
                    v.as_f64()
                        .map(|x| x as f32)
                        .ok_or_else(|| bad(k, v, "a number"))
                })
                .collect::<Result<_, _>>()?,
        ),
        DataType::Fp64 => TensorData::F64(
            flat.iter()
                .enumerate()
                .map(|(k, v)| v.as_f64().ok_or_else(|| bad(k, v, "a number")))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Bool => TensorData::Bool(
            flat.iter()
                .enumerate()
                .map(|(k, v)| v.as_bool().ok_or_else(|| bad(k, v, "a boolean")))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Uint64 => TensorData::Uint(
            flat.iter()
                .enumerate()
                .map(|(k, v)| v.as_u64().ok_or_else(|| bad(k, v, "an unsigned integer")))
                .collect::<Result<_, _>>()?,
        ),
        int => {
            let (lo, hi) = int_range(int);
            TensorData::Int(
                flat.iter()
                    .enumerate()
                    .map(|(k, v)| {
                        v.as_i64()
                            .filter(|x| (lo..=hi).contains(x))
                            .ok_or_else(|| bad(k, v, "an integer in range"))
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

fn int_range(t: DataType) -> (i64, i64) {
    match t {
        DataType::Uint8 => (0, u8::MAX.into()),
        DataType::Uint16 => (0, u16::MAX.into()),
        DataType::Uint32 => (0, u32::MAX.into()),
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    }
}

/// Decode little-endian binary data whose length the caller checked (a multiple of the size).
fn decode_binary(datatype: DataType, bytes: &[u8]) -> TensorData {
    fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        bytes.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        })
    }
    match datatype {
        DataType::Fp32 => TensorData::F32(chunks::<4>(bytes).map(f32::from_le_bytes).collect()),
        DataType::Fp64 => TensorData::F64(chunks::<8>(bytes).map(f64::from_le_bytes).collect()),
        DataType::Bool => TensorData::Bool(bytes.iter().map(|b| *b != 0).collect()),
        DataType::Uint8 => TensorData::Int(bytes.iter().map(|b| i64::from(*b)).collect()),
        DataType::Int8 => TensorData::Int(
            bytes
                .iter()
                .map(|b| i64::from(i8::from_le_bytes([*b])))
                .collect(),
        ),
        DataType::Uint16 => TensorData::Int(
            chunks::<2>(bytes)
                .map(|c| i64::from(u16::from_le_bytes(c)))
                .collect(),
        ),
        DataType::Int16 => TensorData::Int(
            chunks::<2>(bytes)
                .map(|c| i64::from(i16::from_le_bytes(c)))
                .collect(),
        ),
        DataType::Uint32 => TensorData::Int(
            chunks::<4>(bytes)
                .map(|c| i64::from(u32::from_le_bytes(c)))
                .collect(),
        ),
        DataType::Int32 => TensorData::Int(
            chunks::<4>(bytes)
                .map(|c| i64::from(i32::from_le_bytes(c)))
                .collect(),
        ),
        DataType::Int64 => TensorData::Int(chunks::<8>(bytes).map(i64::from_le_bytes).collect()),
        DataType::Uint64 => TensorData::Uint(chunks::<8>(bytes).map(u64::from_le_bytes).collect()),
    }
}

fn encode_binary(data: &TensorData, datatype: DataType, out: &mut Vec<u8>) {
    match data {
        TensorData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::Bool(v) => v.iter().for_each(|x| out.push(u8::from(*x))),
        TensorData::Uint(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::Int(v) => {
            let size = datatype.size();
            for x in v {
                let bytes = x.to_le_bytes();
                out.extend_from_slice(bytes.get(..size).unwrap_or(&bytes));
            }
        }
    }
}

fn data_json(data: &TensorData) -> Value {
    match data {
        TensorData::F32(v) => Value::Array(
            v.iter()
                .map(|x| {
                    serde_json::Number::from_f64(f64::from(*x))
                        .map(Value::Number)
                        .unwrap_or(Value::Null)
                })
                .collect(),
        ),
        TensorData::F64(v) => Value::Array(
            v.iter()
                .map(|x| {
                    serde_json::Number::from_f64(*x)
                        .map(Value::Number)
                        .unwrap_or(Value::Null)
                })
                .collect(),
        ),
        TensorData::Int(v) => Value::Array(v.iter().map(|x| Value::from(*x)).collect()),
        TensorData::Uint(v) => Value::Array(v.iter().map(|x| Value::from(*x)).collect()),
        TensorData::Bool(v) => Value::Array(v.iter().map(|x| Value::from(*x)).collect()),
    }
}

/// An encoded response: the body and, with binary outputs, the JSON header's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The body.
    pub body: Vec<u8>,
    /// `Some(n)` when binary data follows n bytes of JSON.
    pub header_length: Option<usize>,
}

/// Check the requested outputs against the model before running it.
pub fn check_outputs(req: &InferRequest, model: &ModelInfo) -> Result<(), String> {
    if let Some(list) = &req.outputs {
        for (i, o) in list.iter().enumerate() {
            if !model.outputs.iter().any(|m| m.name == o.name) {
                return Err(format!(
                    "outputs[{i}]: the model has no output {:?}",
                    o.name
                ));
            }
        }
    }
    Ok(())
}

/// Write the protocol's response: `{"model_name", "model_version", "id"?, "parameters"?,
/// "outputs": [{"name", "datatype", "shape", "data" | "parameters": {"binary_data_size"}}]}`.
pub fn encode_response(model: &ModelInfo, req: &InferRequest, answer: &Answer) -> Encoded {
    let mut binary = Vec::new();
    let mut outputs = Vec::new();
    for t in &answer.outputs {
        let want = match &req.outputs {
            None => Some(req.binary_output),
            Some(list) => list
                .iter()
                .find(|o| o.name == t.name)
                .map(|o| o.binary || req.binary_output),
        };
        let Some(as_binary) = want else { continue };
        let mut o = Map::new();
        o.insert("name".into(), Value::from(t.name.as_str()));
        o.insert("datatype".into(), Value::from(t.datatype.name()));
        o.insert(
            "shape".into(),
            Value::Array(t.shape.iter().map(|d| Value::from(*d as u64)).collect()),
        );
        if as_binary {
            let before = binary.len();
            encode_binary(&t.data, t.datatype, &mut binary);
            let mut p = Map::new();
            p.insert(
                "binary_data_size".into(),
                Value::from((binary.len() - before) as u64),
            );
            o.insert("parameters".into(), Value::Object(p));
        } else {
            o.insert("data".into(), data_json(&t.data));
        }
        outputs.push(Value::Object(o));
    }
    let mut root = Map::new();
    root.insert("model_name".into(), Value::from(model.name.as_str()));
    root.insert("model_version".into(), Value::from(model.version.as_str()));
    if let Some(id) = &req.id {
        root.insert("id".into(), Value::from(id.as_str()));
    }
    if !answer.parameters.is_empty() {
        root.insert(
            "parameters".into(),
            Value::Object(answer.parameters.clone()),
        );
    }
    root.insert("outputs".into(), Value::Array(outputs));
    let mut body = serde_json::to_vec(&Value::Object(root)).unwrap_or_default();
    if binary.is_empty() {
        Encoded {
            body,
            header_length: None,
        }
    } else {
        let n = body.len();
        body.extend_from_slice(&binary);
        Encoded {
            body,
            header_length: Some(n),
        }
    }
}

/// `GET /v2/models/{name}`: `{"name", "versions", "platform", "inputs", "outputs"}`.
pub fn model_metadata(model: &ModelInfo) -> Value {
    let spec = |s: &crate::backend::TensorSpec| serde_json::json!({"name": s.name, "datatype": s.datatype.name(), "shape": s.shape});
    serde_json::json!({
        "name": model.name,
        "versions": [model.version],
        "platform": model.platform,
        "inputs": model.inputs.iter().map(spec).collect::<Vec<_>>(),
        "outputs": model.outputs.iter().map(spec).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<InferRequest, String> {
        parse_infer(body.as_bytes(), None, &Limits::default())
    }

    #[test]
    fn flat_and_nested_data_agree() {
        let a =
            parse(r#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]}"#)
                .unwrap();
        let b = parse(
            r#"{"id":"r1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}"#,
        )
        .unwrap();
        assert_eq!(a.inputs, b.inputs);
        assert_eq!(b.id.as_deref(), Some("r1"));
        assert_eq!(a.inputs[0].data, TensorData::F32(vec![1.0, 2.0, 3.0, 4.0]));
    }

    #[test]
    fn hostile_requests_name_the_field() {
        for (body, want) in [
            ("{", "malformed request JSON"),
            (r#"{"inputs":[]}"#, "at least one input"),
            (
                r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,"NaN"]}]}"#,
                "inputs[0] (\"x\").data[1]: expected a number for FP32, found a string",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,null]}]}"#,
                "found null",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#,
                "has 2 values but shape [3] needs 3",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2,3],[4]]}]}"#,
                "dimension 1 has 3 values",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}"#,
                "shape[0] must be a non-negative integer",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["a"]}]}"#,
                "not supported",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[100000,100000],"datatype":"FP32","data":[]}]}"#,
                "more than the limit",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[300]}]}"#,
                "an integer in range",
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#,
                "data is missing",
            ),
            (
                r#"{"id":7,"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#,
                "id must be a string",
            ),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    #[test]
    fn binary_extension_round_trip() {
        let json = br#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}],"outputs":[{"name":"p","parameters":{"binary_data":true}}]}"#;
        let mut body = json.to_vec();
        body.extend_from_slice(&1.5f32.to_le_bytes());
        body.extend_from_slice(&f32::NAN.to_le_bytes());
        let req = parse_infer(&body, Some(json.len()), &Limits::default()).unwrap();
        let TensorData::F32(v) = &req.inputs[0].data else {
            panic!("not f32")
        };
        assert_eq!(v[0], 1.5);
        assert!(v[1].is_nan());
        assert!(req.outputs.as_ref().unwrap()[0].binary);
        // Wrong sizes and trailing bytes are refused.
        assert!(parse_infer(&body, Some(json.len() + 1), &Limits::default())
            .unwrap_err()
            .contains("malformed request JSON"));
        body.push(0);
        assert!(parse_infer(&body, Some(json.len()), &Limits::default())
            .unwrap_err()
            .contains("follow the last input"));
        assert!(parse_infer(&body, Some(body.len() + 5), &Limits::default())
            .unwrap_err()
            .contains("only"));
    }

    #[test]
    fn response_json_and_binary() {
        let model = crate::backend::ToyBackend::new();
        let model = crate::backend::InferenceBackend::model(&model).clone();
        let answer = Answer {
            outputs: vec![Tensor {
                name: "p".into(),
                datatype: DataType::Fp32,
                shape: vec![1, 2],
                data: TensorData::F32(vec![0.25, 0.75]),
            }],
            parameters: Map::new(),
            alarms: vec![],
        };
        let mut req =
            parse(r#"{"id":"a","inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#)
                .unwrap();
        let e = encode_response(&model, &req, &answer);
        assert_eq!(e.header_length, None);
        let v: Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(v["id"], "a");
        assert_eq!(v["model_name"], "toy");
        assert_eq!(v["outputs"][0]["data"], serde_json::json!([0.25, 0.75]));
        req.binary_output = true;
        let e = encode_response(&model, &req, &answer);
        let n = e.header_length.unwrap();
        let v: Value = serde_json::from_slice(&e.body[..n]).unwrap();
        assert_eq!(v["outputs"][0]["parameters"]["binary_data_size"], 8);
        assert_eq!(&e.body[n..n + 4], &0.25f32.to_le_bytes());
    }
}

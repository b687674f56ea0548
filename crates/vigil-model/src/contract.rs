//! The input and output contract of a model (`[contract]` of `vigil.toml`): tensor names,
//! features with units and physical ranges, or a signal window. Every key is documented in
//! `docs/guard.md`.

use serde::Deserialize;

use crate::error::ModelError;

const FILE: &str = "vigil.toml";

/// The longest feature name, unit, label or tensor name accepted.
pub const MAX_NAME: usize = 256;
/// The most features, samples or labels a contract may declare.
pub const MAX_FEATURES: usize = 1 << 16;

/// Why a row's values break the contract.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Violation {
    /// A value is NaN or infinite.
    NotFinite {
        /// The first such feature.
        feature: String,
    },
    /// A value lies outside its feature's physical range.
    OutOfRange {
        /// The feature.
        feature: String,
        /// The value.
        value: f64,
        /// The range's lower end.
        min: f64,
        /// The range's upper end.
        max: f64,
    },
}

/// One input feature (a column of a row, or one sample of a signal).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Name, also the CSV column name.
    pub name: String,
    /// Physical unit (`px`, `mV`, `1`).
    pub unit: String,
    /// Smallest plausible value.
    pub min: f64,
    /// Largest plausible value.
    pub max: f64,
}

/// A 1-D signal input: every sample shares one unit and range.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Samples per second.
    pub sampling_rate_hz: f64,
    /// Samples per window (the input length).
    pub length: usize,
    /// Amplitude unit (`mV`).
    pub unit: String,
    /// Smallest plausible amplitude.
    pub min: f64,
    /// Largest plausible amplitude.
    pub max: f64,
    /// CSV columns are `{column_prefix}{i}` for i in 0..length.
    pub column_prefix: String,
}

/// The input and output contract of the model (`[contract]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    /// Input tensor name in the ONNX graph.
    pub input: String,
    /// Input shape; the first dimension is the batch (`-1` in the file), always 1 per request.
    pub features: Vec<Feature>,
    /// Set when the input is a signal window.
    pub signal: Option<Signal>,
    /// Output tensor of class probabilities, `[N, labels]`.
    pub output: String,
    /// Class labels, in output order.
    pub labels: Vec<String>,
    /// Optional hidden-feature output, `[N, H]`, for the hidden-layer detector.
    pub hidden: Option<String>,
    /// What the device does on an abstention (documentation for the operator).
    pub safe_state: String,
}

impl Contract {
    /// Number of input values per request.
    pub fn width(&self) -> usize {
        self.features.len()
    }

    /// The contract's checks of one row's values, in the guard's order: every value finite
    /// (else `not_finite` naming the first such feature), then every value inside its
    /// feature's physical range (else `out_of_range`).
    pub fn check_values(&self, x: &[f32]) -> Result<(), Violation> {
        for (v, f) in x.iter().zip(&self.features) {
            if !v.is_finite() {
                return Err(Violation::NotFinite {
                    feature: f.name.clone(),
                });
            }
        }
        for (v, f) in x.iter().zip(&self.features) {
            let v = f64::from(*v);
            if v < f.min || v > f.max {
                return Err(Violation::OutOfRange {
                    feature: f.name.clone(),
                    value: v,
                    min: f.min,
                    max: f.max,
                });
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    inputs: Vec<RawInput>,
    output: RawOutput,
    #[serde(default)]
    features: Vec<RawFeature>,
    signal: Option<RawSignal>,
    safe_state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: String,
    dtype: String,
    shape: Vec<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: String,
    labels: Vec<String>,
    hidden: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    name: String,
    unit: String,
    min: f64,
    max: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignal {
    sampling_rate_hz: f64,
    length: usize,
    unit: String,
    min: f64,
    max: f64,
    column_prefix: Option<String>,
}

fn check_name(key: &str, name: &str) -> Result<(), ModelError> {
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ModelError::contract(
            FILE,
            key,
            format!("name {name:?} must be 1 to {MAX_NAME} printable bytes"),
        ));
    }
    Ok(())
}

fn check_range(key: &str, min: f64, max: f64) -> Result<(), ModelError> {
    if !(min.is_finite() && max.is_finite() && min < max) {
        return Err(ModelError::contract(
            FILE,
            key,
            format!("range [{min}, {max}] must be finite with min < max"),
        ));
    }
    Ok(())
}

impl Contract {
    /// Parses and checks the `[contract]` table of a `vigil.toml` document.
    pub fn from_document(doc: &toml::Table) -> Result<Contract, ModelError> {
        parse_contract(table(doc, "contract")?)
    }
}

fn parse_contract(value: &toml::Value) -> Result<Contract, ModelError> {
    let raw: RawContract = de(value, "contract")?;
    let [input] = raw.inputs.as_slice() else {
        return Err(ModelError::contract(
            FILE,
            "contract.inputs",
            format!(
                "exactly one input tensor is supported, found {}",
                raw.inputs.len()
            ),
        ));
    };
    check_name("contract.inputs[0].name", &input.name)?;
    if input.dtype != "float32" {
        return Err(ModelError::contract(
            FILE,
            "contract.inputs[0].dtype",
            format!("{:?}: only \"float32\" is supported", input.dtype),
        ));
    }
    let width = match input.shape.as_slice() {
        [-1 | 1, w] if *w > 0 && (*w as u64) <= MAX_FEATURES as u64 => *w as usize,
        _ => {
            return Err(ModelError::contract(
                FILE,
                "contract.inputs[0].shape",
                format!(
                    "{:?}: expected [-1, width] with 0 < width <= {MAX_FEATURES}",
                    input.shape
                ),
            ))
        }
    };
    check_name("contract.output.name", &raw.output.name)?;
    if let Some(h) = &raw.output.hidden {
        check_name("contract.output.hidden", h)?;
    }
    if raw.output.labels.len() < 2 || raw.output.labels.len() > MAX_FEATURES {
        return Err(ModelError::contract(
            FILE,
            "contract.output.labels",
            "need at least 2 labels",
        ));
    }
    for (i, l) in raw.output.labels.iter().enumerate() {
        check_name(&format!("contract.output.labels[{i}]"), l)?;
    }
    let (features, signal) = match (raw.signal, raw.features.is_empty()) {
        (Some(s), true) => {
            if !(s.sampling_rate_hz.is_finite() && s.sampling_rate_hz > 0.0) {
                return Err(ModelError::contract(
                    FILE,
                    "contract.signal.sampling_rate_hz",
                    "must be positive",
                ));
            }
            if s.length != width {
                return Err(ModelError::contract(
                    FILE,
                    "contract.signal.length",
                    format!("{} differs from the input width {width}", s.length),
                ));
            }
            check_name("contract.signal.unit", &s.unit)?;
            check_range("contract.signal", s.min, s.max)?;
            let prefix = s.column_prefix.unwrap_or_else(|| "t".into());
            if prefix.len() > MAX_NAME || prefix.chars().any(char::is_control) {
                return Err(ModelError::contract(
                    FILE,
                    "contract.signal.column_prefix",
                    "must be printable, at most 256 bytes",
                ));
            }
            let features = (0..width)
                .map(|i| Feature {
                    name: format!("{prefix}{i}"),
                    unit: s.unit.clone(),
                    min: s.min,
                    max: s.max,
                })
                .collect();
            let signal = Signal {
                sampling_rate_hz: s.sampling_rate_hz,
                length: s.length,
                unit: s.unit,
                min: s.min,
                max: s.max,
                column_prefix: prefix,
            };
            (features, Some(signal))
        }
        (None, false) => {
            if raw.features.len() != width {
                return Err(ModelError::contract(
                    FILE,
                    "contract.features",
                    format!(
                        "{} features for an input of width {width}",
                        raw.features.len()
                    ),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(width);
            for (i, f) in raw.features.into_iter().enumerate() {
                check_name(&format!("contract.features[{i}].name"), &f.name)?;
                check_name(&format!("contract.features[{i}].unit"), &f.unit)?;
                check_range(&format!("contract.features[{i}]"), f.min, f.max)?;
                if !seen.insert(f.name.clone()) {
                    return Err(ModelError::contract(
                        FILE,
                        format!("contract.features[{i}].name"),
                        format!("{:?} appears twice", f.name),
                    ));
                }
                out.push(Feature {
                    name: f.name,
                    unit: f.unit,
                    min: f.min,
                    max: f.max,
                });
            }
            (out, None)
        }
        (Some(_), false) => {
            return Err(ModelError::contract(
                FILE,
                "contract",
                "give either [[contract.features]] or [contract.signal], not both",
            ))
        }
        (None, true) => {
            return Err(ModelError::contract(
                FILE,
                "contract.features",
                "missing: give [[contract.features]] or [contract.signal]",
            ))
        }
    };
    Ok(Contract {
        input: input.name.clone(),
        features,
        signal,
        output: raw.output.name,
        labels: raw.output.labels,
        hidden: raw.output.hidden,
        safe_state: raw
            .safe_state
            .unwrap_or_else(|| "abstain: the caller's safe state applies".into()),
    })
}

/// A table of a `vigil.toml` document, or an error naming it as missing.
pub fn table<'a>(doc: &'a toml::Table, name: &str) -> Result<&'a toml::Value, ModelError> {
    doc.get(name)
        .ok_or_else(|| ModelError::contract(FILE, name, "missing table"))
}

/// Decodes `value` (the table or key `key` of a `vigil.toml`) into `T`; the error names `key`.
pub fn de<T: serde::de::DeserializeOwned>(value: &toml::Value, key: &str) -> Result<T, ModelError> {
    value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| ModelError::contract(FILE, key, e.message().to_string()))
}

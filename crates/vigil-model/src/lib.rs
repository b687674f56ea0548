//! A model as Vigil runs it: the input contract of `vigil.toml` and the tract inference engine.
//!
//! The guard, `vigil assess` and the data screens load and run models the same way through this
//! crate: [`Contract::from_document`] parses and checks `[contract]` (one float32 input tensor
//! of shape `[-1, width]`, named features with units and physical ranges or a signal window,
//! the probability output with its labels, an optional hidden-feature output), and
//! [`Engine::load`] compiles the ONNX bytes with tract for a fixed batch after checking the
//! graph's input and outputs against the contract. Load only bytes you verified
//! (`vigil-bundle`'s `BundleVerifier`): this crate does not check signatures.
//!
//! One line of `unsafe`, in the engine: a `vzeroupper` after each tract run, behind a runtime
//! AVX check. tract's AVX-512 kernels return with the vector registers' upper halves dirty,
//! which slows every legacy-SSE instruction after them (the guard's own scoring, libm) by a
//! false dependency; clearing them halved the guard's p99 overhead (`bench/guard`).
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use vigil_model::{Contract, Engine, Violation};
//!
//! let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer/bundle");
//! let doc: toml::Table = std::fs::read_to_string(bundle.join("vigil.toml"))?.parse()?;
//! let contract = Contract::from_document(&doc)?;
//! let engine = Engine::load("model.onnx", &std::fs::read(bundle.join("model.onnx"))?, &contract, 1)?;
//!
//! let mut row: Vec<f32> = contract.features.iter().map(|f| ((f.min + f.max) / 2.0) as f32).collect();
//! assert!(contract.check_values(&row).is_ok());
//! let out = engine.run(&row)?;
//! assert_eq!(out.probabilities.len(), contract.labels.len());
//!
//! row[0] = 1e6;
//! assert!(matches!(contract.check_values(&row), Err(Violation::OutOfRange { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod contract;
mod engine;
mod error;

pub use contract::{de, table, Contract, Feature, Signal, Violation, MAX_FEATURES, MAX_NAME};
pub use engine::{Engine, Outputs};
pub use error::ModelError;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    /// Parses bytes as a `vigil.toml` and checks its `[contract]`; must never panic.
    pub fn fuzz_contract(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(doc) = text.parse::<toml::Table>() {
                if let Ok(c) = crate::Contract::from_document(&doc) {
                    let _ = c.check_values(&[0.0, f32::NAN, 1e30]);
                }
            }
        }
    }
}

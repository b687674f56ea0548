//! Property: a tensor written as flat JSON, as nested JSON and as binary tensor data parses to
//! the same shape and values; a response encodes what it was given.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{json, Value};
use vigil_server::internal::parse_infer;
use vigil_server::{Limits, TensorData};

fn nest(values: &[f32], shape: &[usize]) -> Value {
    match shape {
        [] | [_] => json!(values),
        [_, rest @ ..] => {
            let inner: usize = rest.iter().product();
            Value::Array(values.chunks(inner.max(1)).map(|c| nest(c, rest)).collect())
        }
    }
}

fn tensor() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    prop::collection::vec(1usize..4, 1..4).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        (Just(shape), prop::collection::vec(-1e30f32..1e30f32, n..=n))
    })
}

proptest! {
    #[test]
    fn flat_nested_and_binary_agree((shape, values) in tensor()) {
        let limits = Limits::default();
        let flat = json!({"inputs": [{"name": "t", "shape": shape, "datatype": "FP32", "data": values}]});
        let nested = json!({"inputs": [{"name": "t", "shape": shape, "datatype": "FP32", "data": nest(&values, &shape)}]});
        let head = serde_json::to_vec(&json!({"inputs": [{"name": "t", "shape": shape, "datatype": "FP32", "parameters": {"binary_data_size": values.len() * 4}}]})).unwrap();
        let mut binary = head.clone();
        for v in &values {
            binary.extend_from_slice(&v.to_le_bytes());
        }
        let a = parse_infer(&serde_json::to_vec(&flat).unwrap(), None, &limits).unwrap();
        let b = parse_infer(&serde_json::to_vec(&nested).unwrap(), None, &limits).unwrap();
        let c = parse_infer(&binary, Some(head.len()), &limits).unwrap();
        prop_assert_eq!(&a.inputs, &b.inputs);
        prop_assert_eq!(&a.inputs, &c.inputs);
        prop_assert_eq!(&a.inputs[0].shape, &shape);
        prop_assert_eq!(&a.inputs[0].data, &TensorData::F32(values));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), split in 0usize..600) {
        let limits = Limits { max_elements: 1000, ..Limits::default() };
        let _ = parse_infer(&bytes, None, &limits);
        let _ = parse_infer(&bytes, Some(split), &limits);
    }
}

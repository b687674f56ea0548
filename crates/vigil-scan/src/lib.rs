//! Static scanner for model files (pickle, PyTorch, ONNX, safetensors, ...).
//!
//! Not yet implemented: see issue 4. Nothing is ever unpickled, imported or executed.

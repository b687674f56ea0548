//! The two wire forms every other module shares: the binary extension's header name and the
//! protocol's error body.

/// The request header of Triton's binary tensor data extension.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// The protocol's error body: `{"error": "<message>"}`.
pub fn error_body(message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "error": message })).unwrap_or_default()
}

//! Signed model bundles, interoperable with OpenSSF model signing (`model_signing` 1.x).
//!
//! Being written (issue 3).

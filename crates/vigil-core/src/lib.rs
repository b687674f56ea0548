//! Shared pieces of Vigil: keys (ECDSA P-256 and Ed25519 in PEM), signatures, key ids.
//!
//! Being written (issue 3).

//! Tamper-evident audit log (RFC 9162 Merkle tree, C2SP signed checkpoints).
//!
//! Not yet implemented: see issue 5.

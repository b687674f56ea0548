//! Drift and performance monitoring.
//!
//! Not yet implemented: see issue 6.

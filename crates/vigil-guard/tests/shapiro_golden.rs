//! Shapiro-Wilk W agrees with scipy.stats.shapiro (golden/shapiro.json, made by
//! golden/make_golden.py), and behaves as a correlation (proptest).

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde::Deserialize;
use vigil_guard::shapiro_wilk;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Golden {
    #[allow(dead_code)]
    origin: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    x: Vec<f64>,
    w: f64,
    #[allow(dead_code)]
    p: f64,
}

#[test]
fn w_agrees_with_scipy() {
    let g: Golden = serde_json::from_str(include_str!("golden/shapiro.json")).unwrap();
    assert!(g.cases.len() >= 10);
    for c in &g.cases {
        let w = shapiro_wilk(&c.x).unwrap();
        // scipy computes in single-precision quantiles for the coefficients (swilk.c); the
        // agreement is to about 1e-6.
        assert!(
            (w - c.w).abs() < 2e-5,
            "{}: vigil {w}, scipy {}",
            c.name,
            c.w
        );
    }
}

proptest! {
    #[test]
    fn w_is_in_unit_interval_and_affine_invariant(
        x in proptest::collection::vec(-1e3f64..1e3, 3..300),
        scale in 0.01f64..100.0,
        shift in -1e3f64..1e3,
    ) {
        if let Some(w) = shapiro_wilk(&x) {
            prop_assert!(w > 0.0 && w <= 1.0 + 1e-12, "w = {}", w);
            let y: Vec<f64> = x.iter().map(|v| v * scale + shift).collect();
            if let Some(wy) = shapiro_wilk(&y) {
                prop_assert!((w - wy).abs() < 1e-6, "{} vs {}", w, wy);
            }
        }
    }
}

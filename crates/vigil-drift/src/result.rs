//! The outcome of one two-sample test.

use crate::error::DriftError;

/// Statistic and p-value of one test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TestOutcome {
    /// The test statistic, as the reference implementation defines it.
    pub statistic: f64,
    /// The p-value exactly as the reference implementation computes it (including its numerical
    /// choices, such as returning 0 where its tail computation underflows).
    pub p_value: f64,
    /// Natural logarithm of the p-value, computed to stay finite far below the smallest double
    /// (`-inf` only where the probability is exactly 0). Where the reference underflows to 0,
    /// this is the better value; elsewhere it is `ln(p_value)` up to rounding.
    pub ln_p_value: f64,
    /// The method that produced the p-value (`exact`, `asymp`, `permutation`, ...).
    pub method: &'static str,
}

pub(crate) fn check_sample(test: &'static str, xs: &[f64], min: usize) -> Result<(), DriftError> {
    if xs.len() < min {
        return Err(DriftError::SampleTooSmall {
            test,
            size: xs.len(),
            min,
        });
    }
    if let Some((index, &value)) = xs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DriftError::NonFinite { test, index, value });
    }
    Ok(())
}

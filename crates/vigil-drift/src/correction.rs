//! Corrections for testing many features at once.

/// How p-values are adjusted across the tests of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// Raw p-values.
    #[default]
    None,
    /// Bonferroni: `min(1, m p)`.
    Bonferroni,
    /// Benjamini-Hochberg false discovery rate, as `scipy.stats.false_discovery_control(ps,
    /// method="bh")` and statsmodels' `fdr_bh`.
    Fdr,
}

/// Adjusted p-values, in input order. NaN p-values stay NaN and do not count as tests.
pub fn adjust(p_values: &[f64], correction: Correction) -> Vec<f64> {
    match correction {
        Correction::None => p_values.to_vec(),
        Correction::Bonferroni => {
            let m = p_values.iter().filter(|p| !p.is_nan()).count() as f64;
            p_values.iter().map(|&p| (p * m).min(1.0)).collect()
        }
        Correction::Fdr => benjamini_hochberg(p_values),
    }
}

/// Benjamini-Hochberg adjusted p-values (scipy's algorithm: sort, scale by `m / i`, running
/// minimum from the largest, clip to [0, 1]).
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p_values.len())
        .filter(|&i| !p_values[i].is_nan())
        .collect();
    idx.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let m = idx.len() as f64;
    let mut scaled: Vec<f64> = idx
        .iter()
        .enumerate()
        .map(|(k, &i)| p_values[i] * (m / (k + 1) as f64))
        .collect();
    for k in (0..scaled.len().saturating_sub(1)).rev() {
        if scaled[k + 1] < scaled[k] {
            scaled[k] = scaled[k + 1];
        }
    }
    let mut out = vec![f64::NAN; p_values.len()];
    for (&i, &v) in idx.iter().zip(&scaled) {
        out[i] = v.clamp(0.0, 1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_matches_scipy_example() {
        // scipy.stats.false_discovery_control docs example (scipy 1.17.1).
        let ps = [
            0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
            0.5719, 0.6528, 0.7590, 1.000,
        ];
        let adj = benjamini_hochberg(&ps);
        assert!((adj[0] - 0.0015).abs() < 1e-12);
        assert!((adj[8] - 0.0765).abs() < 1e-12, "{}", adj[8]);
        assert!(
            (adj[5] - 0.063_857_142_857_142_86).abs() < 1e-12,
            "{}",
            adj[5]
        );
        assert!((adj[14] - 1.0).abs() < 1e-12);
    }
}

//! Properties of the statistics: a sample against itself never drifts, p-values lie in [0, 1],
//! results do not depend on the order of either sample, and the fast implementations agree with
//! naive ones.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use vigil_drift::*;

fn sample(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            -1e6f64..1e6,
            (-5i32..5).prop_map(f64::from), // ties
            prop::num::f64::NORMAL,
        ],
        2..max,
    )
}

/// Naive KS statistic: max over all pooled points of |F1 - F2|.
fn naive_ks(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .chain(b)
        .map(|&t| {
            let f1 = a.iter().filter(|&&x| x <= t).count() as f64 / a.len() as f64;
            let f2 = b.iter().filter(|&&x| x <= t).count() as f64 / b.len() as f64;
            (f1 - f2).abs()
        })
        .fold(0.0, f64::max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sample_against_itself_never_drifts(a in sample(60)) {
        let ks = ks_2samp(&a, &a, KsMethod::Auto).unwrap();
        prop_assert_eq!(ks.statistic, 0.0);
        prop_assert_eq!(ks.p_value, 1.0);
        let cvm = cramervonmises_2samp(&a, &a, CvmMethod::Auto).unwrap();
        prop_assert!(cvm.p_value > 0.5, "{:?}", cvm);
        let w = wasserstein_distance(&a, &a).unwrap();
        prop_assert_eq!(w, 0.0);
        let counts: Vec<u64> = a.iter().map(|x| (x.abs() as u64 % 7) + 1).collect();
        let chi = chi2_contingency(&counts, &counts).unwrap();
        prop_assert!(chi.p_value > 0.99, "{:?}", chi);
    }

    #[test]
    fn p_values_lie_in_unit_interval(a in sample(40), b in sample(40), m in 0usize..3) {
        let method = [KsMethod::Auto, KsMethod::Exact, KsMethod::Asymp][m];
        let ks = ks_2samp(&a, &b, method).unwrap();
        prop_assert!((0.0..=1.0).contains(&ks.p_value), "{:?}", ks);
        prop_assert!((0.0..=1.0).contains(&ks.statistic));
        let cvm = cramervonmises_2samp(&a, &b, CvmMethod::Auto).unwrap();
        prop_assert!((0.0..=1.0).contains(&cvm.p_value), "{:?}", cvm);
    }

    #[test]
    fn ks_statistic_matches_naive(a in sample(50), b in sample(50)) {
        let ks = ks_2samp(&a, &b, KsMethod::Asymp).unwrap();
        prop_assert!((ks.statistic - naive_ks(&a, &b)).abs() < 1e-12);
    }

    #[test]
    fn invariant_under_permutation_of_each_sample(
        a in sample(50), b in sample(50), seed in any::<u64>()
    ) {
        let shuffle = |xs: &[f64], seed: u64| {
            let mut v = xs.to_vec();
            let mut s = seed | 1;
            for i in (1..v.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                v.swap(i, (s % (i as u64 + 1)) as usize);
            }
            v
        };
        let (a2, b2) = (shuffle(&a, seed), shuffle(&b, seed.rotate_left(7)));
        prop_assert_eq!(ks_2samp(&a, &b, KsMethod::Auto).unwrap(), ks_2samp(&a2, &b2, KsMethod::Auto).unwrap());
        prop_assert_eq!(
            cramervonmises_2samp(&a, &b, CvmMethod::Auto).unwrap(),
            cramervonmises_2samp(&a2, &b2, CvmMethod::Auto).unwrap()
        );
        let w1 = wasserstein_distance(&a, &b).unwrap();
        let w2 = wasserstein_distance(&a2, &b2).unwrap();
        prop_assert!((w1 - w2).abs() <= 1e-9 * w1.abs().max(1.0));
    }

    #[test]
    fn fisher_p_in_unit_interval_and_symmetric(a in 0u64..60, b in 0u64..60, c in 0u64..60, d in 0u64..60) {
        let r = fisher_exact([[a, b], [c, d]]);
        prop_assert!((0.0..=1.0).contains(&r.p_value), "{:?}", r);
        // Swapping the rows does not change the two-sided p-value.
        let s = fisher_exact([[c, d], [a, b]]);
        prop_assert!((r.p_value - s.p_value).abs() <= 1e-9 * r.p_value.max(1e-300), "{:?} {:?}", r, s);
    }

    #[test]
    fn mmd_statistic_is_symmetric_and_p_in_unit_interval(
        x in prop::collection::vec(-10f64..10.0, 6..40),
        y in prop::collection::vec(-10f64..10.0, 6..40),
    ) {
        let (x, y) = (&x[..x.len() / 2 * 2], &y[..y.len() / 2 * 2]);
        let opts = MmdOptions { permutations: 10, sigma: Some(1.5), ..MmdOptions::default() };
        let r1 = mmd_test(x, y, 2, &opts).unwrap();
        let r2 = mmd_test(y, x, 2, &opts).unwrap();
        prop_assert!((r1.statistic - r2.statistic).abs() < 1e-9);
        prop_assert!((0.0..=1.0).contains(&r1.p_value));
    }

    #[test]
    fn corrections_never_lower_p_values(ps in prop::collection::vec(0f64..=1.0, 1..30)) {
        for c in [Correction::Bonferroni, Correction::Fdr] {
            for (p, q) in ps.iter().zip(adjust(&ps, c)) {
                prop_assert!(q >= *p - 1e-15 && q <= 1.0);
            }
        }
    }
}

#[test]
fn extreme_shifts_keep_a_log_p_value() {
    // 700 vs 700 perfectly separated labels: scipy's chi2.sf gives 2.4e-306-ish or 0; the log
    // must stay finite either way.
    let r = chi2_contingency(&[5000, 0], &[0, 5000]).unwrap();
    assert_eq!(r.p_value, 0.0);
    assert!(r.ln_p_value.is_finite() && r.ln_p_value < -5000.0);
    let a: Vec<f64> = (0..20000).map(|i| i as f64).collect();
    let b: Vec<f64> = (0..20000).map(|i| 1e6 + i as f64).collect();
    let ks = ks_2samp(&a, &b, KsMethod::Auto).unwrap();
    assert_eq!((ks.statistic, ks.p_value), (1.0, 0.0));
    assert!(
        ks.ln_p_value.is_finite() && ks.ln_p_value < -700.0,
        "{ks:?}"
    );
    // Exact, equal sizes: 2 (n!)^2 / (2n)! for complete separation, here about 1e-420.
    let a: Vec<f64> = (0..700).map(|i| i as f64).collect();
    let b: Vec<f64> = (0..700).map(|i| 1e6 + i as f64).collect();
    let ks = ks_2samp(&a, &b, KsMethod::Exact).unwrap();
    assert_eq!(ks.p_value, 0.0);
    let want = std::f64::consts::LN_2
        + (0..700)
            .map(|j| ((700 - j) as f64 / (701 + j) as f64).ln())
            .sum::<f64>();
    assert!((ks.ln_p_value - want).abs() < 1e-9 * want.abs(), "{ks:?}");
}

#[test]
fn categories_absent_on_one_side() {
    let c = CategoryCounts::from_samples(&["a", "a", "b"], &["c", "c", "a"]);
    assert_eq!(c.categories, ["a", "b", "c"]);
    assert_eq!(
        (c.reference.clone(), c.current.clone()),
        (vec![2, 1, 0], vec![1, 0, 2])
    );
    let r = chi2_contingency(&c.reference, &c.current).unwrap();
    assert!((0.0..=1.0).contains(&r.p_value));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The table path (integer sort keys, columns in parallel) gives the same results as the
    /// per-test functions on floats, signed zeros and missing values included.
    #[test]
    fn compare_matches_the_per_test_functions(
        a in prop::collection::vec(prop_oneof![-3f64..3.0, Just(0.0), Just(-0.0), Just(f64::NAN)], 3..60),
        b in prop::collection::vec(prop_oneof![-3f64..3.0, Just(0.0), Just(-0.0)], 3..60),
    ) {
        let present: Vec<f64> = a.iter().copied().filter(|x| !x.is_nan()).collect();
        prop_assume!(present.len() >= 2);
        let t = |v: &[f64]| Table::new(vec!["x".into()], vec![Column::Numeric(v.to_vec())]);
        let options = CompareOptions { tests: TestSelection::Univariate, ..CompareOptions::default() };
        let r = compare(&t(&a), &t(&b), &options).unwrap();
        let ks = ks_2samp(&present, &b, KsMethod::Auto).unwrap();
        let cvm = cramervonmises_2samp(&present, &b, CvmMethod::Auto).unwrap();
        prop_assert_eq!((r.results[0].statistic, r.results[0].p_value), (ks.statistic, ks.p_value));
        prop_assert_eq!((r.results[1].statistic, r.results[1].p_value), (cvm.statistic, cvm.p_value));
    }
}

//! Drift and performance monitoring for ML-enabled medical devices, with statistics that agree
//! with their reference implementations.
//!
//! A device's inputs can shift, by accident or by an attacker, and its accuracy then decays
//! silently (threats T16, T17, T20). This crate holds the evidence for post-market vigilance:
//!
//! - **Two-sample tests** whose statistic and p-value agree with scipy 1.17.1 to 1e-9 relative:
//!   Kolmogorov-Smirnov ([`ks_2samp`], `scipy.stats.ks_2samp`, two-sided, `auto`/`exact`/`asymp`
//!   chosen as scipy does), Cramér-von Mises ([`cramervonmises_2samp`]), chi-squared on the
//!   2 x k table of category counts ([`chi2_contingency`], Yates on 2 x 2) and Fisher's exact
//!   test ([`fisher_exact`]).
//! - **MMD** ([`mmd_test`]): the unbiased MMD² with a Gaussian RBF kernel whose bandwidth comes
//!   from Alibi Detect's median heuristic on the reference, and a seeded permutation p-value, as
//!   Alibi Detect's `MMDDrift`.
//! - **Distances** without p-values: population stability index, Jensen-Shannon,
//!   Wasserstein-1 (`scipy.stats.wasserstein_distance`); **corrections** across features:
//!   Bonferroni and Benjamini-Hochberg ([`adjust`]).
//! - **Monitors**: a [`WindowedMonitor`] over the last N observations of each feature, output and
//!   confidence against [`ReferenceStats`] kept in a bundle's `reference/drift.json`; [`Adwin`]
//!   and [`PageHinkley`] as River 0.26.1 defines them, in a [`PerformanceMonitor`]; alarms are
//!   [`DriftAlarm`] events for the audit ledger.
//! - **Subgroups**: drift ([`compare_subgroups`]) and performance
//!   ([`performance_by_subgroup`]) per declared subgroup column, to surface model bias.
//!
//! # Agreement with the references, and where it stops
//!
//! Each p-value is the one its reference computes, numerical choices included: scipy's KS
//! asymptotic p-value is 0 once `n d^2 >= 370`, Cephes' chi-squared tail is 0 once its prefactor
//! underflows, scipy's asymptotic CvM series stops at the first term under 1e-7 and returns
//! `1 - cdf` (so its p-values under about 1e-5 carry its truncation and rounding error, and
//! agree with scipy to 1e-14 absolute rather than 1e-9 relative). Where the reference gives 0 but
//! the true tail is a number, [`TestOutcome::ln_p_value`] carries the natural log of the tail,
//! computed without underflow (KS asymptotic, KS exact with equal sizes, complete separation,
//! chi-squared), and for asymptotic CvM in the far tail the log of the exact limiting tail (by
//! Smirnov's integral) instead of scipy's `1 - cdf`; the reference value is never replaced. Fisher's test uses scipy 1.17's relative
//! tolerance of 1e-14 when it compares table probabilities. Golden vectors and the script that
//! made them are in `tests/golden/`; `interop/drift` compares the CLI with scipy on random cases.
//!
//! Outside data enters through [`Table::parse`] (CSV, read by `vigil-table`, bounded by [`Limits`]) and
//! [`ReferenceStats::from_json`] (size bounded by its caller); both are fuzzed.
//!
//! # Crates relied on
//!
//! `statrs` (MIT) for `ln Γ`; `rayon` for the parallel kernel matrix and permutations;
//! `vigil-table` for CSV input; `serde`/`serde_json` for reference statistics and alarms; `thiserror` for [`DriftError`].
//! The Kolmogorov distribution (a port of scipy's `_ksstats.py` and `xsf`'s `smirnov`), the
//! exact two-sample KS and CvM distributions, the incomplete gamma in log space, Loader's
//! saddle-point hypergeometric probabilities, `K_{1/4}` and the permutation generator are written
//! here: no maintained crate provides them with scipy's exact choices.
//!
//! # Example
//!
//! ```
//! use vigil_drift::{ks_2samp, KsMethod};
//!
//! let reference = [0.1, 0.4, 0.35, 0.8, 0.6, 0.2];
//! let current = [1.1, 1.4, 1.35, 1.8, 1.6, 1.2];
//! let r = ks_2samp(&reference, &current, KsMethod::Auto)?;
//! assert_eq!(r.statistic, 1.0);
//! assert!((r.p_value - 0.0021645021645021645).abs() < 1e-15); // scipy.stats.ks_2samp
//! # Ok::<(), vigil_drift::DriftError>(())
//! ```

#![deny(missing_docs)]

mod categorical;
mod compare;
mod correction;
mod cvm;
mod distance;
mod error;
mod kolmogorov;
mod ks;
mod mmd;
mod monitor;
mod online;
mod result;
mod rng;
mod sort;
mod special;

// The public API.
pub use crate::categorical::{chi2_contingency, fisher_exact, CategoryCounts};
pub use crate::compare::{
    compare, compare_subgroups, CompareOptions, DriftReport, FeatureResult, SubgroupReport,
    TestKind, TestSelection,
};
pub use crate::correction::{adjust, benjamini_hochberg, Correction};
pub use crate::cvm::{cramervonmises_2samp, CvmMethod};
pub use crate::distance::{
    bin_proportions, decile_edges, jensen_shannon, jensen_shannon_binned,
    population_stability_index, wasserstein_distance,
};
pub use crate::error::DriftError;
pub use crate::ks::{ks_2samp, KsMethod};
pub use crate::mmd::{mmd_test, sigma_median, MmdOptions, MmdOutcome};
pub use crate::monitor::{
    performance_by_subgroup, DriftAlarm, PerformanceMonitor, ReferenceStats, StreamKind,
    StreamReference, SubgroupPerformance, WindowedMonitor, REFERENCE_FILE, REFERENCE_FORMAT,
};
pub use crate::online::{Adwin, PageHinkley, PageHinkleyMode};
pub use crate::result::TestOutcome;
// tables, read by `vigil-table` (one CSV reader for every Vigil crate)
pub use vigil_table::{Column, Limits, Schema, Table, TableError};

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    pub use crate::monitor::fuzz_reference;

    /// Reads arbitrary bytes as drift reads a table (every column; `c` categorical; small
    /// limits) and compares it with itself; must never panic.
    pub fn fuzz_csv(data: &[u8]) {
        let limits = crate::Limits {
            max_bytes: 1 << 20,
            max_rows: 1000,
            max_columns: 64,
            max_cell_bytes: 256,
            max_cells: 10_000,
        };
        for schema in [
            crate::Schema::all().text(["c"]).limits(limits),
            crate::Schema::all().limits(limits),
        ] {
            if let Ok(t) = crate::Table::parse(data, "fuzz", &schema) {
                if t.rows() <= 50 {
                    let options = crate::CompareOptions {
                        tests: crate::TestSelection::Univariate,
                        ..crate::CompareOptions::default()
                    };
                    let _ = crate::compare(&t, &t, &options);
                }
            }
        }
    }
}

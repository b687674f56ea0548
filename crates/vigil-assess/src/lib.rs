//! Assessment of a signed model bundle before release: how the model behaves under evasion
//! attacks at stated budgets, bare and through its runtime guard.
//!
//! [`Target::open`] verifies a bundle (`vigil-bundle`), compiles its model with tract from the
//! verified bytes (the plan the guard runs, `vigil-model`) and opens its guard (`vigil-guard`).
//! [`robustness`] then attacks every row the bare model classifies correctly, in parallel
//! (rayon), each row with its own seeded random stream so that every number reproduces with the
//! same seed whatever the number of threads:
//!
//! - noise (uniform or Gaussian), the baseline;
//! - HopSkipJump (Chen, Jordan and Wainwright, IEEE S&P 2020), decision-based, L2 and
//!   L-infinity, following ART 1.20's `HopSkipJump`;
//! - Square Attack (Andriushchenko et al., ECCV 2020), score-based, L-infinity and L2, after ART
//!   1.20's `SquareAttack`;
//! - the boundary attack (Brendel et al., ICLR 2018), decision-based, as ART's `BoundaryAttack`.
//!
//! Budgets are in units of each feature's population standard deviation over the calibration
//! rows (`distance_scale` of the bundle's `reference/guard.json`); every query stays inside the
//! contract's physical ranges unless told otherwise. Every success is checked before it is
//! counted: the float32 row is inside the contract and the budget, and the bare model gives it
//! another class than the row's true one (by a margin of 1e-5 in probability, so that a point
//! on the boundary does not count). Successful rows are replayed through [`vigil_guard::Guard::infer`]
//! as one client's stream to measure what the guard takes away; in adaptive mode the attacker
//! queries the guard itself and an abstention is a failed query.
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use vigil_assess::{robustness, Attack, Labelled, Norm, RobustnessOptions, Target};
//! use vigil_bundle::{BundlePolicy, Trust};
//!
//! let device = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer");
//! let trust = Trust::Policy(BundlePolicy::load(&device.join("policy.toml"))?);
//! let target = Target::open(&device.join("bundle"), &trust)?;
//! let mut data = Labelled::read(&device.join("data/validation.csv"), target.contract(), None)?;
//! data.truncate(10);
//! let options = RobustnessOptions {
//!     attacks: vec![Attack::HopSkipJump],
//!     norm: Norm::Linf,
//!     budgets: vec![0.0, 2.0],
//!     max_queries: 300,
//!     seed: 7,
//!     ..RobustnessOptions::default()
//! };
//! let result = robustness(&target, &data, &options, &|_| {})?;
//! let at_zero = &result.report.attacks[0];
//! assert_eq!(at_zero.success_rate, 0.0); // a budget of 0 never flips a correct row
//! for a in &result.adversarial {
//!     assert!(a.perturbation <= a.budget && a.label != 99);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod data;
mod error;
mod evasion;
mod extraction;
mod html;
mod membership;
mod performance;
mod rng;
mod robustness;
mod roc;
mod target;

// The public interface:
pub use data::{Labelled, LABEL};
pub use error::AssessError;
pub use evasion::{Attack, HsjParams, NoiseKind, Norm};
pub use extraction::{extraction, ExtractionReport, Strategy};
pub use html::{extraction_html, membership_html, performance_html, robustness_html};
pub use membership::{
    membership, write_scores_csv, Membership, MembershipAttack, MembershipReport, PolicyReport,
    ScoreSet,
};
pub use performance::{performance, Estimate, GroupReport, PerformanceReport};
pub use robustness::{
    robustness, write_adversarial_csv, AdversarialRow, AttackReport, GuardReplay, Robustness,
    RobustnessOptions, RobustnessReport, SubgroupAttack, SubgroupRobustness,
};
pub use roc::{roc_auc, roc_curve, tpr_at_fpr};
pub use target::{policy_view, Target};

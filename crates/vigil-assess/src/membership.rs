//! `vigil assess membership`: membership inference against the model under each output
//! policy the bundle could ship, as evidence for choosing one.
//!
//! Attacks (each gives every row a score; higher means "more likely a training member"):
//! - `loss`: the threshold attack of Yeom et al. (CSF 2018) on the cross-entropy loss of the
//!   true label: score = ln(max(q_y, 1e-12)), q the scores the policy shows;
//! - `confidence`: the largest shown score, label-free (Salem et al., NDSS 2019);
//! - `calibrated`: a per-example difficulty calibration (Watson et al., ICLR 2022) without shadow
//!   models: the row's loss is compared with its mean loss over 8 seeded neighbours (Gaussian
//!   noise of 0.1 standard deviation per feature), since a member sits in a sharper loss valley
//!   than its neighbourhood: score = mean neighbour loss - row loss.
//!
//! Policies: `full` (unrounded probabilities), `rounded` (to the bundle's `[output] decimals`,
//! 2 when it has none), `top1` (only the top class's rounded probability; the others read 0),
//! `label` (one-hot of the predicted class). Under `label` the loss attack's AUC is
//! 0.5 + (member accuracy - non-member accuracy) / 2 exactly.

use serde::Serialize;
use vigil_guard::{OutputMode, OutputPolicy};

use crate::data::Labelled;
use crate::error::AssessError;
use crate::rng::Rng;
use crate::roc::{roc_auc, roc_curve, tpr_at_fpr};
use crate::target::{policy_view, Target};

/// Neighbours per row of the calibrated attack.
const NEIGHBOURS: usize = 8;
/// Their noise, in standard deviations.
const NEIGHBOUR_SD: f64 = 0.1;

/// `vigil assess membership --json`.
///
/// ```text
/// {"members":n,"nonmembers":m,"policies":[{"policy":"full"|"rounded"|"top1"|"label",
///   "attacks":[{"attack":"loss"|"confidence"|"calibrated","auc":x,"tpr_at_1pct_fpr":x}]}]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipReport {
    /// Member rows.
    pub members: usize,
    /// Non-member rows.
    pub nonmembers: usize,
    /// One entry per output policy.
    pub policies: Vec<PolicyReport>,
}

/// The attacks under one output policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    /// `full`, `rounded`, `top1` or `label`.
    pub policy: &'static str,
    /// One entry per attack.
    pub attacks: Vec<MembershipAttack>,
}

/// One attack's success.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipAttack {
    /// `loss`, `confidence` or `calibrated`.
    pub attack: &'static str,
    /// Area under the ROC curve (0.5: no better than chance).
    pub auc: f64,
    /// True-positive rate at a false-positive rate of at most 1%.
    pub tpr_at_1pct_fpr: f64,
}

/// Every row's score under one policy and attack.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSet {
    /// The policy.
    pub policy: &'static str,
    /// The attack.
    pub attack: &'static str,
    /// Scores: members first, then non-members, each in file order.
    pub scores: Vec<f64>,
    /// The ROC curve `(fpr, tpr)`.
    pub roc: Vec<(f64, f64)>,
}

/// The result of [`membership`].
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    /// The numbers.
    pub report: MembershipReport,
    /// The scores behind them, in report order.
    pub scores: Vec<ScoreSet>,
}

/// The policies assessed, with the views they give.
fn policies(bundle: &OutputPolicy) -> [(&'static str, OutputPolicy); 4] {
    let decimals = Some(bundle.decimals.unwrap_or(2));
    [
        (
            "full",
            OutputPolicy {
                mode: OutputMode::Full,
                decimals: None,
            },
        ),
        (
            "rounded",
            OutputPolicy {
                mode: OutputMode::Full,
                decimals,
            },
        ),
        (
            "top1",
            OutputPolicy {
                mode: OutputMode::TopK(1),
                decimals,
            },
        ),
        (
            "label",
            OutputPolicy {
                mode: OutputMode::Label,
                decimals: None,
            },
        ),
    ]
}

fn loss_score(q: &[f64], y: usize) -> f64 {
    q.get(y).copied().unwrap_or(0.0).max(1e-12).ln()
}

/// Runs the membership attacks with `members` (training rows) and `nonmembers` (held-out
/// rows); `seed` fixes the calibrated attack's neighbours.
pub fn membership(
    target: &Target,
    members: &Labelled,
    nonmembers: &Labelled,
    seed: u64,
) -> Result<Membership, AssessError> {
    let contract = target.contract();
    let k = contract.labels.len().max(1);
    let width = contract.width();
    let rows: Vec<&Vec<f32>> = members.rows.iter().chain(&nonmembers.rows).collect();
    let labels: Vec<usize> = members
        .labels
        .iter()
        .chain(&nonmembers.labels)
        .copied()
        .collect();
    let is_member: Vec<bool> = (0..rows.len()).map(|i| i < members.len()).collect();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    let probs = target.probabilities(&flat)?;
    // Neighbours for the calibrated attack.
    let scale = target.scale();
    let mut nb = Vec::with_capacity(rows.len() * NEIGHBOURS * width);
    for (i, r) in rows.iter().enumerate() {
        let mut rng = Rng::for_parts(&[seed, 0x4D49_4100, i as u64]);
        for _ in 0..NEIGHBOURS {
            for (v, s) in r.iter().zip(scale) {
                nb.push((f64::from(*v) + rng.normal() * NEIGHBOUR_SD * s) as f32);
            }
        }
    }
    let nprobs = target.probabilities(&nb)?;
    let bundle_policy = target.guard().config().output;
    let mut report = Vec::new();
    let mut sets = Vec::new();
    for (name, policy) in policies(&bundle_policy) {
        let mut attacks = Vec::new();
        let views: Vec<Vec<f64>> = probs.chunks(k).map(|p| policy_view(p, &policy)).collect();
        let loss: Vec<f64> = views
            .iter()
            .zip(&labels)
            .map(|(q, y)| loss_score(q, *y))
            .collect();
        let confidence: Vec<f64> = views
            .iter()
            .map(|q| q.iter().copied().fold(0.0, f64::max))
            .collect();
        let calibrated: Vec<f64> = nprobs
            .chunks(k * NEIGHBOURS)
            .zip(&labels)
            .zip(&loss)
            .map(|((group, y), own)| {
                let mean = group
                    .chunks(k)
                    .map(|p| -loss_score(&policy_view(p, &policy), *y))
                    .sum::<f64>()
                    / NEIGHBOURS as f64;
                mean + own
            })
            .collect();
        for (attack, scores) in [
            ("loss", loss),
            ("confidence", confidence),
            ("calibrated", calibrated),
        ] {
            let auc = roc_auc(&scores, &is_member).unwrap_or(0.5);
            attacks.push(MembershipAttack {
                attack,
                auc,
                tpr_at_1pct_fpr: tpr_at_fpr(&scores, &is_member, 0.01),
            });
            sets.push(ScoreSet {
                policy: name,
                attack,
                roc: roc_curve(&scores, &is_member),
                scores,
            });
        }
        report.push(PolicyReport {
            policy: name,
            attacks,
        });
    }
    Ok(Membership {
        report: MembershipReport {
            members: members.len(),
            nonmembers: nonmembers.len(),
            policies: report,
        },
        scores: sets,
    })
}

/// Writes every row's score as CSV: `row` (index in its file), `member` (1 or 0), `policy`,
/// `attack`, `score`.
pub fn write_scores_csv(out: &mut dyn std::io::Write, result: &Membership) -> std::io::Result<()> {
    writeln!(out, "row,member,policy,attack,score")?;
    let m = result.report.members;
    for set in &result.scores {
        for (i, s) in set.scores.iter().enumerate() {
            let (row, member) = if i < m { (i, 1) } else { (i - m, 0) };
            writeln!(out, "{row},{member},{},{},{s}", set.policy, set.attack)?;
        }
    }
    Ok(())
}

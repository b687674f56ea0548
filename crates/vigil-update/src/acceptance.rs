//! The bundle's acceptance set: `[acceptance]` in `vigil.toml` (read by
//! [`vigil_bundle::BundleConfig::acceptance`]), run through the guard before a release may be
//! activated.
//!
//! Accuracy counts an abstention as a miss: the number is what a patient behind the device
//! gets. The set runs through [`Guard::screen`] (contract, detectors and model; no client state),
//! so a release the guard cannot open is refused as well.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_bundle::{AcceptanceSpec, VerifiedBundle};
use vigil_guard::{parse_csv, CsvLimits, Guard};
use vigil_table::{Column, Schema, Table};

use crate::reason::{Reason, Refusal};

/// What the acceptance run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptanceResult {
    /// Rows run.
    pub rows: usize,
    /// Accuracy over all rows.
    pub accuracy: f64,
    /// Share of rows the guard abstained on.
    pub abstain_share: f64,
    /// Accuracy per subgroup value.
    pub subgroups: BTreeMap<String, f64>,
}

fn refuse(detail: impl Into<String>) -> Refusal {
    Refusal::new(Reason::AcceptanceFailed, detail)
}

/// The acceptance set `vigil.toml` names ([`vigil_bundle::BundleConfig::acceptance`]);
/// `Ok(None)` if it has none, a refusal naming the field if it is invalid.
pub fn spec(config: &vigil_bundle::BundleConfig) -> Result<Option<AcceptanceSpec>, Refusal> {
    config.acceptance().map_err(|e| refuse(e.to_string()))
}

/// Runs the acceptance set of `bundle` through `guard`; a refusal says which bar was missed.
pub fn run(
    spec: &AcceptanceSpec,
    bundle: &VerifiedBundle,
    guard: &Guard,
) -> Result<AcceptanceResult, Refusal> {
    let bytes = bundle.file(&spec.data).ok_or_else(|| {
        refuse(format!(
            "acceptance data {} is not a signed file of the bundle",
            spec.data
        ))
    })?;
    let limits = CsvLimits::default();
    let rows = parse_csv(bytes, &spec.data, guard.contract(), &limits)
        .map_err(|e| refuse(format!("{e}")))?;
    if rows.is_empty() {
        return Err(refuse(format!("{}: no rows", spec.data)));
    }
    let groups: Option<Vec<String>> = match &spec.subgroup {
        None => None,
        Some(col) => {
            let schema = Schema::only(Vec::<String>::new()).optional_text(col.clone());
            let table =
                Table::parse(bytes, &spec.data, &schema).map_err(|e| refuse(format!("{e}")))?;
            match table.column(col) {
                Some(Column::Categorical(v)) => Some(
                    (0..rows.len())
                        .map(|i| v.get(i).map(|s| s.to_string()).unwrap_or_default())
                        .collect(),
                ),
                _ => return Err(refuse(format!("{}: no subgroup column {col:?}", spec.data))),
            }
        }
    };
    let mut shape = [0usize; 2];
    let (mut correct, mut abstained) = (0usize, 0usize);
    let mut per_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let label = row
            .label
            .ok_or_else(|| refuse(format!("{} line {}: no known label", spec.data, row.line)))?;
        let right = match &row.values {
            Err(_) => {
                abstained += 1;
                false
            }
            Ok(values) => {
                let s = guard.screen(&guard.row(values, &mut shape));
                if s.reason.is_some() {
                    abstained += 1;
                    false
                } else {
                    s.class == Some(label)
                }
            }
        };
        correct += usize::from(right);
        if let Some(groups) = &groups {
            let g = groups.get(i).cloned().unwrap_or_default();
            let e = per_group.entry(g).or_insert((0, 0));
            e.0 += usize::from(right);
            e.1 += 1;
        }
    }
    let n = rows.len() as f64;
    let result = AcceptanceResult {
        rows: rows.len(),
        accuracy: correct as f64 / n,
        abstain_share: abstained as f64 / n,
        subgroups: per_group
            .iter()
            .map(|(g, (c, t))| (g.clone(), *c as f64 / *t as f64))
            .collect(),
    };
    if result.accuracy < spec.min_accuracy {
        return Err(refuse(format!(
            "accuracy {:.4} on {} rows is below the minimum {}",
            result.accuracy, result.rows, spec.min_accuracy
        )));
    }
    if let Some(max) = spec.max_abstain_share {
        if result.abstain_share > max {
            return Err(refuse(format!(
                "the guard abstained on {:.4} of the rows, more than the {max} allowed",
                result.abstain_share
            )));
        }
    }
    if let Some(floor) = spec.min_subgroup_accuracy {
        for (g, acc) in &result.subgroups {
            if *acc < floor {
                return Err(refuse(format!(
                    "subgroup {}={g:?}: accuracy {acc:.4} is below the floor {floor}",
                    spec.subgroup.as_deref().unwrap_or_default()
                )));
            }
        }
    }
    Ok(result)
}

//! The bundle's acceptance set: `[acceptance]` in `vigil.toml`, run through the guard before a
//! release may be activated.
//!
//! ```toml
//! [acceptance]
//! data = "acceptance/acceptance.csv"  # in the bundle, signed: contract features and `label`
//! min_accuracy = 0.90                 # correct answers over all rows (an abstention is a miss)
//! max_abstain_share = 0.10            # optional: most rows the guard may abstain on
//! subgroup = "sex"                    # optional: a column of the CSV
//! min_subgroup_accuracy = 0.85        # required with `subgroup`: the floor for every group
//! ```
//!
//! Accuracy counts an abstention as a miss: the number is what a patient behind the device
//! gets. The set runs through [`Guard::screen`] (contract, detectors and model; no client state),
//! so a release the guard cannot open is refused as well.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigil_bundle::VerifiedBundle;
use vigil_guard::{parse_csv, CsvLimits, Guard};
use vigil_table::{Column, Schema, Table};

use crate::reason::{Reason, Refusal};

/// `[acceptance]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceSpec {
    /// The CSV in the bundle.
    pub data: String,
    /// The least accuracy over all rows.
    pub min_accuracy: f64,
    /// The most rows the guard may abstain on, as a share.
    #[serde(default)]
    pub max_abstain_share: Option<f64>,
    /// A subgroup column of the CSV.
    #[serde(default)]
    pub subgroup: Option<String>,
    /// The least accuracy in every subgroup.
    #[serde(default)]
    pub min_subgroup_accuracy: Option<f64>,
}

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

impl AcceptanceSpec {
    /// The `[acceptance]` table of a bundle's `vigil.toml`; `Ok(None)` if it has none.
    pub fn from_config(document: &toml::Table) -> Result<Option<AcceptanceSpec>, Refusal> {
        let Some(value) = document.get("acceptance") else {
            return Ok(None);
        };
        let spec: AcceptanceSpec = value
            .clone()
            .try_into()
            .map_err(|e| refuse(format!("vigil.toml [acceptance]: {e}")))?;
        let share = |name: &str, x: f64| {
            if (0.0..=1.0).contains(&x) {
                Ok(())
            } else {
                Err(refuse(format!(
                    "vigil.toml [acceptance] {name} = {x}: must be between 0 and 1"
                )))
            }
        };
        share("min_accuracy", spec.min_accuracy)?;
        if let Some(x) = spec.max_abstain_share {
            share("max_abstain_share", x)?;
        }
        match (&spec.subgroup, spec.min_subgroup_accuracy) {
            (Some(_), Some(x)) => share("min_subgroup_accuracy", x)?,
            (None, None) => {}
            _ => {
                return Err(refuse(
                    "vigil.toml [acceptance]: subgroup and min_subgroup_accuracy go together",
                ))
            }
        }
        Ok(Some(spec))
    }
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

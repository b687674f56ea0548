//! The high-level operations: hash a data set (CSV file or folder), verify it against a
//! manifest, and diff two manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::compare::{by_name, by_row, Differences};
use crate::error::DataError;
use crate::manifest::{Manifest, Opened};
use crate::samples::{csv_limits, hash_csv, hash_dir, Format, Roles, Samples};

/// Hash the data set at `path`: every regular file under it when it is a folder, else the
/// records of a CSV file (read whole, up to 1 GiB).
pub fn hash_path(
    path: &Path,
    roles: &Roles,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Samples, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        DataError::Io(vigil_core::ReadError::Io {
            path: path.to_owned(),
            source: e,
        })
    })?;
    if meta.is_dir() {
        if roles.id.is_some() || roles.label.is_some() || !roles.subgroups.is_empty() {
            return Err(DataError::Input {
                file: path.display().to_string(),
                reason: "--id, --label and --subgroup apply to CSV files, not folders".into(),
            });
        }
        return hash_dir(path, progress);
    }
    let bytes = vigil_core::read_bounded(path, csv_limits().max_bytes)?;
    hash_csv(&bytes, &path.display().to_string(), roles, progress)
}

/// The outcome of checking data against a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// True when the data are exactly what was signed: same samples in the same order (same
    /// Merkle root) and, for CSV, the same header.
    pub verified: bool,
    /// Changed samples (see [`crate::compare`] for how they are named).
    pub changed: Vec<crate::SampleRef>,
    /// Added samples.
    pub added: Vec<crate::SampleRef>,
    /// Removed samples.
    pub removed: Vec<crate::SampleRef>,
    /// Samples in the data checked.
    pub samples: u64,
    /// Whether the header (CSV) differs from the signed one; not in the `--json` contract.
    #[serde(skip)]
    pub header_changed: bool,
    /// Whether the order alone differs (same samples); not in the `--json` contract.
    #[serde(skip)]
    pub reordered: bool,
}

/// Check the data at `path` against an opened manifest.
pub fn verify(
    opened: &Opened,
    path: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Verification, DataError> {
    let m = &opened.manifest;
    let is_dir = std::fs::metadata(path).is_ok_and(|md| md.is_dir());
    match (m.format, is_dir) {
        (Format::Csv, true) => {
            return Err(DataError::Input {
                file: path.display().to_string(),
                reason: "a folder, but the manifest is of a CSV file".into(),
            })
        }
        (Format::Files, false) => {
            return Err(DataError::Input {
                file: path.display().to_string(),
                reason: "not a folder, but the manifest is of a folder of files".into(),
            })
        }
        _ => {}
    }
    let roles = Roles {
        id: m.id_column.clone(),
        label: None,
        subgroups: Vec::new(),
    };
    let samples = hash_path(path, &roles, progress)?;
    let header_changed = m.header_sha256 != samples.header_sha256.map(hex::encode);
    let d = differences(opened, &samples.digests, samples.names.as_deref());
    let root_same = hex::encode(samples.merkle_root()) == m.merkle_root;
    let verified = root_same && !header_changed && samples.len() as u64 == m.samples;
    Ok(Verification {
        verified,
        reordered: !verified && d.is_empty() && !header_changed,
        changed: d.changed,
        added: d.added,
        removed: d.removed,
        samples: samples.len() as u64,
        header_changed,
    })
}

fn differences(old: &Opened, new: &[vigil_ledger::Hash], names: Option<&[String]>) -> Differences {
    match (&old.names, names) {
        (Some(a), Some(b)) => by_name(&old.digests, a, new, b),
        _ => by_row(&old.digests, new),
    }
}

/// Count shifts of one label or subgroup value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Shift {
    /// Count in the old manifest.
    pub old: u64,
    /// Count in the new manifest.
    pub new: u64,
    /// `new - old`.
    pub change: i64,
}

impl Shift {
    fn new(old: u64, new: u64) -> Shift {
        Shift {
            old,
            new,
            change: new as i64 - old as i64,
        }
    }
}

/// One subgroup value's shift: its count and its label counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupShift {
    /// Rows with the value.
    pub count: Shift,
    /// Rows per label with the value.
    pub labels: BTreeMap<String, Shift>,
}

/// What differs between two manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    /// Samples only in the new manifest.
    pub added: Vec<crate::SampleRef>,
    /// Samples only in the old manifest.
    pub removed: Vec<crate::SampleRef>,
    /// Samples in both with another digest.
    pub changed: Vec<crate::SampleRef>,
    /// Label count shifts (every label of either manifest).
    pub labels: BTreeMap<String, Shift>,
    /// Subgroup shifts: per column, per value (every value of either manifest).
    pub subgroups: BTreeMap<String, BTreeMap<String, GroupShift>>,
}

impl ManifestDiff {
    /// True when the two manifests have the same samples and counts.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.labels.values().all(|s| s.change == 0)
            && self
                .subgroups
                .values()
                .flat_map(|g| g.values())
                .all(|g| g.count.change == 0 && g.labels.values().all(|s| s.change == 0))
    }
}

/// Compare two manifests: by name when both name their samples (ids, or paths), else by
/// aligning digests.
pub fn diff(old: &Opened, new: &Opened) -> ManifestDiff {
    let d = differences(old, &new.digests, new.names.as_deref());
    ManifestDiff {
        added: d.added,
        removed: d.removed,
        changed: d.changed,
        labels: shifts(&old.manifest.labels, &new.manifest.labels),
        subgroups: group_shifts(&old.manifest, &new.manifest),
    }
}

fn shifts(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, Shift> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let x = a.get(k).copied().unwrap_or(0);
            let y = b.get(k).copied().unwrap_or(0);
            (k.clone(), Shift::new(x, y))
        })
        .collect()
}

fn group_shifts(a: &Manifest, b: &Manifest) -> BTreeMap<String, BTreeMap<String, GroupShift>> {
    let empty = BTreeMap::new();
    let columns: BTreeSet<&String> = a.subgroups.keys().chain(b.subgroups.keys()).collect();
    columns
        .into_iter()
        .map(|c| {
            let ga = a.subgroups.get(c).unwrap_or(&empty);
            let gb = b.subgroups.get(c).unwrap_or(&empty);
            let values: BTreeSet<&String> = ga.keys().chain(gb.keys()).collect();
            let per = values
                .into_iter()
                .map(|v| {
                    let x = ga.get(v).cloned().unwrap_or_default();
                    let y = gb.get(v).cloned().unwrap_or_default();
                    (
                        v.clone(),
                        GroupShift {
                            count: Shift::new(x.count, y.count),
                            labels: shifts(&x.labels, &y.labels),
                        },
                    )
                })
                .collect();
            (c.clone(), per)
        })
        .collect()
}

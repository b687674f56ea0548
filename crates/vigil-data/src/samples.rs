//! Samples and their digests: the records of a CSV file or the files of a folder, hashed in
//! parallel, with the RFC 9162 Merkle root over them.
//!
//! # Sample encoding (what another tool recomputes)
//!
//! * **CSV** (`vigil-data/csv-record/v1`): a sample is one data record. Its digest is
//!   SHA-256 of the record's bytes exactly as they are in the file: from the record's first
//!   byte up to, not including, the `\n` that ends it, without one `\r` right before that `\n`
//!   (or before the end of the file). Quotes, doubled quotes and line breaks inside quoted
//!   fields are part of the bytes. A byte-order mark and the header are not samples; the
//!   header record's bytes are digested the same way as the schema digest. Completely empty
//!   lines are not records (when the header has more than one column). The Merkle leaf of a
//!   sample is its 32-byte digest: leaf hash `SHA-256(0x00 || digest)`.
//! * **Folder** (`vigil-data/file/v1`): a sample is one regular file under the folder, at any
//!   depth. Its name is its path relative to the folder, components joined with `/`; samples
//!   are ordered by the bytes of that name (UTF-8). Its digest is SHA-256 of the file's bytes.
//!   Its Merkle leaf is `name || 0x00 || digest`, so a renamed file changes the root.
//!
//! The root is RFC 9162's Merkle Tree Hash over the leaves in sample order (interior nodes
//! `SHA-256(0x01 || left || right)`, the empty tree `SHA-256("")`), as `vigil-ledger` computes
//! it.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use vigil_ledger::Hash;
use vigil_table::{Column, Kind, Limits, Records, Schema, Table};

use crate::error::DataError;

/// The sample encoding of CSV records.
pub const CSV_ENCODING: &str = "vigil-data/csv-record/v1";
/// The sample encoding of files in a folder.
pub const FILE_ENCODING: &str = "vigil-data/file/v1";

/// Most entries walked in a data folder.
pub const MAX_FILES: usize = 10_000_000;
/// Deepest folder nesting walked.
pub const MAX_DEPTH: usize = 64;

/// SHA-256 (RustCrypto's `sha2`: SHA-NI where the CPU has it). On this project's build machine
/// it hashes a 78-byte record in 80 ns where `ring` took 126 ns: for short messages the call
/// overhead, not the compression, decides.
pub fn sha256(bytes: &[u8]) -> Hash {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// What a data set is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Records of one CSV file.
    Csv,
    /// Files in a folder.
    Files,
}

/// A CSV column and the kind of its cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnType {
    /// The name in the header.
    pub name: String,
    /// `number` when every non-empty cell is a finite decimal number, else `text`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Counts of one subgroup value: rows and rows per label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupCount {
    /// Rows with this value.
    pub count: u64,
    /// Of those, rows per label (when there is a label column).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, u64>,
}

/// Which columns of a CSV file have a role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// The column that names each sample (unique, non-empty).
    pub id: Option<String>,
    /// The label column (counted).
    pub label: Option<String>,
    /// Subgroup columns (counted, with label counts per value).
    pub subgroups: Vec<String>,
}

/// The samples of a data set: one digest per sample, in order, and what is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Samples {
    /// CSV records or files.
    pub format: Format,
    /// One SHA-256 per sample, in sample order.
    pub digests: Vec<Hash>,
    /// Sample names: ids (CSV with an id column) or relative paths (folders); `None` when
    /// samples are named by row number.
    pub names: Option<Vec<String>>,
    /// Header columns and their kinds (CSV).
    pub columns: Vec<ColumnType>,
    /// SHA-256 of the header record (CSV).
    pub header_sha256: Option<Hash>,
    /// Rows per label.
    pub labels: BTreeMap<String, u64>,
    /// Per subgroup column, per value: rows and label counts.
    pub subgroups: BTreeMap<String, BTreeMap<String, GroupCount>>,
    /// Bytes hashed.
    pub bytes: u64,
}

impl Samples {
    /// The sample count.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The Merkle leaf data of each sample (see the module documentation), hashed as RFC 9162
    /// leaves.
    pub fn leaf_hashes(&self) -> Vec<Hash> {
        leaf_hashes(self.format, &self.digests, self.names.as_deref())
    }

    /// The RFC 9162 Merkle root over the samples.
    pub fn merkle_root(&self) -> Hash {
        samples_root(self.format, &self.digests, self.names.as_deref())
    }
}

/// The RFC 9162 root over samples, as `merkle_root(leaf_hashes(..))` but without holding the
/// leaf hashes: the first level of the tree is hashed from pairs of samples directly.
pub(crate) fn samples_root(format: Format, digests: &[Hash], names: Option<&[String]>) -> Hash {
    let leaf = |i: usize| -> Hash {
        let d = digests.get(i).copied().unwrap_or_default();
        match (format, names) {
            (Format::Files, Some(names)) => {
                let n = names.get(i).map_or("", String::as_str);
                let mut leaf = Vec::with_capacity(n.len() + 33);
                leaf.extend_from_slice(n.as_bytes());
                leaf.push(0);
                leaf.extend_from_slice(&d);
                vigil_ledger::leaf_hash(&leaf)
            }
            _ => vigil_ledger::leaf_hash(&d),
        }
    };
    let n = digests.len();
    if n < 2 {
        return if n == 1 {
            leaf(0)
        } else {
            vigil_ledger::empty_root()
        };
    }
    let parent = |p: usize| {
        let i = 2 * p;
        if i + 1 < n {
            vigil_ledger::node_hash(&leaf(i), &leaf(i + 1))
        } else {
            leaf(i)
        }
    };
    let pairs = n.div_ceil(2);
    let level: Vec<Hash> = if pairs >= PARALLEL_LEVEL {
        (0..pairs)
            .into_par_iter()
            .with_min_len(PARALLEL_LEVEL / 4)
            .map(parent)
            .collect()
    } else {
        (0..pairs).map(parent).collect()
    };
    merkle_root(level)
}

/// Leaf hashes of samples (`names` are used for [`Format::Files`] only).
pub(crate) fn leaf_hashes(format: Format, digests: &[Hash], names: Option<&[String]>) -> Vec<Hash> {
    match (format, names) {
        (Format::Files, Some(names)) => digests
            .par_iter()
            .zip(names.par_iter())
            .map(|(d, n)| {
                let mut leaf = Vec::with_capacity(n.len() + 33);
                leaf.extend_from_slice(n.as_bytes());
                leaf.push(0);
                leaf.extend_from_slice(d);
                vigil_ledger::leaf_hash(&leaf)
            })
            .collect(),
        _ => digests
            .par_iter()
            .map(|d| vigil_ledger::leaf_hash(d))
            .collect(),
    }
}

/// RFC 9162 Merkle Tree Hash over leaf hashes, with `vigil-ledger`'s hashing, in O(n) node
/// hashes computed level by level: each level hashes adjacent pairs left to right and carries
/// an odd last node up unchanged. That is the tree of RFC 9162's recursive split at the largest
/// power of two below n (its left subtrees are complete, so only the rightmost node of a level
/// can lack a partner). Large levels are hashed on every core.
pub fn merkle_root(leaves: Vec<Hash>) -> Hash {
    let mut level = leaves;
    while level.len() > 1 {
        level = if level.len() >= PARALLEL_LEVEL {
            level
                .par_chunks(2)
                .with_min_len(PARALLEL_LEVEL / 4)
                .map(pair)
                .collect()
        } else {
            level.chunks(2).map(pair).collect()
        };
    }
    level
        .first()
        .copied()
        .unwrap_or_else(vigil_ledger::empty_root)
}

/// Levels with at least this many nodes are hashed in parallel.
const PARALLEL_LEVEL: usize = 1 << 14;

/// The parent of two adjacent nodes, or a lone last node carried up.
fn pair(nodes: &[Hash]) -> Hash {
    match nodes {
        [left, right] => vigil_ledger::node_hash(left, right),
        [last] => *last,
        // `chunks(2)` yields one or two nodes.
        _ => vigil_ledger::empty_root(),
    }
}

/// Records hashed by one parallel task.
const RECORDS_PER_TASK: usize = 4096;

/// Limits for CSV data sets: those of [`Limits::default`] (1 GiB, 10 million rows).
pub fn csv_limits() -> Limits {
    Limits::default()
}

/// Hash the records of CSV `bytes` (see the module documentation), counting labels and
/// subgroups. `progress` is told of bytes hashed.
pub fn hash_csv(
    bytes: &[u8],
    file: &str,
    roles: &Roles,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Samples, DataError> {
    let limits = csv_limits();
    let records = Records::read(bytes, file, &limits)?;
    for name in roles
        .id
        .iter()
        .chain(roles.label.iter())
        .chain(roles.subgroups.iter())
    {
        if !records.header.contains(name) {
            return Err(DataError::Input {
                file: file.to_owned(),
                reason: format!("missing column {name:?}"),
            });
        }
    }
    // Each record's digest is written in place (no per-chunk vectors to join), a chunk of
    // records per task.
    let mut digests: Vec<Hash> = vec![[0u8; 32]; records.rows.len()];
    digests
        .par_chunks_mut(RECORDS_PER_TASK)
        .zip(records.rows.par_chunks(RECORDS_PER_TASK))
        .for_each(|(out, rows)| {
            let mut n = 0u64;
            for (d, r) in out.iter_mut().zip(rows) {
                let b = bytes.get(r.start..r.end).unwrap_or_default();
                n += b.len() as u64 + 1;
                *d = sha256(b);
            }
            progress(n);
        });
    let header_sha256 = bytes.get(records.head.start..records.head.end).map(sha256);
    let columns = records
        .header
        .iter()
        .zip(&records.kinds)
        .map(|(name, kind)| ColumnType {
            name: name.clone(),
            kind: match kind {
                Kind::Number => "number".into(),
                Kind::Text => "text".into(),
            },
        })
        .collect();
    let mut samples = Samples {
        format: Format::Csv,
        digests,
        names: None,
        columns,
        header_sha256,
        labels: BTreeMap::new(),
        subgroups: BTreeMap::new(),
        bytes: bytes.len() as u64,
    };
    let mut wanted: Vec<String> = Vec::new();
    for name in roles
        .id
        .iter()
        .chain(roles.label.iter())
        .chain(roles.subgroups.iter())
    {
        if !wanted.contains(name) {
            wanted.push(name.clone());
        }
    }
    if wanted.is_empty() {
        return Ok(samples);
    }
    let table = Table::parse(
        bytes,
        file,
        &Schema::only(wanted.clone())
            .text(wanted.clone())
            .limits(limits),
    )?;
    let text = |name: &str| -> &[String] {
        match table.column(name) {
            Some(Column::Categorical(v)) => v,
            _ => &[],
        }
    };
    if let Some(id) = &roles.id {
        let ids = text(id);
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (row, v) in ids.iter().enumerate() {
            if v.trim().is_empty() {
                return Err(DataError::Row {
                    file: file.to_owned(),
                    row,
                    reason: format!("empty id in column {id:?}"),
                });
            }
            if let Some(first) = seen.insert(v.as_str(), row) {
                return Err(DataError::Row {
                    file: file.to_owned(),
                    row,
                    reason: format!("id {v:?} repeats row {first} (ids must be unique)"),
                });
            }
        }
        samples.names = Some(ids.to_vec());
    }
    let labels = roles.label.as_deref().map(text);
    if let Some(labels) = labels {
        for l in labels {
            *samples.labels.entry(l.clone()).or_default() += 1;
        }
    }
    for g in &roles.subgroups {
        let counts = samples.subgroups.entry(g.clone()).or_default();
        for (row, v) in text(g).iter().enumerate() {
            let c = counts.entry(v.clone()).or_default();
            c.count += 1;
            if let Some(l) = labels.and_then(|l| l.get(row)) {
                *c.labels.entry(l.clone()).or_default() += 1;
            }
        }
    }
    Ok(samples)
}

/// Hash every regular file under `dir` (see the module documentation). Symbolic links, FIFOs,
/// sockets, devices and names that are not UTF-8 are refused with their path.
pub fn hash_dir(dir: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<Samples, DataError> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    walk(dir, "", 0, &mut files)?;
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let hashed: Vec<Result<(Hash, u64), DataError>> = files
        .par_iter()
        .map(|(_, path)| {
            let r = hash_file(path);
            if let Ok((_, n)) = &r {
                progress(*n);
            }
            r
        })
        .collect();
    let mut digests = Vec::with_capacity(files.len());
    let mut bytes = 0u64;
    for h in hashed {
        let (d, n) = h?;
        digests.push(d);
        bytes += n;
    }
    Ok(Samples {
        format: Format::Files,
        digests,
        names: Some(files.into_iter().map(|(n, _)| n).collect()),
        columns: Vec::new(),
        header_sha256: None,
        labels: BTreeMap::new(),
        subgroups: BTreeMap::new(),
        bytes,
    })
}

fn refuse(path: &Path, reason: &str) -> DataError {
    DataError::Sample {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), DataError> {
    if depth > MAX_DEPTH {
        return Err(refuse(
            dir,
            &format!("folders nested deeper than {MAX_DEPTH}"),
        ));
    }
    let io = |path: &Path, e: std::io::Error| {
        DataError::Io(vigil_core::ReadError::Io {
            path: path.to_owned(),
            source: e,
        })
    };
    let entries = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(refuse(&path, "file name is not UTF-8"));
        };
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        if kind.is_symlink() {
            return Err(refuse(
                &path,
                "a symbolic link (samples must be regular files inside the folder)",
            ));
        } else if kind.is_dir() {
            walk(&path, &rel, depth + 1, out)?;
        } else if kind.is_file() {
            if out.len() >= MAX_FILES {
                return Err(refuse(dir, &format!("more than {MAX_FILES} files")));
            }
            out.push((rel, path));
        } else {
            return Err(refuse(
                &path,
                "not a regular file (a FIFO, socket or device)",
            ));
        }
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<(Hash, u64), DataError> {
    let mut f = vigil_core::open_regular(path)?;
    let mut ctx = <sha2::Sha256 as sha2::Digest>::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| {
            DataError::Io(vigil_core::ReadError::Io {
                path: path.to_owned(),
                source: e,
            })
        })?;
        if n == 0 {
            break;
        }
        sha2::Digest::update(&mut ctx, buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
    Ok((sha2::Digest::finalize(ctx).into(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64)
            .map(|i| vigil_ledger::leaf_hash(&i.to_le_bytes()))
            .collect()
    }

    /// The level-by-level root is the RFC 9162 recursive root `vigil-ledger` computes, for every
    /// size up to 600 and around the parallel threshold and powers of two.
    #[test]
    fn root_by_levels_is_the_recursive_root() {
        let sizes = (0..600).chain([1 << 14, (1 << 14) + 1, (1 << 15) - 1, (1 << 15) + 3, 70_001]);
        for n in sizes {
            let l = leaves(n);
            let tree = vigil_ledger::MemoryTree::new(l.clone());
            let expected = vigil_ledger::root(&tree, n as u64).unwrap();
            assert_eq!(merkle_root(l), expected, "{n} leaves");
        }
    }

    /// The root over samples (leaves hashed on the fly) is the root over their leaf hashes.
    #[test]
    fn samples_root_is_the_root_over_leaf_hashes() {
        for n in (0..70).chain([(1 << 15) + 1, (1 << 15) + 2]) {
            let digests: Vec<Hash> = (0..n as u64).map(|i| sha256(&i.to_le_bytes())).collect();
            let names: Vec<String> = (0..n).map(|i| format!("f{i}.bin")).collect();
            for format in [Format::Csv, Format::Files] {
                let names = (format == Format::Files).then_some(&names[..]);
                assert_eq!(
                    samples_root(format, &digests, names),
                    merkle_root(leaf_hashes(format, &digests, names)),
                    "{n} samples, {format:?}"
                );
            }
        }
    }

    /// Golden values: the empty tree is SHA-256 of nothing, one leaf is its own root, and a
    /// three-leaf tree is `node(node(a, b), c)`.
    #[test]
    fn root_golden_values() {
        assert_eq!(
            hex::encode(merkle_root(Vec::new())),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let l = leaves(3);
        assert_eq!(merkle_root(l[..1].to_vec()), l[0]);
        let ab = vigil_ledger::node_hash(&l[0], &l[1]);
        assert_eq!(merkle_root(l.clone()), vigil_ledger::node_hash(&ab, &l[2]));
    }
}

//! What differs between two sequences of samples: by name when both have names, else by
//! aligning their digests.
//!
//! Alignment: the common prefix and suffix are equal samples; in between, digests that occur
//! exactly once on each side are anchors, and the longest run of anchors in the same order on
//! both sides (patience diff, O(n log n)) is taken as unchanged. Between consecutive anchors the
//! samples are paired in order: a pair with different digests is *changed* (named by its
//! position in the new data), the surplus of the old side is *removed* (named by its position
//! in the old data), of the new side *added* (by its position in the new data). One changed,
//! added or removed sample is therefore always named exactly.

use std::collections::HashMap;

use serde::Serialize;
use vigil_ledger::Hash;

/// How a sample is named in a report: by 0-based row number, or by id or path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(untagged)]
pub enum SampleRef {
    /// A 0-based row number.
    Row(u64),
    /// An id or a relative path.
    Name(String),
}

impl std::fmt::Display for SampleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleRef::Row(r) => write!(f, "row {r}"),
            SampleRef::Name(n) => write!(f, "{n}"),
        }
    }
}

/// Samples that differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Differences {
    /// In both, with another digest.
    pub changed: Vec<SampleRef>,
    /// Only in the new samples.
    pub added: Vec<SampleRef>,
    /// Only in the old samples.
    pub removed: Vec<SampleRef>,
}

impl Differences {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }
}

/// Compare samples named by id or path: changed (in new order), added (new order), removed
/// (old order).
pub fn by_name(
    old: &[Hash],
    old_names: &[String],
    new: &[Hash],
    new_names: &[String],
) -> Differences {
    let old_map: HashMap<&str, &Hash> = old_names
        .iter()
        .map(String::as_str)
        .zip(old.iter())
        .collect();
    let new_map: HashMap<&str, &Hash> = new_names
        .iter()
        .map(String::as_str)
        .zip(new.iter())
        .collect();
    let mut d = Differences::default();
    for (name, digest) in new_names.iter().zip(new) {
        match old_map.get(name.as_str()) {
            None => d.added.push(SampleRef::Name(name.clone())),
            Some(o) if *o != digest => d.changed.push(SampleRef::Name(name.clone())),
            Some(_) => {}
        }
    }
    for name in old_names {
        if !new_map.contains_key(name.as_str()) {
            d.removed.push(SampleRef::Name(name.clone()));
        }
    }
    d
}

/// Compare samples named by row number, by aligning digests (see the module documentation).
pub fn by_row(old: &[Hash], new: &[Hash]) -> Differences {
    let mut d = Differences::default();
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let (o0, o1) = (prefix, old.len() - suffix);
    let (n0, n1) = (prefix, new.len() - suffix);
    let old_mid = old.get(o0..o1).unwrap_or_default();
    let new_mid = new.get(n0..n1).unwrap_or_default();
    // Anchors: digests once on each side, in new order, as (old index, new index).
    let mut counts: HashMap<&Hash, (u32, u32, usize)> = HashMap::new();
    for (i, h) in old_mid.iter().enumerate() {
        let e = counts.entry(h).or_insert((0, 0, i));
        e.0 += 1;
    }
    for h in new_mid {
        if let Some(e) = counts.get_mut(h) {
            e.1 += 1;
        }
    }
    let pairs: Vec<(usize, usize)> = new_mid
        .iter()
        .enumerate()
        .filter_map(|(j, h)| match counts.get(h) {
            Some(&(1, 1, i)) => Some((i, j)),
            _ => None,
        })
        .collect();
    let anchors = longest_increasing(&pairs);
    let mut prev = (0usize, 0usize);
    for &(i, j) in anchors
        .iter()
        .chain(std::iter::once(&(old_mid.len(), new_mid.len())))
    {
        gap(old_mid, new_mid, (prev.0, i), (prev.1, j), (o0, n0), &mut d);
        prev = (i + 1, j + 1);
    }
    d
}

/// Pair the samples of one gap in order.
fn gap(
    old: &[Hash],
    new: &[Hash],
    (a0, a1): (usize, usize),
    (b0, b1): (usize, usize),
    (o0, n0): (usize, usize),
    d: &mut Differences,
) {
    let la = a1.saturating_sub(a0);
    let lb = b1.saturating_sub(b0);
    for k in 0..la.min(lb) {
        if old.get(a0 + k) != new.get(b0 + k) {
            d.changed.push(SampleRef::Row((n0 + b0 + k) as u64));
        }
    }
    for k in lb..la {
        d.removed.push(SampleRef::Row((o0 + a0 + k) as u64));
    }
    for k in la..lb {
        d.added.push(SampleRef::Row((n0 + b0 + k) as u64));
    }
}

/// The longest subsequence of `pairs` (increasing in `.1`) that also increases in `.0`.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[k]: index into pairs of the smallest tail of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut back: Vec<Option<usize>> = vec![None; pairs.len()];
    for (p, &(i, _)) in pairs.iter().enumerate() {
        let at = tails.partition_point(|&t| pairs.get(t).is_some_and(|q| q.0 < i));
        if at > 0 {
            if let Some(b) = back.get_mut(p) {
                *b = tails.get(at - 1).copied();
            }
        }
        if at == tails.len() {
            tails.push(p);
        } else if let Some(t) = tails.get_mut(at) {
            *t = p;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied();
    while let Some(p) = cur {
        if let Some(&pair) = pairs.get(p) {
            out.push(pair);
        }
        cur = back.get(p).copied().flatten();
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: u32) -> Hash {
        let mut out = [0u8; 32];
        out[..4].copy_from_slice(&x.to_le_bytes());
        out
    }

    fn rows(v: &[u64]) -> Vec<SampleRef> {
        v.iter().map(|&r| SampleRef::Row(r)).collect()
    }

    #[test]
    fn single_edits_are_named() {
        let old: Vec<Hash> = (0..10).map(h).collect();
        let mut changed = old.clone();
        changed[4] = h(99);
        assert_eq!(by_row(&old, &changed).changed, rows(&[4]));
        let mut added = old.clone();
        added.insert(3, h(99));
        let d = by_row(&old, &added);
        assert_eq!(
            (d.added, d.changed, d.removed),
            (rows(&[3]), vec![], vec![])
        );
        let mut removed = old.clone();
        removed.remove(7);
        let d = by_row(&old, &removed);
        assert_eq!(
            (d.removed, d.changed, d.added),
            (rows(&[7]), vec![], vec![])
        );
    }

    #[test]
    fn moves_and_mixed_edits() {
        let old: Vec<Hash> = (0..8).map(h).collect();
        // 0 1 2 3 4 5 6 7 -> 0 5 2 3 4 1 6 7 + new at end
        let mut new = old.clone();
        new.swap(1, 5);
        new.push(h(50));
        let d = by_row(&old, &new);
        assert_eq!(d.added, rows(&[8]));
        assert!(!d.is_empty());
        assert_eq!(
            longest_increasing(&[(2, 0), (0, 1), (1, 2), (3, 3)]).len(),
            3
        );
    }
}

//! Whole-log verification: recompute every leaf and subtree hash from the entries and check
//! them, and every stored checkpoint, against the store.
//!
//! Cost: one pass over the entries (parse, re-canonicalise and hash each, O(n)) plus one
//! point read per stored subtree hash; about 2-3 µs per entry on a laptop-class core, so a
//! million entries take a few seconds. Memory is O(log n) plus the checkpoint list.

use std::collections::BTreeMap;

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::error::{Error, NoteError};
use crate::jcs::{recanonicalize_entry, Limits};
use crate::merkle::{consistency_proof, leaf_hash, verify_consistency, Frontier, Hash};
use crate::note::NoteVerifier;
use crate::store::{Store, StoreNodes};

/// What a successful audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Number of entries.
    pub size: u64,
    /// Tree head over all entries.
    pub root: Hash,
    /// Number of stored checkpoints checked.
    pub checkpoints: usize,
}

/// Verify a whole stored log. `trusted` are the keys every stored checkpoint must be signed
/// by (empty: the log's own stored key). `external` checkpoints (already signature-checked by
/// the caller) must match the log too: a log shorter than one is truncated.
///
/// An [`Error::Integrity`] or [`Error::Note`] means the log failed verification; other errors
/// mean it could not be read.
pub fn audit(
    store: &dyn Store,
    trusted: &[NoteVerifier],
    external: &[Checkpoint],
) -> Result<Audit, Error> {
    store.begin_snapshot()?;
    let result = audit_snapshot(store, trusted, external);
    let ended = store.end_snapshot();
    let audit = result?;
    ended?;
    Ok(audit)
}

fn audit_snapshot(
    store: &dyn Store,
    trusted: &[NoteVerifier],
    external: &[Checkpoint],
) -> Result<Audit, Error> {
    let info = store.info()?;
    let own;
    let trusted = if trusted.is_empty() {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&info.public_key)
            .map_err(|e| Error::Integrity(format!("stored public key is invalid: {e}")))?;
        own = [NoteVerifier::new(&info.key_name, key)?];
        &own[..]
    } else {
        trusted
    };
    let size = store.size()?;
    let stored = store.checkpoints()?;

    // Sizes whose root must be known: every checkpoint's.
    let mut wanted: BTreeMap<u64, Option<Hash>> = BTreeMap::new();
    for cp in &stored {
        if cp.size > size {
            return Err(Error::Integrity(format!(
                "checkpoint #{} has size {} but the log has only {size} entries: the log was truncated",
                cp.id, cp.size
            )));
        }
        wanted.insert(cp.size, None);
    }
    for cp in external {
        if cp.size > size {
            return Err(Error::Integrity(format!(
                "the given checkpoint has size {} but the log has only {size} entries: the log was truncated",
                cp.size
            )));
        }
        wanted.insert(cp.size, None);
    }
    if let Some(slot) = wanted.get_mut(&0) {
        *slot = Some(Frontier::new().root());
    }

    let limits = Limits::default();
    let mut frontier = Frontier::new();
    let mut created = Vec::new();
    let mut expected = 0u64;
    store.scan(&mut |idx, data, stored_leaf| {
        if idx != expected {
            return Err(Error::Integrity(format!(
                "entry {expected} is missing (next stored entry is {idx})"
            )));
        }
        let canonical = recanonicalize_entry(data, &limits)
            .map_err(|e| Error::Integrity(format!("entry {idx} is not a canonical event: {e}")))?;
        if canonical != data {
            return Err(Error::Integrity(format!(
                "entry {idx} is not in RFC 8785 canonical form"
            )));
        }
        let leaf = leaf_hash(data);
        if leaf != *stored_leaf {
            return Err(Error::Integrity(format!(
                "entry {idx} does not match its stored leaf hash (stored {}, computed {})",
                hex::encode(stored_leaf),
                hex::encode(leaf)
            )));
        }
        created.clear();
        frontier.push(leaf, &mut created);
        for (level, index, hash) in &created {
            let s = store.node(*level, *index)?;
            if s != *hash {
                return Err(Error::Integrity(format!(
                    "subtree hash at level {level} index {index} (covering entry {idx}) does not match the entries"
                )));
            }
        }
        expected += 1;
        if let Some(slot) = wanted.get_mut(&frontier.size()) {
            *slot = Some(frontier.root());
        }
        Ok(())
    })?;
    if expected != size {
        return Err(Error::Integrity(format!(
            "the log claims {size} entries but only {expected} are stored"
        )));
    }
    let want_nodes = size - u64::from(size.count_ones());
    let nodes = store.node_count()?;
    if nodes != want_nodes {
        return Err(Error::Integrity(format!(
            "{nodes} subtree hashes are stored but a log of {size} entries has {want_nodes}"
        )));
    }

    let root_at = |s: u64| -> Result<Hash, Error> {
        wanted
            .get(&s)
            .copied()
            .flatten()
            .ok_or_else(|| Error::Integrity(format!("no root computed for size {s}")))
    };
    let mut seen: BTreeMap<u64, (u64, Hash)> = BTreeMap::new();
    for cp in &stored {
        let opened = open_checkpoint(cp.note.as_bytes(), trusted, Some(&info.origin))
            .map_err(|e| Error::Integrity(format!("checkpoint #{}: {e}", cp.id)))?;
        let body = &opened.checkpoint;
        if body.size != cp.size || body.root != cp.root {
            return Err(Error::Integrity(format!(
                "checkpoint #{}: stored size/root columns differ from its signed note",
                cp.id
            )));
        }
        if let Some((other, other_root)) = seen.get(&cp.size) {
            if *other_root != cp.root {
                return Err(Error::Integrity(format!(
                    "checkpoints #{other} and #{} both have size {} but different roots: the history was forked",
                    cp.id, cp.size
                )));
            }
        }
        seen.insert(cp.size, (cp.id, cp.root));
        let actual = root_at(cp.size)?;
        if actual != cp.root {
            return Err(Error::Integrity(format!(
                "checkpoint #{} signs root {} for size {} but the entries give {}: the log was rewritten",
                cp.id,
                hex::encode(cp.root),
                cp.size,
                hex::encode(actual)
            )));
        }
    }
    // Successive checkpoints must be consistent: prove it from the store as a verifier would.
    let sizes: Vec<(u64, Hash)> = seen.iter().map(|(s, (_, r))| (*s, *r)).collect();
    for pair in sizes.windows(2) {
        if let [(old, old_root), (new, new_root)] = pair {
            if *old == 0 {
                continue;
            }
            let proof = consistency_proof(&StoreNodes(store), *old, *new)?;
            verify_consistency(*old, *new, &proof, old_root, new_root).map_err(|e| {
                Error::Integrity(format!(
                    "checkpoints of sizes {old} and {new} are not consistent: {e}"
                ))
            })?;
        }
    }
    for cp in external {
        if cp.origin != info.origin {
            return Err(Error::Note(NoteError::WrongOrigin {
                found: cp.origin.clone(),
                expected: info.origin.clone(),
            }));
        }
        let actual = root_at(cp.size)?;
        if actual != cp.root {
            return Err(Error::Integrity(format!(
                "the given checkpoint signs root {} for size {} but the entries give {}: the log was rewritten",
                hex::encode(cp.root),
                cp.size,
                hex::encode(actual)
            )));
        }
    }
    Ok(Audit {
        size,
        root: frontier.root(),
        checkpoints: stored.len(),
    })
}

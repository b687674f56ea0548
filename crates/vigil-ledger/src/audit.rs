//! Whole-log verification: recompute every leaf and subtree hash from the entries and check
//! them, and every stored checkpoint, against the store.
//!
//! Cost: one pass over the entries (parse, re-canonicalise and hash each, O(n)) plus one
//! point read per stored subtree hash; about 2-3 µs per entry on a laptop-class core, so a
//! million entries take a few seconds. Memory is O(log n) plus the checkpoint list.

use std::collections::BTreeMap;

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::error::{CheckpointRef, Error, IntegrityError, NoteError};
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
            .map_err(|e| IntegrityError::Corrupt(format!("stored public key is invalid: {e}")))?;
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
            return Err(IntegrityError::Truncated {
                checkpoint: CheckpointRef::Stored(cp.id),
                checkpoint_size: cp.size,
                log_size: size,
            }
            .into());
        }
        wanted.insert(cp.size, None);
    }
    for cp in external {
        if cp.size > size {
            return Err(IntegrityError::Truncated {
                checkpoint: CheckpointRef::Given,
                checkpoint_size: cp.size,
                log_size: size,
            }
            .into());
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
        check_entry(
            store,
            &limits,
            &mut frontier,
            &mut created,
            expected,
            idx,
            data,
            stored_leaf,
        )?;
        expected += 1;
        if let Some(slot) = wanted.get_mut(&frontier.size()) {
            *slot = Some(frontier.root());
        }
        Ok(())
    })?;
    check_counts(store, size, expected)?;

    let root_at = |s: u64| -> Result<Hash, Error> {
        wanted.get(&s).copied().flatten().ok_or_else(|| {
            Error::from(IntegrityError::Corrupt(format!(
                "no root computed for size {s}"
            )))
        })
    };
    let mut seen: BTreeMap<u64, (u64, Hash)> = BTreeMap::new();
    for cp in &stored {
        check_stored_checkpoint(cp, trusted, &info.origin, &mut seen)?;
        let actual = root_at(cp.size)?;
        if actual != cp.root {
            return Err(IntegrityError::Rewritten {
                checkpoint: CheckpointRef::Stored(cp.id),
                size: cp.size,
                signed_root: cp.root,
                computed_root: actual,
            }
            .into());
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
                Error::from(IntegrityError::Inconsistent {
                    old: *old,
                    new: *new,
                    reason: e.to_string(),
                })
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
            return Err(IntegrityError::Rewritten {
                checkpoint: CheckpointRef::Given,
                size: cp.size,
                signed_root: cp.root,
                computed_root: actual,
            }
            .into());
        }
    }
    Ok(Audit {
        size,
        root: frontier.root(),
        checkpoints: stored.len(),
    })
}

/// Check a stored log from its newest signed checkpoint on, for opening a large log quickly.
///
/// What is checked: every stored checkpoint opens with the log's own key and names the log's
/// origin; its size is within the log (else [`IntegrityError::Truncated`]); the stored
/// subtree hashes give the root it signs (else [`IntegrityError::Rewritten`]); two
/// checkpoints of one size agree (else [`IntegrityError::Forked`]); and every entry after the
/// newest checkpoint is canonical, matches its leaf hash and the subtree hashes it completes.
///
/// What is not: the entries the newest checkpoint covers are not re-hashed; they are trusted
/// as far as the stored subtree hashes that give the signed root. An edit to an old entry
/// together with its leaf hash is found by the full [`audit`] (`vigil log verify`), not here.
///
/// Cost: O(entries after the newest checkpoint + checkpoints x log n) reads.
pub fn audit_tail(store: &dyn Store) -> Result<Audit, Error> {
    store.begin_snapshot()?;
    let result = audit_tail_snapshot(store);
    let ended = store.end_snapshot();
    let audit = result?;
    ended?;
    Ok(audit)
}

fn audit_tail_snapshot(store: &dyn Store) -> Result<Audit, Error> {
    let info = store.info()?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&info.public_key)
        .map_err(|e| IntegrityError::Corrupt(format!("stored public key is invalid: {e}")))?;
    let own = [NoteVerifier::new(&info.key_name, key)?];
    let size = store.size()?;
    let stored = store.checkpoints()?;
    let nodes = StoreNodes(store);
    let mut seen: BTreeMap<u64, (u64, Hash)> = BTreeMap::new();
    for cp in &stored {
        if cp.size > size {
            return Err(IntegrityError::Truncated {
                checkpoint: CheckpointRef::Stored(cp.id),
                checkpoint_size: cp.size,
                log_size: size,
            }
            .into());
        }
        check_stored_checkpoint(cp, &own, &info.origin, &mut seen)?;
        let actual = crate::merkle::root(&nodes, cp.size)?;
        if actual != cp.root {
            return Err(IntegrityError::Rewritten {
                checkpoint: CheckpointRef::Stored(cp.id),
                size: cp.size,
                signed_root: cp.root,
                computed_root: actual,
            }
            .into());
        }
    }
    let start = seen.keys().next_back().copied().unwrap_or(0);
    let mut frontier = Frontier::load(&nodes, start)?;
    let limits = Limits::default();
    let mut created = Vec::new();
    let mut expected = start;
    store.scan_from(start, &mut |idx, data, stored_leaf| {
        check_entry(
            store,
            &limits,
            &mut frontier,
            &mut created,
            expected,
            idx,
            data,
            stored_leaf,
        )?;
        expected += 1;
        Ok(())
    })?;
    check_counts(store, size, expected)?;
    Ok(Audit {
        size,
        root: frontier.root(),
        checkpoints: stored.len(),
    })
}

/// Checks that `scanned` entries were found for a log of `size`, and that the store holds
/// exactly the complete-subtree hashes a tree of that size has.
fn check_counts(store: &dyn Store, size: u64, scanned: u64) -> Result<(), Error> {
    if scanned != size {
        return Err(IntegrityError::EntryCount {
            claimed: size,
            stored: scanned,
        }
        .into());
    }
    let want_nodes = size - u64::from(size.count_ones());
    let node_count = store.node_count()?;
    if node_count != want_nodes {
        return Err(IntegrityError::NodeCount {
            size,
            expected: want_nodes,
            stored: node_count,
        }
        .into());
    }
    Ok(())
}

/// Checks a stored checkpoint: it opens with the trusted keys and names the log's origin, its
/// size and root columns are those it signs, and no earlier one of the same size (in `seen`,
/// size to row id and root) has another root; then records it in `seen`.
fn check_stored_checkpoint(
    cp: &crate::store::StoredCheckpoint,
    trusted: &[NoteVerifier],
    origin: &str,
    seen: &mut BTreeMap<u64, (u64, Hash)>,
) -> Result<(), Error> {
    let opened = open_checkpoint(cp.note.as_bytes(), trusted, Some(origin)).map_err(|e| {
        IntegrityError::BadCheckpoint {
            checkpoint: CheckpointRef::Stored(cp.id),
            reason: e.to_string(),
        }
    })?;
    if opened.checkpoint.size != cp.size || opened.checkpoint.root != cp.root {
        return Err(IntegrityError::BadCheckpoint {
            checkpoint: CheckpointRef::Stored(cp.id),
            reason: "stored size/root columns differ from its signed note".into(),
        }
        .into());
    }
    if let Some((other, other_root)) = seen.get(&cp.size) {
        if *other_root != cp.root {
            return Err(IntegrityError::Forked {
                size: cp.size,
                first: *other,
                second: cp.id,
            }
            .into());
        }
    }
    seen.insert(cp.size, (cp.id, cp.root));
    Ok(())
}

/// Checks entry `idx` (which must be `expected`): canonical, matching its stored leaf hash,
/// and matching every subtree hash its append completes; pushes it onto `frontier`.
#[allow(clippy::too_many_arguments)]
fn check_entry(
    store: &dyn Store,
    limits: &Limits,
    frontier: &mut Frontier,
    created: &mut Vec<(u32, u64, Hash)>,
    expected: u64,
    idx: u64,
    data: &[u8],
    stored_leaf: &Hash,
) -> Result<(), Error> {
    if idx != expected {
        return Err(IntegrityError::MissingEntry {
            index: expected,
            next: idx,
        }
        .into());
    }
    let canonical =
        recanonicalize_entry(data, limits).map_err(|e| IntegrityError::NotCanonical {
            index: idx,
            reason: e.to_string(),
        })?;
    if canonical != data {
        return Err(IntegrityError::NotCanonical {
            index: idx,
            reason: "not in RFC 8785 canonical form".into(),
        }
        .into());
    }
    let leaf = leaf_hash(data);
    if leaf != *stored_leaf {
        return Err(IntegrityError::LeafMismatch {
            index: idx,
            stored: *stored_leaf,
            computed: leaf,
        }
        .into());
    }
    created.clear();
    frontier.push(leaf, created);
    for (level, index, hash) in created.iter() {
        let s = store.node(*level, *index)?;
        if s != *hash {
            return Err(IntegrityError::NodeMismatch {
                level: *level,
                index: *index,
                entry: idx,
            }
            .into());
        }
    }
    Ok(())
}

//! The witness decision: does a device's new checkpoint extend what was accepted before?

use vigil_ledger::{
    leaf_hash, open_checkpoint, verify_consistency, Checkpoint, Frontier, Hash, Limits, Note,
    NoteError, NoteSigner, NoteVerifier, ProofError,
};

/// One push from a device: its newest signed checkpoint, the entries after the collector's
/// last accepted checkpoint for it, and a consistency proof from that checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The signed checkpoint note, byte for byte (C2SP tlog-checkpoint).
    pub checkpoint: String,
    /// Index of the first entry sent: the size of the collector's last accepted checkpoint.
    pub first: u64,
    /// The canonical entries `first..size` of the new checkpoint, exactly the bytes hashed.
    pub entries: Vec<Vec<u8>>,
    /// RFC 9162 consistency proof from the last accepted size to the new size (empty when
    /// the device could not build one; the collector then decides from the entries).
    pub proof: Vec<Hash>,
}

/// What the collector accepted last for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The accepted checkpoint note, byte for byte.
    pub note: String,
    /// Its tree size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// The right border of the device's tree at that size, to extend it with new entries.
    pub frontier: Frontier,
}

/// How a device's history contradicts what the collector accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForkKind {
    /// The new checkpoint is smaller than the accepted one: entries were removed.
    Truncated,
    /// Same size as the accepted checkpoint, another root: the history was rewritten.
    Rewritten,
    /// Larger, but not an extension of the accepted history (rewritten, then extended).
    Diverged,
}

impl ForkKind {
    /// The stable name: `truncated`, `rewritten`, `diverged`.
    pub fn code(self) -> &'static str {
        match self {
            ForkKind::Truncated => "truncated",
            ForkKind::Rewritten => "rewritten",
            ForkKind::Diverged => "diverged",
        }
    }
}

/// The collector's decision on a push whose checkpoint is validly signed by the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The checkpoint extends the accepted history: store `entries` (from index `first`),
    /// make `accepted` the device's state, co-sign it. HTTP 200.
    Extend {
        /// The new checkpoint body.
        checkpoint: Checkpoint,
        /// The device's new state.
        accepted: Accepted,
        /// Index of the first new entry: the push's entries `first..` are to be stored, with
        /// the leaf hashes of its [`Prepared`].
        first: u64,
        /// How many new entries (all of the push's).
        count: u64,
    },
    /// The newest accepted checkpoint again (byte-identical, or the same size and root signed
    /// anew): nothing new to store; co-sign it again. HTTP 200.
    Repeat {
        /// The checkpoint body.
        checkpoint: Checkpoint,
    },
    /// A byte-identical replay of an older accepted checkpoint: refused, no alarm. HTTP 409.
    Replay {
        /// The checkpoint body.
        checkpoint: Checkpoint,
    },
    /// The device's history contradicts the accepted one: refused, both checkpoints kept as
    /// evidence, a `fork` alarm raised. HTTP 409.
    Fork {
        /// How it contradicts.
        kind: ForkKind,
        /// The new checkpoint body.
        checkpoint: Checkpoint,
    },
}

impl Verdict {
    /// The HTTP status the collector answers with.
    pub fn status(&self) -> u16 {
        match self {
            Verdict::Extend { .. } | Verdict::Repeat { .. } => 200,
            Verdict::Replay { .. } | Verdict::Fork { .. } => 409,
        }
    }
}

/// A push refused before any decision on the history: nothing is stored, no alarm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The checkpoint is malformed, of another origin, or not signed by the device's key.
    #[error("checkpoint: {0}")]
    Checkpoint(#[source] NoteError),
    /// The entries do not cover `first..size` of the new checkpoint.
    #[error("entries: {0}")]
    Entries(String),
    /// An entry is not a canonical event (RFC 8785 object), so it cannot be a ledger entry.
    #[error("entry {index}: {reason}")]
    NotCanonical {
        /// Its index in the device's log.
        index: u64,
        /// Why.
        reason: String,
    },
    /// The consistency proof is malformed (the wrong number of hashes for its sizes).
    #[error("consistency proof: {0}")]
    Proof(#[source] ProofError),
    /// The proof shows the history is consistent, but the entries sent do not hash to the new
    /// root: the entries are not the device's.
    #[error(
        "the entries do not hash to the checkpoint's root (computed {computed}, signed {signed})"
    )]
    EntriesMismatch {
        /// Root computed from the accepted border and the entries (hex).
        computed: String,
        /// Root the checkpoint signs (hex).
        signed: String,
    },
}

impl PushError {
    /// The HTTP status: 403 for a checkpoint not signed by the device or of another device's
    /// log (a device pushing under another's name), 400 for malformed
    /// input, 422 for entries that contradict their own checkpoint.
    pub fn status(&self) -> u16 {
        match self {
            PushError::Checkpoint(
                NoteError::InvalidSignature { .. }
                | NoteError::MissingSignature { .. }
                | NoteError::WrongOrigin { .. },
            ) => 403,
            PushError::EntriesMismatch { .. } => 422,
            _ => 400,
        }
    }

    /// The stable error code of the collector's `{"error": ...}` bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PushError::Checkpoint(
                NoteError::InvalidSignature { .. } | NoteError::MissingSignature { .. },
            ) => "bad_signature",
            PushError::Checkpoint(NoteError::WrongOrigin { .. }) => "wrong_origin",
            PushError::Checkpoint(_) => "bad_checkpoint",
            PushError::Entries(_) => "bad_entries",
            PushError::NotCanonical { .. } => "bad_entry",
            PushError::Proof(_) => "bad_proof",
            PushError::EntriesMismatch { .. } => "entries_mismatch",
        }
    }
}

/// Decides on one push.
///
/// `device` is the device's registered checkpoint key (its name is the log's origin); `last`
/// is what was accepted last for it (`None` before its first push); `accepted_before` says
/// whether a note was accepted for this device at some earlier time (replay detection).
///
/// The rules, in order:
/// 1. the checkpoint must open with `device` and name the device's origin (else 403/400);
/// 2. the newest accepted note again, or the same size and root signed anew: [`Verdict::Repeat`];
/// 3. a byte-identical older accepted note: [`Verdict::Replay`];
/// 4. smaller than accepted: fork (truncated); same size, other root: fork (rewritten);
/// 5. larger: the entries must be exactly `last.size..size` and canonical; a proof, if given,
///    must have the right length for its sizes (else 400). If the accepted border extended by
///    the entries gives the signed root, the history is consistent: [`Verdict::Extend`]. If not,
///    and the proof verifies, the entries are not the device's (422); if the proof is missing
///    or does not verify, nothing links the new head to the accepted one: fork (diverged).
pub fn judge(
    device: &NoteVerifier,
    last: Option<&Accepted>,
    push: &Push,
    accepted_before: impl Fn(&str) -> bool,
) -> Result<Verdict, PushError> {
    judge_prepared(device, last, push, &prepare(&push.entries), accepted_before)
}

/// A push's entries checked for RFC 8785 canonical form and hashed, before the decision and
/// outside the store's transaction ([`prepare`]); [`judge_prepared`] uses them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// `leaf_hash` of each entry, up to the first one that is not canonical.
    leaves: Vec<Hash>,
    /// The first entry that is not canonical: its position in the push, and why.
    bad: Option<(usize, String)>,
}

impl Prepared {
    /// The leaf hashes, in entry order (all of them when every entry is canonical).
    pub fn leaves(&self) -> &[Hash] {
        &self.leaves
    }
}

/// Entries per thread below which a push is checked on one thread.
const PARALLEL_CHUNK: usize = 2048;

/// Checks that each entry is canonical (a validating scan, no value tree) and hashes it; a
/// large push is split over the machine's cores.
pub fn prepare(entries: &[Vec<u8>]) -> Prepared {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(entries.len() / PARALLEL_CHUNK)
        .max(1);
    if threads == 1 {
        return prepare_chunk(entries, 0);
    }
    let chunk = entries.len().div_ceil(threads);
    let parts: Vec<Prepared> = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .enumerate()
            .map(|(n, part)| s.spawn(move || prepare_chunk(part, n * chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                // A thread that panicked fails the whole push closed.
                h.join().unwrap_or_else(|_| Prepared {
                    leaves: Vec::new(),
                    bad: Some((0, "internal error while checking entries".into())),
                })
            })
            .collect()
    });
    let mut out = Prepared {
        leaves: Vec::with_capacity(entries.len()),
        bad: None,
    };
    for part in parts {
        out.leaves.extend_from_slice(&part.leaves);
        if part.bad.is_some() {
            out.bad = part.bad;
            break;
        }
    }
    out
}

fn prepare_chunk(entries: &[Vec<u8>], offset: usize) -> Prepared {
    let limits = Limits::default();
    let mut leaves = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if let Err(e) = crate::canonical::check_event(entry, &limits) {
            return Prepared {
                leaves,
                bad: Some((offset + i, format!("not an RFC 8785 canonical event: {e}"))),
            };
        }
        leaves.push(leaf_hash(entry));
    }
    Prepared { leaves, bad: None }
}

/// [`judge`] with the push's entries already checked and hashed by [`prepare`] (on several
/// threads, before the store's transaction). `prepared` must be `prepare(&push.entries)`; one
/// of another length is refused.
pub fn judge_prepared(
    device: &NoteVerifier,
    last: Option<&Accepted>,
    push: &Push,
    prepared: &Prepared,
    accepted_before: impl Fn(&str) -> bool,
) -> Result<Verdict, PushError> {
    let opened = open_checkpoint(
        push.checkpoint.as_bytes(),
        std::slice::from_ref(device),
        Some(device.name()),
    )
    .map_err(PushError::Checkpoint)?;
    let checkpoint = opened.checkpoint;
    let (size, root) = (checkpoint.size, checkpoint.root);

    let Some(last) = last else {
        return extend(checkpoint, push, prepared, &Frontier::new());
    };
    if push.checkpoint == last.note || (size == last.size && root == last.root) {
        return Ok(Verdict::Repeat { checkpoint });
    }
    if accepted_before(&push.checkpoint) {
        return Ok(Verdict::Replay { checkpoint });
    }
    if size < last.size {
        return Ok(Verdict::Fork {
            kind: ForkKind::Truncated,
            checkpoint,
        });
    }
    if size == last.size {
        return Ok(Verdict::Fork {
            kind: ForkKind::Rewritten,
            checkpoint,
        });
    }
    let proof_result = if push.proof.is_empty() && last.size > 0 {
        None
    } else if last.size == 0 {
        // Every tree extends the empty one; a proof from size 0 is empty by definition.
        Some(Ok(()))
    } else {
        match verify_consistency(last.size, size, &push.proof, &last.root, &root) {
            Err(e @ (ProofError::TooLong | ProofError::TooShort | ProofError::BadSizes { .. })) => {
                return Err(PushError::Proof(e))
            }
            other => Some(other),
        }
    };
    match extend(checkpoint.clone(), push, prepared, &last.frontier) {
        Ok(v) => Ok(v),
        Err(PushError::EntriesMismatch { computed, signed }) => match proof_result {
            Some(Ok(())) => Err(PushError::EntriesMismatch { computed, signed }),
            _ => Ok(Verdict::Fork {
                kind: ForkKind::Diverged,
                checkpoint,
            }),
        },
        Err(e) => Err(e),
    }
}

/// Extends `frontier` with the push's entries and checks the result against the checkpoint.
fn extend(
    checkpoint: Checkpoint,
    push: &Push,
    prepared: &Prepared,
    frontier: &Frontier,
) -> Result<Verdict, PushError> {
    let have = frontier.size();
    if push.first != have {
        return Err(PushError::Entries(format!(
            "the entries start at index {} but the collector has accepted {have} entries of this log",
            push.first
        )));
    }
    let want = checkpoint.size.checked_sub(have).ok_or_else(|| {
        PushError::Entries(format!(
            "the checkpoint has {} entries, fewer than the {have} accepted",
            checkpoint.size
        ))
    })?;
    if push.entries.len() as u64 != want {
        return Err(PushError::Entries(format!(
            "{} entries sent, but indices {have}..{} are {want}",
            push.entries.len(),
            checkpoint.size
        )));
    }
    if let Some((i, reason)) = &prepared.bad {
        return Err(PushError::NotCanonical {
            index: have + *i as u64,
            reason: reason.clone(),
        });
    }
    if prepared.leaves.len() != push.entries.len() {
        return Err(PushError::Entries(
            "the entries' hashes were prepared for another push".into(),
        ));
    }
    let mut next = frontier.clone();
    let mut created = Vec::new();
    for leaf in &prepared.leaves {
        created.clear();
        next.push(*leaf, &mut created);
    }
    let computed = next.root();
    if computed != checkpoint.root {
        return Err(PushError::EntriesMismatch {
            computed: hex::encode(computed),
            signed: hex::encode(checkpoint.root),
        });
    }
    Ok(Verdict::Extend {
        accepted: Accepted {
            note: push.checkpoint.clone(),
            size: checkpoint.size,
            root: checkpoint.root,
            frontier: next,
        },
        checkpoint,
        first: have,
        count: want,
    })
}

/// Co-signs a device's checkpoint note as the witness (C2SP `cosignature/v1`, stating
/// `time`), returning the note with the cosignature line added.
pub fn cosign(note: &str, witness: &NoteSigner, time: u64) -> Result<String, NoteError> {
    let mut parsed = Note::parse(note.as_bytes(), &Default::default())?;
    parsed.add_cosignature(witness, time)?;
    Ok(parsed.to_text())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use vigil_ledger::{MemoryTree, NodeSource as _};

    /// A device log held in memory, signing checkpoints with its key.
    struct Device {
        signer: NoteSigner,
        entries: Vec<Vec<u8>>,
    }

    impl Device {
        fn new(seed: u8) -> Device {
            Device {
                signer: NoteSigner::new(
                    &format!("device-{seed}.example"),
                    ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
                )
                .unwrap(),
                entries: Vec::new(),
            }
        }

        fn append(&mut self, n: usize) {
            for _ in 0..n {
                let i = self.entries.len();
                self.entries.push(format!("{{\"i\":{i}}}").into_bytes());
            }
        }

        fn tree(&self) -> MemoryTree {
            MemoryTree::new(self.entries.iter().map(|e| leaf_hash(e)).collect())
        }

        fn note(&self) -> String {
            let t = self.tree();
            Checkpoint {
                origin: self.signer.name().to_string(),
                size: t.size(),
                root: vigil_ledger::root(&t, t.size()).unwrap(),
                extensions: vec![],
            }
            .sign(&[&self.signer])
            .unwrap()
        }

        fn push_since(&self, last: Option<&Accepted>) -> Push {
            let from = last.map_or(0, |a| a.size);
            let t = self.tree();
            let proof = if from == 0 || from >= t.size() {
                vec![]
            } else {
                vigil_ledger::consistency_proof(&t, from, t.size()).unwrap()
            };
            Push {
                checkpoint: self.note(),
                first: from,
                entries: self
                    .entries
                    .get(from as usize..)
                    .unwrap_or_default()
                    .to_vec(),
                proof,
            }
        }
    }

    fn accept(d: &Device, last: Option<&Accepted>) -> Accepted {
        match judge(&d.signer.verifier(), last, &d.push_since(last), |_| false).unwrap() {
            Verdict::Extend { accepted, .. } => accepted,
            other => panic!("{other:?}"),
        }
    }

    /// A large push is checked on several threads (where there are cores): the leaf hashes come
    /// back in entry order, and the first entry that is not canonical is named by its index in
    /// the log, whichever thread saw it.
    #[test]
    fn large_pushes_are_prepared_in_order_and_the_first_bad_entry_is_named() {
        let mut d = Device::new(5);
        d.append(3 * PARALLEL_CHUNK + 7);
        let push = d.push_since(None);
        let prepared = prepare(&push.entries);
        assert_eq!(prepared.bad, None);
        let want: Vec<Hash> = push.entries.iter().map(|e| leaf_hash(e)).collect();
        assert_eq!(prepared.leaves(), want.as_slice());
        match judge_prepared(&d.signer.verifier(), None, &push, &prepared, |_| false).unwrap() {
            Verdict::Extend { count, first, .. } => {
                assert_eq!((first, count), (0, want.len() as u64))
            }
            other => panic!("{other:?}"),
        }

        let mut bad = push.clone();
        let late = 2 * PARALLEL_CHUNK + 3;
        bad.entries[late] = b"{\"i\": 1}".to_vec();
        bad.entries[late + 1] = b"[1]".to_vec();
        let prepared = prepare(&bad.entries);
        assert_eq!(prepared.leaves().len(), late);
        let err = judge_prepared(&d.signer.verifier(), None, &bad, &prepared, |_| false);
        assert!(
            matches!(err, Err(PushError::NotCanonical { index, .. }) if index == late as u64),
            "{err:?}"
        );
        // Hashes prepared for another push are refused, not trusted.
        let other = prepare(&push.entries[1..]);
        let err = judge_prepared(&d.signer.verifier(), None, &push, &other, |_| false);
        assert!(matches!(err, Err(PushError::Entries(_))), "{err:?}");
    }

    #[test]
    fn an_honest_device_extends_push_after_push() {
        let mut d = Device::new(1);
        d.append(5);
        let a = accept(&d, None);
        assert_eq!(a.size, 5);
        d.append(20);
        let b = accept(&d, Some(&a));
        assert_eq!(b.size, 25);
        assert_eq!(b.frontier, Frontier::load(&d.tree(), 25).unwrap());
        // The same push again is a repeat, an older accepted note a replay.
        let again = judge(
            &d.signer.verifier(),
            Some(&b),
            &d.push_since(Some(&a)),
            |_| false,
        );
        assert!(matches!(again, Ok(Verdict::Repeat { .. })), "{again:?}");
        let old = Push {
            checkpoint: a.note.clone(),
            first: 25,
            entries: vec![],
            proof: vec![],
        };
        let replay = judge(&d.signer.verifier(), Some(&b), &old, |n| n == a.note);
        assert!(matches!(replay, Ok(Verdict::Replay { .. })), "{replay:?}");
    }

    #[test]
    fn rewritten_truncated_and_diverged_histories_are_forks() {
        let mut d = Device::new(2);
        d.append(10);
        let a = accept(&d, None);
        let v = d.signer.verifier();

        let mut rewritten = Device::new(2);
        rewritten.append(10);
        rewritten.entries[3] = b"{\"i\":99}".to_vec();
        let r = judge(&v, Some(&a), &rewritten.push_since(Some(&a)), |_| false).unwrap();
        assert!(
            matches!(
                r,
                Verdict::Fork {
                    kind: ForkKind::Rewritten,
                    ..
                }
            ),
            "{r:?}"
        );

        let mut truncated = Device::new(2);
        truncated.append(7);
        let r = judge(&v, Some(&a), &truncated.push_since(Some(&a)), |_| false).unwrap();
        assert!(
            matches!(
                r,
                Verdict::Fork {
                    kind: ForkKind::Truncated,
                    ..
                }
            ),
            "{r:?}"
        );

        // Rewritten, then extended: the device cannot prove consistency; its entries since
        // the accepted size do not extend the accepted border.
        rewritten.append(5);
        let mut push = rewritten.push_since(Some(&a));
        push.proof.clear();
        let r = judge(&v, Some(&a), &push, |_| false).unwrap();
        assert!(
            matches!(
                r,
                Verdict::Fork {
                    kind: ForkKind::Diverged,
                    ..
                }
            ),
            "{r:?}"
        );
        // With the (failing) proof it could build from its own tree: still a fork.
        let push = rewritten.push_since(Some(&a));
        let r = judge(&v, Some(&a), &push, |_| false).unwrap();
        assert!(
            matches!(
                r,
                Verdict::Fork {
                    kind: ForkKind::Diverged,
                    ..
                }
            ),
            "{r:?}"
        );
    }

    #[test]
    fn hostile_pushes_are_refused_without_a_verdict() {
        let mut d = Device::new(3);
        d.append(4);
        let a = accept(&d, None);
        d.append(4);
        let v = d.signer.verifier();

        // Another device's key.
        let other = Device::new(4);
        let err = judge(
            &other.signer.verifier(),
            Some(&a),
            &d.push_since(Some(&a)),
            |_| false,
        )
        .unwrap_err();
        assert_eq!((err.status(), err.code()), (403, "wrong_origin"), "{err}");
        // The device's own origin, signed by another key.
        let mut forged = Device::new(4);
        forged.signer = NoteSigner::new(
            d.signer.name(),
            ed25519_dalek::SigningKey::from_bytes(&[4; 32]),
        )
        .unwrap();
        forged.entries = d.entries.clone();
        let err = judge(&v, Some(&a), &forged.push_since(Some(&a)), |_| false).unwrap_err();
        assert_eq!((err.status(), err.code()), (403, "bad_signature"), "{err}");

        // Entries that do not hash to the root, with a valid proof: 422.
        let mut push = d.push_since(Some(&a));
        push.entries[1] = b"{\"i\":1000}".to_vec();
        let err = judge(&v, Some(&a), &push, |_| false).unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (422, "entries_mismatch"),
            "{err}"
        );

        // A proof of the wrong length: 400.
        let mut push = d.push_since(Some(&a));
        push.proof.push([0; 32]);
        let err = judge(&v, Some(&a), &push, |_| false).unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "bad_proof"), "{err}");

        // Too few entries, entries from the wrong index, a non-canonical entry: 400.
        let mut push = d.push_since(Some(&a));
        push.entries.pop();
        assert_eq!(
            judge(&v, Some(&a), &push, |_| false).unwrap_err().code(),
            "bad_entries"
        );
        let mut push = d.push_since(Some(&a));
        push.first = 0;
        assert_eq!(
            judge(&v, Some(&a), &push, |_| false).unwrap_err().code(),
            "bad_entries"
        );
        let mut push = d.push_since(Some(&a));
        push.entries[0] = b"{ \"i\" : 4 }".to_vec();
        assert_eq!(
            judge(&v, Some(&a), &push, |_| false).unwrap_err().code(),
            "bad_entry"
        );
    }

    #[test]
    fn the_cosignature_verifies_as_cosignature_v1() {
        let mut d = Device::new(5);
        d.append(3);
        let witness = NoteSigner::new(
            "vigil-collector",
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        let cosigned = cosign(&d.note(), &witness, 1_700_000_000).unwrap();
        let opened = open_checkpoint(
            cosigned.as_bytes(),
            &[
                d.signer.verifier(),
                witness.verifier().accepting_cosignature_v1(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(opened.verification.cosignatures[0].1, 1_700_000_000);
        assert!(d.tree().node(0, 0).is_ok());
    }

    proptest::proptest! {
        /// Any split of an honest log into pushes is accepted push after push, and ends in the
        /// log's own tree head.
        #[test]
        fn honest_pushes_in_any_split(cuts in proptest::collection::vec(1usize..40, 1..6)) {
            let mut d = Device::new(6);
            let mut last: Option<Accepted> = None;
            for n in cuts {
                d.append(n);
                last = Some(accept(&d, last.as_ref()));
            }
            let t = d.tree();
            let a = last.unwrap();
            proptest::prop_assert_eq!(a.root, vigil_ledger::root(&t, t.size()).unwrap());
        }
    }
}

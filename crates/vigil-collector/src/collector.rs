//! The collector: registered devices, the witness key, and a store, tied together per push.

use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_ledger::{NoteSigner, NoteVerifier};

use crate::store::{Change, CollectorStore, StoreError};
use crate::witness::{cosign, judge_prepared, prepare, Push, PushError, Verdict};

/// How a push ended, as the device is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReply {
    /// HTTP status: 200 accepted or repeated, 409 replay or fork, 4xx refused.
    pub status: u16,
    /// Stable outcome code: `accepted`, `repeat`, `replay`, `fork`, or the refusal's code
    /// (`unknown_device`, `bad_signature`, `wrong_origin`, `bad_entries`, ...).
    pub code: &'static str,
    /// The device's tree size after the push (the accepted size).
    pub size: u64,
    /// Entries newly stored by this push.
    pub stored: u64,
    /// The checkpoint with the collector's cosignature/v1 line (accepted and repeat only).
    pub cosigned: Option<String>,
    /// Why it was refused, for people.
    pub error: Option<String>,
}

/// A collector over a store, knowing each device's checkpoint key.
pub struct Collector {
    store: Arc<dyn CollectorStore>,
    witness: NoteSigner,
    devices: BTreeMap<String, NoteVerifier>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("witness", &self.witness)
            .field("devices", &self.devices.len())
            .finish()
    }
}

impl Collector {
    /// A collector that co-signs as `witness` and accepts pushes from `devices` (device id to
    /// the checkpoint key its ledger signs with; the key's name is the log's origin).
    pub fn new(
        store: Arc<dyn CollectorStore>,
        witness: NoteSigner,
        devices: BTreeMap<String, NoteVerifier>,
    ) -> Collector {
        Collector {
            store,
            witness,
            devices,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CollectorStore> {
        &self.store
    }

    /// The witness's verifier (what a device or auditor checks cosignatures with).
    pub fn witness(&self) -> NoteVerifier {
        self.witness.verifier().accepting_cosignature_v1()
    }

    /// Handles one push by `device` (the identity its client certificate proved, never a name
    /// from the body) at `now_ms`. A store failure is an error (the device retries); every
    /// other outcome is a reply.
    pub fn push(
        &self,
        device: &str,
        push: &Push,
        model: Option<(&str, &str)>,
        now_ms: u64,
    ) -> Result<PushReply, StoreError> {
        let Some(key) = self.devices.get(device) else {
            return Ok(refused(
                403,
                "unknown_device",
                format!("{device} is not a registered device"),
            ));
        };
        // The signature first (cheap, no store); then the entries are checked and hashed on
        // several threads before the store's transaction, so the per-device lock is held only
        // for the decision and the writes.
        if let Err(e) = vigil_ledger::open_checkpoint(
            push.checkpoint.as_bytes(),
            std::slice::from_ref(key),
            Some(key.name()),
        ) {
            let e = PushError::Checkpoint(e);
            return Ok(refused(e.status(), e.code(), e.to_string()));
        }
        let prepared = prepare(&push.entries);
        let mut outcome: Option<Result<Verdict, PushError>> = None;
        let mut size = 0;
        self.store.push(device, model, now_ms, &mut |view| {
            size = view.accepted().map_or(0, |a| a.size);
            let verdict = judge_prepared(key, view.accepted(), push, &prepared, |n| {
                view.accepted_before(n)
            });
            let change = match &verdict {
                Ok(Verdict::Extend {
                    accepted, first, ..
                }) => Change::Extend {
                    accepted: accepted.clone(),
                    first: *first,
                    entries: &push.entries,
                    leaves: prepared.leaves(),
                },
                Ok(Verdict::Repeat { .. } | Verdict::Replay { .. }) => Change::Seen,
                Ok(Verdict::Fork { kind, checkpoint }) => Change::Fork {
                    kind: *kind,
                    note: push.checkpoint.clone(),
                    size: checkpoint.size,
                    root: checkpoint.root,
                },
                Err(_) => Change::Nothing,
            };
            outcome = Some(verdict);
            change
        })?;
        let Some(outcome) = outcome else {
            return Err(StoreError::Database(
                "the store did not run the push".into(),
            ));
        };
        let time = now_ms / 1000;
        let reply = match outcome {
            Ok(Verdict::Extend {
                accepted, count, ..
            }) => PushReply {
                status: 200,
                code: "accepted",
                size: accepted.size,
                stored: count,
                cosigned: cosign(&accepted.note, &self.witness, time).ok(),
                error: None,
            },
            Ok(Verdict::Repeat { .. }) => PushReply {
                status: 200,
                code: "repeat",
                size,
                stored: 0,
                cosigned: cosign(&push.checkpoint, &self.witness, time).ok(),
                error: None,
            },
            Ok(Verdict::Replay { checkpoint }) => PushReply {
                size,
                ..refused(
                    409,
                    "replay",
                    format!("checkpoint of size {} was accepted before; the newest is {size}", checkpoint.size),
                )
            },
            Ok(Verdict::Fork { kind, checkpoint }) => PushReply {
                size,
                ..refused(
                    409,
                    "fork",
                    format!(
                        "checkpoint of size {} contradicts the accepted history of size {size} ({})",
                        checkpoint.size,
                        kind.code()
                    ),
                )
            },
            Err(e) => PushReply {
                size,
                ..refused(e.status(), e.code(), e.to_string())
            },
        };
        Ok(reply)
    }
}

fn refused(status: u16, code: &'static str, error: String) -> PushReply {
    PushReply {
        status,
        code,
        size: 0,
        stored: 0,
        cosigned: None,
        error: Some(error),
    }
}

//! The device side of the push protocol: what a device sends, built from its own ledger.

use vigil_ledger::{Error, Ledger, OpenCheck};

use crate::api::{ModelRef, PushBody};

/// Builds the push a device sends when the collector has accepted `accepted` entries of its
/// log: its newest signed checkpoint, the entries from `accepted` to that checkpoint's size,
/// and a consistency proof from `accepted`. When the device cannot build a proof (its log is
/// smaller than what the collector accepted, or it has no checkpoint that large) it still
/// sends its newest checkpoint, with no entries and no proof: the collector decides.
///
/// `None` when the ledger has no signed checkpoint yet.
pub fn build_push(
    ledger: &Ledger,
    accepted: u64,
    model: Option<ModelRef>,
) -> Result<Option<PushBody>, Error> {
    let Some(newest) = ledger
        .checkpoints()?
        .into_iter()
        .max_by_key(|c| (c.size, c.id))
    else {
        return Ok(None);
    };
    let size = newest.size;
    let (first, entries, proof) = if accepted <= size {
        let mut entries = Vec::new();
        for (i, bytes) in (accepted..).zip(ledger.entries(accepted, size)?) {
            entries.push(String::from_utf8(bytes).map_err(|_| {
                Error::Integrity(vigil_ledger::IntegrityError::NotCanonical {
                    index: i,
                    reason: "not UTF-8".into(),
                })
            })?);
        }
        let proof = if accepted == 0 || accepted == size {
            Vec::new()
        } else {
            ledger
                .consistency(accepted, size)?
                .proof
                .iter()
                .map(hex::encode)
                .collect()
        };
        (accepted, entries, proof)
    } else {
        (accepted, Vec::new(), Vec::new())
    };
    Ok(Some(PushBody {
        checkpoint: newest.note,
        first,
        entries,
        proof,
        model,
        drift: None,
    }))
}

/// Opens a device ledger for pushing: only the tail after its newest checkpoint is checked
/// (see [`OpenCheck::TailSinceCheckpoint`]); the collector checks the rest against what it
/// accepted before.
pub fn open_for_push(path: &std::path::Path) -> Result<Ledger, Error> {
    Ledger::open_with(path, OpenCheck::TailSinceCheckpoint)
}

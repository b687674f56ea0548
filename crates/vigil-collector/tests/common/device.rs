//! A device log held in memory for the collector's tests: it appends entries, signs checkpoints
//! with its key and builds pushes with consistency proofs.

use vigil_collector::Push;
use vigil_ledger::{leaf_hash, Checkpoint, MemoryTree, NoteSigner};

pub(crate) struct Device {
    pub(crate) signer: NoteSigner,
    pub(crate) entries: Vec<Vec<u8>>,
}

impl Device {
    /// The device `device-{seed}.example`, its key made from `seed`.
    pub(crate) fn new(seed: u8) -> Device {
        Device::named(&format!("device-{seed}.example"), seed)
    }

    /// The device `name` (its log's origin), its key made from `seed`.
    pub(crate) fn named(name: &str, seed: u8) -> Device {
        Device {
            signer: NoteSigner::new(name, ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
                .unwrap(),
            entries: Vec::new(),
        }
    }

    pub(crate) fn id(&self) -> String {
        self.signer.name().to_string()
    }

    /// Appends `n` canonical inference-like entries.
    pub(crate) fn append(&mut self, n: usize) {
        for _ in 0..n {
            let i = self.entries.len();
            self.entries
                .push(format!("{{\"i\":{i},\"type\":\"guard.inference\"}}").into_bytes());
        }
    }

    /// Appends `n` entries padded with `pad` bytes each.
    pub(crate) fn append_padded(&mut self, n: usize, pad: usize) {
        let pad = "x".repeat(pad);
        for _ in 0..n {
            let i = self.entries.len();
            self.entries.push(
                format!("{{\"i\":{i},\"pad\":\"{pad}\",\"type\":\"guard.inference\"}}")
                    .into_bytes(),
            );
        }
    }

    pub(crate) fn tree(&self) -> MemoryTree {
        MemoryTree::new(self.entries.iter().map(|e| leaf_hash(e)).collect())
    }

    /// The newest checkpoint, the entries from `from` on and a consistency proof from `from`.
    pub(crate) fn push_from(&self, from: u64) -> Push {
        let t = self.tree();
        let note = Checkpoint {
            origin: self.id(),
            size: t.size(),
            root: vigil_ledger::root(&t, t.size()).unwrap(),
            extensions: vec![],
        }
        .sign(&[&self.signer])
        .unwrap();
        let proof = if from == 0 || from >= t.size() {
            vec![]
        } else {
            vigil_ledger::consistency_proof(&t, from, t.size()).unwrap()
        };
        Push {
            checkpoint: note,
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

//! What one scan may spend in total, shared by every file and thread of a directory walk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::Limits;

/// The shared budgets of one scan: decompressed bytes held in memory, and decompressed bytes
/// produced.
#[derive(Debug)]
pub(crate) struct Budget {
    memory: AtomicU64,
    output: AtomicU64,
    output_cap: u64,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Arc<Budget> {
        Arc::new(Budget {
            memory: AtomicU64::new(limits.max_in_memory),
            output: AtomicU64::new(limits.max_decompressed_total),
            output_cap: limits.max_decompressed_total,
        })
    }

    fn take(counter: &AtomicU64, n: u64) -> bool {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }

    /// Spend `n` decompressed bytes; false once the scan's output budget is spent.
    pub(crate) fn spend_output(&self, n: u64) -> bool {
        Budget::take(&self.output, n)
    }

    /// The scan's whole output budget.
    pub(crate) fn output_cap(&self) -> u64 {
        self.output_cap
    }

    /// Reserve `n` bytes of the shared memory budget; give them back by dropping the guard.
    pub(crate) fn reserve(self: &Arc<Self>, n: u64) -> Option<Reservation> {
        Budget::take(&self.memory, n).then(|| Reservation {
            budget: Arc::clone(self),
            bytes: n,
        })
    }
}

/// Bytes of the shared memory budget held by one buffer; returned on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Reservation {
    /// Hold `n` more bytes; false (and nothing held) if the budget cannot give them.
    pub(crate) fn grow(&mut self, n: u64) -> bool {
        let ok = Budget::take(&self.budget.memory, n);
        if ok {
            self.bytes += n;
        }
        ok
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.memory.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

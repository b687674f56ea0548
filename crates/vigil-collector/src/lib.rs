//! The fleet collector's witness: it decides, for each push of a device's audit log, whether
//! the device's new signed checkpoint extends the history the collector has already accepted
//! for it, and co-signs it (C2SP tlog-cosignature `cosignature/v1`) when it does.
//!
//! A device's ledger (`vigil-ledger`) is tamper-evident on its own only as long as someone
//! remembers an earlier checkpoint. The collector is that someone for a fleet: it keeps each
//! device's newest accepted tree head and the right border of its tree ([`Frontier`]), so a
//! rewritten, truncated or forked device history is caught at the next push, and the honest
//! devices are unaffected.
//!
//! The decision has no I/O: [`judge`] takes the device's registered key, its
//! last accepted state and one [`Push`], and returns a typed [`Verdict`] (extend, repeat,
//! replay, fork) or a [`PushError`] that names its HTTP status and stable code. A
//! [`Collector`] runs it inside one store transaction per push ([`CollectorStore`]; SQLite
//! for one site in [`SqliteStore`], PostgreSQL for a fleet in [`PostgresStore`]), so
//! concurrent pushes of one device are serialised, even across collector processes on one
//! database, nothing acknowledged is lost or stored twice, and it co-signs what it accepts.
//! (The mutual-TLS server and the dashboard of issue 19 build on these.)
//!
//! # Example
//! ```
//! use vigil_collector::{judge, Push, Verdict};
//! use vigil_ledger::{Checkpoint, Frontier, NoteSigner, leaf_hash};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let device = NoteSigner::new("device-7.example", ed25519_dalek::SigningKey::from_bytes(&[7; 32]))?;
//! let entries: Vec<Vec<u8>> = vec![br#"{"a":1}"#.to_vec(), br#"{"a":2}"#.to_vec()];
//! let mut frontier = Frontier::new();
//! for e in &entries {
//!     frontier.push(leaf_hash(e), &mut Vec::new());
//! }
//! let note = Checkpoint { origin: "device-7.example".into(), size: 2, root: frontier.root(),
//!                         extensions: vec![] }.sign(&[&device])?;
//! let push = Push { checkpoint: note, first: 0, entries, proof: vec![] };
//! let verdict = judge(&device.verifier(), None, &push, |_| false)?;
//! assert!(matches!(verdict, Verdict::Extend { .. }));
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod api;
mod app;
mod canonical;
mod clients;
mod collector;
mod dashboard;
#[cfg(feature = "demo")]
mod demo;
mod device;
mod postgres;
mod push;
mod server;
mod sqlite;
mod store;
mod uplink;
mod witness;

// The public interface.
// The decision on one push, with no I/O.
pub use vigil_ledger::Frontier;
pub use witness::{
    cosign, judge, judge_prepared, prepare, Accepted, ForkKind, Prepared, Push, PushError, Verdict,
};
// The canonical-form check every pushed entry passes.
pub use canonical::{check_event, NotCanonical};
// Storage: the trait both stores implement, its rows, the single-site SQLite store and the
// fleet's PostgreSQL store.
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use store::{
    AlarmKind, AlarmRow, Change, CheckpointRow, CollectorStore, DeviceRow, DriftPoint, EntryRow,
    PushView, StoreError,
};
pub use vigil_core::time::rfc3339;
// Who may call: clients.toml.
pub use clients::{Clients, ClientsError, MAX_CLIENTS_BYTES};
// The collector: registered devices, the witness key and a store.
pub use collector::{Collector, PushReply};
// The device side: a push built from a device's own ledger.
pub use device::{build_push, open_for_push};
// ... and over the network.
pub use push::{
    default_model, push_once, read_drift, CollectorUrl, PushClientError, PushOptions, PushReport,
    MAX_DRIFT_BYTES,
};
// ... and on an interval from a gateway (`vigil serve --collector`).
pub use uplink::{
    append_cosignature, backoff, cosignatures_path, read_cosignatures, run_uplink,
    StoredCosignature, UplinkOptions, UplinkOutcome, DEFAULT_PUSH_INTERVAL, MAX_PUSH_BACKOFF,
};
// HTTP: the push protocol and the operators' API as an axum router.
pub use app::router;
// The mutual-TLS server.
pub use api::{
    Caller, DriftResult, DriftSummary, Metrics, ModelRef, PushAnswer, PushBody, Role, MAX_PAGE,
    MAX_PUSH_BYTES,
};
#[cfg(feature = "demo")]
pub use demo::{DemoCollector, DEMO_OPERATOR};
pub use server::{load_witness, Database, ServeError, ServeOptions, Server, POSTGRES_POOL};

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    /// Parses arbitrary bytes as a push body and a clients file; a parsed push is judged
    /// against a fixed device key and must not panic.
    pub fn fuzz_push(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::Clients::parse(text);
        }
        let Ok(body) = serde_json::from_slice::<crate::PushBody>(data) else {
            return;
        };
        let public = vigil_core::SigningKey::ed25519_from_seed(&[7; 32]).public_key();
        let Ok(key) = vigil_ledger::NoteVerifier::from_public_key("device", &public) else {
            return;
        };
        let proof: Vec<vigil_ledger::Hash> = body
            .proof
            .iter()
            .filter_map(|h| hex::decode(h).ok())
            .filter_map(|b| vigil_ledger::Hash::try_from(b.as_slice()).ok())
            .collect();
        let push = crate::Push {
            checkpoint: body.checkpoint,
            first: body.first,
            entries: body.entries.into_iter().map(String::into_bytes).collect(),
            proof,
        };
        let _ = crate::judge(&key, None, &push, |_| false);
    }

    /// The validating scanner must agree with the canonicalizer on arbitrary bytes: accepted
    /// exactly when canonicalizing gives the same bytes back.
    pub fn fuzz_canonical(data: &[u8]) {
        let limits = vigil_ledger::Limits::default();
        let ours = crate::check_event(data, &limits).is_ok();
        let reference = vigil_ledger::canonicalize_event(data, &limits).is_ok_and(|c| c == data);
        assert_eq!(ours, reference, "{:?}", String::from_utf8_lossy(data));
    }
}

//! Data-collection controls for ML-enabled medical devices (AAMI CR515's first phase; threats
//! T01, T02, T03, T17 and T20): prove which data trained and validated a model, see exactly what
//! changed between two versions of a data set, and screen data for flipped labels and outliers
//! before they reach training.
//!
//! * [`hash_path`], [`write_signed`], [`open`]: **signed dataset manifests**. A manifest holds
//!   the schema, the sample count, the RFC 9162 Merkle root over one SHA-256 digest per sample
//!   (the digests themselves are in a sidecar file), label and subgroup counts and provenance,
//!   signed as an in-toto statement in a DSSE envelope (predicate type [`PREDICATE_TYPE`]).
//!   Digests and counts only: a manifest can leave the hospital. The sample encoding is
//!   documented in [`samples`] so another tool can recompute it.
//! * [`verify`] and [`diff`]: data against a manifest, or two manifests; every changed, added or
//!   removed sample is named (by id, path or row number, see [`compare`]).
//! * [`screen`](mod@crate::screen): label issues by confident learning, as cleanlab 2.9's
//!   `find_label_issues` finds them, on given or cross-validated predicted probabilities;
//!   outliers per class; subgroup counts and label rates.
//!
//! # Example
//!
//! ```
//! use vigil_core::{KeyAlgorithm, SigningKey};
//! use vigil_data::{Identity, Roles};
//!
//! let dir = tempfile::tempdir()?;
//! let csv = dir.path().join("train.csv");
//! std::fs::write(&csv, "id,age,label\na1,61,M\na2,47,B\na3,52,B\n")?;
//! let roles = Roles { id: Some("id".into()), label: Some("label".into()), subgroups: vec![] };
//! let samples = vigil_data::hash_path(&csv, &roles, &|_| {})?;
//! assert_eq!(samples.labels["B"], 2);
//!
//! let key = SigningKey::generate(KeyAlgorithm::Ed25519);
//! let identity = Identity { name: "train".into(), version: "1".into(), id_column: roles.id.clone(),
//!     label_column: roles.label.clone(), ..Identity::default() };
//! let out = dir.path().join("train.manifest.json");
//! vigil_data::write_signed(&samples, &identity, &out, &key)?;
//!
//! // One changed row is named by its id.
//! std::fs::write(&csv, "id,age,label\na1,61,M\na2,47,M\na3,52,B\n")?;
//! let opened = vigil_data::open(&out, Some(&key.public_key()))?;
//! let v = vigil_data::verify(&opened, &csv, &|_| {})?;
//! assert!(!v.verified);
//! assert_eq!(v.changed, [vigil_data::SampleRef::Name("a2".into())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod compare;
mod dataset;
mod error;
mod manifest;
pub mod samples;
pub mod screen;

// The public interface:
// hashing data sets
pub use crate::dataset::hash_path;
pub use crate::samples::{
    merkle_root, sha256, ColumnType, Format, GroupCount, Roles, Samples, CSV_ENCODING,
    FILE_ENCODING,
};
// manifests
pub use crate::manifest::{
    decode_sidecar, encode_sidecar, open, parse as parse_manifest, sidecar_path, write_signed,
    Identity, Manifest, Opened, Provenance, Sidecar, MAX_MANIFEST_BYTES, MAX_NAME_BYTES,
    MAX_SIDECAR_BYTES, PREDICATE_TYPE,
};
// verify and diff
pub use crate::compare::{Differences, SampleRef};
pub use crate::dataset::{diff, verify, GroupShift, ManifestDiff, Shift, Verification};
// screening
pub use crate::screen::{screen, Report, ScreenOptions};
// errors
pub use crate::error::DataError;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod internal {
    /// Parses bytes as a manifest (unverified) and as a sidecar; must never panic.
    pub fn fuzz_manifest(data: &[u8]) {
        let _ = crate::manifest::parse(data, None);
        if let Ok((d, n)) = crate::manifest::decode_sidecar(data) {
            let again = crate::manifest::encode_sidecar(&d, n.as_deref());
            assert_eq!(again, data);
        }
    }

    /// Hashes arbitrary bytes as a CSV data set with roles; must never panic.
    pub fn fuzz_csv(data: &[u8]) {
        let roles = crate::Roles {
            id: Some("a".into()),
            label: Some("b".into()),
            subgroups: vec!["c".into()],
        };
        let _ = crate::samples::hash_csv(data, "fuzz", &roles, &|_| {});
        let _ = crate::samples::hash_csv(data, "fuzz", &crate::Roles::default(), &|_| {});
    }
}

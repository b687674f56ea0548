//! Secure model updates for a Vigil device, over The Update Framework (TUF).
//!
//! A release is one TUF target `<name>/<version>.tar`: an uncompressed POSIX tar of a signed
//! bundle. [`Install`] refreshes the TUF metadata with [`tough`] (rollback, freeze,
//! mix-and-match, endless-data and threshold checks), downloads the target with its length and
//! hash checked as it streams, unpacks it into staging within [`archive::Limits`], verifies the
//! bundle's signature and trust policy on the unpacked bytes, runs the model-file scanner and
//! the bundle's acceptance set through the guard, and only then switches `STATE/current` to it
//! with one `rename(2)`. Every step is an `update.step` event in the device's ledger. A refused
//! update leaves the active release as it was.
//!
//! ```no_run
//! use std::path::Path;
//! use vigil_bundle::Trust;
//! use vigil_core::PublicKey;
//! use vigil_update::{Install, UpdateResult};
//!
//! let trust = Trust::Key(PublicKey::load(Path::new("manufacturer.pub.pem"))?);
//! let report = Install::new("https://updates.example/ecg", Path::new("/var/lib/vigil"), "ecg", trust)
//!     .root(Path::new("root.json"))
//!     .run()?;
//! if report.result == UpdateResult::Refused {
//!     eprintln!("refused: {:?} {}", report.reason, report.detail);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The publisher side ([`publish`]) writes repositories in the layout python-tuf uses.

pub mod acceptance;
pub mod archive;
mod install;
pub mod publish;
mod reason;
mod state;
mod transport;
mod tuf;

pub use install::{
    rollback, status, CurrentRelease, Install, StatusReport, UpdateReport, UpdateResult,
};
pub use reason::{Reason, Refusal, UpdateError};
pub use state::State;
pub use transport::RepoTransport;
pub use tuf::{MetadataLimits, TrustedVersions};

/// Fuzzing hooks (not a stable API).
#[doc(hidden)]
pub mod internal {
    /// Unpacks `data` as a release archive into a fresh temporary directory, within small
    /// limits.
    pub fn fuzz_archive(data: &[u8]) {
        let Ok(dir) = tempfile::tempdir() else { return };
        let limits = crate::archive::Limits {
            max_members: 64,
            max_file_bytes: 1 << 20,
            max_total_bytes: 4 << 20,
            ..crate::archive::Limits::default()
        };
        let _ = crate::archive::unpack(data, dir.path(), &limits);
    }

    /// The metadata paths Vigil owns: `state.json`, a targets role as tough parses it and the
    /// release names and fetch paths derived from it, and `[acceptance]`.
    pub fn fuzz_metadata(data: &[u8]) {
        let _ = serde_json::from_slice::<crate::state::Saved>(data);
        if let Ok(t) = serde_json::from_slice::<tough::schema::Signed<tough::schema::Targets>>(data)
        {
            for (name, target) in t.signed.targets_iter() {
                // Only release names are ever fetched; theirs never leave `targets/<name>/`.
                if crate::tuf::release_of(name.raw(), "model").is_some() {
                    let digest = hex::encode(&*target.hashes.sha256);
                    let path = crate::tuf::consistent_path(name.raw(), Some(&digest));
                    assert!(path.starts_with("model/") && !path.contains(".."), "{path}");
                }
            }
        }
        if let Ok(config) =
            vigil_bundle::BundleConfig::parse(data, std::path::Path::new("vigil.toml"))
        {
            let _ = config.acceptance();
        }
    }
}

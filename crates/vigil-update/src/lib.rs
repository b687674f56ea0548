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

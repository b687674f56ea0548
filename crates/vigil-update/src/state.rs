//! The device's update state directory.
//!
//! ```text
//! STATE/
//!   current -> releases/<version>   the active release (a symbolic link, replaced by rename)
//!   releases/<version>/             unpacked, verified bundles
//!   tuf/                            the trusted TUF metadata (root, timestamp, snapshot, targets)
//!   state.json                      name, activation history, withdrawn releases, latest known time
//!   ledger.db, ledger-key.pem       the device's update ledger and its checkpoint key
//!   tmp/                            downloads and staging (emptied at every start)
//!   lock                            held while a command changes the state
//! ```
//!
//! `current` is the truth about what runs: every write of `state.json` is atomic, and at the
//! start of every command the history is reconciled with `current`, so a crash between the
//! switch and the write of `state.json` is repaired, never guessed about.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::reason::UpdateError;
use crate::tuf::TrustedVersions;

/// `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Saved {
    /// The bundle name this state holds.
    pub(crate) name: Option<String>,
    /// Versions activated, oldest first; the last is `current`.
    pub(crate) history: Vec<String>,
    /// Versions rolled back from or failed their health check: never picked again as "the
    /// newest" (an explicit `--version` still installs one).
    pub(crate) withdrawn: Vec<String>,
    /// The newest time the updater has trusted (RFC 3339).
    pub(crate) latest_known_time: Option<String>,
    /// Versions of the trusted metadata.
    pub(crate) trusted: TrustedVersions,
}

/// An opened, locked state directory.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    pub(crate) saved: Saved,
    _lock: File,
}

const MAX_STATE_BYTES: u64 = 1 << 20;

fn state_err(path: &Path, reason: impl Into<String>) -> UpdateError {
    UpdateError::State {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl State {
    /// Opens `dir` (making it, mode 0700, if `create`), takes its lock (waiting for another
    /// command to finish), empties `tmp/`, and reconciles the history with `current`.
    pub fn open(dir: &Path, create: bool) -> Result<State, UpdateError> {
        if create {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir).map_err(UpdateError::io(dir))?;
            for sub in ["releases", "tuf", "tmp"] {
                b.create(dir.join(sub))
                    .map_err(UpdateError::io(&dir.join(sub)))?;
            }
        } else if !dir.join("state.json").exists() && !dir.join("tuf/root.json").exists() {
            return Err(state_err(
                dir,
                "no update state here (nothing was installed yet)",
            ));
        }
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(UpdateError::io(&lock_path))?;
        // Another command on this state waits here (an advisory lock, released at exit).
        lock_exclusive(&lock).map_err(UpdateError::io(&lock_path))?;
        let tmp = dir.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(UpdateError::io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(UpdateError::io(&tmp))?;
        let path = dir.join("state.json");
        let saved = match vigil_core::read_bounded(&path, MAX_STATE_BYTES) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| state_err(&path, format!("not a state file: {e}")))?,
            Err(e) if e.is_not_found() => Saved::default(),
            Err(e) => return Err(e.into()),
        };
        let mut state = State {
            dir: dir.to_path_buf(),
            saved,
            _lock: lock,
        };
        state.reconcile()?;
        Ok(state)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn path(&self, sub: &str) -> PathBuf {
        self.dir.join(sub)
    }

    /// The release directory of `version`.
    pub fn release_dir(&self, version: &str) -> PathBuf {
        self.dir.join("releases").join(version)
    }

    /// The active release's version, read from the `current` link.
    pub fn current(&self) -> Result<Option<String>, UpdateError> {
        let link = self.dir.join("current");
        match std::fs::read_link(&link) {
            Ok(target) => {
                let text = target.to_str().unwrap_or_default();
                let version = text
                    .strip_prefix("releases/")
                    .filter(|v| !v.is_empty() && !v.contains('/'))
                    .ok_or_else(|| {
                        state_err(&link, format!("points to {text:?}, not releases/<version>"))
                    })?;
                Ok(Some(version.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(UpdateError::io(&link)(e)),
        }
    }

    /// The release before the active one in the activation history.
    pub fn previous(&self) -> Option<String> {
        let h = &self.saved.history;
        h.len().checked_sub(2).and_then(|i| h.get(i)).cloned()
    }

    fn reconcile(&mut self) -> Result<(), UpdateError> {
        let Some(current) = self.current()? else {
            return Ok(());
        };
        let history = &mut self.saved.history;
        if history.last() == Some(&current) {
            return Ok(());
        }
        match history.iter().rposition(|v| *v == current) {
            // A rollback switched `current` but did not save: drop what came after it.
            Some(i) => history.truncate(i + 1),
            // An install switched `current` but did not save.
            None => history.push(current),
        }
        self.save()
    }

    /// Writes `state.json` atomically.
    pub(crate) fn save(&self) -> Result<(), UpdateError> {
        let bytes = serde_json::to_vec_pretty(&self.saved)
            .map_err(|e| state_err(&self.dir, e.to_string()))?;
        vigil_core::write_atomic(&self.dir.join("state.json"), &bytes)?;
        Ok(())
    }

    /// Points `current` at `releases/<version>` with one rename of a new link, then syncs the
    /// directory so the switch survives power loss.
    pub(crate) fn switch(&self, version: &str) -> Result<(), UpdateError> {
        let release = self.release_dir(version);
        if !release.is_dir() {
            return Err(state_err(&release, "release directory missing"));
        }
        let tmp = self.dir.join(".current.new");
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(UpdateError::io(&tmp)(e)),
        }
        symlink(Path::new("releases").join(version).as_path(), &tmp)
            .map_err(UpdateError::io(&tmp))?;
        let link = self.dir.join("current");
        std::fs::rename(&tmp, &link).map_err(UpdateError::io(&link))?;
        sync_dir(&self.dir)
    }

    /// Removes releases beyond the newest `keep` (by version), never the active or the
    /// previous one; returns the versions removed.
    pub(crate) fn prune(&self, keep: usize) -> Result<Vec<String>, UpdateError> {
        let releases = self.releases()?;
        let current = self.current()?;
        let previous = self.previous();
        let mut removed = Vec::new();
        for (i, (_, name)) in releases.iter().rev().enumerate() {
            if i < keep || Some(name) == current.as_ref() || Some(name) == previous.as_ref() {
                continue;
            }
            let dir = self.release_dir(name);
            std::fs::remove_dir_all(&dir).map_err(UpdateError::io(&dir))?;
            removed.push(name.clone());
        }
        if !removed.is_empty() {
            sync_dir(&self.dir.join("releases"))?;
        }
        Ok(removed)
    }

    /// The releases on disk, oldest version first.
    pub fn releases(&self) -> Result<Vec<(semver::Version, String)>, UpdateError> {
        let dir = self.dir.join("releases");
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(UpdateError::io(&dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(UpdateError::io(&dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Ok(v) = semver::Version::parse(name) {
                out.push((v, name.to_string()));
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "activation needs symbolic links (Unix)",
    ))
}

/// Syncs a directory's entries to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), UpdateError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(UpdateError::io(dir))
}

fn lock_exclusive(file: &File) -> std::io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive).map_err(std::io::Error::from)
}

//! Files read once into memory, and single files read and checked against a manifest: the
//! bytes handed out are the bytes that were hashed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::{BundleConfig, CONFIG_FILE, MAX_CONFIG_BYTES};
use crate::error::{BundleError, Discrepancy};
use crate::hash::{self, ByteSource, Progress};
use crate::manifest::Manifest;
use crate::path::ResourcePath;
use crate::walk::FileEntry;
use crate::Limits;

/// One file's bytes, read at most once (or why they could not be read).
type LoadCell = Arc<OnceLock<Result<Arc<[u8]>, LoadFailure>>>;

/// Why a file could not be loaded, kept so every reader of the cell gets the same error.
#[derive(Debug, Clone)]
enum LoadFailure {
    TooLarge {
        max: u64,
    },
    NotRegular {
        kind: &'static str,
    },
    Io {
        kind: std::io::ErrorKind,
        message: String,
    },
}

impl LoadFailure {
    fn of(e: vigil_core::ReadError) -> LoadFailure {
        match e {
            vigil_core::ReadError::TooLarge { max, .. } => LoadFailure::TooLarge { max },
            vigil_core::ReadError::NotRegular { kind, .. } => LoadFailure::NotRegular { kind },
            other => {
                let kind = match &other {
                    vigil_core::ReadError::Io { source, .. } => source.kind(),
                    _ => std::io::ErrorKind::Other,
                };
                LoadFailure::Io {
                    kind,
                    message: other.reason(),
                }
            }
        }
    }

    fn error(&self, path: &Path) -> BundleError {
        let path = path.to_path_buf();
        match self {
            LoadFailure::TooLarge { max } => BundleError::Limit {
                what: format!("{}: file size", path.display()),
                limit: *max,
            },
            LoadFailure::NotRegular { kind } => {
                BundleError::File(vigil_core::ReadError::NotRegular { path, kind })
            }
            LoadFailure::Io { kind, message } => BundleError::Io {
                path,
                kind: *kind,
                message: message.clone(),
            },
        }
    }
}

/// Which files [`Memory`] keeps, by bundle name; the others are hashed from disk and dropped.
pub(crate) type Keep<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// Whole-file SHA-256s a caller computed as it wrote the files, by bundle name.
pub(crate) type Known<'a> = &'a HashMap<String, [u8; 32]>;

/// Files read once into memory; every digest is computed over these bytes.
pub(crate) struct Memory<'a> {
    cache: Mutex<HashMap<PathBuf, LoadCell>>,
    loaded: AtomicU64,
    max: u64,
    keep: Option<Keep<'a>>,
    known: Option<Known<'a>>,
}

fn poisoned() -> BundleError {
    BundleError::Usage("internal error: a lock was poisoned by a panic".into())
}

impl<'a> Memory<'a> {
    /// Keeps at most `max` bytes in all, of the files `keep` accepts (all without it).
    /// For a file not kept, a whole-file digest in `known` stands for reading it.
    pub(crate) fn new(max: u64, keep: Option<Keep<'a>>, known: Option<Known<'a>>) -> Memory<'a> {
        Memory {
            cache: Mutex::new(HashMap::new()),
            loaded: AtomicU64::new(0),
            max,
            keep,
            known,
        }
    }

    fn load(&self, file: &FileEntry) -> Result<Arc<[u8]>, BundleError> {
        let cell = {
            let mut map = self.cache.lock().map_err(|_| poisoned())?;
            map.entry(file.path.clone()).or_default().clone()
        };
        let result = cell.get_or_init(|| {
            let budget = self.max.saturating_sub(self.loaded.load(Ordering::SeqCst));
            let bytes = vigil_core::read_bounded(&file.path, budget).map_err(LoadFailure::of)?;
            self.loaded.fetch_add(bytes.len() as u64, Ordering::SeqCst);
            Ok(Arc::from(bytes))
        });
        result.clone().map_err(|f| f.error(&file.path))
    }

    /// The bytes loaded for `path`, if it was loaded.
    pub(crate) fn into_files(self) -> Result<HashMap<PathBuf, Arc<[u8]>>, BundleError> {
        let cache = self.cache.into_inner().map_err(|_| poisoned())?;
        Ok(cache
            .into_iter()
            .filter_map(|(path, cell)| {
                let bytes = cell.get().cloned()?.ok()?;
                Some((path, bytes))
            })
            .collect())
    }
}

impl ByteSource for Memory<'_> {
    fn digest(
        &self,
        file: &FileEntry,
        start: u64,
        end: Option<u64>,
        progress: Option<Progress<'_>>,
    ) -> Result<[u8; 32], BundleError> {
        if let Some(keep) = self.keep {
            if !keep(file.name.as_str()) {
                let whole = start == 0 && end.is_none();
                let known = self.known.filter(|_| whole);
                if let Some(d) = known.and_then(|k| k.get(file.name.as_str())) {
                    if let Some(p) = progress {
                        p(file.size);
                    }
                    return Ok(*d);
                }
                return hash::digest_file(&file.path, start, end, progress);
            }
        }
        let data = self.load(file)?;
        let digest =
            hash::digest_memory(&data, start, end).ok_or_else(|| BundleError::UnsupportedFile {
                path: file.path.clone(),
                reason: "file changed size while it was being read".into(),
            })?;
        if let Some(p) = progress {
            p(end.unwrap_or(data.len() as u64).saturating_sub(start));
        }
        Ok(digest)
    }
}

/// Reads `vigil.toml` if the manifest covers it, checking its bytes against the manifest.
pub(crate) fn read_config(
    dir: &Path,
    manifest: &Manifest,
    limits: &Limits,
) -> Result<Option<BundleConfig>, BundleError> {
    let Ok(name) = ResourcePath::parse(CONFIG_FILE) else {
        return Ok(None);
    };
    let Some(bytes) = read_verified(dir, manifest, &name, MAX_CONFIG_BYTES as u64, limits)? else {
        return Ok(None);
    };
    BundleConfig::parse(&bytes, &dir.join(CONFIG_FILE)).map(Some)
}

/// Reads one covered file into memory and checks it against the manifest before returning it.
fn read_verified(
    dir: &Path,
    manifest: &Manifest,
    name: &ResourcePath,
    max: u64,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, BundleError> {
    let wanted: Vec<_> = manifest
        .resources
        .iter()
        .filter(|r| &r.path == name)
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let path = dir.join(name.as_str());
    let bytes = vigil_core::read_bounded(&path, max.min(limits.max_load_bytes))?;
    let changed = |detail: &str| BundleError::Mismatch {
        dir: dir.to_path_buf(),
        problems: vec![Discrepancy::Changed {
            name: name.to_string(),
            detail: detail.into(),
        }],
    };
    for r in &wanted {
        let (start, end) = match r.range {
            Some((s, e)) => (s, Some(e)),
            None => (0, None),
        };
        if hash::digest_memory(&bytes, start, end) != Some(r.digest) {
            return Err(changed("changed after it was verified"));
        }
    }
    let total: u64 = wanted
        .iter()
        .map(|r| r.range.map_or(bytes.len() as u64, |(s, e)| e - s))
        .sum();
    if total != bytes.len() as u64 {
        return Err(changed("size changed after it was verified"));
    }
    Ok(Some(bytes))
}

//! Listing the files of a bundle directory, as `model_signing` does, with its ignore rules.

use std::path::{Path, PathBuf};

use crate::error::BundleError;
use crate::path::ResourcePath;
use crate::Limits;

/// The paths `model_signing` leaves out by default: git metadata.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// A regular file found in a bundle.
#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    /// Its name in the bundle.
    pub(crate) name: ResourcePath,
    /// Its path on disk.
    pub(crate) path: PathBuf,
    /// Its size when listed.
    pub(crate) size: u64,
}

/// Lists every regular file under `dir` that no ignore path covers, sorted by name.
///
/// Ignored subtrees are not entered. A symbolic link is an error unless `allow_symlinks`; then a
/// link to a file is listed (its target's bytes are what is hashed). A link to a directory is
/// always an error: `model_signing` does not follow such links (Python's `pathlib` glob skips
/// them), so the files behind one would be covered by neither signer; move the directory into
/// the bundle or add it to the ignore paths. Sockets, FIFOs and devices are errors. File names
/// must be UTF-8.
pub(crate) fn list_files(
    dir: &Path,
    ignore: &[ResourcePath],
    allow_symlinks: bool,
    limits: &Limits,
) -> Result<Vec<FileEntry>, BundleError> {
    let meta = std::fs::metadata(dir).map_err(|e| BundleError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(BundleError::Directory {
            path: dir.to_path_buf(),
            reason: "not a directory (a bundle is a directory)".into(),
        });
    }
    let mut out = Vec::new();
    // (directory on disk, its path relative to the bundle, depth)
    let mut stack = vec![(dir.to_path_buf(), PathBuf::new(), 0usize)];
    while let Some((abs, rel, depth)) = stack.pop() {
        if depth > limits.max_depth {
            return Err(BundleError::Limit {
                what: format!("{}: directory depth", abs.display()),
                limit: limits.max_depth as u64,
            });
        }
        let entries = std::fs::read_dir(&abs).map_err(|e| BundleError::io(&abs, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| BundleError::io(&abs, e))?;
            let path = entry.path();
            let rel_path = rel.join(entry.file_name());
            let name = ResourcePath::from_relative(&rel_path).map_err(|reason| {
                BundleError::UnsupportedFile {
                    path: path.clone(),
                    reason,
                }
            })?;
            if ignore.iter().any(|i| name.is_within(i)) {
                continue;
            }
            let lmeta = std::fs::symlink_metadata(&path).map_err(|e| BundleError::io(&path, e))?;
            let ft = lmeta.file_type();
            if ft.is_symlink() {
                if !allow_symlinks {
                    return Err(BundleError::UnsupportedFile {
                        path,
                        reason: "symbolic link, and this signature does not allow symlinks".into(),
                    });
                }
                let target =
                    std::fs::metadata(&path).map_err(|e| BundleError::UnsupportedFile {
                        path: path.clone(),
                        reason: format!("broken symbolic link: {e}"),
                    })?;
                if target.is_file() {
                    out.push(FileEntry {
                        name,
                        path,
                        size: target.len(),
                    });
                } else if target.is_dir() {
                    return Err(BundleError::UnsupportedFile {
                        path,
                        reason: "symbolic link to a directory: its files could not be signed \
                                 (model_signing does not follow such links); move the directory \
                                 into the bundle or ignore the link"
                            .into(),
                    });
                } else {
                    return Err(BundleError::UnsupportedFile {
                        path,
                        reason: "symbolic link to a special file".into(),
                    });
                }
            } else if ft.is_dir() {
                stack.push((path, rel_path, depth + 1));
            } else if ft.is_file() {
                out.push(FileEntry {
                    name,
                    path,
                    size: lmeta.len(),
                });
            } else {
                return Err(BundleError::UnsupportedFile {
                    path,
                    reason: "not a regular file or directory (socket, FIFO or device)".into(),
                });
            }
            if out.len() as u64 > limits.max_files {
                return Err(BundleError::Limit {
                    what: format!("{}: files in the bundle", dir.display()),
                    limit: limits.max_files,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

//! Release archives: a bundle directory as one uncompressed POSIX tar (ustar, or pax for what
//! ustar cannot name), and the bounded, path-safe unpacking of one.
//!
//! Unpacking refuses, naming the member: absolute paths, `..`, anything but regular files and
//! directories (symbolic and hard links, devices, FIFOs), names that are not UTF-8, two
//! members with the same name, and more members or bytes than [`Limits`] allow. Every file is
//! created new (never opened through an existing path) and synced, with its directories, before
//! the unpacking returns.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Bounds on what an archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most members (files and directories).
    pub max_members: usize,
    /// Most bytes in one file.
    pub max_file_bytes: u64,
    /// Most bytes in all files together.
    pub max_total_bytes: u64,
    /// Longest member path, in bytes.
    pub max_path_bytes: usize,
    /// Deepest member path, in components.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 4,096 members, 4 GiB per file, 8 GiB in all, paths of at most 255 bytes and 16 levels.
    fn default() -> Self {
        Limits {
            max_members: 4096,
            max_file_bytes: 4 << 30,
            max_total_bytes: 8 << 30,
            max_path_bytes: 255,
            max_depth: 16,
        }
    }
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A member the rules refuse; `member` is its name as stored (lossy UTF-8).
    #[error("member {member:?}: {reason}")]
    Member {
        /// The member's name.
        member: String,
        /// Why.
        reason: String,
    },
    /// The archive as a whole (truncated, too many members, not a tar).
    #[error("{0}")]
    Malformed(String),
    /// Writing the unpacked files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// What was unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// Files unpacked, by relative path with `/`.
    pub files: Vec<String>,
    /// Bytes in all files.
    pub bytes: u64,
    /// The SHA-256 of each file's bytes as they were written, by the same names: bundle
    /// verification uses them instead of reading large files back.
    pub digests: std::collections::HashMap<String, [u8; 32]>,
}

fn member(name: &str, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Member {
        member: name.to_string(),
        reason: reason.into(),
    }
}

/// A member's path checked: relative, only plain components (a leading `./` is allowed), UTF-8,
/// within the length and depth limits. Returns the components.
fn safe_path(raw: &[u8], limits: &Limits) -> Result<Vec<String>, ArchiveError> {
    let shown = String::from_utf8_lossy(raw).into_owned();
    let text = std::str::from_utf8(raw).map_err(|_| member(&shown, "name is not UTF-8"))?;
    if text.len() > limits.max_path_bytes {
        return Err(member(
            &shown,
            format!("name longer than {} bytes", limits.max_path_bytes),
        ));
    }
    if text.contains('\\') || text.contains('\0') {
        return Err(member(&shown, "name contains a backslash or NUL"));
    }
    let mut parts = Vec::new();
    for c in Path::new(text).components() {
        match c {
            Component::Normal(p) => {
                let p = p
                    .to_str()
                    .ok_or_else(|| member(&shown, "name is not UTF-8"))?;
                parts.push(p.to_string());
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(member(&shown, "name contains '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(member(&shown, "absolute name"))
            }
        }
    }
    if parts.is_empty() {
        return Err(member(&shown, "empty name"));
    }
    if parts.len() > limits.max_depth {
        return Err(member(
            &shown,
            format!("deeper than {} levels", limits.max_depth),
        ));
    }
    Ok(parts)
}

/// Unpacks the tar read from `reader` into `dest`, which must be an empty directory.
pub fn unpack(reader: impl Read, dest: &Path, limits: &Limits) -> Result<Unpacked, ArchiveError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| ArchiveError::Malformed(format!("not a tar archive: {e}")))?;
    let mut seen = BTreeSet::new();
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    dirs.insert(dest.to_path_buf());
    let mut files = Vec::new();
    let mut digests = std::collections::HashMap::new();
    let mut total: u64 = 0;
    for (index, entry) in entries.enumerate() {
        let mut entry =
            entry.map_err(|e| ArchiveError::Malformed(format!("member {}: {e}", index + 1)))?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        if seen.len() >= limits.max_members {
            return Err(ArchiveError::Malformed(format!(
                "more than {} members",
                limits.max_members
            )));
        }
        let parts = safe_path(&raw, limits)?;
        let name = parts.join("/");
        if !seen.insert(name.clone()) {
            return Err(member(&shown, "a second member with this name"));
        }
        let path = parts.iter().fold(dest.to_path_buf(), |p, c| p.join(c));
        // Every parent is a directory this unpacking made (or dest): no member can write
        // through a path another member put there.
        for depth in 1..parts.len() {
            let parent = parts[..depth].join("/");
            if files.contains(&parent) {
                return Err(member(
                    &shown,
                    format!("{parent} is a file, not a directory"),
                ));
            }
        }
        if kind.is_dir() {
            make_dirs(&path, &mut dirs).map_err(io_err(&path))?;
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            let what = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_hard_link() {
                "a hard link"
            } else if kind.is_character_special() || kind.is_block_special() {
                "a device"
            } else if kind.is_fifo() {
                "a FIFO"
            } else {
                "not a regular file"
            };
            return Err(member(
                &shown,
                format!("{what}: only regular files are unpacked"),
            ));
        }
        if dirs.contains(&path) {
            return Err(member(&shown, "a file where a directory was unpacked"));
        }
        let size = entry
            .header()
            .size()
            .map_err(|e| member(&shown, format!("bad size: {e}")))?;
        if size > limits.max_file_bytes {
            return Err(member(
                &shown,
                format!("{size} bytes, more than {} allowed", limits.max_file_bytes),
            ));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(member(
                &shown,
                format!(
                    "the archive's files exceed {} bytes in all",
                    limits.max_total_bytes
                ),
            ));
        }
        if let Some(parent) = path.parent() {
            make_dirs(parent, &mut dirs).map_err(io_err(parent))?;
        }
        let mut out = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let copied = copy_hashing(&mut (&mut entry).take(size), &mut out, &mut hasher).map_err(
            |e| match e {
                Copy::Read(e)
                    if e.kind() == io::ErrorKind::UnexpectedEof
                        || e.kind() == io::ErrorKind::InvalidData =>
                {
                    member(&shown, format!("truncated: {e}"))
                }
                Copy::Read(e) | Copy::Write(e) => ArchiveError::Io {
                    path: path.clone(),
                    source: e,
                },
            },
        )?;
        if copied != size {
            return Err(member(
                &shown,
                format!("truncated: {copied} of {size} bytes"),
            ));
        }
        out.flush().map_err(io_err(&path))?;
        out.sync_all().map_err(io_err(&path))?;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(hasher.finish().as_ref());
        digests.insert(name.clone(), digest);
        files.push(name);
    }
    for dir in dirs.iter().rev() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
    }
    files.sort();
    Ok(Unpacked {
        files,
        bytes: total,
        digests,
    })
}

/// Which side of a copy failed.
enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// Bytes written between two requests to start writing a file back to disk.
const WRITEBACK_EVERY: u64 = 32 << 20;

/// Writes a large file back to disk while it is still being written, from another thread, so
/// that the final sync finds little left to do. Without it the kernel keeps a whole release in
/// dirty pages (its background threshold is a share of memory, gigabytes on a device with
/// several) and writes it all at the final `fsync`, after the download. `fdatasync` on a second
/// descriptor of the file runs beside the writes; a request made while one runs is dropped.
struct Writeback {
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    worker: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Writeback {
    fn start(file: &File) -> io::Result<Writeback> {
        let f = file.try_clone()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let worker = std::thread::Builder::new()
            .name("vigil-writeback".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    f.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Writeback {
            tx: Some(tx),
            worker: Some(worker),
        })
    }

    fn request(&self) {
        if let Some(tx) = &self.tx {
            // Full: a sync is pending, which will cover these bytes too.
            let _ = tx.try_send(());
        }
    }

    /// Waits for the worker; its error, if any, is the write's.
    fn finish(mut self) -> io::Result<()> {
        self.stop()
    }

    /// Ends the worker's loop and waits for it (once; later calls find nothing to wait for).
    fn stop(&mut self) -> io::Result<()> {
        self.tx = None;
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the writeback thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Writeback {
    /// A copy that failed midway still waits for its worker; the copy's own error is reported.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Copies `from` into `to`, hashing the bytes on the way and having them written back to disk
/// as they go (every [`WRITEBACK_EVERY`] bytes); returns how many were copied.
fn copy_hashing(
    from: &mut impl Read,
    to: &mut File,
    hasher: &mut ring::digest::Context,
) -> Result<u64, Copy> {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    let mut writeback: Option<Writeback> = None;
    let mut next = WRITEBACK_EVERY;
    loop {
        let got = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        let chunk = buf.get(..got).unwrap_or_default();
        hasher.update(chunk);
        to.write_all(chunk).map_err(Copy::Write)?;
        n += got as u64;
        if n >= next {
            next = n + WRITEBACK_EVERY;
            if writeback.is_none() {
                writeback = Some(Writeback::start(to).map_err(Copy::Write)?);
            }
            if let Some(w) = &writeback {
                w.request();
            }
        }
    }
    if let Some(w) = writeback {
        w.finish().map_err(Copy::Write)?;
    }
    Ok(n)
}

fn make_dirs(path: &Path, made: &mut BTreeSet<PathBuf>) -> io::Result<()> {
    if made.contains(path) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        make_dirs(parent, made)?;
    }
    match std::fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && made.contains(path) => {}
        Err(e) => return Err(e),
    }
    made.insert(path.to_path_buf());
    Ok(())
}

/// Packs the regular files under `dir` (sorted, relative paths with `/`, no links, no hidden
/// VCS directories) into an uncompressed ustar archive written to `out`; deterministic: mode
/// 0644, owner 0, time 0. Returns the files packed.
pub fn pack(dir: &Path, out: impl Write) -> Result<Vec<String>, ArchiveError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let mut names = Vec::new();
    collect(dir, dir, &mut names)?;
    names.sort();
    let mut builder = tar::Builder::new(out);
    builder.mode(tar::HeaderMode::Deterministic);
    for name in &names {
        let path = dir.join(name);
        let mut file = File::open(&path).map_err(io_err(&path))?;
        let len = file.metadata().map_err(io_err(&path))?.len();
        let mut header = tar::Header::new_ustar();
        header
            .set_path(name)
            .map_err(|e| member(name, format!("cannot be named in a ustar header: {e}")))?;
        header.set_size(len);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder
            .append(&header, (&mut file).take(len))
            .map_err(io_err(&path))?;
    }
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_err(dir))?;
    Ok(names)
}

fn collect(root: &Path, dir: &Path, names: &mut Vec<String>) -> Result<(), ArchiveError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err(&path))?;
        let rel = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .map(|p| p.replace(std::path::MAIN_SEPARATOR, "/"))
            .ok_or_else(|| member(&path.display().to_string(), "name is not UTF-8"))?;
        if kind.is_dir() {
            if matches!(entry.file_name().to_str(), Some(".git" | ".hg" | ".svn")) {
                continue;
            }
            collect(root, &path, names)?;
        } else if kind.is_file() {
            names.push(rel);
        } else {
            return Err(member(
                &rel,
                "not a regular file or directory: a bundle is packed without links",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn raw_entry(b: &mut tar::Builder<Vec<u8>>, name: &[u8], kind: tar::EntryType, data: &[u8]) {
        let mut h = tar::Header::new_ustar();
        // Write the name bytes directly: set_path refuses the hostile ones we want to test.
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        if kind.is_symlink() || kind.is_hard_link() {
            h.set_link_name("model.onnx").unwrap();
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn unpack_bytes(bytes: &[u8]) -> Result<Unpacked, ArchiveError> {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        unpack(bytes, &dest, &Limits::default())
    }

    #[test]
    fn pack_then_unpack_round_trips() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("model.onnx"), b"weights").unwrap();
        std::fs::create_dir(src.path().join("reference")).unwrap();
        std::fs::write(src.path().join("reference/guard.json"), b"{}").unwrap();
        let mut bytes = Vec::new();
        let packed = pack(src.path(), &mut bytes).unwrap();
        assert_eq!(packed, ["model.onnx", "reference/guard.json"]);
        let mut again = Vec::new();
        pack(src.path(), &mut again).unwrap();
        assert_eq!(bytes, again, "packing is deterministic");
        let dir = tempfile::tempdir().unwrap();
        let got = unpack(&bytes[..], dir.path(), &Limits::default()).unwrap();
        assert_eq!(got.files, packed);
        assert_eq!(
            std::fs::read(dir.path().join("reference/guard.json")).unwrap(),
            b"{}"
        );
        // Each file's digest is that of the bytes written.
        for name in &packed {
            let on_disk = std::fs::read(dir.path().join(name)).unwrap();
            let want = ring::digest::digest(&ring::digest::SHA256, &on_disk);
            assert_eq!(&got.digests[name][..], want.as_ref(), "{name}");
        }
        assert_eq!(got.digests.len(), packed.len());
    }

    #[test]
    fn a_large_copy_is_written_back_as_it_goes_and_hashed_whole() {
        // Past two writeback requests: the helper thread runs, and the bytes and digest are
        // those of the whole stream.
        let n = 2 * WRITEBACK_EVERY + 5;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let mut file = File::create(&path).unwrap();
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let copied = copy_hashing(&mut io::repeat(7).take(n), &mut file, &mut hasher)
            .map_err(|_| "copy failed")
            .unwrap();
        assert_eq!(copied, n);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), n);
        let mut want = ring::digest::Context::new(&ring::digest::SHA256);
        let len = usize::try_from(n).unwrap();
        want.update(&vec![7u8; len]);
        assert_eq!(hasher.finish().as_ref(), want.finish().as_ref());
    }

    #[test]
    fn hostile_members_are_refused_by_name() {
        use tar::EntryType as T;
        for (name, kind, needle) in [
            (&b"/etc/passwd"[..], T::Regular, "absolute"),
            (b"../escape", T::Regular, "'..'"),
            (b"a/../../escape", T::Regular, "'..'"),
            (b"link", T::Symlink, "symbolic link"),
            (b"hard", T::Link, "hard link"),
            (b"dev", T::Char, "device"),
            (b"fifo", T::Fifo, "FIFO"),
            (b"bad\xff", T::Regular, "UTF-8"),
        ] {
            let bytes = tar_with(|b| raw_entry(b, name, kind, b""));
            let err = unpack_bytes(&bytes).unwrap_err().to_string();
            assert!(err.contains(needle), "{name:?}: {err}");
        }
    }

    #[test]
    fn duplicates_and_limits_are_refused() {
        let bytes = tar_with(|b| {
            raw_entry(b, b"model.onnx", tar::EntryType::Regular, b"a");
            raw_entry(b, b"./model.onnx", tar::EntryType::Regular, b"b");
        });
        let err = unpack_bytes(&bytes).unwrap_err().to_string();
        assert!(err.contains("second member"), "{err}");

        let bytes = tar_with(|b| {
            for i in 0..5 {
                raw_entry(b, format!("f{i}").as_bytes(), tar::EntryType::Regular, b"x");
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_members: 4,
            ..Limits::default()
        };
        let err = unpack(&bytes[..], dir.path(), &limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 4 members"), "{err}");

        let bytes = tar_with(|b| raw_entry(b, b"big", tar::EntryType::Regular, &[0; 100]));
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            max_file_bytes: 99,
            ..Limits::default()
        };
        let err = unpack(&bytes[..], dir.path(), &limits)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"big\"") && err.contains("100 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_file_cannot_become_a_directory() {
        let bytes = tar_with(|b| {
            raw_entry(b, b"a", tar::EntryType::Regular, b"x");
            raw_entry(b, b"a/b", tar::EntryType::Regular, b"y");
        });
        let err = unpack_bytes(&bytes).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn truncated_archives_are_refused() {
        let bytes = tar_with(|b| raw_entry(b, b"model.onnx", tar::EntryType::Regular, &[7; 2000]));
        let err = unpack_bytes(&bytes[..1000]).unwrap_err().to_string();
        assert!(err.contains("truncated") || err.contains("member"), "{err}");
    }
}

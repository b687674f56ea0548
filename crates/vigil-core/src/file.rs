//! Files from outside the process, read with a bound; files Vigil writes, written durably.
//!
//! Every crate reads outside files through [`read_bounded`] (or [`open_regular`] for streaming)
//! and writes through [`write_atomic`] or [`write_new`], so the rules live once:
//!
//! * an outside path is opened without blocking and must be a regular file: a FIFO, a device or a
//!   directory is refused by name instead of hanging the process or reading forever;
//! * the size is checked against the bound before a byte is read, and at most `max + 1` bytes are
//!   ever read (a file that grows while it is read is still caught);
//! * a write that replaces a file goes to a temporary sibling that is fsynced, renamed over the
//!   target, and the directory fsynced, so a crash leaves the old file or the new one, never a mix;
//! * a write that must not replace anything (a new private key) uses `O_EXCL` and mode 0600.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// Why a file could not be read or written. Every variant names the file, so callers can pass it
/// on without wrapping it again: `Display` prints `PATH: reason`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Opening, reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file holds more than the bound.
    #[error("{}: larger than {max} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound, in bytes.
        max: u64,
    },
    /// The path names something other than a regular file (a FIFO, socket, device or directory).
    #[error("{}: not a regular file ({kind})", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead: `directory`, `fifo`, `socket`, `device` or `special file`.
        kind: &'static str,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::NotRegular { path, .. } => path,
        }
    }

    /// The reason alone, without the path: for callers whose own error already names the file.
    pub fn reason(&self) -> String {
        match self {
            ReadError::Io { source, .. } => source.to_string(),
            ReadError::TooLarge { max, .. } => format!("larger than {max} bytes"),
            ReadError::NotRegular { kind, .. } => format!("not a regular file ({kind})"),
        }
    }

    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
        move |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A name for a file type that is not a regular file.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "fifo";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "device";
        }
    }
    "special file"
}

/// Opens `path` for reading without ever blocking on it, and refuses anything that is not a
/// regular file. Symbolic links are followed (the target must be a regular file).
///
/// On Unix the file is opened with `O_NONBLOCK`, so a FIFO with no writer does not hang the
/// caller; the type is then checked on the open descriptor (no race between check and use).
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(ReadError::io(path))?;
    let meta = file.metadata().map_err(ReadError::io(path))?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    Ok(file)
}

/// Reads the whole file at `path`, refusing one larger than `max` bytes and anything that is not
/// a regular file. The size is checked before reading, and at most `max + 1` bytes are ever read,
/// so memory stays bounded whatever the file does.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("vigil-core-doc-{}", std::process::id()));
/// std::fs::write(&dir, b"0123456789")?;
/// assert_eq!(vigil_core::read_bounded(&dir, 10)?, b"0123456789");
/// assert!(matches!(
///     vigil_core::read_bounded(&dir, 9),
///     Err(vigil_core::ReadError::TooLarge { max: 9, .. })
/// ));
/// # std::fs::remove_file(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        max,
    };
    let len = file.metadata().map_err(ReadError::io(path))?.len();
    if len > max {
        return Err(too_large());
    }
    if len >= PARALLEL_READ_BYTES {
        if let Some(bytes) = read_in_parallel(&file, len) {
            return Ok(bytes);
        }
        // The file changed size while it was read, or a read failed: read it again in one
        // pass, which reports the failure or the bound.
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::io(path))?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Files at least this large are read by several threads at once (each a part, straight into
/// its place): copying from the page cache and faulting in fresh pages is then shared by the
/// cores instead of taking one of them for the whole file.
const PARALLEL_READ_BYTES: u64 = 16 << 20;

/// Reads the `len` bytes of `file` with a few threads, each its own range; `None` unless every
/// range was read whole and the file then ends at `len` (it did not grow or shrink).
fn read_in_parallel(file: &File, len: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt as _;
    let len = usize::try_from(len).ok()?;
    let threads = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(2, 8);
    let mut bytes = vec![0u8; len];
    let part = len.div_ceil(threads);
    let whole = std::thread::scope(|scope| {
        let reads: Vec<_> = bytes
            .chunks_mut(part)
            .enumerate()
            .map(|(i, chunk)| scope.spawn(move || file.read_exact_at(chunk, (i * part) as u64)))
            .collect();
        reads.into_iter().all(|r| matches!(r.join(), Ok(Ok(()))))
    });
    let mut probe = [0u8; 1];
    (whole && matches!(file.read_at(&mut probe, len as u64), Ok(0))).then_some(bytes)
}

/// [`read_bounded`], then UTF-8: a file that is not text is an I/O error of kind `InvalidData`
/// naming the file.
pub fn read_bounded_string(path: &Path, max: u64) -> Result<String, ReadError> {
    let bytes = read_bounded(path, max)?;
    String::from_utf8(bytes).map_err(|e| ReadError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {}", e.utf8_error()),
        ),
    })
}

/// Fsyncs the directory that holds `path`, so a rename or a new name in it survives power loss.
/// Best effort where the platform cannot open directories.
pub fn sync_parent(path: &Path) -> Result<(), ReadError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        let dir = File::open(parent).map_err(ReadError::io(parent))?;
        dir.sync_all().map_err(ReadError::io(parent))?;
    }
    #[cfg(not(unix))]
    let _ = parent;
    Ok(())
}

/// Replaces `path` with `bytes` atomically and durably: the bytes go to a temporary file beside
/// it (same directory, so the rename cannot cross file systems), which is fsynced and renamed
/// over `path`; then the directory is fsynced. A reader sees the old file or the new one, and a
/// crash at any moment leaves one of the two. A file that exists keeps its permission bits.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("reference.json");
/// vigil_core::write_atomic(&path, b"{}")?;
/// vigil_core::write_atomic(&path, b"{\"a\":1}")?;
/// assert_eq!(std::fs::read(&path)?, b"{\"a\":1}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReadError> {
    let file_name = path.file_name().ok_or_else(|| ReadError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(ReadError::io(&tmp))?;
        if let Ok(meta) = std::fs::metadata(path) {
            // Keep the permission bits of the file being replaced (a private key stays 0600).
            let _ = f.set_permissions(meta.permissions());
        }
        f.write_all(bytes).map_err(ReadError::io(&tmp))?;
        f.sync_all().map_err(ReadError::io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(ReadError::io(path))?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` with `bytes`, refusing to replace anything that exists (`O_EXCL`), fsyncs it
/// and its directory. With `private` the file is created with mode 0600 (Unix), never readable by
/// others even for a moment: for secret keys.
pub fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(path).map_err(ReadError::io(path))?;
    let result = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(ReadError::io(path));
    if result.is_err() {
        drop(f);
        let _ = std::fs::remove_file(path);
        return result;
    }
    sync_parent(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_directory_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_bounded(dir.path(), 10).unwrap_err();
        assert!(matches!(
            err,
            ReadError::NotRegular {
                kind: "directory",
                ..
            }
        ));
        assert!(err.to_string().contains("not a regular file"));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("model.sig");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = read_bounded(&fifo, 10).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { kind: "fifo", .. }));
    }

    #[test]
    fn errors_name_the_file_once() {
        let err = read_bounded(Path::new("/nonexistent/vigil"), 10).unwrap_err();
        assert!(err.is_not_found());
        let text = err.to_string();
        assert_eq!(text.matches("/nonexistent/vigil").count(), 1, "{text}");
    }

    #[test]
    fn a_large_file_is_read_whole_by_several_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let len = (PARALLEL_READ_BYTES + 12_345) as usize;
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        assert!(read_bounded(&path, len as u64).unwrap() == data);
        assert!(matches!(
            read_bounded(&path, len as u64 - 1),
            Err(ReadError::TooLarge { .. })
        ));
        let file = File::open(&path).unwrap();
        // A file that is longer than it was said to be is read again, not cut short.
        assert!(read_in_parallel(&file, len as u64 - 1).is_none());
        assert!(read_in_parallel(&file, len as u64 + 1).is_none());
    }

    #[test]
    fn too_large_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![0u8; 100]).unwrap();
        assert!(matches!(
            read_bounded(&path, 99),
            Err(ReadError::TooLarge { max: 99, .. })
        ));
        assert_eq!(read_bounded(&path, 100).unwrap().len(), 100);
    }

    #[test]
    fn write_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_new(&path, b"one", true).unwrap();
        assert!(write_new(&path, b"two", true).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"1").unwrap();
        write_atomic(&path, b"22").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"22");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}

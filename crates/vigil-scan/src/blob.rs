//! Random-access byte sources (a file, a slice of it, or bytes in memory) and the bounded
//! sequential readers the parsers use on them.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

use crate::budget::Reservation;

enum Inner {
    File(File),
    /// Bytes in memory, and the share of the scan's memory budget they hold (if counted).
    Mem {
        bytes: Vec<u8>,
        _hold: Option<Reservation>,
    },
}

/// A window onto a file or an in-memory buffer; cloning is cheap and slices share the backing.
#[derive(Clone)]
pub(crate) struct Blob {
    inner: Arc<Inner>,
    off: u64,
    len: u64,
}

impl Blob {
    /// The whole file.
    pub(crate) fn file(file: File) -> io::Result<Blob> {
        let len = file.metadata()?.len();
        Ok(Blob {
            inner: Arc::new(Inner::File(file)),
            off: 0,
            len,
        })
    }

    /// Bytes held in memory.
    pub(crate) fn mem(bytes: Vec<u8>) -> Blob {
        Blob::held(bytes, None)
    }

    /// Bytes held in memory under a reservation of the scan's memory budget, returned when the
    /// last slice of this blob is dropped.
    pub(crate) fn held(bytes: Vec<u8>, hold: Option<Reservation>) -> Blob {
        let len = bytes.len() as u64;
        Blob {
            inner: Arc::new(Inner::Mem { bytes, _hold: hold }),
            off: 0,
            len,
        }
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// A sub-window; fails if it does not fit.
    pub(crate) fn slice(&self, off: u64, len: u64) -> io::Result<Blob> {
        match off.checked_add(len) {
            Some(end) if end <= self.len => Ok(Blob {
                inner: Arc::clone(&self.inner),
                off: self.off + off,
                len,
            }),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "range {off}+{len} is outside the {} bytes available",
                    self.len
                ),
            )),
        }
    }

    /// Fill `buf` from offset `off`; fails on short data.
    pub(crate) fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let want = buf.len() as u64;
        if off.checked_add(want).is_none_or(|end| end > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "read of {want} bytes at {off} passes the end ({} bytes)",
                    self.len
                ),
            ));
        }
        let abs = self.off + off;
        match &*self.inner {
            Inner::Mem { bytes: v, .. } => {
                let start = usize::try_from(abs).map_err(|_| too_big())?;
                let src = v.get(start..start + buf.len()).ok_or_else(too_big)?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Inner::File(f) => read_exact_at(f, buf, abs),
        }
    }

    /// Up to `n` bytes from `off` (fewer at the end).
    pub(crate) fn head(&self, off: u64, n: usize) -> io::Result<Vec<u8>> {
        let avail = self.len.saturating_sub(off).min(n as u64) as usize;
        let mut buf = vec![0u8; avail];
        self.read_at(off, &mut buf)?;
        Ok(buf)
    }

    /// All bytes, if there are at most `max`.
    pub(crate) fn read_all(&self, max: u64) -> io::Result<Vec<u8>> {
        if self.len > max {
            return Err(io::Error::other(format!(
                "{} bytes is over the limit of {max}",
                self.len
            )));
        }
        self.head(0, self.len as usize)
    }

    /// A buffered sequential reader from the start.
    pub(crate) fn reader(&self) -> BlobReader {
        BlobReader {
            blob: self.clone(),
            pos: 0,
            buf: Vec::new(),
            buf_pos: 0,
        }
    }
}

fn too_big() -> io::Error {
    io::Error::other("offset does not fit in memory")
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, off)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut off: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, off)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        off += n as u64;
    }
    Ok(())
}

/// A sequential reader that can also skip forward cheaply.
pub(crate) trait ReadSkip: Read {
    /// Skip `n` bytes; fails if fewer are left.
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

/// Buffered reader over a [`Blob`]; skipping seeks.
pub(crate) struct BlobReader {
    blob: Blob,
    pos: u64,
    buf: Vec<u8>,
    buf_pos: usize,
}

const BUF: usize = 64 * 1024;

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buf_pos >= self.buf.len() {
            let n = (self.blob.len().saturating_sub(self.pos)).min(BUF as u64) as usize;
            if n == 0 {
                return Ok(0);
            }
            self.buf.resize(n, 0);
            self.blob.read_at(self.pos, &mut self.buf)?;
            self.pos += n as u64;
            self.buf_pos = 0;
        }
        let avail = self.buf.get(self.buf_pos..).unwrap_or_default();
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.buf_pos += n;
        Ok(n)
    }
}

impl ReadSkip for BlobReader {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let in_buf = (self.buf.len() - self.buf_pos.min(self.buf.len())) as u64;
        if n <= in_buf {
            self.buf_pos += n as usize;
            return Ok(());
        }
        let rest = n - in_buf;
        self.buf_pos = self.buf.len();
        if self
            .pos
            .checked_add(rest)
            .is_none_or(|e| e > self.blob.len())
        {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("skip of {n} bytes passes the end"),
            ));
        }
        self.pos += rest;
        Ok(())
    }
}

/// Adapts any reader (a decompressor) to [`ReadSkip`] by reading and discarding.
pub(crate) struct StreamSkip<R>(pub(crate) R);

impl<R: Read> Read for StreamSkip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.0.read(out)
    }
}

impl<R: Read> ReadSkip for StreamSkip<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let got = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if got < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("skip of {n} bytes passes the end"),
            ));
        }
        Ok(())
    }
}

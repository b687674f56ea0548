//! The one bounded cursor every binary header is read with (zip records, GGUF metadata,
//! protobuf fields), after rustls's `codec::Reader`: a window of a [`Blob`], reads that fail
//! cleanly on short input (never a zero or a panic), and a check that nothing is left over.

use std::io;

use crate::blob::Blob;

/// Why a read from a [`Reader`] failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CursorError {
    /// The window holds fewer bytes than the read needs.
    #[error("{what}: {wanted} bytes at offset {at} pass the end at {end}")]
    Short {
        what: &'static str,
        wanted: u64,
        at: u64,
        end: u64,
    },
    /// Bytes are left after a structure that must fill its window.
    #[error("{what}: {left} bytes are left over at offset {at}")]
    Leftover {
        what: &'static str,
        left: u64,
        at: u64,
    },
    /// The source could not be read.
    #[error("read at offset {at}: {source}")]
    Io {
        at: u64,
        #[source]
        source: io::Error,
    },
}

impl From<CursorError> for String {
    fn from(e: CursorError) -> String {
        e.to_string()
    }
}

/// A bounded cursor over `[start, end)` of a blob, with a small read cache so that many small
/// reads cost one read of the source.
pub(crate) struct Reader<'b> {
    blob: &'b Blob,
    pos: u64,
    end: u64,
    cache: Vec<u8>,
    cache_at: u64,
}

const CACHE: u64 = 64 * 1024;

impl<'b> Reader<'b> {
    /// The whole blob.
    pub(crate) fn new(blob: &'b Blob) -> Reader<'b> {
        Reader {
            blob,
            pos: 0,
            end: blob.len(),
            cache: Vec::new(),
            cache_at: 0,
        }
    }

    /// `len` bytes from `start`; fails if they pass the blob's end.
    pub(crate) fn window(
        blob: &'b Blob,
        what: &'static str,
        start: u64,
        len: u64,
    ) -> Result<Reader<'b>, CursorError> {
        match start.checked_add(len) {
            Some(end) if end <= blob.len() => Ok(Reader {
                blob,
                pos: start,
                end,
                cache: Vec::new(),
                cache_at: 0,
            }),
            _ => Err(CursorError::Short {
                what,
                wanted: len,
                at: start,
                end: blob.len(),
            }),
        }
    }

    /// The offset of the next read (in the blob).
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Bytes left in the window.
    pub(crate) fn left(&self) -> u64 {
        self.end - self.pos
    }

    /// Whether any byte is left.
    pub(crate) fn any_left(&self) -> bool {
        self.pos < self.end
    }

    /// Fails unless the window is used up.
    pub(crate) fn expect_end(&self, what: &'static str) -> Result<(), CursorError> {
        if self.any_left() {
            return Err(CursorError::Leftover {
                what,
                left: self.left(),
                at: self.pos,
            });
        }
        Ok(())
    }

    fn check(&self, what: &'static str, n: u64) -> Result<(), CursorError> {
        if n > self.left() {
            return Err(CursorError::Short {
                what,
                wanted: n,
                at: self.pos,
                end: self.end,
            });
        }
        Ok(())
    }

    /// Skip `n` bytes.
    pub(crate) fn skip(&mut self, what: &'static str, n: u64) -> Result<(), CursorError> {
        self.check(what, n)?;
        self.pos += n;
        Ok(())
    }

    /// The next `n` bytes as a window of their own (the cursor moves past them).
    pub(crate) fn sub(&mut self, what: &'static str, n: u64) -> Result<Reader<'b>, CursorError> {
        self.check(what, n)?;
        let r = Reader {
            blob: self.blob,
            pos: self.pos,
            end: self.pos + n,
            cache: Vec::new(),
            cache_at: 0,
        };
        self.pos += n;
        Ok(r)
    }

    /// The next `n` bytes (the caller bounds `n`).
    pub(crate) fn take(&mut self, what: &'static str, n: u64) -> Result<Vec<u8>, CursorError> {
        self.check(what, n)?;
        let at = self.pos;
        let mut out = vec![
            0u8;
            usize::try_from(n).map_err(|_| CursorError::Short {
                what,
                wanted: n,
                at,
                end: self.end,
            })?
        ];
        if n <= CACHE {
            self.fill(at, n)?;
            let from = (at - self.cache_at) as usize;
            if let Some(src) = self.cache.get(from..from + n as usize) {
                out.copy_from_slice(src);
            }
        } else {
            self.blob
                .read_at(at, &mut out)
                .map_err(|source| CursorError::Io { at, source })?;
        }
        self.pos += n;
        Ok(out)
    }

    /// Make sure `[at, at + n)` is in the cache (`n` at most [`CACHE`], inside the window).
    fn fill(&mut self, at: u64, n: u64) -> Result<(), CursorError> {
        let cached_end = self.cache_at + self.cache.len() as u64;
        if at >= self.cache_at && at + n <= cached_end {
            return Ok(());
        }
        let len = CACHE.min(self.end - at).max(n);
        let mut buf = vec![0u8; len as usize];
        self.blob
            .read_at(at, &mut buf)
            .map_err(|source| CursorError::Io { at, source })?;
        self.cache = buf;
        self.cache_at = at;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CursorError> {
        let v = self.take(what, N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        Ok(a)
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, CursorError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A little-endian u16.
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, CursorError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A little-endian u32.
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, CursorError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian u64.
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, CursorError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A protobuf base-128 varint (at most 10 bytes).
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u64, CursorError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.u8(what)?;
            if shift < 64 {
                v |= u64::from(b & 0x7f) << shift;
            }
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CursorError::Leftover {
            what,
            left: self.left(),
            at: self.pos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CursorError, Reader};
    use crate::blob::Blob;

    #[test]
    fn short_reads_fail_and_leftover_is_reported() {
        let b = Blob::mem(vec![1, 0, 2, 0, 0, 0, 9]);
        let mut r = Reader::new(&b);
        assert_eq!(r.u16("a").ok(), Some(1));
        assert_eq!(r.u32("b").ok(), Some(2));
        assert!(matches!(
            r.u16("c"),
            Err(CursorError::Short {
                wanted: 2,
                at: 6,
                ..
            })
        ));
        assert!(matches!(
            r.expect_end("d"),
            Err(CursorError::Leftover { left: 1, .. })
        ));
        assert_eq!(r.u8("e").ok(), Some(9));
        assert!(r.expect_end("f").is_ok());
        assert!(Reader::window(&b, "w", 5, 3).is_err());
        let mut w = Reader::window(&b, "w", 2, 4).unwrap_or_else(|_| Reader::new(&b));
        assert!(w.sub("s", 5).is_err());
        assert_eq!(w.take("t", 4).ok(), Some(vec![2, 0, 0, 0]));
    }
}

//! Every decompressor behind one bounded stream, and the budget a whole scan shares.
//!
//! Each wrapper (gzip, bzip2, xz, lzma, zlib, raw deflate for zip members, lz4 frames, zstd)
//! is read as a stream: nothing is unpacked in full unless a format needs random access, and
//! then only into a [`Blob`] held in memory while the scan's shared memory budget allows, or
//! else spooled to an unnamed temporary file. Every stream stops with a typed [`LimitHit`] at
//! the per-stream size cap, the ratio cap, the scan-wide output budget, or when a decoder would
//! need a dictionary or window over `max_dictionary`.

use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::blob::Blob;
use crate::budget::Budget;
use crate::kind::Codec;
use crate::Limits;

/// A resource limit stopped a read. Travels inside an [`io::Error`]; test with [`is_limit`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LimitHit(pub(crate) String);

/// An [`io::Error`] carrying a [`LimitHit`].
pub(crate) fn limit_error(what: String) -> io::Error {
    io::Error::other(LimitHit(what))
}

/// Whether an error is a resource limit rather than broken data.
pub(crate) fn is_limit(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::OutOfMemory || e.get_ref().is_some_and(|x| x.is::<LimitHit>())
}

/// Counts the compressed bytes consumed, for the ratio limit.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decompressed stream that fails with a [`LimitHit`] at every cap.
pub(crate) struct Stream {
    inner: Box<dyn Read + Send>,
    codec: Codec,
    out: u64,
    consumed: Arc<AtomicU64>,
    max_out: u64,
    max_ratio: u64,
    budget: Arc<Budget>,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                return Err(limit_error(format!(
                    "{} decoder needs more memory than allowed: {e}",
                    self.codec.name()
                )))
            }
            Err(e) => return Err(e),
        };
        self.out += n as u64;
        if self.out > self.max_out {
            return Err(limit_error(format!(
                "more than {} decompressed bytes from one {} stream",
                self.max_out,
                self.codec.name()
            )));
        }
        let input = self.consumed.load(Ordering::Relaxed).max(1);
        if self.out > (1 << 24) && self.out / input > self.max_ratio {
            return Err(limit_error(format!(
                "{} decompression ratio {}:1 is over {}:1",
                self.codec.name(),
                self.out / input,
                self.max_ratio
            )));
        }
        if !self.budget.spend_output(n as u64) {
            return Err(limit_error(format!(
                "the scan's budget of {} decompressed bytes is spent",
                self.budget.output_cap()
            )));
        }
        Ok(n)
    }
}

/// Open a bounded decompressed stream over a blob.
pub(crate) fn open(
    codec: Codec,
    blob: &Blob,
    limits: &Limits,
    budget: &Arc<Budget>,
) -> io::Result<Stream> {
    let consumed: Arc<AtomicU64> = Arc::default();
    let input = BufReader::with_capacity(
        64 * 1024,
        Counting {
            inner: blob.reader(),
            count: Arc::clone(&consumed),
        },
    );
    let dict_kb =
        u32::try_from((limits.max_dictionary >> 10).saturating_add(1024)).unwrap_or(u32::MAX);
    let inner: Box<dyn Read + Send> = match codec {
        Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Codec::Zlib => Box::new(flate2::bufread::ZlibDecoder::new(input)),
        Codec::Deflate => Box::new(flate2::bufread::DeflateDecoder::new(input)),
        Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        Codec::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(input, true, dict_kb)),
        Codec::Lzma => Box::new(lzma_rust2::LzmaReader::new_mem_limit(input, dict_kb, None)?),
        Codec::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(input)),
        Codec::Zstd => Box::new(ZstdFrames {
            state: ZState::Between(Peek {
                inner: input,
                peeked: None,
            }),
            max_window: limits.max_dictionary,
        }),
    };
    Ok(Stream {
        inner,
        codec,
        out: 0,
        consumed,
        max_out: limits.max_decompressed,
        max_ratio: limits.max_ratio,
        budget: Arc::clone(budget),
    })
}

/// A reader that can look at its next byte.
struct Peek<R> {
    inner: R,
    peeked: Option<u8>,
}

impl<R: Read> Peek<R> {
    fn at_end(&mut self) -> io::Result<bool> {
        if self.peeked.is_some() {
            return Ok(false);
        }
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(true),
                Ok(_) => {
                    self.peeked = Some(b[0]);
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for Peek<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match (self.peeked.take(), out.first_mut()) {
            (Some(b), Some(first)) => {
                *first = b;
                Ok(1)
            }
            (Some(b), None) => {
                self.peeked = Some(b);
                Ok(0)
            }
            (None, _) => self.inner.read(out),
        }
    }
}

type Src<R> = io::Chain<io::Cursor<[u8; 4]>, Peek<R>>;
type ZstdFrame<R> = ruzstd::decoding::StreamingDecoder<Src<R>, ruzstd::decoding::FrameDecoder>;

enum ZState<R: Read> {
    Between(Peek<R>),
    In(Box<ZstdFrame<R>>),
    Done,
}

/// Every frame of a zstd stream in turn (as `zstd -d` reads them); skippable frames are skipped.
struct ZstdFrames<R: Read> {
    state: ZState<R>,
    max_window: u64,
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(&mut self.state, ZState::Done) {
                ZState::Done => return Ok(0),
                ZState::In(mut dec) => {
                    let n = dec.read(out)?;
                    if n > 0 || out.is_empty() {
                        self.state = ZState::In(dec);
                        return Ok(n);
                    }
                    let (chain, _) = dec.into_parts();
                    self.state = ZState::Between(chain.into_inner().1);
                }
                ZState::Between(mut src) => {
                    if src.at_end()? {
                        return Ok(0);
                    }
                    let mut magic = [0u8; 4];
                    src.read_exact(&mut magic)?;
                    if u32::from_le_bytes(magic) & 0xFFFF_FFF0 == 0x184D_2A50 {
                        let mut len = [0u8; 4];
                        src.read_exact(&mut len)?;
                        let want = u64::from(u32::from_le_bytes(len));
                        let got = io::copy(&mut (&mut src).take(want), &mut io::sink())?;
                        if got < want {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        self.state = ZState::Between(src);
                        continue;
                    }
                    let chain = io::Cursor::new(magic).chain(src);
                    let dec = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                        chain,
                        self.max_window,
                    )
                    .map_err(|e| match e {
                        ruzstd::decoding::errors::FrameDecoderError::WindowSizeTooBig {
                            requested,
                            max,
                        } => limit_error(format!(
                            "zstd window of {requested} bytes is over the {max}-byte limit"
                        )),
                        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
                    })?;
                    self.state = ZState::In(Box::new(dec));
                }
            }
        }
    }
}

/// A whole decompressed stream as a [`Blob`], and the error that stopped it early, if any (the
/// bytes before it are kept, to be scanned). Held in memory while the scan's shared budget
/// allows, else spooled to an unnamed temporary file (deleted when the blob goes).
pub(crate) fn materialize(
    stream: &mut dyn Read,
    budget: &Arc<Budget>,
) -> (Blob, Option<io::Error>) {
    let mut chunk = vec![0u8; 256 * 1024];
    let mut mem: Vec<u8> = Vec::new();
    let mut held = budget.reserve(0);
    let mut file: Option<std::fs::File> = None;
    let mut failure = None;
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let data = chunk.get(..n).unwrap_or_default();
        if file.is_none() {
            let need = mem.len() + n;
            if need > mem.capacity() {
                let new_cap = need.max(mem.capacity() * 2).max(1 << 20);
                let extra = (new_cap - mem.capacity()) as u64;
                if held.as_mut().is_some_and(|h| h.grow(extra)) {
                    mem.reserve_exact(new_cap - mem.len());
                } else {
                    match spill(&mem) {
                        Ok(f) => {
                            file = Some(f);
                            mem = Vec::new();
                            held = None;
                        }
                        Err(e) => {
                            failure = Some(limit_error(format!(
                                "decompressed content passes the scan's in-memory budget and cannot be spooled to a temporary file: {e}"
                            )));
                            break;
                        }
                    }
                }
            }
        }
        match &mut file {
            Some(f) => {
                if let Err(e) = f.write_all(data) {
                    failure = Some(limit_error(format!(
                        "cannot spool decompressed content to a temporary file: {e}"
                    )));
                    break;
                }
            }
            None => mem.extend_from_slice(data),
        }
    }
    let blob = match file {
        Some(f) => match Blob::file(f) {
            Ok(b) => b,
            Err(e) => return (Blob::mem(Vec::new()), Some(e)),
        },
        None => Blob::held(mem, held),
    };
    (blob, failure)
}

fn spill(mem: &[u8]) -> io::Result<std::fs::File> {
    let mut f = tempfile::tempfile()?;
    f.write_all(mem)?;
    Ok(f)
}

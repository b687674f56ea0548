//! Content sniffing: what a blob is, from its first bytes. Formats are never taken from names.

use crate::blob::Blob;
use crate::kind::{Codec, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What the first bytes say.
pub(crate) enum Sniff {
    Zip,
    Compressed(Codec),
    JoblibZ,
    SevenZip,
    Npy,
    Gguf,
    Hdf5,
    Safetensors,
    Tar,
    Pickle,
    Other,
}

/// Sniff the first bytes (`len` is the whole length, for the safetensors header check).
pub(crate) fn sniff(head: &[u8], len: u64) -> Sniff {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        Sniff::Zip
    } else if starts(&[0x1f, 0x8b]) {
        Sniff::Compressed(Codec::Gzip)
    } else if starts(b"BZh") && head.get(3).is_some_and(|c| (b'1'..=b'9').contains(c)) {
        Sniff::Compressed(Codec::Bzip2)
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Sniff::Compressed(Codec::Xz)
    } else if starts(&[0x5d, 0, 0]) && head.len() >= 13 {
        Sniff::Compressed(Codec::Lzma)
    } else if starts(&[0x04, 0x22, 0x4d, 0x18]) {
        Sniff::Compressed(Codec::Lz4)
    } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Sniff::Compressed(Codec::Zstd)
    } else if starts(b"ZF0x") && head.len() > 22 {
        Sniff::JoblibZ
    } else if starts(b"7z\xbc\xaf\x27\x1c") {
        Sniff::SevenZip
    } else if starts(b"\x93NUMPY") {
        Sniff::Npy
    } else if starts(b"GGUF") {
        Sniff::Gguf
    } else if starts(b"\x89HDF\r\n\x1a\n") {
        Sniff::Hdf5
    } else if matches!(head, [0x80, p, ..] if *p <= 5) {
        Sniff::Pickle
    } else if head.get(257..262) == Some(b"ustar") {
        Sniff::Tar
    } else if let (Some(n), Some(b'{')) = (head.get(..8), head.get(8)) {
        let n = u64::from_le_bytes(n.try_into().unwrap_or_default());
        if n >= 2 && (n.saturating_add(8) <= len || n > 1 << 24) {
            Sniff::Safetensors
        } else {
            Sniff::Other
        }
    } else if let [a, b, ..] = head {
        if *a == 0x78
            && (u16::from(*a) * 256 + u16::from(*b)) % 31 == 0
            && matches!(b, 0x01 | 0x5e | 0x9c | 0xda)
        {
            Sniff::Compressed(Codec::Zlib)
        } else {
            Sniff::Other
        }
    } else {
        Sniff::Other
    }
}

/// Bytes that are worth scanning when found inside a pickle.
pub(crate) fn looks_nested(head: &[u8]) -> bool {
    !matches!(
        sniff(head, u64::MAX),
        Sniff::Other | Sniff::Safetensors | Sniff::Tar | Sniff::Hdf5
    )
}

/// Whether a blob is text, judged on its first 64 KiB (or its head if larger).
pub(crate) fn is_text(blob: &Blob, head: &[u8]) -> bool {
    let sample = if blob.len() <= 64 * 1024 {
        blob.head(0, 64 * 1024).unwrap_or_else(|_| head.to_vec())
    } else {
        head.to_vec()
    };
    is_text_bytes(&sample)
}

/// Mostly printable UTF-8 (a cut-off character at the end is fine).
pub(crate) fn is_text_bytes(sample: &[u8]) -> bool {
    let s = match std::str::from_utf8(sample) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => sample
            .get(..e.valid_up_to())
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or(""),
        Err(_) => return false,
    };
    if s.is_empty() {
        return sample.is_empty();
    }
    let bad = s
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
        .count();
    bad * 100 <= s.chars().count()
}

/// Image formats, known from their first bytes.
pub(crate) fn known_data_head(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(Format::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Some(Format::Webp)
    } else {
        None
    }
}

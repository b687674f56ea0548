//! Compression wrappers for test inputs, made at test time (bombs stay out of the repository).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

/// Every wrapper the scanner reads, by the name its format string uses.
pub const CODECS: &[&str] = &["gzip", "bz2", "xz", "lzma", "zlib", "lz4", "zstd"];

/// `data` repeated `times` times, compressed with `codec`, without holding the whole input.
pub fn wrap_repeated(codec: &str, data: &[u8], times: usize) -> Vec<u8> {
    fn feed(w: &mut dyn Write, data: &[u8], times: usize) {
        for _ in 0..times {
            w.write_all(data).unwrap();
        }
    }
    match codec {
        "gzip" => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            feed(&mut w, data, times);
            w.finish().unwrap()
        }
        "zlib" => {
            let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            feed(&mut w, data, times);
            w.finish().unwrap()
        }
        "bz2" => {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            feed(&mut w, data, times);
            w.finish().unwrap()
        }
        "xz" => {
            let mut w =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1))
                    .unwrap();
            feed(&mut w, data, times);
            w.finish().unwrap()
        }
        "lzma" => {
            let opts = lzma_rust2::LzmaOptions::with_preset(1);
            let mut w = lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &opts, None).unwrap();
            feed(&mut w, data, times);
            w.finish().unwrap()
        }
        "lz4" => {
            let mut w = lz4_flex::frame::FrameEncoder::new(Vec::new());
            feed(&mut w, data, times);
            w.finish().unwrap()
        }
        "zstd" => {
            let src = Repeat {
                data,
                pos: 0,
                left: data.len() * times,
            };
            ruzstd::encoding::compress_to_vec(src, ruzstd::encoding::CompressionLevel::Fastest)
        }
        other => panic!("unknown codec {other}"),
    }
}

/// `data` compressed with `codec`.
pub fn wrap(codec: &str, data: &[u8]) -> Vec<u8> {
    wrap_repeated(codec, data, 1)
}

struct Repeat<'a> {
    data: &'a [u8],
    pos: usize,
    left: usize,
}

impl std::io::Read for Repeat<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < out.len() && self.left > 0 && !self.data.is_empty() {
            out[n] = self.data[self.pos];
            self.pos = (self.pos + 1) % self.data.len();
            self.left -= 1;
            n += 1;
        }
        Ok(n)
    }
}

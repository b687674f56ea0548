//! Compression wrappers (gzip, bzip2, xz, lzma, zlib, lz4, zstd): their content is judged
//! exactly as the same bytes unwrapped. Pickles are scanned as they decompress; content that
//! needs random access is materialised within the scan's budgets; unknown binary content is only
//! counted.

use std::io::{BufReader, Read};

use crate::blob::{Blob, StreamSkip};
use crate::context::Ctx;
use crate::decompress;
use crate::formats::pickle;
use crate::kind::{Codec, Format, Kind, Wrapper};
use crate::sniff::{is_text_bytes, known_data_head, sniff, Sniff};
use crate::Rule;

/// Scan what a compression wrapper holds, judged exactly as the same bytes unwrapped.
pub(crate) fn scan(
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    codec: Codec,
    member: Option<&str>,
    depth: usize,
) -> Kind {
    let name = codec.name();
    let wrap = |k: Kind| Kind::Wrapped(Wrapper::Codec(codec), Box::new(k));
    let open = |ctx: &Ctx<'_>| decompress::open(codec, blob, &ctx.limits(), &ctx.budget);
    let fail = |ctx: &mut Ctx<'_>, e: &std::io::Error, got: u64| {
        let rule = if decompress::is_limit(e) {
            Rule::ResourceLimit
        } else {
            Rule::ArchiveMalformed
        };
        let msg = if got == 0 {
            format!("{name} stream cannot be decompressed: {e}")
        } else {
            format!("{name} stream stops after {got} bytes: {e}; the part before was scanned")
        };
        ctx.fail(rule, msg, member);
    };
    let mut head = Vec::new();
    let first = open(ctx).and_then(|s| s.take(512).read_to_end(&mut head));
    if let Err(e) = first {
        if head.is_empty() {
            fail(ctx, &e, 0);
            return Kind::Format(Format::Unopened(Wrapper::Codec(codec)));
        }
    }
    if matches!(head.as_slice(), [0x80, p, ..] if *p <= 5) {
        // Pickles are streamed as they decompress, never held whole.
        let sum = match open(ctx) {
            Ok(s) => {
                let mut r = StreamSkip(BufReader::with_capacity(64 * 1024, s));
                pickle::scan_stream(&mut r, ctx, member, depth + 1)
            }
            Err(e) => {
                fail(ctx, &e, 0);
                return Kind::Format(Format::Unopened(Wrapper::Codec(codec)));
            }
        };
        if sum.trailing.is_some() && !sum.torch_legacy {
            // Decompress again up to the trailing data, and search the rest as a blob.
            let rest = open(ctx).and_then(|mut s| {
                std::io::copy(&mut (&mut s).take(sum.end), &mut std::io::sink())?;
                let cap = ctx.limits().max_inline_blob;
                Ok(decompress::materialize(&mut s.take(cap), &ctx.budget))
            });
            if let Ok((tail, _)) = rest {
                pickle::search_trailing(ctx, &tail, sum.end, member, depth + 1);
            }
        }
        return wrap(Kind::Format(pickle::summary(ctx, sum, member)));
    }
    let clearly_binary = !head.is_empty()
        && !is_text_bytes(&head)
        && !head
            .first()
            .is_some_and(|b| pickle::is_pickle_start(*b) || matches!(b, 0x08 | 0x0a))
        && sniff(&head, u64::MAX) == Sniff::Other
        && known_data_head(&head).is_none();
    if clearly_binary {
        // Binary data in no known format: nothing to parse, so only count it to the end
        // (a bomb still meets its limits) without holding it.
        let mut total = 0u64;
        let drained = open(ctx).and_then(|mut s| {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => total += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        });
        if let Err(e) = drained {
            fail(ctx, &e, total.max(1));
        }
        return wrap(Kind::Binary);
    }
    let (inner, failure) = match open(ctx) {
        Ok(mut s) => decompress::materialize(&mut s, &ctx.budget),
        Err(e) => (Blob::mem(Vec::new()), Some(e)),
    };
    if let Some(e) = failure {
        fail(ctx, &e, inner.len());
    }
    wrap(ctx.scan(&inner, member, depth + 1))
}

//! One module per format, and the one door they all recurse through: [`Dispatch`] sniffs a
//! blob and hands it to its format. Formats reach the door only through `Ctx::scan`, so no
//! format module depends on this one.

pub(crate) mod compressed;
pub(crate) mod gguf;
pub(crate) mod hdf5;
pub(crate) mod keras;
pub(crate) mod npy;
pub(crate) mod onnx;
pub(crate) mod pickle;
pub(crate) mod safetensors;
pub(crate) mod savedmodel;
pub(crate) mod tar;
pub(crate) mod zip;

use crate::blob::Blob;
use crate::context::{Ctx, Door};
use crate::kind::{Codec, Format, Kind, Wrapper};
use crate::sniff::{is_text, known_data_head, sniff, Sniff};
use crate::{Rule, Severity};

/// The door: sniff, then scan as the sniffed format.
pub(crate) struct Dispatch;

impl Door for Dispatch {
    /// Sniff and scan one blob; `member` is its path inside containers.
    fn scan(&self, ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>, depth: usize) -> Kind {
        if depth > ctx.limits().max_depth {
            ctx.add(
                Severity::Medium,
                Rule::ResourceLimit,
                format!(
                    "containers nested deeper than {}; the inner content was not scanned",
                    ctx.limits().max_depth
                ),
                None,
                member,
            );
            return Kind::Format(Format::Nested);
        }
        let head = match blob.head(0, 512) {
            Ok(h) => h,
            Err(e) => {
                ctx.fail(Rule::ArchiveMalformed, format!("cannot read: {e}"), member);
                return Kind::Format(Format::Unreadable);
            }
        };
        let sniffed = sniff(&head, blob.len());
        let appended = depth == 0 && sniffed != Sniff::Zip && zip::appended(ctx, blob);
        if appended {
            // Python's zipfile (and so Keras, and numpy for .npz by content) accepts data before
            // an archive: a zip glued to the end of another file is loadable, so scan it too.
            ctx.add(
                Severity::Medium,
                Rule::ArchiveHiddenMember,
                "a zip archive is appended to this file; zip readers that allow a prefix load it"
                    .into(),
                None,
                member,
            );
            let _ = zip::scan(ctx, blob, member, depth);
        }
        let kind = dispatch(ctx, blob, &head, sniffed, member, depth);
        match kind {
            Kind::Binary if appended => Kind::Format(Format::Zip),
            other => other,
        }
    }
}

fn dispatch(
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    head: &[u8],
    sniffed: Sniff,
    member: Option<&str>,
    depth: usize,
) -> Kind {
    match sniffed {
        Sniff::Zip => Kind::Format(zip::scan(ctx, blob, member, depth)),
        Sniff::Compressed(codec) => compressed::scan(ctx, blob, codec, member, depth),
        Sniff::JoblibZ => {
            // Old joblib (< 0.10): b"ZF", the length in hex padded to 19 bytes, an optional
            // space, then a zlib stream.
            let at = if head.get(21) == Some(&b' ') { 22 } else { 21 };
            match blob.slice(at, blob.len().saturating_sub(at)) {
                Ok(z) => Kind::Wrapped(
                    Wrapper::JoblibZfile,
                    Box::new(compressed::scan(ctx, &z, Codec::Zlib, member, depth)),
                ),
                Err(e) => {
                    ctx.fail(Rule::ArchiveMalformed, format!("joblib zfile: {e}"), member);
                    Kind::Format(Format::Unopened(Wrapper::JoblibZfile))
                }
            }
        }
        Sniff::SevenZip => {
            ctx.add(
                Severity::Medium,
                Rule::ArchiveUnreadableMember,
                "7z archive: its members are not unpacked by this scanner, so they cannot be shown safe".into(),
                None,
                member,
            );
            Kind::Format(Format::SevenZip)
        }
        Sniff::Npy => Kind::Format(npy::scan(ctx, blob, member, depth)),
        Sniff::Gguf => Kind::Format(gguf::scan(ctx, blob, member)),
        Sniff::Hdf5 => Kind::Format(hdf5::scan(ctx, blob, member)),
        Sniff::Safetensors => Kind::Format(safetensors::scan(ctx, blob, member)),
        Sniff::Tar => Kind::Format(tar::scan(ctx, blob, member, depth)),
        Sniff::Pickle => Kind::Format(pickle::scan_blob(ctx, blob, member, depth, false)),
        Sniff::Other => {
            if let Some(f) = onnx::scan_if_onnx(ctx, blob, member) {
                return Kind::Format(f);
            }
            if let Some(f) = savedmodel::scan_if_savedmodel(ctx, blob, member) {
                return Kind::Format(f);
            }
            if head.first().is_some_and(|b| pickle::is_pickle_start(*b)) {
                // A protocol 0/1 pickle, or text that happens to start like one: accept it as
                // a pickle if it parses to STOP, or if it calls an import before breaking.
                let mut trial = ctx.child();
                let sum = pickle::scan_stream(&mut blob.reader(), &mut trial, member, depth);
                // A limit reached is a finding too: never let it pass as text.
                if sum.complete > 0 || sum.is_real() {
                    ctx.absorb(trial);
                    pickle::blob_trailing(ctx, &sum, blob, member, depth);
                    return Kind::Format(pickle::summary(ctx, sum, member));
                }
            }
            if is_text(blob, head) {
                Kind::Text
            } else if let Some(what) = known_data(blob, head, ctx.limits().max_entries) {
                // Known formats that hold data only, no model code path (images, tokenizers).
                if member.is_none() {
                    ctx.add(
                        Severity::Low,
                        Rule::NotAModel,
                        format!("{}: data only, no model format", what.name()),
                        None,
                        None,
                    );
                }
                Kind::Format(what)
            } else {
                Kind::Binary
            }
        }
    }
}

/// Data-only formats that are not models: images and SentencePiece tokenizers.
fn known_data(blob: &Blob, head: &[u8], max_steps: u64) -> Option<Format> {
    if let Some(image) = known_data_head(head) {
        Some(image)
    } else if onnx::is_sentencepiece(blob, max_steps) {
        Some(Format::SentencePiece)
    } else {
        None
    }
}

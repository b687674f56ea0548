//! The scanner: content sniffing, dispatch to each format, and the per-file context findings
//! are collected in.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::blob::{Blob, StreamSkip};
use crate::decompress::{self, Budget, Codec};
use crate::globals::{judge, Verdict};
use crate::{Error, FileReport, Finding, Limits, Policy, Rule, Severity};

/// Scans files, directories and byte buffers. Cheap to share between threads.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    limits: Limits,
    policy: Policy,
}

/// The reports of a scan of several paths, and the paths that could not be read at all.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// One report per file, sorted by path.
    pub reports: Vec<FileReport>,
    /// Paths (or directory entries) that could not be opened or listed.
    pub errors: Vec<Error>,
}

impl Scanner {
    /// A scanner with the given limits and policy.
    pub fn new(limits: Limits, policy: Policy) -> Scanner {
        Scanner { limits, policy }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Scan files and directories (walked recursively, files scanned in parallel).
    pub fn scan_paths<P: AsRef<Path>>(&self, paths: &[P]) -> ScanOutcome {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            let p = p.as_ref();
            match std::fs::metadata(p) {
                Err(source) => errors.push(Error::Io {
                    path: p.to_path_buf(),
                    source,
                }),
                Ok(m) if m.is_dir() => {
                    for entry in walkdir::WalkDir::new(p)
                        .follow_links(true)
                        .sort_by_file_name()
                    {
                        match entry {
                            Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
                            Ok(_) => {}
                            Err(e) => {
                                let path = e
                                    .path()
                                    .map(Path::to_path_buf)
                                    .unwrap_or_else(|| p.to_path_buf());
                                let source = e
                                    .into_io_error()
                                    .unwrap_or_else(|| std::io::Error::other("filesystem loop"));
                                errors.push(Error::Io { path, source });
                            }
                        }
                    }
                }
                Ok(_) => files.push(p.to_path_buf()),
            }
        }
        let budget = Budget::new(&self.limits);
        let results: Vec<Result<FileReport, Error>> = files
            .par_iter()
            .map(|f| self.scan_file_with(f, &budget))
            .collect();
        let mut reports = Vec::new();
        for r in results {
            match r {
                Ok(rep) => reports.push(rep),
                Err(e) => errors.push(e),
            }
        }
        resolve_external_data(&mut reports);
        reports.sort_by(|a, b| a.path.cmp(&b.path));
        ScanOutcome { reports, errors }
    }

    /// Scan one file. Fails only if the file cannot be opened.
    pub fn scan_file(&self, path: &Path) -> Result<FileReport, Error> {
        self.scan_file_with(path, &Budget::new(&self.limits))
    }

    fn scan_file_with(&self, path: &Path, budget: &Arc<Budget>) -> Result<FileReport, Error> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let blob = Blob::file(file).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut ctx = Ctx::new(
            self,
            Arc::clone(budget),
            path.parent().map(Path::to_path_buf),
        );
        let format = self.top(&mut ctx, &blob, path);
        Ok(ctx.finish(path.to_path_buf(), format))
    }

    /// Scan bytes held in memory; `name` is used as the report's path.
    pub fn scan_bytes(&self, name: &str, bytes: &[u8]) -> FileReport {
        let blob = Blob::mem(bytes.to_vec());
        let mut ctx = Ctx::new(self, Budget::new(&self.limits), None);
        let format = self.top(&mut ctx, &blob, Path::new(name));
        ctx.finish(PathBuf::from(name), format)
    }

    fn top(&self, ctx: &mut Ctx<'_>, blob: &Blob, name: &Path) -> String {
        let kind = self.scan_blob(ctx, blob, None, 0);
        let wrapped = matches!(kind, Kind::Wrapped(..));
        if let (Kind::Text, Some((ext, rule))) = (kind.innermost(), claimed_format(name)) {
            // The name claims a model format, but the content is empty or text: a model that
            // was cut short or replaced, never a pass.
            let what = if blob.len() == 0 {
                "empty"
            } else {
                "text, not a model"
            };
            ctx.fail(
                rule,
                format!("named as a .{ext} model, but the file is {what}"),
                None,
            );
            return kind.name();
        }
        match kind.innermost() {
            Kind::Text => ctx.add(
                Severity::Low,
                Rule::NotAModel,
                if wrapped {
                    "compressed text file that no model format claims".into()
                } else {
                    "text file that no model format claims".into()
                },
                None,
                None,
            ),
            Kind::Binary => ctx.add(
                Severity::Medium,
                Rule::UnknownFormat,
                if wrapped {
                    format!("{}: the decompressed content is binary data in no known model format; it cannot be shown safe", kind.name())
                } else {
                    "binary file in no known model format; it cannot be shown safe".into()
                },
                None,
                None,
            ),
            _ => {}
        }
        kind.name()
    }

    /// Sniff and scan one blob; `member` is its path inside containers.
    pub(crate) fn scan_blob(
        &self,
        ctx: &mut Ctx<'_>,
        blob: &Blob,
        member: Option<&str>,
        depth: usize,
    ) -> Kind {
        if depth > self.limits.max_depth {
            ctx.add(
                Severity::Medium,
                Rule::ResourceLimit,
                format!(
                    "containers nested deeper than {}; the inner content was not scanned",
                    self.limits.max_depth
                ),
                None,
                member,
            );
            return Kind::Format("nested".into());
        }
        let head = match blob.head(0, 512) {
            Ok(h) => h,
            Err(e) => {
                ctx.fail(Rule::ArchiveMalformed, format!("cannot read: {e}"), member);
                return Kind::Format("unreadable".into());
            }
        };
        let sniffed = sniff(&head, blob.len());
        let appended = depth == 0 && sniffed != Sniff::Zip && crate::zip::appended(ctx, blob);
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
            let _ = crate::zip::scan(self, ctx, blob, member, depth);
        }
        let kind = self.dispatch(ctx, blob, &head, sniffed, member, depth);
        match kind {
            Kind::Binary if appended => Kind::Format("zip".into()),
            other => other,
        }
    }

    fn dispatch(
        &self,
        ctx: &mut Ctx<'_>,
        blob: &Blob,
        head: &[u8],
        sniffed: Sniff,
        member: Option<&str>,
        depth: usize,
    ) -> Kind {
        match sniffed {
            Sniff::Zip => Kind::Format(crate::zip::scan(self, ctx, blob, member, depth)),
            Sniff::Compressed(codec) => self.scan_compressed(ctx, blob, codec, member, depth),
            Sniff::JoblibZ => {
                // Old joblib (< 0.10): b"ZF", the length in hex padded to 19 bytes, an optional
                // space, then a zlib stream.
                let at = if head.get(21) == Some(&b' ') { 22 } else { 21 };
                match blob.slice(at, blob.len().saturating_sub(at)) {
                    Ok(z) => Kind::Wrapped(
                        "joblib-zfile",
                        Box::new(self.scan_compressed(ctx, &z, Codec::Zlib, member, depth)),
                    ),
                    Err(e) => {
                        ctx.fail(Rule::ArchiveMalformed, format!("joblib zfile: {e}"), member);
                        Kind::Format("joblib-zfile".into())
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
                Kind::Format("7z".into())
            }
            Sniff::Npy => Kind::Format(crate::formats::npy(self, ctx, blob, member, depth)),
            Sniff::Gguf => Kind::Format(crate::formats::gguf(ctx, blob, member)),
            Sniff::Hdf5 => Kind::Format(crate::formats::hdf5(ctx, blob, member)),
            Sniff::Safetensors => Kind::Format(crate::formats::safetensors(ctx, blob, member)),
            Sniff::Tar => Kind::Format(crate::formats::tar(self, ctx, blob, member, depth)),
            Sniff::Pickle => Kind::Format(self.scan_pickle(ctx, blob, member, depth, false)),
            Sniff::Other => {
                if let Some(f) = crate::onnx::scan_if_onnx(ctx, blob, member) {
                    return Kind::Format(f);
                }
                if head
                    .first()
                    .is_some_and(|b| crate::pickle::is_pickle_start(*b))
                {
                    // A protocol 0/1 pickle, or text that happens to start like one: accept it as
                    // a pickle if it parses to STOP, or if it calls an import before breaking.
                    let mut trial = ctx.child();
                    let sum =
                        crate::pickle::scan_stream(&mut blob.reader(), &mut trial, member, depth);
                    // A limit reached is a finding too: never let it pass as text.
                    if sum.complete > 0 || sum.is_real() {
                        ctx.absorb(trial);
                        self.blob_trailing(ctx, &sum, blob, member, depth);
                        return Kind::Format(self.pickle_summary(ctx, sum, member, "pickle"));
                    }
                }
                if is_text(blob, head) {
                    Kind::Text
                } else if let Some(what) = known_data(blob, head, self.limits.max_entries) {
                    // Known formats that hold data only, no model code path (images, tokenizers).
                    if member.is_none() {
                        ctx.add(
                            Severity::Low,
                            Rule::NotAModel,
                            format!("{what}: data only, no model format"),
                            None,
                            None,
                        );
                    }
                    Kind::Format(what.into())
                } else {
                    Kind::Binary
                }
            }
        }
    }

    /// Scan a blob already known to start like a pickle.
    pub(crate) fn scan_pickle(
        &self,
        ctx: &mut Ctx<'_>,
        blob: &Blob,
        member: Option<&str>,
        depth: usize,
        quiet_trailing: bool,
    ) -> String {
        let sum = crate::pickle::scan_stream(&mut blob.reader(), ctx, member, depth);
        let mut sum = sum;
        if quiet_trailing {
            sum.trailing = None;
        }
        self.blob_trailing(ctx, &sum, blob, member, depth);
        self.pickle_summary(ctx, sum, member, "pickle")
    }

    /// Search the data after a pickle stream's last STOP, if any, for hidden pickles.
    pub(crate) fn blob_trailing(
        &self,
        ctx: &mut Ctx<'_>,
        sum: &crate::pickle::Summary,
        blob: &Blob,
        member: Option<&str>,
        depth: usize,
    ) {
        let broke = sum.broke.as_ref().is_some_and(|b| !b.limit);
        if (sum.trailing.is_none() && !broke) || sum.torch_legacy {
            return;
        }
        // After a pickle that broke, search from where it broke.
        let start = match &sum.broke {
            Some(b) => b.offset.max(sum.end),
            None => sum.end,
        };
        if let Ok(tail) = blob.slice(start, blob.len().saturating_sub(start)) {
            self.search_trailing(ctx, &tail, start, member, depth);
        }
    }

    /// Trailing data that parses as a pickle is scanned as one, wherever it starts: after a
    /// separator of any length, in the middle of other bytes, in protocol 0 text. `base` is the
    /// tail's offset in its stream. Each start that a pickle could open with is tried; a trial
    /// counts when it imports something and reaches STOP or calls it (or hits a limit). The
    /// search is bounded by `max_inline_blob` bytes, the opcode budget and a read budget.
    pub(crate) fn search_trailing(
        &self,
        ctx: &mut Ctx<'_>,
        tail: &Blob,
        base: u64,
        member: Option<&str>,
        depth: usize,
    ) {
        let max = self.limits.max_inline_blob;
        let len = tail.len().min(max);
        let Ok(bytes) = tail.head(0, len as usize) else {
            return;
        };
        if tail.len() > max {
            ctx.add(
                Severity::Medium,
                Rule::ResourceLimit,
                format!("only the first {max} of the {} bytes after the last pickle were searched for hidden pickles", tail.len()),
                None,
                member,
            );
        }
        let mut ops = self.limits.max_pickle_ops;
        let mut reads = 0u64;
        let read_budget = (bytes.len() as u64).saturating_mul(64).max(64 << 20);
        let mut i = 0usize;
        while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
            let first = rest.first().copied().unwrap_or(0);
            let candidate = if first == 0x80 {
                rest.get(1).is_some_and(|p| *p <= 5)
            } else {
                crate::pickle::is_pickle_start(first)
            };
            if !candidate {
                i += 1;
                continue;
            }
            if ops == 0 || reads > read_budget {
                ctx.fail(
                    Rule::ResourceLimit,
                    format!("the search for pickles hidden after the last STOP stopped at offset {}: too much work", base + i as u64),
                    member,
                );
                return;
            }
            let mut trial = ctx.child();
            let mut r = StreamSkip(rest);
            let sum = crate::pickle::scan_stream_with(&mut r, &mut trial, member, depth, &mut ops);
            reads += sum.read;
            if sum.is_real() {
                ctx.absorb(trial);
                ctx.add(
                    Severity::Low,
                    Rule::PickleTrailingData,
                    format!("a pickle is hidden in the data after the last STOP, at offset {}; it was scanned", base + i as u64),
                    None,
                    member,
                );
                if sum.complete > 0 && sum.end > 0 {
                    i += usize::try_from(sum.end)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    continue;
                }
            }
            i += 1;
        }
    }

    pub(crate) fn pickle_summary(
        &self,
        ctx: &mut Ctx<'_>,
        sum: crate::pickle::Summary,
        member: Option<&str>,
        base: &str,
    ) -> String {
        if let Some(b) = &sum.broke {
            let (rule, what) = if b.limit {
                (Rule::ResourceLimit, "pickle analysis stopped")
            } else {
                (Rule::PickleMalformed, "pickle stream breaks")
            };
            ctx.fail(
                rule,
                format!("{what} at offset {}: {}", b.offset, b.reason),
                member,
            );
        }
        if let (Some(t), false) = (&sum.trailing, sum.torch_legacy) {
            ctx.add(
                Severity::Low,
                Rule::PickleTrailingData,
                format!(
                    "data that is not a pickle follows the pickle, from offset {} ({})",
                    t.offset, t.reason
                ),
                None,
                member,
            );
        }
        if sum.torch_legacy {
            "pytorch-legacy".into()
        } else if sum.joblib {
            "joblib".into()
        } else {
            base.into()
        }
    }

    /// Scan what a compression wrapper holds, judged exactly as the same bytes unwrapped.
    fn scan_compressed(
        &self,
        ctx: &mut Ctx<'_>,
        blob: &Blob,
        codec: Codec,
        member: Option<&str>,
        depth: usize,
    ) -> Kind {
        let name = codec.name();
        let wrap = |k: Kind| Kind::Wrapped(name, Box::new(k));
        let open = |ctx: &Ctx<'_>| decompress::open(codec, blob, &self.limits, &ctx.budget);
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
                return Kind::Format(name.into());
            }
        }
        if matches!(head.as_slice(), [0x80, p, ..] if *p <= 5) {
            // Pickles are streamed as they decompress, never held whole.
            let sum = match open(ctx) {
                Ok(s) => {
                    let mut r = StreamSkip(BufReader::with_capacity(64 * 1024, s));
                    crate::pickle::scan_stream(&mut r, ctx, member, depth + 1)
                }
                Err(e) => {
                    fail(ctx, &e, 0);
                    return Kind::Format(name.into());
                }
            };
            if sum.trailing.is_some() && !sum.torch_legacy {
                // Decompress again up to the trailing data, and search the rest as a blob.
                let rest = open(ctx).and_then(|mut s| {
                    std::io::copy(&mut (&mut s).take(sum.end), &mut std::io::sink())?;
                    let cap = self.limits.max_inline_blob;
                    Ok(decompress::materialize(&mut s.take(cap), &ctx.budget))
                });
                if let Ok((tail, _)) = rest {
                    self.search_trailing(ctx, &tail, sum.end, member, depth + 1);
                }
            }
            return wrap(Kind::Format(
                self.pickle_summary(ctx, sum, member, "pickle"),
            ));
        }
        let clearly_binary = !head.is_empty()
            && !is_text_bytes(&head)
            && !head
                .first()
                .is_some_and(|b| crate::pickle::is_pickle_start(*b) || matches!(b, 0x08 | 0x0a))
            && sniff(&head, u64::MAX) == Sniff::Other
            && known_data_head(&head).is_none();
        if clearly_binary {
            // Binary data in no known format: nothing to parse, so only count it to the end
            // (a bomb still meets its limits) without holding it.
            let mut total = 0u64;
            match open(ctx).and_then(|mut s| std::io::copy(&mut s, &mut std::io::sink())) {
                Ok(n) => total = n,
                Err(e) => fail(ctx, &e, total.max(head.len() as u64)),
            }
            let _ = total;
            return wrap(Kind::Binary);
        }
        let (inner, failure) = match open(ctx) {
            Ok(mut s) => decompress::materialize(&mut s, &ctx.budget),
            Err(e) => (Blob::mem(Vec::new()), Some(e)),
        };
        if let Some(e) = failure {
            fail(ctx, &e, inner.len());
        }
        wrap(self.scan_blob(ctx, &inner, member, depth + 1))
    }
}

/// What a blob turned out to be.
pub(crate) enum Kind {
    Format(String),
    Text,
    Binary,
    /// What a compression wrapper (or old joblib's zfile) holds.
    Wrapped(&'static str, Box<Kind>),
}

impl Kind {
    pub(crate) fn name(&self) -> String {
        match self {
            Kind::Format(f) => f.clone(),
            Kind::Text => "text".into(),
            Kind::Binary => "unknown".into(),
            Kind::Wrapped(w, k) => format!("{w}/{}", k.name()),
        }
    }

    /// What is inside every wrapper.
    pub(crate) fn innermost(&self) -> &Kind {
        match self {
            Kind::Wrapped(_, k) => k.innermost(),
            k => k,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The model format a file name claims by its extension, and the rule for a file that does not
/// hold it (only extensions that always mean a binary model format).
fn claimed_format(name: &Path) -> Option<(String, Rule)> {
    let ext = name.extension()?.to_str()?.to_ascii_lowercase();
    let rule = match ext.as_str() {
        "pkl" | "pickle" | "joblib" | "dill" => Rule::PickleMalformed,
        "pt" | "pth" | "ckpt" | "npz" | "mar" => Rule::ArchiveMalformed,
        "npy" => Rule::NumpyMalformed,
        "onnx" => Rule::OnnxMalformed,
        "safetensors" => Rule::SafetensorsMalformed,
        "gguf" => Rule::GgufMalformed,
        "keras" | "h5" | "hdf5" => Rule::KerasMalformed,
        _ => return None,
    };
    Some((ext, rule))
}

fn is_text(blob: &Blob, head: &[u8]) -> bool {
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

/// Data-only formats that are not models: images and SentencePiece tokenizers.
fn known_data(blob: &Blob, head: &[u8], max_steps: u64) -> Option<&'static str> {
    if let Some(image) = known_data_head(head) {
        Some(image)
    } else if crate::onnx::is_sentencepiece(blob, max_steps) {
        Some("sentencepiece")
    } else {
        None
    }
}

/// Image formats, known from their first bytes.
fn known_data_head(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("gif")
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Some("webp")
    } else {
        None
    }
}

fn resolve_external_data(reports: &mut [FileReport]) {
    let wanted: HashSet<PathBuf> = reports
        .iter()
        .flat_map(|r| r.external_data.iter())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    if wanted.is_empty() {
        return;
    }
    for r in reports.iter_mut() {
        if r.format != "unknown" {
            continue;
        }
        if std::fs::canonicalize(&r.path).is_ok_and(|p| wanted.contains(&p)) {
            r.findings
                .retain(|f| !(f.rule == Rule::UnknownFormat && f.member.is_none()));
            r.format = "onnx-external-data".into();
        }
    }
}

/// Where one file's findings are collected.
pub(crate) struct Ctx<'a> {
    scanner: &'a Scanner,
    /// What the whole scan may still spend (shared by every file and thread).
    pub(crate) budget: Arc<Budget>,
    findings: Vec<Finding>,
    seen: HashSet<(Rule, Option<String>, Option<String>, String)>,
    error: Option<String>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) external: Vec<PathBuf>,
}

impl<'a> Ctx<'a> {
    fn new(scanner: &'a Scanner, budget: Arc<Budget>, dir: Option<PathBuf>) -> Self {
        Ctx {
            scanner,
            budget,
            findings: Vec::new(),
            seen: HashSet::new(),
            error: None,
            dir,
            external: Vec::new(),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.scanner.limits
    }

    /// A context whose findings are thrown away (for probing).
    pub(crate) fn new_detached(&self) -> Ctx<'a> {
        Ctx::new(self.scanner, Arc::clone(&self.budget), None)
    }

    pub(crate) fn child(&self) -> Ctx<'a> {
        Ctx::new(self.scanner, Arc::clone(&self.budget), self.dir.clone())
    }

    pub(crate) fn absorb(&mut self, other: Ctx<'a>) {
        for f in other.findings {
            self.push(f);
        }
        if self.error.is_none() {
            self.error = other.error;
        }
        self.external.extend(other.external);
    }

    pub(crate) fn finding_count(&self) -> usize {
        self.findings.len()
    }

    fn push(&mut self, f: Finding) {
        let key = (
            f.rule,
            f.global.clone(),
            f.member.clone(),
            if f.global.is_some() {
                String::new()
            } else {
                f.message.clone()
            },
        );
        if self.seen.insert(key) {
            self.findings.push(f);
        }
    }

    /// Record a finding.
    pub(crate) fn add(
        &mut self,
        severity: Severity,
        rule: Rule,
        message: String,
        global: Option<&str>,
        member: Option<&str>,
    ) {
        self.push(Finding {
            severity,
            rule,
            message,
            global: global.map(str::to_string),
            member: member.map(str::to_string),
        });
    }

    /// Record a MEDIUM finding for content that cannot be analysed, and remember the first as the file's error.
    pub(crate) fn fail(&mut self, rule: Rule, message: String, member: Option<&str>) {
        if self.error.is_none() {
            self.error = Some(match member {
                Some(m) => format!("{m}: {message}"),
                None => message.clone(),
            });
        }
        self.add(Severity::Medium, rule, message, None, member);
    }

    /// Judge an imported global against the built-in lists and the user's policy.
    pub(crate) fn judge_global(&mut self, global: &str, member: Option<&str>, how: &str) {
        let (severity, rule, message) = match judge(global) {
            Verdict::Safe => return,
            Verdict::Deny(sev, why) => {
                let rule = if sev == Severity::Critical { Rule::PickleCodeExecution } else { Rule::PickleDangerousGlobal };
                (sev, rule, format!("imports {global} ({how}): {why}"))
            }
            Verdict::Unknown => (
                Severity::Medium,
                Rule::PickleUnknownGlobal,
                format!("imports {global} ({how}), which is on neither the allow-list nor the deny-list"),
            ),
        };
        if let Some(rule_ok) = self.scanner.policy.find(global) {
            let msg = format!(
                "{global} allowed by {} (would be {severity} {rule})",
                rule_ok.describe()
            );
            self.add(
                Severity::Low,
                Rule::PolicyAllowed,
                msg,
                Some(global),
                member,
            );
            return;
        }
        self.add(severity, rule, message, Some(global), member);
    }

    /// Scan bytes found inside another file.
    pub(crate) fn scan_nested(&mut self, blob: &Blob, member: &str, depth: usize) {
        let scanner = self.scanner;
        let _ = scanner.scan_blob(self, blob, Some(member), depth);
    }

    fn finish(mut self, path: PathBuf, format: String) -> FileReport {
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.member.cmp(&b.member))
        });
        FileReport {
            path,
            format,
            findings: self.findings,
            error: self.error,
            external_data: self.external,
        }
    }
}

//! The scanner's API: paths, files and buffers in, one report per file out.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::blob::Blob;
use crate::budget::Budget;
use crate::context::Ctx;
use crate::formats::Dispatch;
use crate::kind::{Format, Kind};
use crate::{Error, FileReport, Limits, Policy, Rule, Severity};

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
            &self.limits,
            &self.policy,
            &Dispatch,
            Arc::clone(budget),
            path.parent().map(Path::to_path_buf),
        );
        let format = self.top(&mut ctx, &blob, path);
        Ok(ctx.finish(path.to_path_buf(), format))
    }

    /// Scan bytes held in memory; `name` is used as the report's path.
    pub fn scan_bytes(&self, name: &str, bytes: &[u8]) -> FileReport {
        let blob = Blob::mem(bytes.to_vec());
        let mut ctx = Ctx::new(
            &self.limits,
            &self.policy,
            &Dispatch,
            Budget::new(&self.limits),
            None,
        );
        let format = self.top(&mut ctx, &blob, Path::new(name));
        ctx.finish(PathBuf::from(name), format)
    }

    fn top(&self, ctx: &mut Ctx<'_>, blob: &Blob, name: &Path) -> String {
        let kind = ctx.scan(blob, None, 0);
        let wrapped = matches!(kind, Kind::Wrapped(..));
        if let (Kind::Text, Some((ext, rule))) = (&kind, claimed_format(name)) {
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
}

/// The model format a file name claims by its extension, and the rule for a file that does not
/// hold it (only extensions that always mean a binary model format).
fn claimed_format(name: &Path) -> Option<(String, Rule)> {
    let ext = name.extension()?.to_str()?.to_ascii_lowercase();
    let rule = match ext.as_str() {
        "pkl" | "pickle" | "joblib" | "dill" => Rule::PickleMalformed,
        "pt" | "pth" | "ckpt" | "npz" | "mar" | "zip" | "tar" | "gz" | "bz2" | "xz" | "lzma"
        | "zst" | "lz4" | "z" | "7z" => Rule::ArchiveMalformed,
        "pb" => Rule::TfMalformed,
        "npy" => Rule::NumpyMalformed,
        "onnx" => Rule::OnnxMalformed,
        "safetensors" => Rule::SafetensorsMalformed,
        "gguf" => Rule::GgufMalformed,
        "keras" | "h5" | "hdf5" => Rule::KerasMalformed,
        _ => return None,
    };
    Some((ext, rule))
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
        if r.format != Kind::Binary.name() {
            continue;
        }
        if std::fs::canonicalize(&r.path).is_ok_and(|p| wanted.contains(&p)) {
            r.findings
                .retain(|f| !(f.rule == Rule::UnknownFormat && f.member.is_none()));
            r.format = Format::OnnxExternalData.name().into();
        }
    }
}

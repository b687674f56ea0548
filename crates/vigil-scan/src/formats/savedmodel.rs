//! TensorFlow SavedModel (`saved_model.pb`): graph ops that run Python or touch files.
//!
//! The protobuf is walked field by field (`SavedModel.meta_graphs` -> `MetaGraphDef.graph_def`
//! -> `GraphDef.node` and `GraphDef.library.function.node_def` -> `NodeDef.op`); tensors and
//! everything else are skipped by length. The ops judged:
//!
//! - CRITICAL `tf-py-func`: `PyFunc`, `PyFuncStateless`, `EagerPyFunc` (run a Python function;
//!   the function itself lives in the program, so a graph that names one is code execution
//!   by design).
//! - HIGH `tf-file-access`: ops that read, write or list files by a path the graph chooses:
//!   [`FILE_OPS`].
//!
//! `SaveV2`, `RestoreV2`, `MergeV2Checkpoints` and `ShardedFilename` are not reported: every
//! TensorFlow 1 SavedModel holds them for its own variables checkpoint.

use crate::blob::Blob;
use crate::context::Ctx;
use crate::kind::Format;
use crate::protobuf::{Pb, R};
use crate::{Rule, Severity};

/// Ops that run Python code.
pub(crate) const PY_OPS: &[&str] = &["PyFunc", "PyFuncStateless", "EagerPyFunc"];

/// Ops that read, write or list files by a path the graph chooses.
pub(crate) const FILE_OPS: &[&str] = &[
    "ReadFile",
    "WriteFile",
    "MatchingFiles",
    "WholeFileReader",
    "WholeFileReaderV2",
    "ImmutableConst",
    "DatasetToTFRecord",
    "ExperimentalDatasetToTFRecord",
    "CreateSummaryFileWriter",
    "FileSystemSetConfiguration",
];

/// If the blob parses as a SavedModel with at least one graph node, scan it.
pub(crate) fn scan_if_savedmodel(
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    member: Option<&str>,
) -> Option<Format> {
    let first = blob.head(0, 1).ok()?.first().copied()?;
    if first != 0x08 && first != 0x12 {
        return None;
    }
    let max = ctx.limits().max_entries;
    // SavedModel has two top-level fields: the schema version and the meta graphs.
    let mut graphs = 0u64;
    let mut plausible = true;
    let probe = Pb::new(blob, max).fields(0, blob.len(), &mut |_, field, wire, _, _| {
        match (field, wire) {
            (1, 0) => {}
            (2, 2) => graphs += 1,
            _ => plausible = false,
        }
        Ok(())
    });
    if probe.is_err() || !plausible || graphs == 0 {
        return None;
    }
    let mut ops: Vec<String> = Vec::new();
    let mut nodes = 0u64;
    let mut pb = Pb::new(blob, max);
    let res = pb.fields(
        0,
        blob.len(),
        &mut |pb, field, wire, len, at| match (field, wire) {
            (2, 2) => meta_graph(pb, at, at + len, &mut ops, &mut nodes),
            _ => Ok(()),
        },
    );
    if nodes == 0 {
        // Not a graph: another protobuf, judged as unknown binary data.
        return None;
    }
    for op in &ops {
        if PY_OPS.contains(&op.as_str()) {
            ctx.add(
                Severity::Critical,
                Rule::TfPyFunc,
                format!("graph op {op} runs a Python function when the model runs"),
                None,
                member,
            );
        } else if FILE_OPS.contains(&op.as_str()) {
            ctx.add(
                Severity::High,
                Rule::TfFileAccess,
                format!("graph op {op} reads, writes or lists files by a path the graph chooses"),
                None,
                member,
            );
        }
    }
    if let Err(why) = res {
        ctx.fail(
            Rule::TfMalformed,
            format!("SavedModel protobuf: {why}"),
            member,
        );
    }
    Some(Format::SavedModel)
}

fn meta_graph(
    pb: &mut Pb<'_>,
    start: u64,
    end: u64,
    ops: &mut Vec<String>,
    nodes: &mut u64,
) -> R<()> {
    pb.fields(
        start,
        end,
        &mut |pb, field, wire, len, at| match (field, wire) {
            (2, 2) => graph(pb, at, at + len, ops, nodes),
            _ => Ok(()),
        },
    )
}

fn graph(pb: &mut Pb<'_>, start: u64, end: u64, ops: &mut Vec<String>, nodes: &mut u64) -> R<()> {
    pb.fields(
        start,
        end,
        &mut |pb, field, wire, len, at| match (field, wire) {
            (1, 2) => node(pb, at, at + len, ops, nodes),
            // library -> function -> node_def
            (2, 2) => pb.fields(at, at + len, &mut |pb, f, w, l, a| match (f, w) {
                (1, 2) => pb.fields(a, a + l, &mut |pb, f, w, l, a| match (f, w) {
                    (3, 2) => node(pb, a, a + l, ops, nodes),
                    _ => Ok(()),
                }),
                _ => Ok(()),
            }),
            _ => Ok(()),
        },
    )
}

fn node(pb: &mut Pb<'_>, start: u64, end: u64, ops: &mut Vec<String>, nodes: &mut u64) -> R<()> {
    *nodes += 1;
    pb.fields(start, end, &mut |pb, field, wire, len, at| {
        if (field, wire) == (2, 2) {
            let op = pb.string(at, len)?;
            if !ops.contains(&op) && ops.len() < 4096 {
                ops.push(op);
            }
        }
        Ok(())
    })
}

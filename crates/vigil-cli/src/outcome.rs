//! How a command ended, and the exit code each ending maps to.

use std::process::ExitCode;

/// The result of a command that ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0: the check passed, or nothing was found.
    Ok,
    /// Exit 1: a check failed or a finding was reported (already printed).
    Failed,
    /// Exit 2: usage or I/O error (printed by `main`).
    Error,
}

impl Outcome {
    /// The process exit code for this outcome.
    pub(crate) fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            Outcome::Ok => 0,
            Outcome::Failed => 1,
            Outcome::Error => 2,
        })
    }
}

/// True when the error chain ends in a broken pipe (the reader of our output went away).
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

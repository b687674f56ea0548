//! `vigil`: the command-line face of Vigil.
//!
//! Every command is `vigil <noun> <verb>`; each noun lives in its own module under `cmd/` as an
//! `Args` struct and a `run()` function. Exit codes are the same for every command:
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success: the check passed, nothing found |
//! | 1    | a check failed or a finding was reported |
//! | 2    | usage error, unreadable input, or any other error |
//!
//! Errors print as `vigil: what: why` on standard error. A closed pipe on standard output (as in
//! `vigil ... | head`) ends the program quietly with the code it would have had.

// Doc comments in this crate are clap help text, not rustdoc: `[[client]]` and `[:PORT]`
// in them are not links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod cmd;
mod outcome;
mod progress;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::outcome::Outcome;

/// Vigil protects ML-enabled medical devices: signed model bundles, model-file scanning,
/// a tamper-evident audit log, drift monitoring and a runtime guard.
///
/// Exit codes: 0 ok, 1 failed check or finding, 2 usage or I/O error.
#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

/// A whole file named on the command line, at most `max` bytes; errors read
/// `PATH: why` (`PATH: larger than N bytes` for one over the bound), the path named once.
pub(crate) fn read_bounded(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    Ok(vigil_core::read_bounded(path, max)?)
}

/// The error and its causes as `what: why: why`, each cause printed once: a library error that
/// already states its cause in its message (`PATH: No such file or directory`) and also
/// returns it as its source is not printed as `PATH: X: X`.
pub(crate) fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with exit 0, usage errors to stderr with 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    match cmd::run(cli.command) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) if outcome::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("vigil: {}", render(&err));
            Outcome::Error.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap checks the whole command tree (unique names, `--version` clashes) only when a
    /// command is parsed; this checks every subcommand at once.
    #[test]
    fn the_command_tree_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

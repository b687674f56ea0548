//! One module per noun: each holds a clap `Args` and a `run()` returning an [`Outcome`].

use clap::Subcommand;

use crate::outcome::Outcome;

mod log;
mod version;

/// The nouns `vigil` knows.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Keep a tamper-evident audit log: append events, sign checkpoints, prove and verify.
    Log(log::Args),
    /// Print version and build information.
    Version(version::Args),
}

/// Run one command.
pub(crate) fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Log(args) => log::run(args),
        Command::Version(args) => version::run(args),
    }
}

//! One module per noun: each holds a clap `Args` and a `run()` returning an [`Outcome`].

use clap::Subcommand;

use crate::outcome::Outcome;

mod version;

/// The nouns `vigil` knows.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print version and build information.
    Version(version::Args),
}

/// Run one command.
pub(crate) fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Version(args) => version::run(args),
    }
}

//! One module per noun: each holds a clap `Args` and a `run()` returning an [`Outcome`].

use clap::Subcommand;

use crate::outcome::Outcome;

mod drift;
mod version;

/// The nouns `vigil` knows.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Detect distribution drift between reference and current data (KS, CvM, chi-squared,
    /// Fisher, MMD) with p-values that agree with scipy.
    Drift(drift::Args),
    /// Print version and build information.
    Version(version::Args),
}

/// Run one command.
pub(crate) fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Drift(args) => drift::run(args),
        Command::Version(args) => version::run(args),
    }
}

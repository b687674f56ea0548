//! One module per noun: each holds a clap `Args` and a `run()` returning an [`Outcome`].

use clap::Subcommand;

use crate::outcome::Outcome;

mod bundle;
mod guard;
pub(crate) mod key;
mod version;

/// The nouns `vigil` knows.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate and inspect signing keys (ECDSA P-256, Ed25519).
    Key(key::Args),
    /// Sign and verify model bundles (OpenSSF model_signing compatible, trust policies).
    Bundle(bundle::Args),
    /// Run model inputs through the runtime guard; calibrate and evaluate its detectors.
    Guard(guard::Args),
    /// Print version and build information.
    Version(version::Args),
}

/// Run one command.
pub(crate) fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Key(args) => key::run(args),
        Command::Bundle(args) => bundle::run(args),
        Command::Guard(args) => guard::run(args),
        Command::Version(args) => version::run(args),
    }
}

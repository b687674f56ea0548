//! One module per noun: each holds a clap `Args` and a `run()` returning an [`Outcome`].

use clap::Subcommand;

use crate::outcome::Outcome;

mod assess;
mod bundle;
mod collector;
mod data;
mod demo;
mod drift;
pub(crate) mod evidence;
pub(crate) mod guard;
pub(crate) mod key;
mod log;
mod scan;
pub(crate) mod serve;
mod tls;
mod update;
mod version;

/// The nouns `vigil` knows.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate and inspect signing keys (ECDSA P-256, Ed25519).
    Key(key::Args),
    /// Sign and verify model bundles (OpenSSF model_signing compatible, trust policies).
    Bundle(bundle::Args),
    /// Keep a tamper-evident audit log: append events, sign checkpoints, prove and verify.
    Log(log::Args),
    /// Run the gateway on the example device and show what the guard does (DEMO).
    Demo(demo::Args),
    /// Serve a guarded model over HTTPS with mutual TLS (Open Inference Protocol).
    Serve(Box<serve::Args>),
    /// Make certificates for the gateway's mutual TLS (a demo PKI).
    Tls(tls::Args),
    /// Detect distribution drift between reference and current data (KS, CvM, chi-squared,
    /// Fisher, MMD) with p-values that agree with scipy.
    Drift(drift::Args),
    /// Scan model files for code execution and unsafe content (static analysis only).
    Scan(scan::Args),
    /// Run model inputs through the runtime guard; calibrate and evaluate its detectors.
    Guard(guard::Args),
    /// The fleet collector: a checkpoint witness, store and dashboard; push a ledger to it.
    Collector(collector::Args),
    /// Signed dataset manifests, verify and diff; screen data for label issues and outliers.
    Data(data::Args),
    /// Premarket evidence: vulnerability matching with VEX (the threat model, BOMs and the
    /// pack follow).
    Evidence(evidence::Args),
    /// Secure model updates over TUF: install, roll back, inspect; publish a repository.
    Update(update::Args),
    /// Assess a signed bundle before release: evasion attacks at stated budgets, bare and
    /// through its guard.
    Assess(assess::Args),
    /// Print version and build information.
    Version(version::Args),
}

/// Run one command.
pub(crate) fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Key(args) => key::run(args),
        Command::Bundle(args) => bundle::run(args),
        Command::Log(args) => log::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(*args),
        Command::Tls(args) => tls::run(args),
        Command::Drift(args) => drift::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Guard(args) => guard::run(args),
        Command::Collector(args) => collector::run(args),
        Command::Data(args) => data::run(args),
        Command::Evidence(args) => evidence::run(args),
        Command::Update(args) => update::run(args),
        Command::Assess(args) => assess::run(args),
        Command::Version(args) => version::run(args),
    }
}

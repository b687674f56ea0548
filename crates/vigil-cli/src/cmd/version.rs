//! `vigil version`: what this binary is.

use std::io::Write;

use crate::outcome::Outcome;

/// Print the version, and with `--json` a machine-readable record.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print one JSON object: {"name":"vigil","version":"X.Y.Z"}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let version = env!("CARGO_PKG_VERSION");
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"name": "vigil", "version": version}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(out, "vigil {version}")?;
    }
    Ok(Outcome::Ok)
}

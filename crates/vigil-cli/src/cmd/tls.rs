//! `vigil tls`: certificates for the gateway's mutual TLS.
//!
//! The contract of these commands (flags, file names, JSON keys, exit codes) is fixed: other
//! tools depend on it. See docs/serve.md.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::outcome::Outcome;

/// Make certificates for `vigil serve`'s mutual TLS.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Write a DEMO PKI: ca.crt ca.key server.crt server.key client.crt client.key
    /// bench-client.crt bench-client.key (plus revoked-client and unlisted-client test
    /// certificates), clients.toml and README.txt. Demo material, never for a real network.
    DemoPki(DemoPkiArgs),
}

#[derive(Debug, clap::Args)]
struct DemoPkiArgs {
    /// Directory to write into (created if missing; existing files are never overwritten).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print one JSON object: {"out","files":[...]}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::DemoPki(a) => demo_pki(a),
    }
}

fn demo_pki(a: DemoPkiArgs) -> anyhow::Result<Outcome> {
    let written = vigil_server::write_demo_pki(&a.out)
        .with_context(|| format!("cannot write a demo PKI into {}", a.out.display()))?;
    let mut out = std::io::stdout().lock();
    let names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if a.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"out": a.out.display().to_string(), "files": names}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "wrote a DEMO PKI (not for clinical use) to {}: {}",
            a.out.display(),
            names.join(" ")
        )?;
    }
    Ok(Outcome::Ok)
}

//! `vigil scan`: find model files that would run code or escape their folder, before anyone
//! loads them. Static analysis only: nothing is unpickled, imported or executed.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use vigil_scan::{Limits, Policy, Scanner, Severity};

use crate::outcome::Outcome;

/// Scan model files and directories (walked in parallel) for code execution and unsafe content.
///
/// Formats are detected from content: pickle (protocols 0-5), PyTorch zip and legacy tar,
/// joblib, gzip/bz2/xz/lzma/zlib-wrapped pickles, NumPy .npy/.npz, Keras v3 .keras, ONNX,
/// safetensors and GGUF. Exit 0 when no finding is at or above --fail-on, 1 when one is, 2 for
/// usage errors or a path that cannot be read.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print ONE JSON object: {"files":[{"path","format","findings":[{"severity","rule",
    /// "message","global","member"}],"error"}]}; a path that is not UTF-8 also has
    /// "path_bytes" (its exact bytes in base64).
    #[arg(long, conflicts_with = "sarif")]
    json: bool,
    /// Print a SARIF 2.1.0 log (for code-scanning dashboards).
    #[arg(long)]
    sarif: bool,
    /// Lowest severity that makes the exit code 1.
    #[arg(long, value_name = "CRITICAL|HIGH|MEDIUM|LOW", default_value = "MEDIUM", value_parser = parse_severity)]
    fail_on: Severity,
    /// Accept a reviewed global: `module.name`, or `module.*` for a whole module (repeatable).
    /// Accepted globals are reported at LOW, naming this rule.
    #[arg(long, value_name = "GLOBAL")]
    allow: Vec<String>,
    /// TOML policy file of reviewed globals: `[[allow]]` entries with `global` and `reason`.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Files or directories to scan.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut policy = Policy::new();
    for a in &args.allow {
        policy.allow(a)?;
    }
    if let Some(p) = &args.policy {
        policy.load_file(p)?;
    }
    let scanner = Scanner::new(Limits::default(), policy);
    let spinner = (std::io::stderr().is_terminal() && !args.json && !args.sarif).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_message("scanning");
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    });
    let outcome = scanner.scan_paths(&args.paths);
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    for e in &outcome.errors {
        // A name can hold control characters: escape them so it cannot forge lines.
        eprintln!(
            "vigil: {}",
            vigil_scan::escape_bytes(e.to_string().as_bytes())
        );
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        vigil_scan::write_json(&mut out, &outcome.reports).context("writing JSON")?;
    } else if args.sarif {
        serde_json::to_writer_pretty(&mut out, &vigil_scan::to_sarif(&outcome.reports))
            .context("writing SARIF")?;
        writeln!(out)?;
    } else {
        vigil_scan::write_table(&mut out, &outcome.reports)?;
    }
    out.flush()?;
    if !outcome.errors.is_empty() {
        return Ok(Outcome::Error);
    }
    let failed = outcome
        .reports
        .iter()
        .any(|r| r.max_severity().is_some_and(|s| s >= args.fail_on));
    Ok(if failed { Outcome::Failed } else { Outcome::Ok })
}

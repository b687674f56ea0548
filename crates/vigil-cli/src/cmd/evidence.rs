//! `vigil evidence`: premarket evidence generated from checks that ran. Today: offline
//! vulnerability matching with a VEX document (issue 18 item 5).

use std::io::Write as _;
use std::path::PathBuf;

use clap::Subcommand;

use crate::outcome::Outcome;

/// Premarket evidence: vulnerability matching against an offline OSV export.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Match an SBOM's purls against a directory of OSV records, offline.
    ///
    /// OSV's range semantics (SEMVER and ECOSYSTEM events: introduced, fixed, last_affected,
    /// limit; `versions` lists; withdrawn records and other ecosystems never match). Exit 1
    /// when a match has no triage state, 0 when every match is triaged (or there is none).
    Vulns(VulnsArgs),
}

#[derive(Debug, clap::Args)]
struct VulnsArgs {
    /// The CycloneDX SBOM (JSON) whose components' purls are matched.
    #[arg(long, value_name = "FILE.cdx.json")]
    sbom: PathBuf,
    /// A directory of OSV JSON records (searched recursively).
    #[arg(long, value_name = "DIR")]
    osv: PathBuf,
    /// The triage file: `[[triage]]` tables with id, optional purl, state (a CycloneDX
    /// analysis state), justification and detail.
    #[arg(long = "vex", value_name = "TRIAGE.toml")]
    triage: Option<PathBuf>,
    /// Write a CycloneDX 1.6 VEX document of the matches and their analysis here.
    #[arg(long, value_name = "VEX.cdx.json")]
    out: Option<PathBuf>,
    /// Print one JSON object: {"matches":[{"purl","id","aliases","severity","fixed","state"}],
    /// "unmatched_triage":[...]}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Vulns(a) => vulns(a),
    }
}

fn vulns(a: VulnsArgs) -> anyhow::Result<Outcome> {
    let triage = match &a.triage {
        Some(p) => vigil_evidence::read_triage(p)?,
        None => Vec::new(),
    };
    let report = vigil_evidence::vulns(&a.sbom, &a.osv, &triage)?;
    if let Some(out) = &a.out {
        let now = vigil_core::time::rfc3339(vigil_core::time::now_ms());
        let vex = vigil_evidence::Vex::new(&report.matches, &now);
        vigil_core::write_atomic(out, &vex.to_json())?;
    }
    let mut o = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut o, &report)?;
        writeln!(o)?;
    } else {
        for m in &report.matches {
            writeln!(
                o,
                "{}  {}  {}  fixed: {}  state: {}",
                m.purl,
                m.id,
                m.severity,
                m.fixed.as_deref().unwrap_or("-"),
                m.state.as_deref().unwrap_or("UNTRIAGED"),
            )?;
        }
        for id in &report.unmatched_triage {
            writeln!(o, "triage entry {id}: matches nothing")?;
        }
        let untriaged = report.matches.iter().filter(|m| m.state.is_none()).count();
        writeln!(
            o,
            "{} matches, {untriaged} untriaged{}",
            report.matches.len(),
            a.out
                .as_ref()
                .map(|p| format!("; VEX written to {}", p.display()))
                .unwrap_or_default()
        )?;
    }
    Ok(if report.has_untriaged() {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

//! `vigil evidence`: premarket evidence generated from checks that ran. Today: offline
//! vulnerability matching with a VEX document (issue 18 item 5).

use std::io::Write as _;
use std::path::PathBuf;

use clap::Subcommand;

use crate::cmd::guard::TrustArgs;
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
    /// Write the CycloneDX 1.6 SBOM of this `vigil` binary: every package it is built from
    /// (normal dependencies, as cargo resolved them at build time) with purl, licence and the
    /// SHA-256 from Cargo.lock, and the support fields of a deployment.
    Sbom(SbomArgs),
    /// Write the CycloneDX 1.6 AIBOM of a verified bundle: the model (every file's SHA-256,
    /// the model card from vigil.toml), its data sets, the signers' key ids.
    Aibom(AibomArgs),
    /// Evaluate every row of the threat catalog (docs/threats.toml, T01 to T20) against live
    /// checks of the bundle and the deployment: met, partial or missing, with what was checked.
    /// An unverifiable bundle or a gateway without mutual TLS is a finding, not an error.
    /// Exit 1 when any row is missing.
    Threats(ThreatsArgs),
    /// Write the premarket evidence pack into DIR: index.html (self-contained), README.md,
    /// evidence.json, threat-dragon.json, sbom.cdx.json and aibom.cdx.json, every statement
    /// from a check that ran. Exit as `threats` does.
    Pack(PackArgs),
}

#[derive(Debug, clap::Args)]
struct PackArgs {
    /// The bundle directory.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// The deployment description.
    #[arg(long, value_name = "deploy.toml")]
    deployment: PathBuf,
    /// The folder to write the pack into (made if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ThreatsArgs {
    /// The bundle directory.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// The deployment description.
    #[arg(long, value_name = "deploy.toml")]
    deployment: PathBuf,
    /// Also write the model as OWASP Threat Dragon v2 JSON (a data-flow diagram with the
    /// threats attached).
    #[arg(long, value_name = "FILE.json")]
    threat_dragon: Option<PathBuf>,
    /// Print one JSON object: {"threats":[{"id","status","reason","checks":[{"check","ok",
    /// "evidence"}]}],"summary":{...}}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct AibomArgs {
    /// The bundle directory.
    #[arg(long, value_name = "DIR")]
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// Where to write the AIBOM.
    #[arg(long, value_name = "FILE.cdx.json")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct SbomArgs {
    /// The deployment description whose [support] level and end-of-support date, device,
    /// manufacturer and disclosure contact go into the SBOM.
    #[arg(long, value_name = "deploy.toml")]
    deployment: Option<PathBuf>,
    /// Where to write the SBOM.
    #[arg(long, value_name = "FILE.cdx.json")]
    out: PathBuf,
}

/// The packages this binary is built from, as `cargo metadata` resolves them for the tree
/// (normal edges from vigil-cli); kept equal to cargo's resolution by the test
/// `tests/sbom.rs` (`VIGIL_BLESS=1` rewrites it).
const DEPENDENCIES: &str = include_str!("../../sbom-dependencies.json");

/// The deployment, the bundle as verified (or why not) and the threat model they make.
type Evaluated = (
    vigil_evidence::Deployment,
    Result<vigil_bundle::VerifiedBundle, vigil_bundle::BundleError>,
    vigil_evidence::ThreatModel,
);

fn evaluate(
    bundle: &std::path::Path,
    trust: vigil_bundle::Trust,
    deployment: &std::path::Path,
) -> anyhow::Result<Evaluated> {
    let deployment = vigil_evidence::Deployment::load(deployment)?;
    // A bundle that does not verify is a finding (its rows go missing), not an error.
    let verified = vigil_bundle::BundleVerifier::new(bundle, trust).verify();
    let inputs = vigil_evidence::Inputs {
        bundle: verified.as_ref().map_err(|e| e.to_string()),
        bundle_dir: bundle,
        deployment: &deployment,
    };
    let model = vigil_evidence::threat_model(&inputs)?;
    Ok((deployment, verified, model))
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    vigil_core::write_atomic(path, &bytes)?;
    Ok(())
}

fn pack(a: PackArgs) -> anyhow::Result<Outcome> {
    let model = write_pack_impl(&a)?;
    println!("{}", a.out.join("index.html").display());
    Ok(if model.has_missing() {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

/// Writes the pack `a` asks for; returns the threat model it holds.
fn write_pack_impl(a: &PackArgs) -> anyhow::Result<vigil_evidence::ThreatModel> {
    let (deployment, verified, model) = evaluate(&a.bundle, a.trust.trust()?, &a.deployment)?;
    std::fs::create_dir_all(&a.out).map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    let catalog = vigil_evidence::catalog()?;
    let now = vigil_core::time::rfc3339(vigil_core::time::now_ms());
    let deps: Vec<vigil_evidence::Dependency> = serde_json::from_str(DEPENDENCIES)
        .map_err(|e| anyhow::anyhow!("the embedded dependency list: {e}"))?;
    let sbom = vigil_evidence::sbom(
        "vigil-cli",
        env!("CARGO_PKG_VERSION"),
        &deps,
        Some(&deployment),
        &now,
    )?;
    write_json(&a.out.join("sbom.cdx.json"), &sbom)?;
    let aibom_path = a.out.join("aibom.cdx.json");
    let aibom = match &verified {
        Ok(b) => {
            write_json(&aibom_path, &vigil_evidence::aibom(b, &now)?)?;
            true
        }
        Err(_) => {
            // A stale AIBOM from an earlier pack must not be mistaken for this bundle's.
            let _ = std::fs::remove_file(&aibom_path);
            false
        }
    };
    write_json(
        &a.out.join("threat-dragon.json"),
        &vigil_evidence::threat_dragon(&model, &catalog, &deployment),
    )?;
    let facts = vigil_evidence::PackFacts::gather(&deployment, deps.len(), aibom);
    let html = vigil_evidence::index_html(&model, &catalog, &deployment, &facts);
    vigil_core::write_atomic(&a.out.join("index.html"), html.as_bytes())?;
    vigil_core::write_atomic(
        &a.out.join("README.md"),
        vigil_evidence::readme(&model, &deployment).as_bytes(),
    )?;
    write_json(
        &a.out.join("evidence.json"),
        &vigil_evidence::PackJson {
            device: &deployment.device.name,
            threat_model: &model,
            facts: &facts,
            files: vigil_evidence::PACK_FILES.to_vec(),
        },
    )?;
    Ok(model)
}

/// Writes the evidence pack into `out` (for `vigil demo`); returns the threat model's summary.
pub(crate) fn demo_pack(
    bundle: &std::path::Path,
    policy: &std::path::Path,
    deployment: &std::path::Path,
    out: &std::path::Path,
) -> anyhow::Result<std::collections::BTreeMap<String, usize>> {
    let args = PackArgs {
        bundle: bundle.to_path_buf(),
        trust: TrustArgs {
            key: None,
            policy: Some(policy.to_path_buf()),
        },
        deployment: deployment.to_path_buf(),
        out: out.to_path_buf(),
    };
    Ok(write_pack_impl(&args)?.summary)
}

fn threats(a: ThreatsArgs) -> anyhow::Result<Outcome> {
    let (deployment, _verified, model) = evaluate(&a.bundle, a.trust.trust()?, &a.deployment)?;
    if let Some(path) = &a.threat_dragon {
        let td = vigil_evidence::threat_dragon(&model, &vigil_evidence::catalog()?, &deployment);
        write_json(path, &td)?;
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut out, &model)?;
        writeln!(out)?;
    } else {
        for row in &model.threats {
            let status = serde_json::to_value(row.status)?;
            writeln!(
                out,
                "{} {:<8} {}",
                row.id,
                status.as_str().unwrap_or_default(),
                row.reason.as_deref().unwrap_or("")
            )?;
        }
        let s = &model.summary;
        let n = |k: &str| s.get(k).copied().unwrap_or(0);
        writeln!(
            out,
            "{} met, {} partial, {} missing of {}",
            n("met"),
            n("partial"),
            n("missing"),
            n("total")
        )?;
    }
    Ok(if model.has_missing() {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

fn aibom(a: AibomArgs) -> anyhow::Result<Outcome> {
    let bundle = vigil_bundle::BundleVerifier::new(&a.bundle, a.trust.trust()?)
        .verify()
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.bundle.display()))?;
    let now = vigil_core::time::rfc3339(vigil_core::time::now_ms());
    write_json(&a.out, &vigil_evidence::aibom(&bundle, &now)?)?;
    Ok(Outcome::Ok)
}

fn sbom(a: SbomArgs) -> anyhow::Result<Outcome> {
    let deps: Vec<vigil_evidence::Dependency> = serde_json::from_str(DEPENDENCIES)
        .map_err(|e| anyhow::anyhow!("the embedded dependency list: {e}"))?;
    let deployment = match &a.deployment {
        Some(p) => Some(vigil_evidence::Deployment::load(p)?),
        None => None,
    };
    let now = vigil_core::time::rfc3339(vigil_core::time::now_ms());
    let bom = vigil_evidence::sbom(
        "vigil-cli",
        env!("CARGO_PKG_VERSION"),
        &deps,
        deployment.as_ref(),
        &now,
    )?;
    write_json(&a.out, &bom)?;
    Ok(Outcome::Ok)
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
        Verb::Sbom(a) => sbom(a),
        Verb::Aibom(a) => aibom(a),
        Verb::Threats(a) => threats(a),
        Verb::Pack(a) => pack(a),
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

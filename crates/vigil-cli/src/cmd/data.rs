//! `vigil data`: signed dataset manifests, verify and diff, and screening for poisoned data.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use vigil_core::{PublicKey, SigningKey};
use vigil_data::{Identity, Provenance, Roles, SampleRef};

use crate::outcome::Outcome;
use crate::progress;

/// Signed dataset manifests (digests and counts only), verify and diff; screen data for label
/// issues and outliers.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Write a signed manifest of a CSV file or a folder of sample files: schema, sample count,
    /// one SHA-256 per sample (in a sidecar `MANIFEST.samples`) and their Merkle root, label
    /// and subgroup counts, provenance. No cell value is written, except ids with --id.
    Manifest(Box<ManifestArgs>),
    /// Check data against a signed manifest; exit 0 when they are exactly what was signed,
    /// else 1 naming the changed, added and removed samples.
    Verify(VerifyArgs),
    /// Compare two manifests: samples added, removed, changed; label and subgroup count
    /// shifts. Exit 0 when they agree, 1 when they differ.
    Diff(DiffArgs),
    /// Screen a labelled CSV for label issues (confident learning, as cleanlab 2.9's
    /// find_label_issues) and outliers per class; exit 1 when anything is found (outliers only
    /// beyond those clean data give by chance).
    Screen(ScreenArgs),
}

#[derive(Debug, clap::Args)]
struct ScreenArgs {
    /// The data: CSV with a header row.
    #[arg(long, value_name = "DATA.csv")]
    data: PathBuf,
    /// The label column.
    #[arg(long, value_name = "COL")]
    label: String,
    /// Out-of-fold predicted probabilities: a header naming the classes as spelled in the label
    /// column, then one row per data row. Without it, 5-fold cross-validated logistic
    /// regression on the numeric columns gives them.
    #[arg(long, value_name = "PROBS.csv")]
    pred_probs: Option<PathBuf>,
    /// Subgroup column (counts and label rates per value; not a feature); repeatable.
    #[arg(long, value_name = "COL")]
    subgroup: Vec<String>,
    /// Columns that are not features (ids, dates...), comma-separated.
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    exclude: Vec<String>,
    /// Skip the outlier screen.
    #[arg(long)]
    no_outliers: bool,
    /// Backdoor screen: an ONNX model taking the feature columns as its one input (float or
    /// double; [N, d], or any [N, ...] holding d values per row); only its graph is executed
    /// (tract).
    #[arg(long, value_name = "MODEL.onnx", requires = "representation")]
    model: Option<PathBuf>,
    /// The graph output holding the representation (a hidden layer) for the backdoor screen.
    #[arg(long, value_name = "OUTPUT", requires = "model")]
    representation: Option<String>,
    /// Expected poisoned fraction of a class: keep the ceil(1.5 x EPS x n) highest spectral
    /// scores per class, and as many from the end of the top direction the planted rows lean to.
    #[arg(long, value_name = "EPS", requires = "model")]
    poison_fraction: Option<f64>,
    /// Print one JSON object: {"label_issues":[{"row","given","suggested","score"}...],
    /// "outliers":[{"row","class","score"}...],"backdoor_suspects":[...],"summary":{...}},
    /// rows 0-based, most suspicious first.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report (inline SVG: label issues by class pair, score
    /// histograms, the subgroup table).
    #[arg(long, value_name = "REPORT.html")]
    html: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(disable_version_flag = true)]
struct ManifestArgs {
    /// Private key (PKCS#8 PEM) to sign with.
    #[arg(long, value_name = "PRIV.pem")]
    key: PathBuf,
    /// Read the key's passphrase from the first line of this file.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Read the key's passphrase from this environment variable.
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Manifest to write (the sidecar goes beside it, extension `.samples`).
    #[arg(long, value_name = "MANIFEST.json")]
    out: PathBuf,
    /// Column naming each sample (unique; stored in the sidecar: use pseudonymous ids).
    #[arg(long, value_name = "COL")]
    id: Option<String>,
    /// Label column (counted).
    #[arg(long, value_name = "COL")]
    label: Option<String>,
    /// Subgroup column (counted, with label counts per value); repeatable.
    #[arg(long, value_name = "COL")]
    subgroup: Vec<String>,
    /// Data set name (default: the file or folder name).
    #[arg(long, value_name = "N")]
    name: Option<String>,
    /// Data set version (this command has no --version flag of its own).
    #[arg(
        long = "version",
        id = "data_version",
        value_name = "V",
        default_value = "0"
    )]
    version: String,
    /// Provenance: where the data come from.
    #[arg(long, value_name = "TEXT")]
    source: Option<String>,
    /// Provenance: first collection date.
    #[arg(long, value_name = "DATE")]
    collected_from: Option<String>,
    /// Provenance: last collection date.
    #[arg(long, value_name = "DATE")]
    collected_to: Option<String>,
    /// Provenance: licence or terms of use.
    #[arg(long, value_name = "TEXT")]
    licence: Option<String>,
    /// Provenance: free text.
    #[arg(long, value_name = "TEXT")]
    notes: Option<String>,
    /// Print one JSON object: {"manifest","sidecar","samples","merkle_root","key_id"}.
    #[arg(long)]
    json: bool,
    /// The data: a CSV file or a folder of sample files.
    #[arg(value_name = "DATA")]
    data: PathBuf,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// Public key (PEM) the manifest must be signed with.
    #[arg(long, value_name = "PUB.pem")]
    key: PathBuf,
    /// The signed manifest.
    #[arg(long, value_name = "MANIFEST.json")]
    manifest: PathBuf,
    /// Print one JSON object:
    /// {"verified":bool,"changed":[...],"added":[...],"removed":[...],"samples":N}.
    #[arg(long)]
    json: bool,
    /// The data: a CSV file or a folder.
    #[arg(value_name = "DATA")]
    data: PathBuf,
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// Public key (PEM) both manifests must be signed with; without it signatures are not
    /// checked (only the sidecars against the manifests).
    #[arg(long, value_name = "PUB.pem")]
    key: Option<PathBuf>,
    /// Print one JSON object:
    /// {"added":[...],"removed":[...],"changed":[...],"labels":{...},"subgroups":{...}}.
    #[arg(long)]
    json: bool,
    /// The older manifest.
    #[arg(value_name = "OLD.json")]
    old: PathBuf,
    /// The newer manifest.
    #[arg(value_name = "NEW.json")]
    new: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Manifest(a) => manifest(*a),
        Verb::Verify(a) => verify(a),
        Verb::Diff(a) => diff(a),
        Verb::Screen(a) => screen(a),
    }
}

/// A library error as one message (it already names its file and cause).
fn flat(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

fn default_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into())
}

fn manifest(a: ManifestArgs) -> anyhow::Result<Outcome> {
    let pass = super::key::passphrase(a.passphrase_file.as_deref(), a.passphrase_env.as_deref())?;
    let key = SigningKey::load(&a.key, pass.as_deref()).map_err(flat)?;
    let roles = Roles {
        id: a.id.clone(),
        label: a.label.clone(),
        subgroups: a.subgroup.clone(),
    };
    let bar = progress::bytes("hashing");
    let inc = |n: u64| bar.inc(n);
    let samples = vigil_data::hash_path(&a.data, &roles, &inc).map_err(flat)?;
    bar.finish();
    let identity = Identity {
        name: a.name.clone().unwrap_or_else(|| default_name(&a.data)),
        version: a.version.clone(),
        id_column: a.id.clone(),
        label_column: a.label.clone(),
        provenance: Provenance {
            source: a.source,
            collected_from: a.collected_from,
            collected_to: a.collected_to,
            licence: a.licence,
            notes: a.notes,
        },
    };
    let m = vigil_data::write_signed(&samples, &identity, &a.out, &key)
        .map_err(flat)
        .with_context(|| format!("writing {}", a.out.display()))?;
    let sidecar = vigil_data::sidecar_path(&a.out);
    let key_id = key.public_key().key_id();
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(
            &mut out,
            &json!({
                "manifest": a.out,
                "sidecar": sidecar,
                "samples": m.samples,
                "merkle_root": m.merkle_root,
                "key_id": key_id.as_str(),
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "signed manifest of {} ({} samples, {} bytes) with key {}\nmerkle root: {}\nmanifest: {}\nsidecar: {}",
            a.data.display(),
            m.samples,
            m.bytes,
            key_id,
            m.merkle_root,
            a.out.display(),
            sidecar.display()
        )?;
    }
    Ok(Outcome::Ok)
}

fn names(v: &[SampleRef]) -> String {
    let shown: Vec<String> = v.iter().take(20).map(ToString::to_string).collect();
    let more = v.len().saturating_sub(20);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn verify(a: VerifyArgs) -> anyhow::Result<Outcome> {
    let key = PublicKey::load(&a.key).map_err(flat)?;
    let opened = vigil_data::open(&a.manifest, Some(&key)).map_err(flat)?;
    let bar = progress::bytes("verifying");
    let inc = |n: u64| bar.inc(n);
    let v = vigil_data::verify(&opened, &a.data, &inc).map_err(flat)?;
    bar.finish();
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut out, &v)?;
        writeln!(out)?;
    } else if v.verified {
        writeln!(
            out,
            "verified: {} is exactly the data signed in {} ({} samples, root {})",
            a.data.display(),
            a.manifest.display(),
            v.samples,
            opened.manifest.merkle_root
        )?;
    } else {
        writeln!(
            out,
            "NOT verified: {} differs from {}",
            a.data.display(),
            a.manifest.display()
        )?;
        for (what, list) in [
            ("changed", &v.changed),
            ("added", &v.added),
            ("removed", &v.removed),
        ] {
            if !list.is_empty() {
                writeln!(out, "  {what} ({}): {}", list.len(), names(list))?;
            }
        }
        if v.header_changed {
            writeln!(out, "  the header (column names or their order) changed")?;
        }
        if v.reordered {
            writeln!(out, "  the same samples, in another order")?;
        }
    }
    Ok(if v.verified {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn diff(a: DiffArgs) -> anyhow::Result<Outcome> {
    let key = a
        .key
        .as_deref()
        .map(PublicKey::load)
        .transpose()
        .map_err(flat)?;
    let old = vigil_data::open(&a.old, key.as_ref()).map_err(flat)?;
    let new = vigil_data::open(&a.new, key.as_ref()).map_err(flat)?;
    let d = vigil_data::diff(&old, &new);
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut out, &d)?;
        writeln!(out)?;
    } else {
        if key.is_none() {
            writeln!(out, "(signatures not checked: give --key to check them)")?;
        }
        if d.is_empty() {
            writeln!(out, "no differences")?;
        }
        for (what, list) in [
            ("added", &d.added),
            ("removed", &d.removed),
            ("changed", &d.changed),
        ] {
            if !list.is_empty() {
                writeln!(out, "{what} ({}): {}", list.len(), names(list))?;
            }
        }
        for (label, s) in &d.labels {
            if s.change != 0 {
                writeln!(
                    out,
                    "label {label:?}: {} -> {} ({:+})",
                    s.old, s.new, s.change
                )?;
            }
        }
        for (column, values) in &d.subgroups {
            for (value, g) in values {
                if g.count.change != 0 || g.labels.values().any(|s| s.change != 0) {
                    let labels: Vec<String> = g
                        .labels
                        .iter()
                        .map(|(l, s)| format!("{l} {}->{}", s.old, s.new))
                        .collect();
                    writeln!(
                        out,
                        "subgroup {column}={value:?}: {} -> {} ({:+}) [{}]",
                        g.count.old,
                        g.count.new,
                        g.count.change,
                        labels.join(", ")
                    )?;
                }
            }
        }
    }
    Ok(if d.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

fn screen(a: ScreenArgs) -> anyhow::Result<Outcome> {
    let opts = vigil_data::ScreenOptions {
        label: a.label.clone(),
        subgroups: a.subgroup.clone(),
        exclude: a.exclude.clone(),
        pred_probs: a.pred_probs.clone(),
        outliers: !a.no_outliers,
        model: a.model.clone(),
        representation: a.representation.clone(),
        poison_fraction: a.poison_fraction,
    };
    let bar = progress::count("screening", vigil_data::screen::steps(&opts));
    let inc = |n: u64| bar.inc(n);
    let report = vigil_data::screen::screen_with_progress(&a.data, &opts, &inc);
    bar.finish();
    let report = report.map_err(flat)?;
    if let Some(path) = &a.html {
        vigil_core::write_atomic(path, screen_html(&a.data, &report).as_bytes()).map_err(flat)?;
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let s = &report.summary;
        writeln!(
            out,
            "{}: {} rows, {} classes, probabilities: {}",
            a.data.display(),
            s.rows,
            s.classes.len(),
            s.probabilities
        )?;
        writeln!(out, "label issues: {}", report.label_issues.len())?;
        for li in report.label_issues.iter().take(20) {
            writeln!(
                out,
                "  row {}: given {:?}, suggested {:?} (p(given) = {:.4})",
                li.row, li.given, li.suggested, li.score
            )?;
        }
        if report.label_issues.len() > 20 {
            writeln!(
                out,
                "  ... {} more (--json for all)",
                report.label_issues.len() - 20
            )?;
        }
        writeln!(
            out,
            "outliers: {} (clean data give up to {} by chance; only more count as a finding)",
            report.outliers.len(),
            report.summary.outliers_by_chance
        )?;
        for o in report.outliers.iter().take(20) {
            writeln!(
                out,
                "  row {} (class {:?}): score {:.2}",
                o.row, o.class, o.score
            )?;
        }
        if a.model.is_some() {
            writeln!(out, "backdoor suspects: {}", report.backdoor_suspects.len())?;
            for b in report.backdoor_suspects.iter().take(20) {
                writeln!(
                    out,
                    "  row {} (class {:?}): spectral score {:.2}{}",
                    b.row,
                    b.class,
                    b.score,
                    if b.clustered {
                        ", small activation cluster"
                    } else {
                        ""
                    }
                )?;
            }
        }
        if !s.outliers_skipped.is_empty() {
            writeln!(
                out,
                "  (classes too small for the outlier screen: {})",
                s.outliers_skipped.join(", ")
            )?;
        }
        for (g, values) in &s.subgroups {
            for (v, sg) in values {
                let rates: Vec<String> = sg
                    .label_rates
                    .iter()
                    .map(|(l, r)| format!("{l} {:.1}%", 100.0 * r))
                    .collect();
                writeln!(
                    out,
                    "subgroup {g}={v:?}: {} rows, {} label issues [{}]",
                    sg.count,
                    sg.label_issues,
                    rates.join(", ")
                )?;
            }
        }
    }
    Ok(if report.found() {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

/// The screen as a self-contained HTML page (no scripts, no external resources, text escaped).
fn screen_html(data: &Path, r: &vigil_data::Report) -> String {
    use std::fmt::Write as _;
    use vigil_report::{bars, escape, histogram, number};
    let s = &r.summary;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Vigil data screen</title>\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}\
figure{{display:inline-block;margin:1em}}</style></head><body><h1>Vigil data screen</h1>\
<p>Data: <code>{}</code> &middot; {} rows &middot; classes: {} &middot; probabilities: {}</p>\
<p>Label issues: <b>{}</b> &middot; outliers: <b>{}</b> &middot; backdoor suspects: <b>{}</b></p>",
        escape(&data.display().to_string()),
        s.rows,
        escape(&s.classes.join(", ")),
        escape(&s.probabilities),
        s.label_issues,
        s.outliers,
        s.backdoor_suspects
    );
    if !s.label_issue_pairs.is_empty() {
        let labels: Vec<String> = s.label_issue_pairs.keys().cloned().collect();
        let values: Vec<f64> = s.label_issue_pairs.values().map(|&v| v as f64).collect();
        let _ = write!(
            h,
            "<figure>{}<figcaption>label issues by given -> suggested class</figcaption></figure>",
            bars("label issues by class pair", &labels, &values)
        );
        let scores: Vec<f64> = r.label_issues.iter().map(|l| l.score).collect();
        let _ = write!(
            h,
            "<figure>{}<figcaption>self-confidence of the label issues</figcaption></figure>",
            histogram("self-confidence", &scores, 10)
        );
    }
    for class in &s.classes {
        let scores: Vec<f64> = r
            .outliers
            .iter()
            .filter(|o| &o.class == class)
            .map(|o| o.score)
            .collect();
        if !scores.is_empty() {
            let _ = write!(
                h,
                "<figure>{}<figcaption>outlier scores, class {}</figcaption></figure>",
                histogram(&format!("outliers: {class}"), &scores, 10),
                escape(class)
            );
        }
    }
    for class in &s.classes {
        let scores: Vec<f64> = r
            .backdoor_suspects
            .iter()
            .filter(|b| &b.class == class)
            .map(|b| b.score)
            .collect();
        if !scores.is_empty() {
            let _ = write!(
                h,
                "<figure>{}<figcaption>spectral signature scores of the backdoor suspects, class {}</figcaption></figure>",
                histogram(&format!("spectral: {class}"), &scores, 10),
                escape(class)
            );
        }
    }
    h.push_str("<h2>Most suspicious labels</h2><table><tr><th>row</th><th>given</th><th>suggested</th><th>p(given)</th></tr>");
    for li in r.label_issues.iter().take(100) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            li.row,
            escape(&li.given),
            escape(&li.suggested),
            number(li.score)
        );
    }
    h.push_str("</table>");
    if !s.subgroups.is_empty() {
        h.push_str("<h2>Subgroups</h2><table><tr><th>column</th><th>value</th><th>rows</th><th>label rates</th><th>label issues</th></tr>");
        for (g, values) in &s.subgroups {
            for (v, sg) in values {
                let rates: Vec<String> = sg
                    .label_rates
                    .iter()
                    .map(|(l, x)| format!("{} {:.1}%", escape(l), 100.0 * x))
                    .collect();
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(g),
                    escape(v),
                    sg.count,
                    rates.join(", "),
                    sg.label_issues
                );
            }
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}

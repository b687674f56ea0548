//! `vigil bundle`: sign and verify model bundles (OpenSSF model_signing compatible).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use vigil_bundle::{
    BundleError, BundlePolicy, BundleVerifier, DataSetRef, HashMethod, Limits, SignOptions,
    SignatureStatus, Trust, TrustReport, DEFAULT_SHARD_SIZE,
};
use vigil_core::{PublicKey, SigningKey};

use crate::cmd::key::passphrase;
use crate::outcome::Outcome;
use crate::progress;

/// Sign and verify model bundles, interoperable with OpenSSF model signing (model_signing 1.x).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Sign every file of DIR and write the signature (default DIR/model.sig).
    ///
    /// The signature is a Sigstore bundle holding a DSSE envelope over an in-toto statement,
    /// exactly as `model_signing sign key` writes it. Git paths (.git, .gitattributes, .github,
    /// .gitignore), the signature itself and other signers' signature files at the top of DIR
    /// (model.sig, model.*.sig) are left out and recorded as ignored.
    Sign(SignArgs),
    /// Check DIR against its signature and a public key, or against a trust policy.
    ///
    /// Fails (exit 1) naming the file and the reason when a file was changed, added, removed or
    /// renamed, when the signature or its payload was altered, when the key is not the
    /// signer's, when a name leaves DIR, or when a symlink appears and the signature does not
    /// allow symlinks. With --policy, k-of-n signers, revocations and the minimum version apply.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct SignArgs {
    /// Private key PEM (PKCS#8, encrypted PKCS#8 or SEC1 EC PRIVATE KEY).
    #[arg(long, value_name = "PRIV.pem")]
    key: PathBuf,
    /// Where to write the signature [default: DIR/model.sig].
    #[arg(long, value_name = "PATH")]
    signature: Option<PathBuf>,
    /// A path to leave out of the signature (relative to the current directory, or to DIR).
    /// Repeat the option for several paths, as with model_signing.
    #[arg(long, value_name = "P")]
    ignore_paths: Vec<PathBuf>,
    /// Sign whole files, or shards of files hashed in parallel.
    #[arg(long, value_parser = ["files", "shards"], default_value = "files")]
    hash_method: String,
    /// Shard size in bytes for --hash-method shards.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_SHARD_SIZE)]
    shard_size: u64,
    /// Include git paths (.git, .gitattributes, .github, .gitignore) in the signature.
    #[arg(long)]
    no_ignore_git_paths: bool,
    /// Follow symbolic links to files instead of refusing them.
    #[arg(long)]
    allow_symlinks: bool,
    /// The private key's passphrase, from this file (first line).
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_env")]
    passphrase_file: Option<PathBuf>,
    /// The private key's passphrase, from this environment variable.
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Print one JSON object describing the signature.
    #[arg(long)]
    json: bool,
    /// The bundle directory.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("trust").required(true).args(["key", "policy"])))]
struct VerifyArgs {
    /// Public key PEM (SPKI) of the signer.
    #[arg(long, value_name = "PUB.pem")]
    key: Option<PathBuf>,
    /// Trust policy TOML: signers with roles, threshold, revoked keys, minimum version.
    #[arg(long, value_name = "POLICY.toml", conflicts_with = "signature")]
    policy: Option<PathBuf>,
    /// The signature to check [default: DIR/model.sig].
    #[arg(long, value_name = "PATH")]
    signature: Option<PathBuf>,
    /// Print one JSON object: {"verified","dir","error","subject_digest","resources",
    /// "bundle","signatures":[{"path","status","signer","role","key_id","reason"}],
    /// "data":[{"split","manifest_root","manifest","sha256"}]} (data: the data sets vigil.toml
    /// names, see docs/bundle.md).
    #[arg(long)]
    json: bool,
    /// The bundle directory.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Sign(a) => sign(a),
        Verb::Verify(a) => verify(a),
    }
}

fn sign(a: SignArgs) -> anyhow::Result<Outcome> {
    let pass = passphrase(a.passphrase_file.as_deref(), a.passphrase_env.as_deref())?;
    let key = SigningKey::load(&a.key, pass.as_deref()).map_err(flat)?;
    let method = match a.hash_method.as_str() {
        "shards" => {
            anyhow::ensure!(a.shard_size > 0, "--shard-size must be positive");
            HashMethod::Shards {
                shard_size: a.shard_size,
            }
        }
        _ => HashMethod::Files,
    };
    let options = SignOptions {
        signature: a.signature,
        method,
        ignore_paths: a.ignore_paths,
        ignore_git_paths: !a.no_ignore_git_paths,
        allow_symlinks: a.allow_symlinks,
        limits: Limits::default(),
    };
    let bar = progress::bytes("hashing");
    let inc = |n: u64| bar.inc(n);
    let signed = vigil_bundle::sign(&a.dir, &key, &options, Some(&inc))
        .map_err(flat)
        .with_context(|| format!("signing {}", a.dir.display()))?;
    bar.finish();
    let files = signed.manifest.files().len();
    let bytes: u64 = signed
        .manifest
        .resources
        .iter()
        .map(|r| r.range.map_or(0, |(s, e)| e - s))
        .sum();
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({
                "signature": signed.signature_path,
                "key_id": signed.key_id.as_str(),
                "algorithm": key.algorithm().name(),
                "subject": signed.manifest.model_name,
                "subject_digest": hex::encode(signed.manifest.root_digest()),
                "files": files,
                "resources": signed.manifest.resources.len(),
                "ignore_paths": signed.manifest.serialization.ignore_paths.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            }),
        )?;
        writeln!(out)?;
    } else {
        let _ = bytes;
        writeln!(
            out,
            "signed {} ({} files, {} resources) with key {}\nsignature: {}",
            a.dir.display(),
            files,
            signed.manifest.resources.len(),
            signed.key_id,
            signed.signature_path.display()
        )?;
    }
    Ok(Outcome::Ok)
}

/// A library error as one message. The libraries' messages already hold their cause, and
/// `main` prints the whole chain, so the chain stops here: no cause is printed twice.
fn flat(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

fn verify(a: VerifyArgs) -> anyhow::Result<Outcome> {
    let trust = if let Some(policy_path) = &a.policy {
        Trust::Policy(BundlePolicy::load(policy_path).map_err(flat)?)
    } else if let Some(key_path) = &a.key {
        Trust::Key(PublicKey::load(key_path).map_err(flat)?)
    } else {
        anyhow::bail!("give --key or --policy");
    };
    if !a.dir.is_dir() {
        anyhow::bail!("{}: not a directory", a.dir.display());
    }
    let bar = progress::bytes("verifying");
    let inc = |n: u64| bar.inc(n);
    let mut verifier = BundleVerifier::new(&a.dir, trust).progress(&inc);
    if let Some(sig) = &a.signature {
        verifier = verifier.signature_path(sig);
    }
    // The data sets vigil.toml names are part of what is reported: a malformed `[data]` table
    // fails as a malformed vigil.toml does.
    let result = verifier.check().and_then(|report| {
        let data = match &report.config {
            Some(cfg) => cfg.data_sets()?,
            None => Vec::new(),
        };
        Ok((report, data))
    });
    bar.finish();
    let mut out = std::io::stdout().lock();
    match result {
        Ok((report, data)) => {
            if a.json {
                serde_json::to_writer(
                    &mut out,
                    &json_report(&a.dir, Some((&report, &data)), None),
                )?;
                writeln!(out)?;
            } else {
                print_report(&mut out, &a.dir, &report, &data)?;
            }
            Ok(Outcome::Ok)
        }
        // A signature that exists but fails, files that do not match, a policy not met: 1.
        // A file that cannot be read, a bad key or policy: 2, as for every I/O error.
        Err(err) if err.is_failed_check() => {
            if a.json {
                serde_json::to_writer(&mut out, &json_report(&a.dir, None, Some(&err)))?;
                writeln!(out)?;
            }
            eprintln!("vigil: verification FAILED: {err}");
            Ok(Outcome::Failed)
        }
        Err(err) => Err(flat(err)),
    }
}

fn print_report(
    out: &mut impl std::io::Write,
    dir: &std::path::Path,
    report: &TrustReport,
    data: &[DataSetRef],
) -> std::io::Result<()> {
    let files = report.manifest.files().len();
    write!(out, "verified {}: {} files match", dir.display(), files)?;
    if let Some(cfg) = &report.config {
        write!(out, "; bundle {} {}", cfg.name, cfg.version)?;
    }
    writeln!(out)?;
    for s in &report.signatures {
        writeln!(out, "  {}: {}", s.path.display(), s.status)?;
    }
    writeln!(
        out,
        "  subject digest sha256:{}",
        hex::encode(report.manifest.root_digest())
    )?;
    for d in data {
        write!(out, "  data {}:", d.split)?;
        if let Some(r) = &d.manifest_root {
            write!(out, " manifest root {r}")?;
        }
        if let Some(m) = &d.manifest {
            write!(out, " ({m})")?;
        }
        if let Some(h) = &d.sha256 {
            write!(out, " sha256:{h}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn json_report(
    dir: &std::path::Path,
    verified: Option<(&TrustReport, &[DataSetRef])>,
    err: Option<&BundleError>,
) -> serde_json::Value {
    let report = verified.map(|(r, _)| r);
    let data: Vec<serde_json::Value> = verified
        .map(|(_, d)| d)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            serde_json::json!({
                "split": d.split, "manifest_root": d.manifest_root,
                "manifest": d.manifest, "sha256": d.sha256,
            })
        })
        .collect();
    let signatures: Vec<serde_json::Value> = report
        .map(|r| {
            r.signatures
                .iter()
                .map(|s| {
                    let (status, signer, role, key_id, reason) = match &s.status {
                        SignatureStatus::Counted {
                            signer,
                            role,
                            key_id,
                        } => (
                            "counted",
                            Some(signer.clone()),
                            Some(role.clone()),
                            Some(key_id.to_string()),
                            None,
                        ),
                        SignatureStatus::Duplicate { key_id } => {
                            ("duplicate", None, None, Some(key_id.to_string()), None)
                        }
                        SignatureStatus::DuplicateSigner { signer, key_id } => (
                            "duplicate",
                            Some(signer.clone()),
                            None,
                            Some(key_id.to_string()),
                            None,
                        ),
                        SignatureStatus::Revoked { key_id } => {
                            ("revoked", None, None, Some(key_id.to_string()), None)
                        }
                        SignatureStatus::UnknownSigner { hint } => {
                            ("unknown-signer", None, None, hint.clone(), None)
                        }
                        SignatureStatus::Invalid { reason } => {
                            ("invalid", None, None, None, Some(reason.clone()))
                        }
                        _ => ("other", None, None, None, Some(s.status.to_string())),
                    };
                    serde_json::json!({
                        "path": s.path, "status": status, "signer": signer,
                        "role": role, "key_id": key_id, "reason": reason,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "verified": report.is_some(),
        "dir": dir,
        "error": err.map(|e| e.to_string()),
        "subject_digest": report.map(|r| hex::encode(r.manifest.root_digest())),
        "resources": report.map(|r| r.manifest.resources.len()),
        "bundle": report.and_then(|r| r.config.as_ref()).map(|c| serde_json::json!({
            "name": c.name, "version": c.version.to_string(),
        })),
        "signatures": signatures,
        "data": data,
    })
}

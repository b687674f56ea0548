//! `vigil key`: make signing keys.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Subcommand;
use vigil_core::{KeyAlgorithm, SigningKey};

use crate::outcome::Outcome;

/// Make and inspect signing keys (ECDSA P-256 or Ed25519, PEM).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Generate a key pair: NAME.pem (PKCS#8 private key) and NAME.pub.pem (SPKI public key).
    ///
    /// Prints the key id: the SHA-256 of the public key PEM, which is also the key hint that
    /// model_signing writes into signatures. The private key file is created with mode 0600.
    Generate(GenerateArgs),
    /// Print the algorithm and key id of a public or private key PEM file.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Signature algorithm. ecdsa-p256 is what model_signing's key mode verifies.
    #[arg(long, value_parser = ["ecdsa-p256", "ed25519"], default_value = "ecdsa-p256")]
    algorithm: String,
    /// Output name: writes NAME.pem and NAME.pub.pem.
    #[arg(long, value_name = "NAME")]
    out: PathBuf,
    /// Encrypt the private key with the passphrase in this file (first line).
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_env")]
    passphrase_file: Option<PathBuf>,
    /// Encrypt the private key with the passphrase in this environment variable.
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
    /// Print one JSON object: {"algorithm","key_id","private_key","public_key"}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// A PEM key file (public, or private if --private).
    key: PathBuf,
    /// The file is a private key.
    #[arg(long)]
    private: bool,
    /// Passphrase file, for an encrypted private key.
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_env")]
    passphrase_file: Option<PathBuf>,
    /// Passphrase environment variable, for an encrypted private key.
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Print one JSON object: {"algorithm","key_id"}.
    #[arg(long)]
    json: bool,
}

/// Reads a passphrase from a file (first line) or an environment variable.
pub(crate) fn passphrase(file: Option<&Path>, env: Option<&str>) -> anyhow::Result<Option<String>> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading passphrase file {}", f.display()))?;
        return Ok(Some(text.lines().next().unwrap_or("").to_string()));
    }
    if let Some(var) = env {
        let value = std::env::var(var)
            .with_context(|| format!("passphrase environment variable {var} is not set"))?;
        return Ok(Some(value));
    }
    Ok(None)
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Generate(a) => generate(a),
        Verb::Show(a) => show(a),
    }
}

fn generate(a: GenerateArgs) -> anyhow::Result<Outcome> {
    let algorithm: KeyAlgorithm = a.algorithm.parse()?;
    let pass = passphrase(a.passphrase_file.as_deref(), a.passphrase_env.as_deref())?;
    let name = a.out.as_os_str().to_string_lossy().into_owned();
    let private_path = PathBuf::from(format!("{name}.pem"));
    let public_path = PathBuf::from(format!("{name}.pub.pem"));
    if !a.force {
        for p in [&private_path, &public_path] {
            if p.exists() {
                bail!("{}: already exists (use --force to overwrite)", p.display());
            }
        }
    }
    let key = SigningKey::generate(algorithm);
    let private_pem = key.to_pkcs8_pem(pass.as_deref())?;
    write_file(&private_path, private_pem.as_bytes(), true, a.force)?;
    let public = key.public_key();
    write_file(&public_path, public.to_pem().as_bytes(), false, a.force)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({
                "algorithm": algorithm.name(),
                "key_id": public.key_id().as_str(),
                "private_key": private_path,
                "public_key": public_path,
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", public.key_id())?;
        eprintln!(
            "vigil: wrote {} (private, {}{}) and {} (public)",
            private_path.display(),
            algorithm,
            if pass.is_some() { ", encrypted" } else { "" },
            public_path.display()
        );
    }
    Ok(Outcome::Ok)
}

fn show(a: ShowArgs) -> anyhow::Result<Outcome> {
    let public = if a.private {
        let pass = passphrase(a.passphrase_file.as_deref(), a.passphrase_env.as_deref())?;
        SigningKey::load(&a.key, pass.as_deref())?.public_key()
    } else {
        vigil_core::PublicKey::load(&a.key)?
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"algorithm": public.algorithm().name(), "key_id": public.key_id().as_str()}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(out, "{} {}", public.algorithm(), public.key_id())?;
    }
    Ok(Outcome::Ok)
}

/// Writes a new key file durably (mode 0600 for a private key). With `--force` an existing file
/// is removed first, so a replaced private key never keeps looser permissions.
fn write_file(path: &Path, bytes: &[u8], private: bool, force: bool) -> anyhow::Result<()> {
    if force {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("replacing {}", path.display())),
        }
    }
    vigil_core::write_new(path, bytes, private)?;
    Ok(())
}

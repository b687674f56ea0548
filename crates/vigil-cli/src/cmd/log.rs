//! `vigil log`: a tamper-evident audit log (RFC 9162 Merkle tree, C2SP signed checkpoints).
//!
//! The contract of these commands (flags, JSON keys, exit codes) is fixed: other tools depend
//! on it. See docs/log.md.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use vigil_ledger::{
    audit, canonicalize_event, leaf_hash, open_checkpoint, Checkpoint, CheckpointRef,
    ConsistencyProof, Error as LedgerError, InclusionProof, IntegrityError, Ledger, Limits,
    NoteSigner, NoteVerifier, OpenCheck, SqliteStore, Store,
};

use crate::outcome::Outcome;

/// Keep a tamper-evident audit log and check it offline.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Create a new, empty log.
    Init(InitArgs),
    /// Append one JSON event per line from standard input; print each index once durable.
    Append(AppendArgs),
    /// Sign, store and print a checkpoint of the current tree.
    Checkpoint(CheckpointArgs),
    /// Print an inclusion proof for one entry.
    Prove(ProveArgs),
    /// Print a consistency proof between two tree sizes.
    Consistency(ConsistencyArgs),
    /// Re-verify a whole log from its entries and check every stored checkpoint.
    Verify(VerifyArgs),
    /// Verify an inclusion proof, a checkpoint, or checkpoint consistency, offline.
    VerifyProof(Box<VerifyProofArgs>),
    /// Add a co-signature (a witness's) to a checkpoint note.
    Cosign(CosignArgs),
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// The log database to create (SQLite; refused if it exists).
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// The log's origin: the first line of its checkpoints, a unique name such as
    /// example.org/device-7/audit.
    #[arg(long, value_name = "ORIGIN")]
    origin: String,
    /// The log's Ed25519 private key (PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` or
    /// `vigil key generate` writes it); only its public key is stored.
    #[arg(long, value_name = "PRIV.pem")]
    key: PathBuf,
    /// Key name in checkpoint signatures (default: the origin).
    #[arg(long, value_name = "NAME")]
    key_name: Option<String>,
    /// Print one JSON object: {"db","origin","key_name","vkey"}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct AppendArgs {
    /// The log database.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
}

#[derive(Debug, clap::Args)]
struct CheckpointArgs {
    /// The log database.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// The log's Ed25519 private key (PKCS#8 PEM).
    #[arg(long, value_name = "PRIV.pem")]
    key: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ProveArgs {
    /// The log database.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// Index of the entry (0-based).
    #[arg(long, value_name = "I")]
    index: u64,
    /// Tree size the proof is for (default: the current size); I < N.
    #[arg(long, value_name = "N")]
    size: Option<u64>,
    /// Print {"index","size","leaf_hash","proof","root"} as one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ConsistencyArgs {
    /// The log database.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// Older tree size M (0 < M <= N).
    #[arg(long, value_name = "M")]
    old: u64,
    /// Newer tree size N (default: the current size).
    #[arg(long, value_name = "N")]
    new: Option<u64>,
    /// Print {"old","new","proof","old_root","new_root"} as one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The log database.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// The log's Ed25519 public key (SPKI PEM, as `openssl pkey -pubout` writes it); every
    /// stored checkpoint must be signed by it.
    #[arg(long, value_name = "PUB.pem")]
    pubkey: PathBuf,
    /// Key name of --pubkey (default: the name the log was created with).
    #[arg(long, value_name = "NAME")]
    key_name: Option<String>,
    /// A checkpoint kept outside the log (signed by --pubkey): the log must contain it, so a
    /// truncated or rewritten log is caught even if its own checkpoints were removed.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// The origin the log must have: a log of another origin under the same key fails.
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// Print one JSON object: {"ok","size","root","checkpoints","error"}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct VerifyProofArgs {
    /// Inclusion proof JSON, as `vigil log prove --json` prints it.
    #[arg(long, value_name = "FILE")]
    inclusion: Option<PathBuf>,
    /// The event the inclusion proof is for (its first line, canonicalised and hashed, must
    /// give the proof's leaf hash).
    #[arg(long, value_name = "FILE", requires = "inclusion")]
    entry: Option<PathBuf>,
    /// Consistency proof JSON, as `vigil log consistency --json` prints it; needs
    /// --old-checkpoint and --checkpoint unless --unauthenticated.
    #[arg(long, value_name = "FILE")]
    consistency: Option<PathBuf>,
    /// A signed checkpoint: its signature is checked with --pubkey (and every --witness); a
    /// given proof's size and root must match it.
    #[arg(long, value_name = "FILE", requires = "pubkey")]
    checkpoint: Option<PathBuf>,
    /// The older signed checkpoint for --consistency.
    #[arg(long, value_name = "FILE", requires_all = ["consistency", "checkpoint"])]
    old_checkpoint: Option<PathBuf>,
    /// The log's Ed25519 public key (SPKI PEM).
    #[arg(long, value_name = "PUB.pem")]
    pubkey: Option<PathBuf>,
    /// Key name of --pubkey (default: the checkpoint's origin).
    #[arg(long, value_name = "NAME")]
    key_name: Option<String>,
    /// The checkpoint's origin must be this.
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// A co-signer that must also have signed each checkpoint, as NAME=PUB.pem (repeatable).
    #[arg(long, value_name = "NAME=PUB.pem")]
    witness: Vec<String>,
    /// Check proofs against their own roots only, without a signed checkpoint.
    #[arg(long)]
    unauthenticated: bool,
    /// Print one JSON object: {"ok","checked","signers","error"}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct CosignArgs {
    /// The signed checkpoint to co-sign.
    #[arg(long, value_name = "FILE")]
    checkpoint: PathBuf,
    /// The log's public key (SPKI PEM): its signature is checked before co-signing.
    #[arg(long, value_name = "PUB.pem")]
    pubkey: PathBuf,
    /// Key name of --pubkey (default: the checkpoint's origin).
    #[arg(long, value_name = "NAME")]
    key_name: Option<String>,
    /// The co-signer's Ed25519 private key (PKCS#8 PEM).
    #[arg(long, value_name = "PRIV.pem")]
    key: PathBuf,
    /// The co-signer's key name.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// The signature to add: `cosignature-v1` (C2SP tlog-cosignature, timestamped, key id
    /// type 0x04; what witnesses write) or `note` (a plain Ed25519 signed-note signature).
    #[arg(long, value_name = "FORMAT", default_value = "cosignature-v1",
          value_parser = ["cosignature-v1", "note"])]
    format: String,
    /// The time the cosignature states, in seconds since the Unix epoch (default: now).
    #[arg(long, value_name = "SECONDS")]
    time: Option<u64>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Init(a) => init(a),
        Verb::Append(a) => append(a),
        Verb::Checkpoint(a) => checkpoint(a),
        Verb::Prove(a) => prove(a),
        Verb::Consistency(a) => consistency(a),
        Verb::Verify(a) => verify(a),
        Verb::VerifyProof(a) => verify_proof(*a),
        Verb::Cosign(a) => cosign(a),
    }
}

/// A checkpoint signer named `name` over the private key in `path` (Ed25519 PKCS#8 PEM).
fn note_signer(name: &str, path: &Path) -> anyhow::Result<NoteSigner> {
    let key = vigil_core::SigningKey::load(path, None)?;
    NoteSigner::from_signer(name, std::sync::Arc::new(key))
        .with_context(|| path.display().to_string())
}

/// A checkpoint verifier named `name` over the public key in `path` (Ed25519 SPKI PEM).
fn note_verifier(name: &str, path: &Path) -> anyhow::Result<NoteVerifier> {
    let key = vigil_core::PublicKey::load(path)?;
    NoteVerifier::from_public_key(name, &key).with_context(|| path.display().to_string())
}

fn init(a: InitArgs) -> anyhow::Result<Outcome> {
    let key_name = a.key_name.as_deref().unwrap_or(&a.origin);
    let signer = note_signer(key_name, &a.key)?;
    let log = Ledger::create(
        &a.db,
        &a.origin,
        signer.verifier().key(),
        a.key_name.as_deref(),
    )?;
    let info = log.info();
    let vkey = signer.verifier().to_vkey();
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"db": a.db, "origin": info.origin, "key_name": info.key_name, "vkey": vkey}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(out, "created log {} at {}", info.origin, a.db.display())?;
        writeln!(out, "verifier key: {vkey}")?;
    }
    Ok(Outcome::Ok)
}

fn append(a: AppendArgs) -> anyhow::Result<Outcome> {
    let log = open_log(&a.db, OpenCheck::Full)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let appended = log.append_stream(std::io::stdin(), |receipts| {
        for r in receipts {
            writeln!(out, "{}", r.index)?;
        }
        out.flush()
    });
    out.flush()?;
    match appended {
        Ok(_) => Ok(Outcome::Ok),
        Err(LedgerError::Line { line, source }) => bail!("stdin line {line}: {source}"),
        Err(LedgerError::Input(e)) => Err(anyhow::Error::new(e).context("reading standard input")),
        Err(e) => Err(e.into()),
    }
}

fn checkpoint(a: CheckpointArgs) -> anyhow::Result<Outcome> {
    let log = open_log(&a.db, OpenCheck::TailSinceCheckpoint)?;
    let signer = note_signer(&log.info().key_name, &a.key)?;
    let note = log.checkpoint(&[&signer])?;
    let mut out = std::io::stdout().lock();
    out.write_all(note.as_bytes())?;
    out.flush()?;
    Ok(Outcome::Ok)
}

fn prove(a: ProveArgs) -> anyhow::Result<Outcome> {
    let log = open_log(&a.db, OpenCheck::TailSinceCheckpoint)?;
    let size = a.size.unwrap_or_else(|| log.size());
    let p = log.prove(a.index, size)?;
    let head = [
        format!("index {} size {}", p.index, p.size),
        format!("leaf_hash {}", hex::encode(p.leaf_hash)),
        format!("root {}", hex::encode(p.root)),
    ];
    print_proof(a.json, &p, &head, &p.proof)
}

fn consistency(a: ConsistencyArgs) -> anyhow::Result<Outcome> {
    let log = open_log(&a.db, OpenCheck::TailSinceCheckpoint)?;
    let new = a.new.unwrap_or_else(|| log.size());
    let p = log.consistency(a.old, new)?;
    let head = [
        format!("old {} new {}", p.old, p.new),
        format!("old_root {}", hex::encode(p.old_root)),
        format!("new_root {}", hex::encode(p.new_root)),
    ];
    print_proof(a.json, &p, &head, &p.proof)
}

/// Opens the log at `db`; errors name it.
/// Opens a log for a command. One-shot queries check only the entries after the newest signed
/// checkpoint ([`OpenCheck::TailSinceCheckpoint`]); `vigil log verify` audits everything.
fn open_log(db: &Path, check: OpenCheck) -> anyhow::Result<Ledger> {
    Ledger::open_with(db, check).with_context(|| db.display().to_string())
}

/// A proof on standard output: one JSON object, or the `head` lines then one `proof HASH` line
/// per hash.
fn print_proof(
    json: bool,
    proof: &impl serde::Serialize,
    head: &[String],
    hashes: &[vigil_ledger::Hash],
) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, proof)?;
        writeln!(out)?;
    } else {
        for line in head {
            writeln!(out, "{line}")?;
        }
        for h in hashes {
            writeln!(out, "proof {}", hex::encode(h))?;
        }
    }
    Ok(Outcome::Ok)
}

/// Read a small file given on the command line (checkpoints, proofs, events): at most 1 MiB.
fn read_small(path: &Path) -> anyhow::Result<Vec<u8>> {
    crate::read_bounded(path, 1 << 20)
}

/// True when the error means "the log or proof failed verification" (exit 1) rather than
/// "could not run" (exit 2).
fn is_failure(e: &LedgerError) -> bool {
    matches!(
        e,
        LedgerError::Integrity(_) | LedgerError::Note(_) | LedgerError::Proof(_)
    )
}

fn verify(a: VerifyArgs) -> anyhow::Result<Outcome> {
    // Read-only: verifying never writes to the log or its folder.
    let store = SqliteStore::open_read_only(&a.db)?;
    let info = match store.info() {
        Ok(info) => info,
        Err(e) if is_failure(&e) => return verify_failed(&e, a.json),
        Err(e) => return Err(e.into()),
    };
    let name = a.key_name.clone().unwrap_or(info.key_name.clone());
    let trusted = [note_verifier(&name, &a.pubkey)?];
    let mut external = Vec::new();
    let mut result: Result<vigil_ledger::Audit, LedgerError> = Ok(vigil_ledger::Audit {
        size: 0,
        root: [0; 32],
        checkpoints: 0,
    });
    if let Some(origin) = &a.origin {
        if *origin != info.origin {
            result = Err(LedgerError::Note(vigil_ledger::NoteError::WrongOrigin {
                found: info.origin.clone(),
                expected: origin.clone(),
            }));
        }
    }
    if let (Some(path), true) = (&a.checkpoint, result.is_ok()) {
        match open_checkpoint(&read_small(path)?, &trusted, Some(&info.origin)) {
            Ok(cp) => external.push(cp.checkpoint),
            Err(e) => {
                result = Err(LedgerError::Integrity(IntegrityError::BadCheckpoint {
                    checkpoint: CheckpointRef::Given,
                    reason: format!("{}: {e}", path.display()),
                }))
            }
        }
    }
    if result.is_ok() {
        result = audit(&store, &trusted, &external);
    }
    let mut out = std::io::stdout().lock();
    match result {
        Ok(r) => {
            if a.json {
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"ok": true, "size": r.size, "root": hex::encode(r.root),
                                        "checkpoints": r.checkpoints, "error": null}),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "ok: {} entries, root {}, {} stored checkpoint(s) verified{}",
                    r.size,
                    hex::encode(r.root),
                    r.checkpoints,
                    if external.is_empty() {
                        ""
                    } else {
                        ", given checkpoint contained"
                    }
                )?;
            }
            Ok(Outcome::Ok)
        }
        Err(e) if is_failure(&e) => verify_failed(&e, a.json),
        Err(e) => Err(e.into()),
    }
}

/// Prints a failed verification (`FAILED: why`, or the JSON object) and returns exit 1.
fn verify_failed(e: &LedgerError, json: bool) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"ok": false, "size": null, "root": null,
                                "checkpoints": null, "error": e.to_string()}),
        )?;
        writeln!(out)?;
    } else {
        writeln!(out, "FAILED: {e}")?;
    }
    Ok(Outcome::Failed)
}

fn witnesses(specs: &[String]) -> anyhow::Result<Vec<NoteVerifier>> {
    specs
        .iter()
        .map(|s| {
            let (name, path) = s
                .split_once('=')
                .with_context(|| format!("--witness {s:?}: expected NAME=PUB.pem"))?;
            // A witness may sign either way: a plain note signature or a cosignature/v1.
            Ok(note_verifier(name, Path::new(path))?.accepting_cosignature_v1())
        })
        .collect()
}

/// Open and verify a checkpoint with the log key (named by --key-name or its origin) and
/// every witness.
fn checked_checkpoint(
    path: &Path,
    pubkey: &Path,
    key_name: Option<&str>,
    origin: Option<&str>,
    witnesses: &[NoteVerifier],
    signers: &mut Vec<String>,
) -> anyhow::Result<Result<Checkpoint, String>> {
    let bytes = read_small(path)?;
    // The key name defaults to the origin, which needs the note parsed first.
    let name = match key_name {
        Some(n) => n.to_string(),
        None => {
            match vigil_ledger::Note::parse(&bytes, &Default::default())
                .map_err(|e| e.to_string())
                .and_then(|n| Checkpoint::parse_text(n.text()).map_err(|e| e.to_string()))
            {
                Ok(cp) => cp.origin,
                Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
            }
        }
    };
    let mut trusted = vec![note_verifier(&name, pubkey)?];
    trusted.extend_from_slice(witnesses);
    match open_checkpoint(&bytes, &trusted, origin) {
        Ok(v) => {
            for s in v.verification.verified {
                if !signers.contains(&s) {
                    signers.push(s);
                }
            }
            Ok(Ok(v.checkpoint))
        }
        Err(e) => Ok(Err(format!("{}: {e}", path.display()))),
    }
}

fn verify_proof(a: VerifyProofArgs) -> anyhow::Result<Outcome> {
    if a.inclusion.is_none() && a.consistency.is_none() && a.checkpoint.is_none() {
        bail!("nothing to verify: give --inclusion, --consistency or --checkpoint");
    }
    let needs_checkpoint = (a.inclusion.is_some() || a.consistency.is_some()) && !a.unauthenticated;
    if needs_checkpoint && a.checkpoint.is_none() {
        bail!("a proof needs --checkpoint (and --pubkey) to be trusted; or say --unauthenticated");
    }
    if a.consistency.is_some() && !a.unauthenticated && a.old_checkpoint.is_none() {
        bail!("--consistency needs --old-checkpoint and --checkpoint, or --unauthenticated");
    }
    let witnesses = witnesses(&a.witness)?;
    let mut checked: Vec<&str> = Vec::new();
    let mut signers = Vec::new();
    let outcome = (|| -> anyhow::Result<Result<(), String>> {
        let mut new_cp = None;
        if let (Some(path), Some(pubkey)) = (&a.checkpoint, &a.pubkey) {
            match checked_checkpoint(
                path,
                pubkey,
                a.key_name.as_deref(),
                a.origin.as_deref(),
                &witnesses,
                &mut signers,
            )? {
                Ok(cp) => new_cp = Some(cp),
                Err(e) => return Ok(Err(e)),
            }
            checked.push("checkpoint");
        }
        if let Some(path) = &a.inclusion {
            let p = match InclusionProof::from_json(&read_small(path)?) {
                Ok(p) => p,
                Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
            };
            if let Some(entry) = &a.entry {
                let bytes = read_small(entry)?;
                let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
                let canonical = match canonicalize_event(first, &Limits::default()) {
                    Ok(c) => c,
                    Err(e) => return Ok(Err(format!("{}: {e}", entry.display()))),
                };
                if leaf_hash(&canonical) != p.leaf_hash {
                    return Ok(Err(format!(
                        "{}: the entry's leaf hash {} is not the proof's {}",
                        entry.display(),
                        hex::encode(leaf_hash(&canonical)),
                        hex::encode(p.leaf_hash)
                    )));
                }
                checked.push("entry");
            }
            if let Some(cp) = &new_cp {
                if cp.size != p.size || cp.root != p.root {
                    return Ok(Err(format!(
                        "inclusion proof is for size {} root {} but the checkpoint has size {} root {}",
                        p.size,
                        hex::encode(p.root),
                        cp.size,
                        hex::encode(cp.root)
                    )));
                }
            }
            if let Err(e) = p.verify() {
                return Ok(Err(format!("{}: inclusion proof: {e}", path.display())));
            }
            checked.push("inclusion");
        }
        if let Some(path) = &a.consistency {
            let p = match ConsistencyProof::from_json(&read_small(path)?) {
                Ok(p) => p,
                Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
            };
            if let (Some(old_path), Some(pubkey), Some(new_cp)) =
                (&a.old_checkpoint, &a.pubkey, &new_cp)
            {
                let old_cp = match checked_checkpoint(
                    old_path,
                    pubkey,
                    a.key_name.as_deref(),
                    a.origin.as_deref(),
                    &witnesses,
                    &mut signers,
                )? {
                    Ok(cp) => cp,
                    Err(e) => return Ok(Err(e)),
                };
                if old_cp.origin != new_cp.origin {
                    return Ok(Err(format!(
                        "the checkpoints have different origins {:?} and {:?}",
                        old_cp.origin, new_cp.origin
                    )));
                }
                if old_cp.size == new_cp.size && old_cp.root != new_cp.root {
                    return Ok(Err(format!(
                        "forked history: two checkpoints of size {} with different roots",
                        old_cp.size
                    )));
                }
                if (old_cp.size, old_cp.root, new_cp.size, new_cp.root)
                    != (p.old, p.old_root, p.new, p.new_root)
                {
                    return Ok(Err(format!(
                        "consistency proof is for sizes {} -> {} with other roots than the checkpoints ({} -> {})",
                        p.old, p.new, old_cp.size, new_cp.size
                    )));
                }
                checked.push("old-checkpoint");
            }
            if let Err(e) = p.verify() {
                return Ok(Err(format!("{}: consistency proof: {e}", path.display())));
            }
            checked.push("consistency");
        }
        Ok(Ok(()))
    })()?;
    let mut out = std::io::stdout().lock();
    let (ok, error) = match &outcome {
        Ok(()) => (true, None),
        Err(e) => (false, Some(e.clone())),
    };
    if a.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"ok": ok, "checked": checked, "signers": signers, "error": error}),
        )?;
        writeln!(out)?;
    } else if let Some(e) = &error {
        writeln!(out, "FAILED: {e}")?;
    } else {
        writeln!(
            out,
            "ok: {} verified{}{}",
            checked.join(", "),
            if signers.is_empty() {
                ""
            } else {
                "; signed by "
            },
            signers.join(", ")
        )?;
        if a.unauthenticated {
            writeln!(
                out,
                "note: proofs were checked against their own roots only"
            )?;
        }
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Failed })
}

fn cosign(a: CosignArgs) -> anyhow::Result<Outcome> {
    let bytes = read_small(&a.checkpoint)?;
    let note = vigil_ledger::Note::parse(&bytes, &Default::default())
        .with_context(|| format!("{}", a.checkpoint.display()))?;
    let body = Checkpoint::parse_text(note.text())
        .with_context(|| format!("{}", a.checkpoint.display()))?;
    let name = a.key_name.clone().unwrap_or(body.origin.clone());
    let log_key = note_verifier(&name, &a.pubkey)?;
    let mut opened = match open_checkpoint(&bytes, &[log_key], None) {
        Ok(v) => v,
        Err(e) => {
            println!("FAILED: {}: {e}", a.checkpoint.display());
            return Ok(Outcome::Failed);
        }
    };
    let signer = note_signer(&a.name, &a.key)?;
    if a.format == "note" {
        opened.note.add_signature(&signer)?;
    } else {
        let time = match a.time {
            Some(t) => t,
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the system clock is before 1970")?
                .as_secs(),
        };
        opened.note.add_cosignature(&signer, time)?;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(opened.note.to_text().as_bytes())?;
    out.flush()?;
    Ok(Outcome::Ok)
}

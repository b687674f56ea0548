//! `vigil update`: secure model updates over TUF, on the device (install, status, rollback)
//! and for the publisher (repo init, add, refresh, rotate).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use vigil_update::publish::{parse_duration, parse_role, Publisher, PublisherConfig};
use vigil_update::{Install, UpdateReport, UpdateResult};

use crate::outcome::Outcome;

/// `vigil update`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Install the newest (or the named) release from a TUF repository: refresh, download,
    /// verify, scan, run the acceptance set, switch atomically. Exit 0 activated or up to
    /// date, 1 refused, 2 usage or local I/O error.
    Install(InstallArgs),
    /// Show the active release, the releases kept and the trusted metadata versions.
    Status(StatusArgs),
    /// Switch atomically back to the previous release.
    Rollback(RollbackArgs),
    /// Publish: make a repository, add releases, refresh the timestamp, rotate keys.
    Repo(RepoArgs),
}

#[derive(Debug, clap::Args)]
#[command(disable_version_flag = true)]
struct InstallArgs {
    /// The repository: an http(s):// base URL or a local directory (removable media), each
    /// holding metadata/ and targets/.
    #[arg(long, value_name = "URL|DIR")]
    repo: String,
    /// The trusted root metadata to start from (needed for the first install only; later the
    /// state's root is used and rotated by TUF's rules).
    #[arg(long, value_name = "ROOT.json")]
    root: Option<PathBuf>,
    /// The device's update state directory.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The bundle name: releases are the targets NAME/VERSION.tar.
    #[arg(long, value_name = "NAME")]
    name: String,
    #[command(flatten)]
    trust: crate::cmd::guard::TrustArgs,
    /// Install exactly this version (also one withdrawn by a rollback).
    #[arg(long = "version", id = "release_version", value_name = "V")]
    version: Option<String>,
    /// A command run (by /bin/sh, with VIGIL_RELEASE set) after the switch; if it fails the
    /// previous release comes back.
    #[arg(long, value_name = "CMD")]
    health_cmd: Option<String>,
    /// The ledger's checkpoint key [default: STATE/ledger-key.pem, made at the first install].
    #[arg(long, value_name = "KEY.pem")]
    ledger_key: Option<PathBuf>,
    /// Releases to keep besides the active and previous ones.
    #[arg(long, value_name = "N", default_value_t = 3)]
    keep: usize,
    /// The CA to trust for an https:// repository (PEM).
    #[arg(long, value_name = "CA.pem")]
    repo_ca: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The device's update state directory.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct RollbackArgs {
    /// The device's update state directory.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The ledger's checkpoint key [default: STATE/ledger-key.pem].
    #[arg(long, value_name = "KEY.pem")]
    ledger_key: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct RepoArgs {
    #[command(subcommand)]
    verb: RepoVerb,
}

#[derive(Debug, clap::Subcommand)]
enum RepoVerb {
    /// Make KEYDIR (never overwriting it) and an empty repository.
    Init(RepoInitArgs),
    /// Pack a bundle directory as NAME/VERSION.tar and publish it.
    Add(RepoAddArgs),
    /// Sign a new timestamp (run it before the timestamp expires).
    Refresh(RepoDirs),
    /// New keys for a role and a new root version signed by the old and new root keys.
    Rotate(RepoRotateArgs),
}

#[derive(Debug, clap::Args)]
struct RepoDirs {
    /// The repository directory.
    #[arg(long, value_name = "REPO")]
    dir: PathBuf,
    /// The key directory.
    #[arg(long, value_name = "KEYDIR")]
    keys: PathBuf,
}

#[derive(Debug, clap::Args)]
struct RepoInitArgs {
    #[command(flatten)]
    dirs: RepoDirs,
    /// Keys and signatures required for a role, as ROLE=N (default 1 each).
    #[arg(long, value_name = "ROLE=N")]
    threshold: Vec<String>,
    /// How long a role's metadata stays valid, as ROLE=DURATION (30d, 12h); defaults root=365d
    /// targets=90d snapshot=7d timestamp=1d.
    #[arg(long, value_name = "ROLE=DURATION")]
    expires: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RepoAddArgs {
    #[command(flatten)]
    dirs: RepoDirs,
    /// The signed bundle directory to publish.
    #[arg(value_name = "BUNDLE_DIR")]
    bundle: PathBuf,
}

#[derive(Debug, clap::Args)]
struct RepoRotateArgs {
    #[command(flatten)]
    dirs: RepoDirs,
    /// The role whose keys are replaced: root, targets, snapshot or timestamp.
    #[arg(long, value_name = "ROLE")]
    role: String,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.verb {
        Verb::Install(a) => install(a),
        Verb::Status(a) => status(a),
        Verb::Rollback(a) => rollback(a),
        Verb::Repo(a) => repo(a),
    }
}

fn print_report(report: &UpdateReport, json: bool) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, report)?;
        writeln!(out)?;
    } else {
        let what = match report.result {
            UpdateResult::Activated => "activated",
            UpdateResult::UpToDate => "up to date",
            UpdateResult::Refused => "REFUSED",
            UpdateResult::RolledBack => "rolled back",
        };
        let reason = report.reason.map(|r| format!(" ({r})")).unwrap_or_default();
        writeln!(
            out,
            "{} {}: {what}{reason}: {}",
            report.name,
            report.version.as_deref().unwrap_or("-"),
            report.detail
        )?;
    }
    Ok(match report.result {
        UpdateResult::Refused => Outcome::Failed,
        _ => Outcome::Ok,
    })
}

fn install(a: InstallArgs) -> anyhow::Result<Outcome> {
    let mut install = Install::new(&a.repo, &a.state, &a.name, a.trust.trust()?).keep(a.keep);
    if let Some(root) = &a.root {
        install = install.root(root);
    }
    if let Some(v) = &a.version {
        let v = semver::Version::parse(v).with_context(|| format!("--version {v}"))?;
        install = install.version(v);
    }
    if let Some(cmd) = &a.health_cmd {
        install = install.health_cmd(cmd);
    }
    if let Some(k) = &a.ledger_key {
        install = install.ledger_key(k);
    }
    if let Some(ca) = &a.repo_ca {
        install = install.repo_tls(vigil_net::client_config(ca, None)?);
    }
    let bar = crate::progress::bytes("downloading and verifying");
    let inc = |n: u64| bar.inc(n);
    let report = install.progress(&inc).run();
    bar.finish();
    print_report(&report?, a.json)
}

fn status(a: StatusArgs) -> anyhow::Result<Outcome> {
    let s = vigil_update::status(&a.state)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut out, &s)?;
        writeln!(out)?;
    } else {
        match &s.current {
            Some(c) => writeln!(
                out,
                "current: {} {} ({})",
                c.name,
                c.version,
                c.path.display()
            )?,
            None => writeln!(out, "current: none")?,
        }
        writeln!(out, "releases: {}", s.releases.join(", "))?;
        let t = s.trusted;
        writeln!(
            out,
            "trusted: root {} timestamp {} snapshot {} targets {}",
            t.root, t.timestamp, t.snapshot, t.targets
        )?;
        writeln!(
            out,
            "latest known time: {}",
            s.latest_known_time.as_deref().unwrap_or("-")
        )?;
    }
    Ok(Outcome::Ok)
}

fn rollback(a: RollbackArgs) -> anyhow::Result<Outcome> {
    let report = vigil_update::rollback(&a.state, a.ledger_key.as_deref())?;
    print_report(&report, a.json)
}

fn pairs(items: &[String], what: &str) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--{what} {s}: expected ROLE=VALUE"))
        })
        .collect()
}

fn repo(a: RepoArgs) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    match a.verb {
        RepoVerb::Init(i) => {
            let mut config = PublisherConfig::default();
            for (role, n) in pairs(&i.threshold, "threshold")? {
                parse_role(&role)?;
                let n: u64 = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("--threshold {role}={n}: a positive number"))?;
                config.thresholds.insert(role, n);
            }
            for (role, d) in pairs(&i.expires, "expires")? {
                parse_role(&role)?;
                config.expires.insert(role, parse_duration(&d)?);
            }
            Publisher::init(&i.dirs.dir, &i.dirs.keys, config)?;
            writeln!(
                out,
                "repository {} made; keys in {}; give devices {}",
                i.dirs.dir.display(),
                i.dirs.keys.display(),
                Path::new(&i.dirs.dir)
                    .join("metadata/1.root.json")
                    .display()
            )?;
        }
        RepoVerb::Add(add) => {
            let p = Publisher::open(&add.dirs.dir, &add.dirs.keys)?;
            let name = p.add(&add.bundle)?;
            writeln!(out, "published {name}")?;
        }
        RepoVerb::Refresh(d) => {
            let v = Publisher::open(&d.dir, &d.keys)?.refresh()?;
            writeln!(out, "timestamp version {v}")?;
        }
        RepoVerb::Rotate(r) => {
            let role = parse_role(&r.role)?;
            let v = Publisher::open(&r.dirs.dir, &r.dirs.keys)?.rotate(role)?;
            writeln!(out, "{} keys rotated; root version {v}", r.role)?;
        }
    }
    Ok(Outcome::Ok)
}

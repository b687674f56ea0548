//! `install`, `rollback` and `status`: the device side of an update.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use vigil_bundle::{BundleVerifier, Trust, VerifiedBundle};
use vigil_guard::{DangerousNoAudit, Guard, GuardOptions};
use vigil_ledger::{now_ms, Event, Ledger, NoteSigner, UpdatePhase, UpdateStep};

use crate::acceptance;
use crate::archive;
use crate::reason::{Reason, Refusal, UpdateError};
use crate::state::{sync_dir, State};
use crate::transport::RepoTransport;
use crate::tuf::{self, Failure, MetadataLimits, RepoUrls, TrustedVersions};

/// How an update command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateResult {
    /// A new release is active.
    Activated,
    /// The newest trusted release is already active.
    UpToDate,
    /// Nothing changed (or a failed health check brought the previous release back).
    Refused,
    /// `rollback` switched to the previous release.
    RolledBack,
}

/// What `vigil update install` and `rollback` print with `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateReport {
    /// How it ended.
    pub result: UpdateResult,
    /// The bundle name.
    pub name: String,
    /// The release installed, found up to date, refused, or rolled back to.
    pub version: Option<String>,
    /// The release that was active when the command started.
    pub previous: Option<String>,
    /// The refusal's reason.
    pub reason: Option<Reason>,
    /// What happened, for people.
    pub detail: String,
}

/// What `vigil update status --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// The active release.
    pub current: Option<CurrentRelease>,
    /// Releases on disk, oldest version first.
    pub releases: Vec<String>,
    /// Versions of the trusted TUF metadata.
    pub trusted: TrustedVersions,
    /// The newest time the updater has trusted (RFC 3339).
    pub latest_known_time: Option<String>,
}

/// The active release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentRelease {
    /// Bundle name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Its directory.
    pub path: PathBuf,
}

/// An install, configured: [`Install::new`] takes what is required, setters the rest.
pub struct Install<'a> {
    repo: &'a str,
    state: &'a Path,
    name: &'a str,
    trust: Trust,
    root: Option<&'a Path>,
    version: Option<semver::Version>,
    health_cmd: Option<&'a str>,
    ledger_key: Option<&'a Path>,
    keep: usize,
    repo_tls: Option<Arc<rustls::ClientConfig>>,
    metadata_limits: MetadataLimits,
    archive_limits: archive::Limits,
    progress: Option<vigil_bundle::Progress<'a>>,
}

impl<'a> Install<'a> {
    /// Installs the newest release of `name` from `repo` (an `http(s)://` URL or a directory)
    /// into the state directory `state`, trusting bundles under `trust`.
    pub fn new(repo: &'a str, state: &'a Path, name: &'a str, trust: Trust) -> Install<'a> {
        Install {
            repo,
            state,
            name,
            trust,
            root: None,
            version: None,
            health_cmd: None,
            ledger_key: None,
            keep: 3,
            repo_tls: None,
            metadata_limits: MetadataLimits::default(),
            archive_limits: archive::Limits::default(),
            progress: None,
        }
    }
    /// Called with the number of bytes just downloaded or hashed (for a progress bar).
    pub fn progress(mut self, progress: vigil_bundle::Progress<'a>) -> Self {
        self.progress = Some(progress);
        self
    }
    /// The root metadata to start from (required for the first install only).
    pub fn root(mut self, path: &'a Path) -> Self {
        self.root = Some(path);
        self
    }
    /// Install exactly this version (also one that was withdrawn by a rollback).
    pub fn version(mut self, version: semver::Version) -> Self {
        self.version = Some(version);
        self
    }
    /// A shell command run after the switch; if it fails, the previous release comes back.
    pub fn health_cmd(mut self, cmd: &'a str) -> Self {
        self.health_cmd = Some(cmd);
        self
    }
    /// The ledger's checkpoint key (default `STATE/ledger-key.pem`, made at the first install).
    pub fn ledger_key(mut self, path: &'a Path) -> Self {
        self.ledger_key = Some(path);
        self
    }
    /// Releases to keep besides the active and previous ones (default 3, newest by version).
    pub fn keep(mut self, keep: usize) -> Self {
        self.keep = keep;
        self
    }
    /// TLS settings for an `https://` repository.
    pub fn repo_tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.repo_tls = Some(tls);
        self
    }
    /// Bounds on the TUF metadata.
    pub fn metadata_limits(mut self, limits: MetadataLimits) -> Self {
        self.metadata_limits = limits;
        self
    }
    /// Bounds on the release archive.
    pub fn archive_limits(mut self, limits: archive::Limits) -> Self {
        self.archive_limits = limits;
        self
    }

    /// Runs the install. A refusal is an [`UpdateReport`] with [`UpdateResult::Refused`];
    /// an error means the command could not run (usage, local I/O, a broken state).
    pub fn run(self) -> Result<UpdateReport, UpdateError> {
        let state = State::open(self.state, true)?;
        if let Some(held) = &state.saved.name {
            if held != self.name {
                return Err(UpdateError::Usage(format!(
                    "state {} holds releases of {held}, not {}",
                    self.state.display(),
                    self.name
                )));
            }
        }
        let log = DeviceLog::open(&state, self.ledger_key, self.name)?;
        let mut run = Run {
            install: &self,
            state,
            log,
            previous: None,
        };
        run.previous = run.state.current()?;
        let report = run.go()?;
        run.log.checkpoint()?;
        Ok(report)
    }
}

/// The device's update ledger and its signer.
struct DeviceLog {
    ledger: Ledger,
    signer: NoteSigner,
    name: String,
    /// When the chosen release was published (its target's `custom.published`), recorded
    /// with every step about it.
    published_ms: Option<u64>,
}

impl DeviceLog {
    fn open(state: &State, key: Option<&Path>, name: &str) -> Result<DeviceLog, UpdateError> {
        let key_path = match key {
            Some(k) => k.to_path_buf(),
            None => {
                let k = state.path("ledger-key.pem");
                vigil_ledger::ensure_checkpoint_key(&k, &state.path("ledger-key.pub.pem"))?;
                k
            }
        };
        let key =
            vigil_core::SigningKey::load(&key_path, None).map_err(|e| UpdateError::State {
                path: key_path.clone(),
                reason: e.to_string(),
            })?;
        let (ledger, signer) = vigil_ledger::open_or_create_signed(
            &state.path("ledger.db"),
            "vigil-update",
            Arc::new(key),
            vigil_ledger::OpenCheck::Full,
        )?;
        Ok(DeviceLog {
            ledger,
            signer,
            name: name.to_string(),
            published_ms: None,
        })
    }

    fn record(
        &self,
        step: UpdatePhase,
        version: Option<&str>,
        outcome: Result<&str, &Refusal>,
    ) -> Result<(), UpdateError> {
        let (ok, reason, detail) = match outcome {
            Ok(d) => (true, None, d.to_string()),
            Err(r) => (false, Some(r.reason.code().to_string()), r.detail.clone()),
        };
        self.ledger.record(&Event::UpdateStep(UpdateStep {
            time_ms: now_ms(),
            step,
            name: self.name.clone(),
            version: version.map(str::to_string),
            ok,
            reason,
            detail,
            published_ms: version.and(self.published_ms),
        }))?;
        Ok(())
    }

    fn checkpoint(&self) -> Result<(), UpdateError> {
        self.ledger.checkpoint(&[&self.signer])?;
        Ok(())
    }
}

struct Run<'i, 'a> {
    install: &'i Install<'a>,
    state: State,
    log: DeviceLog,
    previous: Option<String>,
}

impl Run<'_, '_> {
    fn report(
        &self,
        result: UpdateResult,
        version: Option<&str>,
        refusal: Option<&Refusal>,
        detail: String,
    ) -> UpdateReport {
        UpdateReport {
            result,
            name: self.install.name.to_string(),
            version: version.map(str::to_string),
            previous: self.previous.clone(),
            reason: refusal.map(|r| r.reason),
            detail: refusal.map(|r| r.detail.clone()).unwrap_or(detail),
        }
    }

    /// Records the refusal and makes the report.
    fn refused(
        &self,
        version: Option<&str>,
        refusal: Refusal,
    ) -> Result<UpdateReport, UpdateError> {
        self.log
            .record(UpdatePhase::Refused, version, Err(&refusal))?;
        Ok(self.report(
            UpdateResult::Refused,
            version,
            Some(&refusal),
            String::new(),
        ))
    }

    fn go(&mut self) -> Result<UpdateReport, UpdateError> {
        let install = self.install;
        let trusted_dir = self.state.path("tuf");
        let root_bytes =
            match vigil_core::read_bounded(
                &trusted_dir.join("root.json"),
                install.metadata_limits.max_root_bytes,
            ) {
                Ok(b) => b,
                Err(e) if e.is_not_found() => match install.root {
                    Some(p) => vigil_core::read_bounded(p, install.metadata_limits.max_root_bytes)?,
                    None => return Err(UpdateError::Usage(
                        "the first install needs --root ROOT.json (the repository's trusted root)"
                            .into(),
                    )),
                },
                Err(e) => return Err(e.into()),
            };
        let urls = RepoUrls::parse(install.repo)?;
        let now = self.latest_known_time();
        let transport = RepoTransport::new(install.repo_tls.clone());
        let scratch = self.state.path("tmp");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(UpdateError::io(self.state.dir()))?;

        // 1. Refresh the metadata.
        let refreshed = match runtime.block_on(tuf::refresh(
            &urls,
            &root_bytes,
            &trusted_dir,
            &scratch,
            transport.clone(),
            &install.metadata_limits,
            now,
        )) {
            Ok(r) => r,
            Err(Failure::Refused(r)) => return self.refused(None, r),
            Err(Failure::Error(e)) => return Err(e),
        };
        self.state.saved.trusted = refreshed.versions;
        self.state.saved.latest_known_time = Some(now.to_string());
        self.state.save()?;
        let v = refreshed.versions;
        self.log.record(
            UpdatePhase::Refresh,
            None,
            Ok(&format!(
                "trusted root {} timestamp {} snapshot {} targets {}",
                v.root, v.timestamp, v.snapshot, v.targets
            )),
        )?;

        // 2. Choose the release.
        let releases = tuf::releases(&refreshed.repo, install.name);
        let chosen = match &install.version {
            Some(want) => releases.get_key_value(want),
            None => releases
                .iter()
                .rev()
                .find(|(v, _)| !self.state.saved.withdrawn.contains(&v.to_string())),
        };
        let Some((version, target)) = chosen else {
            let what = match &install.version {
                Some(v) => format!("no target {}/{v}.tar in the trusted targets", install.name),
                None => format!("no release of {} in the trusted targets", install.name),
            };
            return self.refused(None, Refusal::new(Reason::RepoUnavailable, what));
        };
        let (version, target) = (version.clone(), target.clone());
        let vtext = version.to_string();
        self.log.published_ms = tuf::published_ms(&refreshed.repo, &target);
        if let Some(active) = &self.previous {
            let active_v = semver::Version::parse(active).ok();
            if active_v.as_ref() == Some(&version) {
                return Ok(self.report(
                    UpdateResult::UpToDate,
                    Some(&vtext),
                    None,
                    format!("{} {vtext} is active", install.name),
                ));
            }
            if active_v.as_ref().is_some_and(|a| *a > version) {
                return self.refused(
                    Some(&vtext),
                    Refusal::new(
                        Reason::BundleRollback,
                        format!("{vtext} is not newer than the active release {active}"),
                    ),
                );
            }
        }

        // 3. Download with TUF's checks, unpacking into staging as the bytes arrive.
        let stage = scratch.join(format!("stage-{vtext}"));
        std::fs::create_dir(&stage).map_err(UpdateError::io(&stage))?;
        let downloaded = match runtime.block_on(tuf::download(
            &refreshed,
            &urls,
            &transport,
            &target,
            &stage,
            &install.archive_limits,
            install.progress,
        )) {
            Ok(x) => x,
            Err(Failure::Refused(r)) => return self.refused(Some(&vtext), r),
            Err(Failure::Error(e)) => return Err(e),
        };
        drop(runtime);
        let (bytes, digest) = (downloaded.bytes, downloaded.sha256);
        let unpacked = match downloaded.unpacked {
            Ok(u) => u,
            Err(archive::ArchiveError::Io { path, source }) => {
                return Err(UpdateError::Io { path, source })
            }
            Err(e) => {
                return self.refused(
                    Some(&vtext),
                    Refusal::new(Reason::BundleArchive, format!("{target}: {e}")),
                )
            }
        };
        self.log.record(
            UpdatePhase::Download,
            Some(&vtext),
            Ok(&format!(
                "{target}: {bytes} bytes, sha256 {digest}; {} files unpacked",
                unpacked.files.len()
            )),
        )?;

        // 4. Verify the bundle on the unpacked bytes.
        let bundle = match self.verify(&stage, &version, &unpacked.digests) {
            Ok(b) => b,
            Err(r) => return self.refused(Some(&vtext), r),
        };
        self.log.record(
            UpdatePhase::Verify,
            Some(&vtext),
            Ok(&format!("bundle {} verified", hex::encode(bundle.digest()))),
        )?;

        // 5. Scan.
        if let Err(r) = scan(&stage) {
            return self.refused(Some(&vtext), r);
        }
        self.log.record(
            UpdatePhase::Scan,
            Some(&vtext),
            Ok("no finding at HIGH or above"),
        )?;

        // 6. Acceptance through the guard.
        match accept(&bundle) {
            Ok(detail) => self
                .log
                .record(UpdatePhase::Acceptance, Some(&vtext), Ok(&detail))?,
            Err(r) => return self.refused(Some(&vtext), r),
        }
        drop(bundle);

        // 7. Activate.
        let release = self.state.release_dir(&vtext);
        if release.exists() {
            std::fs::remove_dir_all(&release).map_err(UpdateError::io(&release))?;
        }
        std::fs::rename(&stage, &release).map_err(UpdateError::io(&release))?;
        sync_dir(&self.state.path("releases"))?;
        self.log.record(
            UpdatePhase::Activate,
            Some(&vtext),
            Ok(&format!("current -> releases/{vtext}")),
        )?;
        self.state.switch(&vtext)?;
        self.state.saved.name = Some(install.name.to_string());
        self.state.saved.history.push(vtext.clone());
        self.state.saved.withdrawn.retain(|w| *w != vtext);
        self.state.save()?;

        // 8. Health check.
        if let Some(cmd) = install.health_cmd {
            if let Err(why) = health(cmd, &release) {
                let refusal = Refusal::new(Reason::HealthCheckFailed, why);
                self.log
                    .record(UpdatePhase::HealthCheck, Some(&vtext), Err(&refusal))?;
                if let Some(prev) = self.previous.clone() {
                    self.state.switch(&prev)?;
                    self.state.saved.history.pop();
                    self.log.record(
                        UpdatePhase::Rollback,
                        Some(&prev),
                        Ok(&format!("health check of {vtext} failed; {prev} restored")),
                    )?;
                } else {
                    let link = self.state.path("current");
                    std::fs::remove_file(&link).map_err(UpdateError::io(&link))?;
                    sync_dir(self.state.dir())?;
                    self.state.saved.history.pop();
                }
                self.state.saved.withdrawn.push(vtext.clone());
                self.state.save()?;
                return self.refused(Some(&vtext), refusal);
            }
            self.log
                .record(UpdatePhase::HealthCheck, Some(&vtext), Ok(cmd))?;
        }
        let pruned = self.state.prune(install.keep)?;
        let mut detail = format!("{} {vtext} is active", install.name);
        if !pruned.is_empty() {
            detail.push_str(&format!("; pruned {}", pruned.join(", ")));
        }
        Ok(self.report(UpdateResult::Activated, Some(&vtext), None, detail))
    }

    fn latest_known_time(&self) -> jiff::Timestamp {
        let clock = jiff::Timestamp::now();
        let saved = self
            .state
            .saved
            .latest_known_time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        match saved {
            Some(t) if t > clock => t,
            _ => clock,
        }
    }

    fn verify(
        &self,
        stage: &Path,
        version: &semver::Version,
        written: &std::collections::HashMap<String, [u8; 32]>,
    ) -> Result<VerifiedBundle, Refusal> {
        // Only the files the guard and the acceptance set read are kept in memory; the rest
        // (large weights, say) are verified by streaming them from disk. The names come from
        // the staged, not yet verified vigil.toml: a forged one fails verification anyway, and
        // a file wrongly left out is only missing later (the guard then refuses to open).
        let wanted = wanted_files(stage);
        let keep = |name: &str| {
            name == vigil_bundle::CONFIG_FILE
                || name.starts_with("reference/")
                || wanted.iter().any(|w| w == name)
        };
        // The files not kept were hashed as they were unpacked: those digests stand for
        // reading them back (the staging folder is ours alone).
        let mut verifier = BundleVerifier::new(stage, self.install.trust.clone())
            .keep(&keep)
            .known_digests(written);
        if let Some(p) = self.install.progress {
            verifier = verifier.progress(p);
        }
        let bundle = verifier
            .verify()
            .map_err(|e| Refusal::new(Reason::BundleSignature, e.to_string()))?;
        let config = bundle.config().ok_or_else(|| {
            Refusal::new(
                Reason::BundleSignature,
                "vigil.toml is not a signed file of the bundle",
            )
        })?;
        if config.name != self.install.name {
            return Err(Refusal::new(
                Reason::BundleSignature,
                format!(
                    "the bundle is {}, not the {} the target names",
                    config.name, self.install.name
                ),
            ));
        }
        if config.version != *version {
            let reason = if config.version < *version {
                Reason::BundleRollback
            } else {
                Reason::BundleSignature
            };
            return Err(Refusal::new(
                reason,
                format!(
                    "the bundle's vigil.toml says version {}, the target says {version}",
                    config.version
                ),
            ));
        }
        Ok(bundle)
    }
}

/// The model and acceptance data the staged `vigil.toml` names (unverified: a hint for what to
/// keep in memory, never trusted for anything else).
fn wanted_files(stage: &Path) -> Vec<String> {
    let path = stage.join(vigil_bundle::CONFIG_FILE);
    let Ok(bytes) = vigil_core::read_bounded(&path, 1 << 20) else {
        return Vec::new();
    };
    let Ok(config) = vigil_bundle::BundleConfig::parse(&bytes, &path) else {
        return Vec::new();
    };
    let mut names = vec![config.model.clone()];
    if let Ok(Some(spec)) = config.acceptance() {
        names.push(spec.data);
    }
    names
}

fn scan(stage: &Path) -> Result<(), Refusal> {
    let scanner =
        vigil_scan::Scanner::new(vigil_scan::Limits::default(), vigil_scan::Policy::default());
    let outcome = scanner.scan_paths(&[stage]);
    if let Some(e) = outcome.errors.first() {
        return Err(Refusal::new(
            Reason::ScanFinding,
            format!("could not scan: {e}"),
        ));
    }
    for report in &outcome.reports {
        for f in &report.findings {
            if f.severity >= vigil_scan::Severity::High {
                let file = report.path.strip_prefix(stage).unwrap_or(&report.path);
                return Err(Refusal::new(
                    Reason::ScanFinding,
                    format!(
                        "{}: {} {}: {}",
                        file.display(),
                        f.severity.as_str(),
                        f.rule.id(),
                        f.message
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn accept(bundle: &VerifiedBundle) -> Result<String, Refusal> {
    let fail = |d: String| Refusal::new(Reason::AcceptanceFailed, d);
    let config = bundle
        .config()
        .ok_or_else(|| fail("vigil.toml is not a signed file".into()))?;
    let spec = acceptance::spec(config)?
        .ok_or_else(|| fail("the bundle has no [acceptance] set in vigil.toml".into()))?;
    let guard = Guard::from_verified(bundle, GuardOptions::new(Arc::new(DangerousNoAudit)))
        .map_err(|e| fail(format!("the guard cannot open the bundle: {e}")))?;
    let result = acceptance::run(&spec, bundle, &guard)?;
    Ok(format!(
        "{} rows: accuracy {:.4}, abstained {:.4}",
        result.rows, result.accuracy, result.abstain_share
    ))
}

fn health(cmd: &str, release: &Path) -> Result<(), String> {
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env("VIGIL_RELEASE", release)
        .status()
        .map_err(|e| format!("health command could not run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("health command {cmd:?} failed: {status}"))
    }
}

/// `vigil update rollback`: switches atomically to the previous release, which is withdrawn
/// from automatic installs no more; the release rolled back from is.
pub fn rollback(state_dir: &Path, ledger_key: Option<&Path>) -> Result<UpdateReport, UpdateError> {
    let mut state = State::open(state_dir, false)?;
    let name = state.saved.name.clone().unwrap_or_default();
    let log = DeviceLog::open(&state, ledger_key, &name)?;
    let current = state.current()?;
    let Some(prev) = state.previous() else {
        return Err(UpdateError::State {
            path: state_dir.to_path_buf(),
            reason: "no previous release to roll back to".into(),
        });
    };
    if !state.release_dir(&prev).is_dir() {
        return Err(UpdateError::State {
            path: state.release_dir(&prev),
            reason: "the previous release is missing".into(),
        });
    }
    state.switch(&prev)?;
    state.saved.history.pop();
    if let Some(c) = &current {
        if !state.saved.withdrawn.contains(c) {
            state.saved.withdrawn.push(c.clone());
        }
    }
    state.save()?;
    log.record(
        UpdatePhase::Rollback,
        Some(&prev),
        Ok(&format!(
            "rolled back from {} to {prev}",
            current.as_deref().unwrap_or("nothing")
        )),
    )?;
    log.checkpoint()?;
    Ok(UpdateReport {
        result: UpdateResult::RolledBack,
        name,
        version: Some(prev.clone()),
        previous: current,
        reason: None,
        detail: format!("{prev} is active"),
    })
}

/// `vigil update status`.
pub fn status(state_dir: &Path) -> Result<StatusReport, UpdateError> {
    let state = State::open(state_dir, false)?;
    let current = state.current()?.map(|version| CurrentRelease {
        name: state.saved.name.clone().unwrap_or_default(),
        path: std::fs::canonicalize(state.release_dir(&version))
            .unwrap_or_else(|_| state.release_dir(&version)),
        version,
    });
    Ok(StatusReport {
        current,
        releases: state.releases()?.into_iter().map(|(_, n)| n).collect(),
        trusted: state.saved.trusted,
        latest_known_time: state.saved.latest_known_time.clone(),
    })
}

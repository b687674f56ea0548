//! The TUF side of an install: refresh the metadata with tough, judge expiry against the
//! latest known time, pick the release, and download it with the length and hash checks.
//!
//! tough keeps its own datastore; here it gets a fresh one per refresh, seeded with the
//! trusted metadata the state directory keeps durably, and the metadata it trusts at the end
//! is written back atomically (tough's own datastore writes are neither synced nor atomic).
//! Expiry is checked here, not by tough, against the newest of the device clock and every time
//! the updater trusted before: tough refuses outright when the clock steps back, which would
//! leave a device whose clock reset unable ever to update, and it compares with the clock alone.

use std::collections::BTreeMap;
use std::path::Path;

use futures::StreamExt;
use serde::Serialize;
use tough::schema::{RoleType, Signed, Target, Targets};
use tough::{ExpirationEnforcement, Repository, RepositoryLoader, TargetName, Transport};
use url::Url;

use crate::reason::{Reason, Refusal, UpdateError};

/// The metadata files kept in `STATE/tuf/`.
pub(crate) const TRUSTED_FILES: [&str; 4] = [
    "root.json",
    "timestamp.json",
    "snapshot.json",
    "targets.json",
];

/// Bounds on the metadata tough fetches (each role's file) and on the number of root
/// rotations followed in one refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataLimits {
    /// Most bytes of one `N.root.json`.
    pub max_root_bytes: u64,
    /// Most bytes of `timestamp.json`.
    pub max_timestamp_bytes: u64,
    /// Most bytes of `snapshot.json` when the timestamp does not give its length.
    pub max_snapshot_bytes: u64,
    /// Most bytes of a targets file when the snapshot does not give its length.
    pub max_targets_bytes: u64,
    /// Most root versions followed in one refresh.
    pub max_root_updates: u64,
}

impl Default for MetadataLimits {
    /// root 512 KiB, timestamp 64 KiB, snapshot 4 MiB, targets 16 MiB, 1,024 root updates.
    fn default() -> Self {
        MetadataLimits {
            max_root_bytes: 512 << 10,
            max_timestamp_bytes: 64 << 10,
            max_snapshot_bytes: 4 << 20,
            max_targets_bytes: 16 << 20,
            max_root_updates: 1024,
        }
    }
}

/// The versions of the metadata the device trusts, as `vigil update status` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TrustedVersions {
    /// `root.json` version.
    pub root: u64,
    /// `timestamp.json` version.
    pub timestamp: u64,
    /// `snapshot.json` version.
    pub snapshot: u64,
    /// `targets.json` version.
    pub targets: u64,
}

/// Where a repository is: its metadata and targets base URLs.
#[derive(Debug, Clone)]
pub(crate) struct RepoUrls {
    pub(crate) metadata: Url,
    pub(crate) targets: Url,
}

impl RepoUrls {
    /// `repo` is an `http(s)://` base URL or a local directory; both hold `metadata/` and
    /// `targets/`.
    pub(crate) fn parse(repo: &str) -> Result<RepoUrls, UpdateError> {
        let base = if repo.starts_with("http://") || repo.starts_with("https://") {
            Url::parse(repo).map_err(|e| UpdateError::Usage(format!("--repo {repo}: {e}")))?
        } else {
            let dir = std::fs::canonicalize(repo).map_err(UpdateError::io(Path::new(repo)))?;
            Url::from_directory_path(&dir)
                .map_err(|()| UpdateError::Usage(format!("--repo {repo}: not a directory path")))?
        };
        let mut text = base.to_string();
        if !text.ends_with('/') {
            text.push('/');
        }
        let join = |sub: &str| {
            Url::parse(&format!("{text}{sub}"))
                .map_err(|e| UpdateError::Usage(format!("--repo {repo}: {e}")))
        };
        Ok(RepoUrls {
            metadata: join("metadata/")?,
            targets: join("targets/")?,
        })
    }
}

/// Maps a tough error to the refusal it means, looking through transport errors for the
/// size and hash checks tough runs inside its streams.
pub(crate) fn classify(err: &tough::error::Error) -> Refusal {
    use tough::error::Error as E;
    let detail = err.to_string();
    let reason = match err {
        E::ExpiredMetadata { .. } => Reason::TufExpired,
        E::VerifyTrustedMetadata { .. } | E::ParseTrustedMetadata { .. } => Reason::TufRoot,
        E::MaxUpdatesExceeded { .. } => Reason::TufRoot,
        E::VerifyMetadata { role, .. } if *role == RoleType::Root => Reason::TufRoot,
        E::VerifyMetadata { .. } | E::VerifyRoleMetadata { .. } | E::DuplicateKeyid { .. } => {
            Reason::TufSignature
        }
        E::OlderMetadata { role, .. } if *role == RoleType::Root => Reason::TufRoot,
        E::OlderMetadata { .. }
        | E::OlderSnapshotInTimestamp { .. }
        | E::SnapshotRoleRollback { .. } => Reason::TufRollback,
        E::VersionMismatch { .. }
        | E::MetaMissing { .. }
        | E::MissingSnapshotMeta { .. }
        | E::TimestampMetaLength { .. }
        | E::SnapshotTargetsMetaMissing { .. }
        | E::SnapshotRoleMissing { .. }
        | E::RoleNotInMeta { .. }
        | E::HashMismatch { .. } => Reason::TufSnapshotMismatch,
        E::MaxSizeExceeded { .. } => Reason::TufLength,
        E::ParseMetadata { .. } => Reason::TufSignature,
        E::Transport { source, .. } => {
            if let Some(inner) = std::error::Error::source(source)
                .and_then(|s| s.downcast_ref::<tough::error::Error>())
            {
                let mut refusal = classify(inner);
                refusal.detail = detail;
                return refusal;
            }
            Reason::RepoUnavailable
        }
        _ => Reason::RepoUnavailable,
    };
    Refusal::new(reason, detail)
}

/// A refreshed, verified view of the repository.
pub(crate) struct Refreshed {
    pub(crate) repo: Repository,
    pub(crate) versions: TrustedVersions,
}

/// Outcome of a step: a refusal is a finished check; an error stops the command.
pub(crate) enum Failure {
    Refused(Refusal),
    Error(UpdateError),
}

impl From<UpdateError> for Failure {
    fn from(e: UpdateError) -> Self {
        Failure::Error(e)
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

/// Refreshes the metadata from `urls`, starting from `root` and the trusted files in
/// `trusted_dir`; `now` is the latest known time. On success the new trusted metadata is in
/// `trusted_dir` (each file replaced atomically and synced).
pub(crate) async fn refresh(
    urls: &RepoUrls,
    root: &[u8],
    trusted_dir: &Path,
    scratch: &Path,
    transport: impl Transport + 'static,
    limits: &MetadataLimits,
    now: jiff::Timestamp,
) -> Result<Refreshed, Failure> {
    let datastore = tempfile::Builder::new()
        .prefix("tuf-")
        .tempdir_in(scratch)
        .map_err(UpdateError::io(scratch))?;
    for name in &TRUSTED_FILES[1..] {
        let from = trusted_dir.join(name);
        match std::fs::read(&from) {
            Ok(bytes) => std::fs::write(datastore.path().join(name), bytes)
                .map_err(UpdateError::io(datastore.path()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(UpdateError::io(&from)(e).into()),
        }
    }
    let loader = RepositoryLoader::new(&root, urls.metadata.clone(), urls.targets.clone())
        .transport(transport)
        .datastore(datastore.path())
        .expiration_enforcement(ExpirationEnforcement::Unsafe)
        .limits(tough::Limits {
            max_root_size: limits.max_root_bytes,
            max_targets_size: limits.max_targets_bytes,
            max_timestamp_size: limits.max_timestamp_bytes,
            max_snapshot_size: limits.max_snapshot_bytes,
            max_root_updates: limits.max_root_updates,
        });
    let repo = loader.load().await.map_err(|e| classify(&e))?;
    check_expiry(&repo, now)?;
    let versions = TrustedVersions {
        root: repo.root().signed.version.get(),
        timestamp: repo.timestamp().signed.version.get(),
        snapshot: repo.snapshot().signed.version.get(),
        targets: repo.targets().signed.version.get(),
    };
    // Persist what is now trusted. Root last: a crash in between leaves an older root with
    // newer timestamp and snapshot, which the next refresh handles (they are only floors).
    for name in TRUSTED_FILES.iter().rev() {
        let from = datastore.path().join(name);
        let bytes = match std::fs::read(&from) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && *name != "root.json" => {
                // tough drops the trusted timestamp and snapshot when their keys rotate (the
                // recovery from a fast-forward attack): drop them here too.
                let stale = trusted_dir.join(name);
                match std::fs::remove_file(&stale) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(UpdateError::io(&stale)(e).into()),
                }
                continue;
            }
            Err(e) => return Err(UpdateError::io(&from)(e).into()),
        };
        vigil_core::write_atomic(&trusted_dir.join(name), &bytes).map_err(UpdateError::from)?;
    }
    Ok(Refreshed { repo, versions })
}

fn expired(role: &str, expires: jiff::Timestamp, now: jiff::Timestamp) -> Result<(), Refusal> {
    if expires <= now {
        return Err(Refusal::new(
            Reason::TufExpired,
            format!("{role} metadata expired at {expires}; the latest known time is {now}"),
        ));
    }
    Ok(())
}

fn check_expiry(repo: &Repository, now: jiff::Timestamp) -> Result<(), Refusal> {
    expired("root", repo.root().signed.expires, now)?;
    expired("timestamp", repo.timestamp().signed.expires, now)?;
    expired("snapshot", repo.snapshot().signed.expires, now)?;
    check_targets("targets", &repo.targets().signed, now)
}

fn check_targets(role: &str, targets: &Targets, now: jiff::Timestamp) -> Result<(), Refusal> {
    expired(role, targets.expires, now)?;
    if let Some(delegations) = &targets.delegations {
        for d in &delegations.roles {
            if let Some(t) = &d.targets {
                check_targets(&d.name, &t.signed, now)?;
            }
        }
    }
    Ok(())
}

/// The releases of `name` the trusted targets list: version -> target name. Names are
/// `<name>/<version>.tar` with a semantic version; others are ignored.
pub(crate) fn releases(repo: &Repository, name: &str) -> BTreeMap<semver::Version, String> {
    repo.targets()
        .signed
        .targets_iter()
        .filter_map(|(target, _)| {
            release_of(target.raw(), name).map(|v| (v, target.raw().to_string()))
        })
        .collect()
}

/// When target `name` was published: its signed `custom.published` (RFC 3339, written by
/// `vigil update repo add`), in milliseconds since the Unix epoch; `None` when the target does
/// not say or says something else (other publishers, python-tuf's tools).
pub(crate) fn published_ms(repo: &Repository, name: &str) -> Option<u64> {
    let (_, target) = resolve(repo.targets(), name).ok()?;
    let text = target.custom.get(PUBLISHED)?.as_str()?;
    let at: jiff::Timestamp = text.parse().ok()?;
    u64::try_from(at.as_millisecond()).ok()
}

/// The `custom` key of a target that holds its publication time.
pub(crate) const PUBLISHED: &str = "published";

/// The version of target `raw` if it is a release of `name` (`<name>/<semver>.tar`).
pub(crate) fn release_of(raw: &str, name: &str) -> Option<semver::Version> {
    let rest = raw.strip_prefix(name)?.strip_prefix('/')?;
    semver::Version::parse(rest.strip_suffix(".tar")?).ok()
}

/// The path a target is stored at under consistent snapshots: the digest prefixes the file
/// name (`<dir>/<sha256>.<file>`), each segment percent-encoded for the URL.
pub(crate) fn consistent_path(name: &str, digest_hex: Option<&str>) -> String {
    let file = match (digest_hex, name.rsplit_once('/')) {
        (None, _) => name.to_string(),
        (Some(d), Some((dir, base))) => format!("{dir}/{d}.{base}"),
        (Some(d), None) => format!("{d}.{name}"),
    };
    file.split('/')
        .map(|seg| url::form_urlencoded::byte_serialize(seg.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

/// The target `name` as the delegation search resolves it (the first role in order that may
/// sign it), or a refusal.
fn resolve<'a>(
    targets: &'a Signed<Targets>,
    name: &str,
) -> Result<(TargetName, &'a Target), Refusal> {
    let target_name = TargetName::new(name)
        .map_err(|e| Refusal::new(Reason::TufSignature, format!("target {name}: {e}")))?;
    let target = targets
        .signed
        .find_target(&target_name, false)
        .map_err(|e| {
            Refusal::new(
                Reason::TufSignature,
                format!("target {name} is not signed by a role trusted for it: {e}"),
            )
        })?;
    Ok((target_name, target))
}

/// The URL a target is fetched from: `targets/<name>`, or with consistent snapshots
/// `targets/<dir>/<sha256>.<file>` (the digest prefixes the file name, not the path, as the
/// TUF specification and python-tuf have it; tough prefixes the whole path).
pub(crate) fn target_url(
    repo: &Repository,
    urls: &RepoUrls,
    name: &str,
    target: &Target,
) -> Result<Url, Refusal> {
    let digest = hex::encode(&*target.hashes.sha256);
    let consistent = repo
        .root()
        .signed
        .consistent_snapshot
        .then_some(digest.as_str());
    let path = consistent_path(name, consistent);
    urls.targets
        .join(&path)
        .map_err(|e| Refusal::new(Reason::RepoUnavailable, format!("target {name}: {e}")))
}

/// What a download delivered: the bytes and digest TUF checked, and what unpacking them made.
pub(crate) struct Downloaded {
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
    pub(crate) unpacked: Result<crate::archive::Unpacked, crate::archive::ArchiveError>,
}

/// A `Read` over chunks sent from the download.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<bytes::Bytes>,
    chunk: bytes::Bytes,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.recv() {
                Ok(c) => self.chunk = c,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        let head = self.chunk.split_to(n);
        buf.get_mut(..n)
            .ok_or_else(|| std::io::Error::other("short buffer"))?
            .copy_from_slice(&head);
        Ok(n)
    }
}

/// Downloads target `name` and unpacks it into `stage` as it arrives (the bytes are read
/// once), checking TUF's length (more bytes than declared are refused as soon as they arrive,
/// whatever the first bytes hash to) and SHA-256 over the whole stream. Nothing unpacked may be
/// used unless this returns `Ok`: a refusal leaves `stage` to be discarded.
pub(crate) async fn download(
    refreshed: &Refreshed,
    urls: &RepoUrls,
    transport: &dyn Transport,
    name: &str,
    stage: &Path,
    limits: &crate::archive::Limits,
    progress: Option<vigil_bundle::Progress<'_>>,
) -> Result<Downloaded, Failure> {
    let (_, target) = resolve(refreshed.repo.targets(), name)?;
    let url = target_url(&refreshed.repo, urls, name, target)?;
    let unavailable = |e: &dyn std::fmt::Display| {
        Refusal::new(Reason::RepoUnavailable, format!("target {name}: {e}"))
    };
    let mut stream = transport
        .fetch(url.clone())
        .await
        .map_err(|e| unavailable(&e))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
    let dest = stage.to_path_buf();
    let limits = *limits;
    let unpacker = std::thread::spawn(move || {
        let reader = std::io::BufReader::with_capacity(
            1 << 20,
            ChunkReader {
                rx,
                chunk: bytes::Bytes::new(),
            },
        );
        crate::archive::unpack(reader, &dest, &limits)
    });
    let mut tx = Some(tx);
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut count: u64 = 0;
    let mut failure = None;
    let mut pending = bytes::BytesMut::with_capacity(512 << 10);
    let send = |tx: &mut Option<std::sync::mpsc::SyncSender<bytes::Bytes>>, b: bytes::Bytes| {
        if let Some(sender) = tx {
            if sender.send(b).is_err() {
                *tx = None;
            }
        }
    };
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                failure = Some(unavailable(&e));
                break;
            }
        };
        count = count.saturating_add(chunk.len() as u64);
        if count > target.length {
            failure = Some(Refusal::new(
                Reason::TufLength,
                format!(
                    "target {name}: more than the {} bytes the targets metadata declares",
                    target.length
                ),
            ));
            break;
        }
        hasher.update(&chunk);
        if let Some(p) = progress {
            p(chunk.len() as u64);
        }
        // Small network chunks are gathered so the unpacker wakes once per 256 KiB. Once it
        // has stopped (the archive ended or was refused), the rest is still hashed: whether
        // the bytes are the signed ones decides the reason.
        pending.extend_from_slice(&chunk);
        if pending.len() >= 256 << 10 {
            send(&mut tx, pending.split().freeze());
        }
    }
    if !pending.is_empty() {
        send(&mut tx, pending.split().freeze());
    }
    drop(tx);
    let unpacked = unpacker
        .join()
        .map_err(|_| UpdateError::Usage("the archive reader panicked".into()))?;
    if let Some(refusal) = failure {
        return Err(refusal.into());
    }
    let digest = hasher.finish();
    if digest.as_ref() != &*target.hashes.sha256 || count != target.length {
        return Err(Refusal::new(
            Reason::TufHash,
            format!(
                "target {name}: sha256 {} ({count} bytes) is not the {} ({} bytes) the targets metadata names",
                hex::encode(digest.as_ref()),
                hex::encode(&*target.hashes.sha256),
                target.length
            ),
        )
        .into());
    }
    Ok(Downloaded {
        bytes: count,
        sha256: hex::encode(digest.as_ref()),
        unpacked,
    })
}

//! The publisher: a TUF repository of bundle releases, in python-tuf's layout.
//!
//! ```text
//! REPO/metadata/N.root.json  root.json  timestamp.json  N.snapshot.json  N.targets.json
//! REPO/targets/<name>/<sha256>.<version>.tar     (consistent snapshots: the digest prefixes the file)
//! KEYDIR/<role>-<i>.pem                           Ed25519 PKCS#8 keys, mode 0600
//! KEYDIR/publisher.json                           expiry periods per role
//! ```
//!
//! Metadata is signed through tough's `SignedRole` (canonical JSON, as the TUF specification
//! and python-tuf have it).

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tough::editor::signed::SignedRole;
use tough::key_source::KeySource;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::{Ed25519Key, Ed25519Scheme, Key};
use tough::schema::{
    Hashes, KeyHolder, Metafile, Role, RoleKeys, RoleType, Root, Signed, Snapshot, Target, Targets,
    Timestamp,
};
use tough::sign::Sign;
use tough::TargetName;

use crate::archive;
use crate::reason::UpdateError;

/// The TUF specification version written into metadata.
const SPEC_VERSION: &str = "1.0.31";

/// The four top-level roles, in the order keys are made.
pub const ROLES: [RoleType; 4] = [
    RoleType::Root,
    RoleType::Targets,
    RoleType::Snapshot,
    RoleType::Timestamp,
];

fn role_name(role: RoleType) -> &'static str {
    match role {
        RoleType::Root => "root",
        RoleType::Targets => "targets",
        RoleType::Snapshot => "snapshot",
        RoleType::Timestamp => "timestamp",
        _ => "delegated",
    }
}

/// Parses a role name (`root`, `targets`, `snapshot`, `timestamp`).
pub fn parse_role(text: &str) -> Result<RoleType, UpdateError> {
    ROLES
        .into_iter()
        .find(|r| role_name(*r) == text)
        .ok_or_else(|| {
            UpdateError::Usage(format!(
                "unknown role {text:?}: root, targets, snapshot or timestamp"
            ))
        })
}

/// Parses a duration like `30d`, `12h`, `45m` or `90s`.
pub fn parse_duration(text: &str) -> Result<u64, UpdateError> {
    let bad = || {
        UpdateError::Usage(format!(
            "duration {text:?}: a number and d, h, m or s (30d)"
        ))
    };
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    };
    secs.filter(|s| *s > 0).ok_or_else(bad)
}

/// `KEYDIR/publisher.json`: how long each role's metadata stays valid, and thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherConfig {
    /// Seconds each role's metadata is valid for, by role name.
    pub expires: BTreeMap<String, u64>,
    /// Signatures required, by role name.
    pub thresholds: BTreeMap<String, u64>,
}

impl Default for PublisherConfig {
    /// root 365 days, targets 90, snapshot 7, timestamp 1; threshold 1 each.
    fn default() -> Self {
        let days = |d: u64| d * 86_400;
        PublisherConfig {
            expires: [
                ("root", days(365)),
                ("targets", days(90)),
                ("snapshot", days(7)),
                ("timestamp", days(1)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            thresholds: ROLES
                .iter()
                .map(|r| (role_name(*r).to_string(), 1))
                .collect(),
        }
    }
}

impl PublisherConfig {
    fn expires(&self, role: RoleType) -> jiff::Timestamp {
        let secs = self.expires.get(role_name(role)).copied().unwrap_or(86_400);
        let now = jiff::Timestamp::now().as_second();
        let at = now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX / 2));
        // Whole seconds: TUF's `expires` is "YYYY-MM-DDTHH:MM:SSZ".
        jiff::Timestamp::from_second(at).unwrap_or(jiff::Timestamp::MAX)
    }
    fn threshold(&self, role: RoleType) -> u64 {
        self.thresholds
            .get(role_name(role))
            .copied()
            .unwrap_or(1)
            .max(1)
    }
}

/// An Ed25519 key from a Vigil key file, as a tough signer.
#[derive(Clone)]
struct VigilKey(Arc<vigil_core::SigningKey>);

impl std::fmt::Debug for VigilKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VigilKey")
    }
}

#[async_trait::async_trait]
impl Sign for VigilKey {
    fn tuf_key(&self) -> Key {
        let public = self
            .0
            .public_key()
            .ed25519_bytes()
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Key::Ed25519 {
            keyval: Ed25519Key {
                public: Decoded::from(public),
                _extra: HashMap::new(),
            },
            scheme: Ed25519Scheme::Ed25519,
            _extra: HashMap::new(),
        }
    }

    async fn sign(
        &self,
        msg: &[u8],
        _rng: &(dyn aws_lc_rs::rand::SecureRandom + Sync),
    ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        Ok(self.0.sign(msg))
    }
}

#[async_trait::async_trait]
impl KeySource for VigilKey {
    async fn as_sign(
        &self,
    ) -> Result<Box<dyn Sign>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        Ok(Box::new(self.clone()))
    }
    async fn write(
        &self,
        _: &str,
        _: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        Err("vigil keys are written by vigil".into())
    }
}

fn repo_err(path: &Path, reason: impl std::fmt::Display) -> UpdateError {
    UpdateError::Repository {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// A repository and its keys, opened for publishing.
pub struct Publisher {
    repo: PathBuf,
    keys: PathBuf,
    config: PublisherConfig,
    runtime: tokio::runtime::Runtime,
}

/// The current timestamp, snapshot and targets.
type TopLevel = (Signed<Timestamp>, Signed<Snapshot>, Signed<Targets>);

fn key_id(key: &Key) -> Result<Decoded<Hex>, UpdateError> {
    key.key_id()
        .map_err(|e| UpdateError::Usage(format!("key id: {e}")))
}

impl Publisher {
    /// `vigil update repo init`: makes KEYDIR (refused if it exists) with `thresholds[role]`
    /// keys per role, and a repository at `repo` with root, empty targets, snapshot and
    /// timestamp, all version 1, consistent snapshots on.
    pub fn init(
        repo: &Path,
        keys: &Path,
        config: PublisherConfig,
    ) -> Result<Publisher, UpdateError> {
        if keys.exists() {
            return Err(repo_err(keys, "exists: keys are never overwritten"));
        }
        if repo.join("metadata").exists() {
            return Err(repo_err(repo, "already holds metadata/"));
        }
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(keys).map_err(UpdateError::io(keys))?;
        let publisher = Publisher::with(repo, keys, config)?;
        std::fs::create_dir_all(repo.join("metadata")).map_err(UpdateError::io(repo))?;
        std::fs::create_dir_all(repo.join("targets")).map_err(UpdateError::io(repo))?;
        let mut root = Root {
            spec_version: SPEC_VERSION.into(),
            consistent_snapshot: true,
            version: NonZeroU64::MIN,
            expires: publisher.config.expires(RoleType::Root),
            keys: HashMap::new(),
            roles: HashMap::new(),
            _extra: HashMap::new(),
        };
        for role in ROLES {
            let n = publisher.config.threshold(role);
            let mut ids = Vec::new();
            for i in 1..=n {
                let key = vigil_core::SigningKey::generate(vigil_core::KeyAlgorithm::Ed25519);
                let path = keys.join(format!("{}-{i}.pem", role_name(role)));
                let pem = key.to_pkcs8_pem(None).map_err(|e| repo_err(&path, e))?;
                vigil_core::write_new(&path, pem.as_bytes(), true)?;
                let tuf = VigilKey(Arc::new(key)).tuf_key();
                let id = key_id(&tuf)?;
                root.keys.insert(id.clone(), tuf);
                ids.push(id);
            }
            root.roles.insert(
                role,
                RoleKeys {
                    keyids: ids,
                    threshold: NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN),
                    _extra: HashMap::new(),
                },
            );
        }
        let config_bytes =
            serde_json::to_vec_pretty(&publisher.config).map_err(|e| repo_err(keys, e))?;
        vigil_core::write_new(&keys.join("publisher.json"), &config_bytes, false)?;
        let signed_root = publisher.sign_role(
            root.clone(),
            &KeyHolder::Root(root.clone()),
            &publisher.load_keys(RoleType::Root)?,
        )?;
        publisher.write_root(&signed_root)?;
        let targets = Targets::new(
            SPEC_VERSION.into(),
            NonZeroU64::MIN,
            publisher.config.expires(RoleType::Targets),
        );
        publisher.publish_targets(&root, targets)?;
        Ok(publisher)
    }

    /// Opens an existing repository and key directory.
    pub fn open(repo: &Path, keys: &Path) -> Result<Publisher, UpdateError> {
        let path = keys.join("publisher.json");
        let bytes = vigil_core::read_bounded(&path, 1 << 16)?;
        let config = serde_json::from_slice(&bytes).map_err(|e| repo_err(&path, e))?;
        Publisher::with(repo, keys, config)
    }

    fn with(repo: &Path, keys: &Path, config: PublisherConfig) -> Result<Publisher, UpdateError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(UpdateError::io(repo))?;
        Ok(Publisher {
            repo: repo.to_path_buf(),
            keys: keys.to_path_buf(),
            config,
            runtime,
        })
    }

    fn load_keys(&self, role: RoleType) -> Result<Vec<Box<dyn KeySource>>, UpdateError> {
        let prefix = format!("{}-", role_name(role));
        let mut out: Vec<Box<dyn KeySource>> = Vec::new();
        let entries = std::fs::read_dir(&self.keys).map_err(UpdateError::io(&self.keys))?;
        let mut names: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".pem"))
            })
            .collect();
        names.sort();
        for path in names {
            let key = vigil_core::SigningKey::load(&path, None).map_err(|e| repo_err(&path, e))?;
            out.push(Box::new(VigilKey(Arc::new(key))));
        }
        if out.is_empty() {
            return Err(repo_err(&self.keys, format!("no {} keys", role_name(role))));
        }
        Ok(out)
    }

    fn sign_role<T: Role + Serialize>(
        &self,
        role: T,
        holder: &KeyHolder,
        keys: &[Box<dyn KeySource>],
    ) -> Result<SignedRole<T>, UpdateError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.runtime
            .block_on(SignedRole::new(role, holder, keys, &rng))
            .map_err(|e| repo_err(&self.repo, format!("signing: {e}")))
    }

    fn metadata(&self) -> PathBuf {
        self.repo.join("metadata")
    }

    fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), UpdateError> {
        vigil_core::write_atomic(&self.metadata().join(name), bytes)?;
        Ok(())
    }

    fn write_root(&self, root: &SignedRole<Root>) -> Result<(), UpdateError> {
        let v = root.signed().signed.version.get();
        self.write_file(&format!("{v}.root.json"), root.buffer())?;
        self.write_file("root.json", root.buffer())
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, UpdateError> {
        let path = self.metadata().join(name);
        let bytes = vigil_core::read_bounded(&path, 64 << 20)?;
        serde_json::from_slice(&bytes).map_err(|e| repo_err(&path, e))
    }

    /// The newest root.
    fn root(&self) -> Result<Signed<Root>, UpdateError> {
        let mut best = 0u64;
        for e in std::fs::read_dir(self.metadata()).map_err(UpdateError::io(&self.metadata()))? {
            let e = e.map_err(UpdateError::io(&self.metadata()))?;
            if let Some(v) = e
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".root.json"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                best = best.max(v);
            }
        }
        self.read_json(&format!("{best}.root.json"))
    }

    fn current(&self) -> Result<TopLevel, UpdateError> {
        let timestamp: Signed<Timestamp> = self.read_json("timestamp.json")?;
        let sv = timestamp
            .signed
            .meta
            .get("snapshot.json")
            .map(|m| m.version.get())
            .ok_or_else(|| repo_err(&self.repo, "timestamp.json names no snapshot"))?;
        let snapshot: Signed<Snapshot> = self.read_json(&format!("{sv}.snapshot.json"))?;
        let tv = snapshot
            .signed
            .meta
            .get("targets.json")
            .map(|m| m.version.get())
            .ok_or_else(|| repo_err(&self.repo, "snapshot names no targets.json"))?;
        let targets: Signed<Targets> = self.read_json(&format!("{tv}.targets.json"))?;
        Ok((timestamp, snapshot, targets))
    }

    /// Signs and writes `targets`, then a new snapshot and timestamp naming it.
    fn publish_targets(&self, root: &Root, targets: Targets) -> Result<(), UpdateError> {
        let holder = KeyHolder::Root(root.clone());
        let tv = targets.version;
        let signed_targets =
            self.sign_role(targets, &holder, &self.load_keys(RoleType::Targets)?)?;
        self.write_file(&format!("{tv}.targets.json"), signed_targets.buffer())?;
        let snapshot_version = match self.read_json::<Signed<Timestamp>>("timestamp.json") {
            Ok(ts) => {
                ts.signed
                    .meta
                    .get("snapshot.json")
                    .map(|m| m.version.get())
                    .unwrap_or(0)
                    + 1
            }
            Err(_) => 1,
        };
        let mut snapshot = Snapshot::new(
            SPEC_VERSION.into(),
            NonZeroU64::new(snapshot_version).unwrap_or(NonZeroU64::MIN),
            self.config.expires(RoleType::Snapshot),
        );
        snapshot.meta.insert(
            "targets.json".into(),
            // The version only, as python-tuf writes it: the targets file is then judged by
            // its signatures (hashes here would only turn a forged file into a mismatch).
            Metafile {
                length: None,
                hashes: None,
                version: tv,
                _extra: HashMap::new(),
            },
        );
        let signed_snapshot =
            self.sign_role(snapshot, &holder, &self.load_keys(RoleType::Snapshot)?)?;
        self.write_file(
            &format!("{snapshot_version}.snapshot.json"),
            signed_snapshot.buffer(),
        )?;
        self.write_timestamp(root, &signed_snapshot)
    }

    fn write_timestamp(
        &self,
        root: &Root,
        snapshot: &SignedRole<Snapshot>,
    ) -> Result<(), UpdateError> {
        let version = match self.read_json::<Signed<Timestamp>>("timestamp.json") {
            Ok(ts) => ts.signed.version.get() + 1,
            Err(_) => 1,
        };
        let mut timestamp = Timestamp::new(
            SPEC_VERSION.into(),
            NonZeroU64::new(version).unwrap_or(NonZeroU64::MIN),
            self.config.expires(RoleType::Timestamp),
        );
        timestamp.meta.insert(
            "snapshot.json".into(),
            Metafile {
                length: Some(*snapshot.length()),
                hashes: Some(Hashes {
                    sha256: Decoded::from(snapshot.sha256().to_vec()),
                    _extra: HashMap::new(),
                }),
                version: snapshot.signed().signed.version,
                _extra: HashMap::new(),
            },
        );
        let signed = self.sign_role(
            timestamp,
            &KeyHolder::Root(root.clone()),
            &self.load_keys(RoleType::Timestamp)?,
        )?;
        self.write_file("timestamp.json", signed.buffer())
    }

    /// `vigil update repo add`: packs `bundle` as `<name>/<version>.tar` (from its
    /// `vigil.toml`), stores it under `targets/`, and signs new targets, snapshot and timestamp.
    /// Returns the target name.
    pub fn add(&self, bundle: &Path) -> Result<String, UpdateError> {
        let config_path = bundle.join(vigil_bundle::CONFIG_FILE);
        let bytes = vigil_core::read_bounded(&config_path, 1 << 20)?;
        let config = vigil_bundle::BundleConfig::parse(&bytes, &config_path)
            .map_err(|e| repo_err(&config_path, e))?;
        let name = format!("{}/{}.tar", config.name, config.version);
        let dir = self.repo.join("targets").join(&config.name);
        std::fs::create_dir_all(&dir).map_err(UpdateError::io(&dir))?;
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(UpdateError::io(&dir))?;
        let mut writer = std::io::BufWriter::new(tmp.as_file());
        archive::pack(bundle, &mut writer).map_err(|e| repo_err(bundle, e))?;
        drop(writer);
        let (len, digest) = hash_file(tmp.path())?;
        let hex_digest = hex::encode(digest);
        let file = dir.join(format!("{hex_digest}.{}.tar", config.version));
        let (_, _, signed_targets) = self.current()?;
        let mut targets = signed_targets.signed;
        let target_name = TargetName::new(&name).map_err(|e| repo_err(bundle, e))?;
        if let Some(old) = targets.targets.get(&target_name) {
            if *old.hashes.sha256 != digest[..] {
                return Err(repo_err(
                    bundle,
                    format!("{name} is already published with other bytes: a release is never replaced, publish a new version"),
                ));
            }
        }
        tmp.persist(&file).map_err(|e| repo_err(&file, e))?;
        targets.targets.insert(
            target_name,
            Target {
                length: len,
                hashes: Hashes {
                    sha256: Decoded::from(digest.to_vec()),
                    _extra: HashMap::new(),
                },
                custom: HashMap::from([(
                    crate::tuf::PUBLISHED.to_string(),
                    serde_json::Value::String(published_now()),
                )]),
                _extra: HashMap::new(),
            },
        );
        targets.version = targets.version.saturating_add(1);
        targets.expires = self.config.expires(RoleType::Targets);
        let root = self.root()?.signed;
        self.publish_targets(&root, targets)?;
        Ok(name)
    }

    /// `vigil update repo refresh`: a new timestamp (new version and expiry) only.
    pub fn refresh(&self) -> Result<u64, UpdateError> {
        let (timestamp, snapshot, _) = self.current()?;
        let root = self.root()?.signed;
        let mut ts = timestamp.signed;
        ts.version = ts.version.saturating_add(1);
        ts.expires = self.config.expires(RoleType::Timestamp);
        let _ = snapshot;
        let v = ts.version.get();
        let signed = self.sign_role(
            ts,
            &KeyHolder::Root(root.clone()),
            &self.load_keys(RoleType::Timestamp)?,
        )?;
        self.write_file("timestamp.json", signed.buffer())?;
        Ok(v)
    }

    /// `vigil update repo rotate --role ROLE`: new keys for `role` (the old ones move to
    /// `KEYDIR/retired/`), a new root version signed by the old and the new root keys, and
    /// the role's metadata re-signed. Returns the new root version.
    pub fn rotate(&self, role: RoleType) -> Result<u64, UpdateError> {
        let old_root = self.root()?;
        let old_root_keys = self.load_keys(RoleType::Root)?;
        let n = self.config.threshold(role);
        let retired = self.keys.join("retired");
        std::fs::create_dir_all(&retired).map_err(UpdateError::io(&retired))?;
        let stamp = jiff::Timestamp::now().as_second();
        let mut new_root = old_root.signed.clone();
        let old_ids = new_root
            .roles
            .get(&role)
            .map(|r| r.keyids.clone())
            .unwrap_or_default();
        let mut ids = Vec::new();
        let mut fresh = Vec::new();
        for i in 1..=n {
            let key = Arc::new(vigil_core::SigningKey::generate(
                vigil_core::KeyAlgorithm::Ed25519,
            ));
            let tuf = VigilKey(key.clone()).tuf_key();
            let id = key_id(&tuf)?;
            new_root.keys.insert(id.clone(), tuf);
            ids.push(id);
            fresh.push((format!("{}-{i}.pem", role_name(role)), key));
        }
        new_root.roles.insert(
            role,
            RoleKeys {
                keyids: ids,
                threshold: NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN),
                _extra: HashMap::new(),
            },
        );
        let still_used: Vec<_> = new_root
            .roles
            .values()
            .flat_map(|r| r.keyids.clone())
            .collect();
        for id in old_ids {
            if !still_used.contains(&id) {
                new_root.keys.remove(&id);
            }
        }
        new_root.version = new_root.version.saturating_add(1);
        new_root.expires = self.config.expires(RoleType::Root);
        // Move the old keys aside, then write the new ones.
        let prefix = format!("{}-", role_name(role));
        for e in std::fs::read_dir(&self.keys).map_err(UpdateError::io(&self.keys))? {
            let e = e.map_err(UpdateError::io(&self.keys))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".pem") {
                let to = retired.join(format!("{stamp}-{name}"));
                std::fs::rename(e.path(), &to).map_err(UpdateError::io(&to))?;
            }
        }
        for (file, key) in &fresh {
            let path = self.keys.join(file);
            let pem = key.to_pkcs8_pem(None).map_err(|e| repo_err(&path, e))?;
            vigil_core::write_new(&path, pem.as_bytes(), true)?;
        }
        // Signed by the new root's keys and by the old root's threshold.
        let new_keys = self.load_keys(RoleType::Root)?;
        let signed_new = self.sign_role(
            new_root.clone(),
            &KeyHolder::Root(new_root.clone()),
            &new_keys,
        )?;
        let by_old = self.sign_role(
            new_root.clone(),
            &KeyHolder::Root(old_root.signed.clone()),
            &old_root_keys,
        )?;
        let both = signed_new
            .add_old_signatures(by_old.signed().signatures.clone())
            .map_err(|e| repo_err(&self.repo, e))?;
        self.write_root(&both)?;
        let v = new_root.version.get();
        let (_, _, targets) = self.current()?;
        match role {
            RoleType::Timestamp => {
                self.refresh()?;
            }
            _ => {
                let mut t = targets.signed;
                t.version = t.version.saturating_add(1);
                self.publish_targets(&new_root, t)?;
            }
        }
        Ok(v)
    }
}

fn hash_file(path: &Path) -> Result<(u64, [u8; 32]), UpdateError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(UpdateError::io(path))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(UpdateError::io(path))?;
        if n == 0 {
            break;
        }
        len += n as u64;
        ctx.update(buf.get(..n).unwrap_or_default());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok((len, out))
}

/// Test hooks: attacks need metadata no honest publisher writes.
#[doc(hidden)]
pub mod internal {
    use super::*;

    /// Writes a next-version `timestamp.json` signed with the key in `key` as `root_file` (an
    /// older root, say) lists it: a compromised, since rotated-out timestamp key at work.
    pub fn forge_timestamp(
        repo: &Path,
        keys: &Path,
        key: &Path,
        root_file: &Path,
    ) -> Result<(), UpdateError> {
        let p = Publisher::open(repo, keys)?;
        let root: Signed<Root> = {
            let bytes = vigil_core::read_bounded(root_file, 1 << 20)?;
            serde_json::from_slice(&bytes).map_err(|e| repo_err(root_file, e))?
        };
        let mut ts: Signed<Timestamp> = p.read_json("timestamp.json")?;
        ts.signed.version = ts.signed.version.saturating_add(1);
        let signer = vigil_core::SigningKey::load(key, None).map_err(|e| repo_err(key, e))?;
        let keys: Vec<Box<dyn KeySource>> = vec![Box::new(VigilKey(Arc::new(signer)))];
        let signed = p.sign_role(ts.signed, &KeyHolder::Root(root.signed), &keys)?;
        p.write_file("timestamp.json", signed.buffer())
    }
}

/// Now, to the second, as RFC 3339 (a target's `custom.published`).
fn published_now() -> String {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

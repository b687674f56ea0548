//! A gateway's uplink to its collector (`vigil serve --collector`): the device's ledger pushed
//! on an interval, right after a checkpoint is signed, with exponential backoff and jitter on
//! failure, and each cosigned checkpoint the collector returns kept beside the ledger.
//!
//! The loop runs on its own task and reads the ledger on blocking threads ([`push_once`]), so
//! it never holds up the requests the gateway serves. What happened to each attempt is handed
//! to an observer (the gateway counts it in its metrics).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::ModelRef;
use crate::push::{push_once, CollectorUrl, PushClientError, PushOptions, PushReport};

/// Default time between pushes.
pub const DEFAULT_PUSH_INTERVAL: Duration = Duration::from_secs(60);
/// Longest wait between attempts after failures.
pub const MAX_PUSH_BACKOFF: Duration = Duration::from_secs(600);

/// Where the uplink pushes, how often, and as whom.
#[derive(Debug, Clone)]
pub struct UplinkOptions {
    /// The collector.
    pub collector: CollectorUrl,
    /// The gateway's ledger.
    pub ledger: PathBuf,
    /// TLS toward the collector: its CA and the gateway's identity
    /// ([`vigil_net::client_config`]).
    pub tls: Arc<rustls::ClientConfig>,
    /// Time between pushes when they succeed ([`DEFAULT_PUSH_INTERVAL`]).
    pub interval: Duration,
    /// Longest wait after failures ([`MAX_PUSH_BACKOFF`]).
    pub max_backoff: Duration,
    /// Time for one push.
    pub timeout: Duration,
    /// The model named in pushes (`None`: the newest guard event's bundle).
    pub model: Option<ModelRef>,
}

impl UplinkOptions {
    /// Pushes of `ledger` to `collector` every [`DEFAULT_PUSH_INTERVAL`].
    pub fn new(collector: CollectorUrl, ledger: PathBuf, tls: Arc<rustls::ClientConfig>) -> Self {
        UplinkOptions {
            collector,
            ledger,
            tls,
            interval: DEFAULT_PUSH_INTERVAL,
            max_backoff: MAX_PUSH_BACKOFF,
            timeout: Duration::from_secs(300),
            model: None,
        }
    }
}

/// How one push attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UplinkOutcome {
    /// Accepted (or a repeat of the newest accepted checkpoint) and co-signed.
    Accepted,
    /// Refused by the collector as a fork (409 `fork`): the device's history does not extend
    /// what the collector accepted.
    Fork,
    /// Refused otherwise (403, 409 replay, 4xx).
    Refused,
    /// Not made: the ledger, the network or the collector failed.
    Failed,
}

impl UplinkOutcome {
    /// Its metrics label: `ok`, `refused` (forks too) or `failed`.
    pub fn code(self) -> &'static str {
        match self {
            UplinkOutcome::Accepted => "ok",
            UplinkOutcome::Fork | UplinkOutcome::Refused => "refused",
            UplinkOutcome::Failed => "failed",
        }
    }

    fn of(result: &Result<PushReport, PushClientError>) -> UplinkOutcome {
        match result {
            Ok(r) if r.ok => UplinkOutcome::Accepted,
            Ok(r)
                if r.status == 409 && r.error.as_deref().is_some_and(|e| e.starts_with("fork")) =>
            {
                UplinkOutcome::Fork
            }
            Ok(_) => UplinkOutcome::Refused,
            Err(_) => UplinkOutcome::Failed,
        }
    }
}

/// One cosigned checkpoint kept beside the ledger: a line of [`cosignatures_path`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCosignature {
    /// When it was received (RFC 3339 UTC).
    pub time: String,
    /// The collector (`HOST:PORT`).
    pub collector: String,
    /// The checkpoint's size.
    pub size: u64,
    /// The checkpoint note with the device's signature and the collector's cosignature/v1 line.
    pub note: String,
}

/// Where the collector's cosignatures of `ledger`'s checkpoints are kept: `LEDGER.cosignatures.jsonl`
/// beside it, one [`StoredCosignature`] JSON object a line, appended.
pub fn cosignatures_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_os_string();
    name.push(".cosignatures.jsonl");
    PathBuf::from(name)
}

/// Appends `c` to `path` (created if missing) and syncs it.
pub fn append_cosignature(path: &Path, c: &StoredCosignature) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(c).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(&line)?;
    f.sync_data()
}

/// Reads the cosignatures kept at `path` (none when it does not exist); a line that does not
/// parse is an error naming it.
pub fn read_cosignatures(path: &Path) -> std::io::Result<Vec<StoredCosignature>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line {}: {e}", i + 1),
                )
            })
        })
        .collect()
}

/// The wait before the next attempt after `failures` failures in a row: `interval` when none,
/// else `interval * 2^failures` capped at `max`, with equal jitter (between half and all of it).
pub fn backoff(interval: Duration, max: Duration, failures: u32, random: u64) -> Duration {
    if failures == 0 {
        return interval;
    }
    let base = interval
        .checked_mul(1u32.checked_shl(failures.min(20)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    let half = base / 2;
    let span = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    let jitter = if span == 0 { 0 } else { random % (span + 1) };
    half + Duration::from_millis(jitter)
}

fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Pushes the ledger to the collector forever (the caller aborts the task): first at once,
/// then every `interval`, or after a growing wait while attempts fail ([`backoff`]). Before
/// each attempt `checkpoint` runs (the gateway signs a checkpoint if its ledger grew), so the
/// push carries the newest entries. Each outcome goes to `observe`; a fork is logged at error
/// level. Each new cosigned checkpoint is appended to [`cosignatures_path`].
pub async fn run_uplink<C, F, O>(options: UplinkOptions, mut checkpoint: C, observe: O)
where
    C: FnMut() -> F,
    F: Future<Output = ()>,
    O: Fn(UplinkOutcome),
{
    let store = cosignatures_path(&options.ledger);
    let mut stored_size: Option<u64> = read_cosignatures(&store)
        .ok()
        .and_then(|v| v.last().map(|c| c.size));
    let mut failures: u32 = 0;
    let authority = options.collector.authority();
    loop {
        checkpoint().await;
        let push = PushOptions {
            collector: options.collector.clone(),
            ledger: &options.ledger,
            tls: options.tls.clone(),
            model: options.model.clone(),
            drift: None,
            timeout: options.timeout,
        };
        let result = push_once(&push).await;
        let outcome = UplinkOutcome::of(&result);
        observe(outcome);
        match (&result, outcome) {
            (Ok(r), UplinkOutcome::Accepted) => {
                failures = 0;
                tracing::info!(collector = %authority, size = r.size, entries = r.entries_sent,
                               "ledger pushed to the collector");
                if let Some(note) = &r.cosigned_checkpoint {
                    if stored_size != Some(r.size) {
                        let c = StoredCosignature {
                            time: vigil_core::time::rfc3339(vigil_core::time::now_ms()),
                            collector: authority.clone(),
                            size: r.size,
                            note: note.clone(),
                        };
                        let path = store.clone();
                        let written =
                            tokio::task::spawn_blocking(move || append_cosignature(&path, &c))
                                .await
                                .map_err(std::io::Error::other)
                                .and_then(|r| r);
                        match written {
                            Ok(()) => stored_size = Some(r.size),
                            Err(e) => tracing::error!(path = %store.display(), error = %e,
                                                      "cannot keep the collector's cosignature"),
                        }
                    }
                }
            }
            (Ok(r), UplinkOutcome::Fork) => {
                failures = failures.saturating_add(1);
                tracing::error!(collector = %authority, status = r.status,
                                error = r.error.as_deref().unwrap_or(""),
                                "the collector refused the ledger as a FORK of what it accepted");
            }
            (Ok(r), _) => {
                failures = failures.saturating_add(1);
                tracing::warn!(collector = %authority, status = r.status,
                               error = r.error.as_deref().unwrap_or(""),
                               "the collector refused the push");
            }
            (Err(e), _) => {
                failures = failures.saturating_add(1);
                tracing::warn!(collector = %authority, error = %e, "push to the collector failed");
            }
        }
        let wait = backoff(options.interval, options.max_backoff, failures, random());
        if failures > 0 {
            tracing::info!(
                retry_in_s = wait.as_secs(),
                failures,
                "collector push backoff"
            );
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let i = Duration::from_secs(60);
        let max = MAX_PUSH_BACKOFF;
        assert_eq!(backoff(i, max, 0, 12345), i);
        for r in [0, 1, u64::MAX / 3, u64::MAX] {
            let d1 = backoff(i, max, 1, r);
            assert!(
                d1 >= Duration::from_secs(60) && d1 <= Duration::from_secs(120),
                "{d1:?}"
            );
            let d2 = backoff(i, max, 2, r);
            assert!(
                d2 >= Duration::from_secs(120) && d2 <= Duration::from_secs(240),
                "{d2:?}"
            );
            for f in [4, 5, 31, 32, 1000, u32::MAX] {
                let d = backoff(i, max, f, r);
                assert!(d >= max / 2 && d <= max, "{f}: {d:?}");
            }
        }
        assert_ne!(random(), random());
    }

    #[test]
    fn cosignatures_are_appended_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("audit.db");
        let path = cosignatures_path(&ledger);
        assert_eq!(path, dir.path().join("audit.db.cosignatures.jsonl"));
        assert!(read_cosignatures(&path).unwrap().is_empty());
        let c = |size| StoredCosignature {
            time: "2026-01-01T00:00:00Z".into(),
            collector: "c:1".into(),
            size,
            note: format!("o\n{size}\nroot\n\n— o sig\n"),
        };
        append_cosignature(&path, &c(1)).unwrap();
        append_cosignature(&path, &c(2)).unwrap();
        assert_eq!(read_cosignatures(&path).unwrap(), vec![c(1), c(2)]);
        std::fs::write(&path, "{not json}\n").unwrap();
        assert!(read_cosignatures(&path).is_err());
    }
}

//! The serve configuration: what `vigil serve --config FILE` reads, and where the gateway
//! keeps its ledger when none is named.
//!
//! ```toml
//! bundle = "bundle"                 # paths are relative to this file
//! policy = "policy.toml"            # or key = "lead.pub.pem"
//! tls_cert = "pki/server.crt"
//! tls_key = "pki/server.key"
//! client_ca = "pki/ca.crt"
//! clients = "pki/clients.toml"
//! addr = "127.0.0.1:8443"
//! ledger = "audit.db"               # default: STATE/audit.db (see `state_dir`)
//! ledger_key = "ledger-key.pem"
//! upstream = "http://127.0.0.1:8000"
//! drift_reference = "drift.json"
//! collector = "https://collector.example:8444"   # push the ledger there (see docs/serve.md)
//! collector_ca = "pki/collector-ca.crt"          # default: client_ca
//! collector_interval = 60                        # seconds between pushes
//! threads = 2
//! log_level = "info"
//!
//! [limits]                          # every key optional; see `Limits`
//! max_body_bytes = 1048576
//! tls_handshake_timeout_ms = 10000
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ServerError;
use crate::limits::Limits;

/// Most bytes read from a serve configuration file.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The settings of `vigil serve`, from a TOML file or from flags; every key optional, so a
/// file and the command line can be merged ([`ServeConfig::or`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The signed bundle to guard.
    pub bundle: Option<PathBuf>,
    /// Public key the bundle's signature must verify with.
    pub key: Option<PathBuf>,
    /// Trust policy instead of one key.
    pub policy: Option<PathBuf>,
    /// Server certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// CA certificate(s) client certificates must chain to (PEM).
    pub client_ca: Option<PathBuf>,
    /// The clients file.
    pub clients: Option<PathBuf>,
    /// Listen address (default `127.0.0.1:8443`).
    pub addr: Option<SocketAddr>,
    /// The audit ledger (default: `audit.db` in [`state_dir`]).
    pub ledger: Option<PathBuf>,
    /// Ed25519 key that signs the ledger's checkpoints.
    pub ledger_key: Option<PathBuf>,
    /// Proxy mode: the upstream server (`http://HOST:PORT`).
    pub upstream: Option<String>,
    /// Reference statistics of a drift monitor fed by accepted requests.
    pub drift_reference: Option<PathBuf>,
    /// Push the ledger to this collector (`https://HOST[:PORT]`), presenting the gateway's own
    /// certificate and key as its client identity.
    pub collector: Option<String>,
    /// The CA(s) the collector's certificate must chain to (default: `client_ca`).
    pub collector_ca: Option<PathBuf>,
    /// Seconds between pushes to the collector (default 60).
    pub collector_interval: Option<u64>,
    /// Runtime worker threads.
    pub threads: Option<usize>,
    /// Log level (`error` ... `trace`).
    pub log_level: Option<String>,
    /// Bounds (the file's `[limits]` table).
    #[serde(default)]
    pub limits: Limits,
}

impl ServeConfig {
    /// Read a configuration file; relative paths in it are taken from the file's directory.
    pub fn load(path: &Path) -> Result<ServeConfig, ServerError> {
        let text = vigil_core::read_bounded_string(path, MAX_CONFIG_BYTES)?;
        let mut c: ServeConfig = toml::from_str(&text).map_err(|e| ServerError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut c.bundle,
            &mut c.key,
            &mut c.policy,
            &mut c.tls_cert,
            &mut c.tls_key,
            &mut c.client_ca,
            &mut c.clients,
            &mut c.ledger,
            &mut c.ledger_key,
            &mut c.drift_reference,
            &mut c.collector_ca,
        ] {
            if let Some(rel) = p.as_mut().filter(|p| p.is_relative()) {
                *rel = base.join(&*rel);
            }
        }
        Ok(c)
    }

    /// These settings, each missing one taken from `file`; the limits are the file's.
    pub fn or(self, file: ServeConfig) -> ServeConfig {
        ServeConfig {
            bundle: self.bundle.or(file.bundle),
            key: self.key.or(file.key),
            policy: self.policy.or(file.policy),
            tls_cert: self.tls_cert.or(file.tls_cert),
            tls_key: self.tls_key.or(file.tls_key),
            client_ca: self.client_ca.or(file.client_ca),
            clients: self.clients.or(file.clients),
            addr: self.addr.or(file.addr),
            ledger: self.ledger.or(file.ledger),
            ledger_key: self.ledger_key.or(file.ledger_key),
            upstream: self.upstream.or(file.upstream),
            drift_reference: self.drift_reference.or(file.drift_reference),
            collector: self.collector.or(file.collector),
            collector_ca: self.collector_ca.or(file.collector_ca),
            collector_interval: self.collector_interval.or(file.collector_interval),
            threads: self.threads.or(file.threads),
            log_level: self.log_level.or(file.log_level),
            limits: file.limits,
        }
    }

    /// The listen address, `127.0.0.1:8443` by default.
    pub fn addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)))
    }
}

/// Where the gateway keeps its state when no path is given: `$VIGIL_STATE_DIR`, else
/// `$XDG_STATE_HOME/vigil`, else `$HOME/.local/state/vigil`. `None` when none of them is set.
/// `vigil serve` without `--ledger` keeps its ledger there (`audit.db`, with a checkpoint key
/// `ledger-key.pem` made on first use), never in the working directory.
pub fn state_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("VIGIL_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("vigil")))
        .or_else(|| var("HOME").map(|h| h.join(".local/state/vigil")))
}

/// `[limits]` as written: every field optional, durations in milliseconds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsFile {
    max_body_bytes: Option<usize>,
    tls_handshake_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    body_read_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_in_flight: Option<usize>,
    max_h2_streams: Option<u32>,
    shutdown_grace_ms: Option<u64>,
    max_inputs: Option<usize>,
    max_dims: Option<usize>,
    max_elements: Option<usize>,
    max_name_bytes: Option<usize>,
}

impl From<LimitsFile> for Limits {
    fn from(f: LimitsFile) -> Limits {
        let d = Limits::default();
        let ms = |v: Option<u64>, dflt: Duration| v.map(Duration::from_millis).unwrap_or(dflt);
        Limits {
            max_body_bytes: f.max_body_bytes.unwrap_or(d.max_body_bytes),
            tls_handshake_timeout: ms(f.tls_handshake_timeout_ms, d.tls_handshake_timeout),
            header_read_timeout: ms(f.header_read_timeout_ms, d.header_read_timeout),
            body_read_timeout: ms(f.body_read_timeout_ms, d.body_read_timeout),
            idle_timeout: ms(f.idle_timeout_ms, d.idle_timeout),
            max_connections: f.max_connections.unwrap_or(d.max_connections),
            max_in_flight: f.max_in_flight.unwrap_or(d.max_in_flight),
            max_h2_streams: f.max_h2_streams.unwrap_or(d.max_h2_streams),
            shutdown_grace: ms(f.shutdown_grace_ms, d.shutdown_grace),
            max_inputs: f.max_inputs.unwrap_or(d.max_inputs),
            max_dims: f.max_dims.unwrap_or(d.max_dims),
            max_elements: f.max_elements.unwrap_or(d.max_elements),
            max_name_bytes: f.max_name_bytes.unwrap_or(d.max_name_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_flags_merge_and_every_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(
            &path,
            "tls_cert = \"server.crt\"\nclients = \"/abs/clients.toml\"\naddr = \"127.0.0.1:9\"\n\
             [limits]\nmax_body_bytes = 4096\nmax_name_bytes = 32\nidle_timeout_ms = 1500\n",
        )
        .unwrap();
        let file = ServeConfig::load(&path).unwrap();
        assert_eq!(file.tls_cert, Some(dir.path().join("server.crt")));
        assert_eq!(file.clients, Some(PathBuf::from("/abs/clients.toml")));
        assert_eq!(file.limits.max_body_bytes, 4096);
        assert_eq!(file.limits.max_name_bytes, 32);
        assert_eq!(file.limits.idle_timeout, Duration::from_millis(1500));
        assert_eq!(file.limits.max_inputs, Limits::default().max_inputs);
        let flags = ServeConfig {
            addr: Some(SocketAddr::from(([127, 0, 0, 1], 10))),
            ..ServeConfig::default()
        };
        let merged = flags.or(file);
        assert_eq!(merged.addr().port(), 10);
        assert_eq!(merged.limits.max_body_bytes, 4096);
        for bad in ["[limits]\nmax_body = 1\n", "tls = \"x\"\n"] {
            std::fs::write(&path, bad).unwrap();
            let e = ServeConfig::load(&path).unwrap_err().to_string();
            assert!(e.contains("unknown field"), "{e}");
        }
    }
}

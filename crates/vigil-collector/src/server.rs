//! The collector's mutual-TLS server: vigil-net's accept loop in front of [`crate::router`],
//! each verified client certificate's CN mapped to a [`Caller`] through `clients.toml`.
//!
//! A certificate that does not chain to the client CA (or no certificate) fails the TLS
//! handshake; one that chains but whose CN is not in `clients.toml` gets
//! `403 {"error":...}` on every request.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::net::TcpListener;
use tower::ServiceExt;
use vigil_ledger::NoteSigner;
use vigil_net::{AcceptLimits, ConnectionEvent, PeerIdentity, RequestBody, TlsFiles};

use crate::api::{Caller, Metrics};
use crate::clients::{Clients, ClientsError};
use crate::collector::Collector;
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::store::{CollectorStore, StoreError};

/// Connections a PostgreSQL store keeps open at most (per collector process).
pub const POSTGRES_POOL: usize = 16;

/// Where a collector keeps its data: `sqlite:PATH` or `postgres://user:pass@host:port/db`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// One SQLite file (a single site).
    Sqlite(PathBuf),
    /// A PostgreSQL database (a fleet; several collectors may share it).
    Postgres(String),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Database {
    /// The database without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Database::Postgres(url) => {
                // postgres://user:pass@host/db -> postgres://user:***@host/db
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                match rest.rsplit_once('@') {
                    Some((auth, host)) => {
                        let user = auth.split_once(':').map_or(auth, |(u, _)| u);
                        if auth.contains(':') {
                            write!(f, "{scheme}://{user}:***@{host}")
                        } else {
                            write!(f, "{scheme}://{user}@{host}")
                        }
                    }
                    None => write!(f, "{scheme}://{rest}"),
                }
            }
        }
    }
}

impl Database {
    /// Parses `sqlite:PATH` or `postgres://...` (`postgresql://` too).
    pub fn parse(s: &str) -> Result<Database, ServeError> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err(ServeError::Database("sqlite: needs a path".into()));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres(s.to_string()));
        }
        Err(ServeError::Database(
            "expected sqlite:PATH or postgres://user:pass@host:port/db".into(),
        ))
    }

    /// Opens the store (creating the SQLite file, or running the PostgreSQL migrations).
    /// Blocking: call it outside an async runtime, or in `spawn_blocking`.
    pub fn open(&self) -> Result<Arc<dyn CollectorStore>, StoreError> {
        Ok(match self {
            Database::Sqlite(p) => Arc::new(SqliteStore::open(p)?),
            Database::Postgres(url) => Arc::new(PostgresStore::connect(url, POSTGRES_POOL)?),
        })
    }
}

/// Why a collector could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The `--db` value is not a database the collector knows.
    #[error("--db: {0}")]
    Database(String),
    /// The store could not be opened.
    #[error("{db}: {source}")]
    Store {
        /// The database (without password).
        db: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The TLS files are not usable.
    #[error(transparent)]
    Tls(#[from] vigil_net::NetError),
    /// The clients file is not usable.
    #[error(transparent)]
    Clients(#[from] ClientsError),
    /// A file or socket could not be written or opened.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or address.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The witness key is not an Ed25519 private key.
    #[error("witness key {}: {reason}", path.display())]
    WitnessKey {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What `vigil collector serve` is given.
#[derive(Debug, Clone)]
pub struct ServeOptions<'a> {
    /// The store.
    pub db: Database,
    /// Server certificate, key and the client CA.
    pub tls: TlsFiles<'a>,
    /// `clients.toml`.
    pub clients: &'a Path,
    /// The witness's Ed25519 private key (PKCS#8 PEM).
    pub witness_key: &'a Path,
    /// The witness's key name in cosignatures (`vigil-collector` by default).
    pub witness_name: &'a str,
}

/// A collector ready to serve: its store open, its TLS, clients and witness key loaded.
pub struct Server {
    collector: Arc<Collector>,
    metrics: Arc<Metrics>,
    clients: Arc<Clients>,
    tls: Arc<rustls::ServerConfig>,
    limits: AcceptLimits,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("collector", &self.collector)
            .finish_non_exhaustive()
    }
}

/// The witness signer named `name` over the Ed25519 PKCS#8 PEM key in `path`.
pub fn load_witness(path: &Path, name: &str) -> Result<NoteSigner, ServeError> {
    let bad = |reason: String| ServeError::WitnessKey {
        path: path.to_path_buf(),
        reason,
    };
    let key = vigil_core::SigningKey::load(path, None).map_err(|e| bad(e.to_string()))?;
    NoteSigner::from_signer(name, Arc::new(key)).map_err(|e| bad(e.to_string()))
}

impl Server {
    /// Loads everything and opens the store. Blocking (the PostgreSQL store connects and
    /// migrates): call it before starting the async runtime, or in `spawn_blocking`.
    pub fn open(options: &ServeOptions<'_>) -> Result<Server, ServeError> {
        let tls = vigil_net::server_config(&options.tls)?;
        let clients = Clients::load(options.clients)?;
        let witness = load_witness(options.witness_key, options.witness_name)?;
        let store = options.db.open().map_err(|source| ServeError::Store {
            db: options.db.to_string(),
            source,
        })?;
        Ok(Server::from_parts(store, witness, clients, tls))
    }

    /// A server over parts already made (tests, `vigil demo`).
    pub fn from_parts(
        store: Arc<dyn CollectorStore>,
        witness: NoteSigner,
        clients: Clients,
        tls: Arc<rustls::ServerConfig>,
    ) -> Server {
        let collector = Arc::new(Collector::new(store, witness, clients.devices()));
        let limits = AcceptLimits {
            // A push of 20,000 entries is tens of MiB: let an early refusal drain it.
            drain_bytes: crate::api::MAX_PUSH_BYTES as u64,
            ..AcceptLimits::default()
        };
        Server {
            collector,
            metrics: Arc::new(Metrics::default()),
            clients: Arc::new(clients),
            tls,
            limits,
        }
    }

    /// The collector behind the server.
    pub fn collector(&self) -> &Arc<Collector> {
        &self.collector
    }

    /// Registered clients: (devices, operators).
    pub fn client_counts(&self) -> (usize, usize) {
        self.clients.counts()
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting, lets requests in
    /// flight finish (10 s at most) and returns.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        let router = crate::router(self.collector.clone(), self.metrics.clone()).layer(
            axum::middleware::from_fn_with_state(self.clients.clone(), authorise),
        );
        tracing::info!(
            addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            "collector listening (TLS 1.3, client certificates required)"
        );
        let make_service = move |c: &vigil_net::Connection| {
            let peer = c.peer.clone();
            router
                .clone()
                .map_request(move |mut req: axum::http::Request<RequestBody>| {
                    req.extensions_mut().insert(peer.clone());
                    req
                })
        };
        let observe = |event: ConnectionEvent<'_>| {
            tracing::debug!(event = event.code(), "connection");
        };
        vigil_net::serve(
            listener,
            self.tls.clone(),
            self.limits.clone(),
            make_service,
            observe,
            shutdown,
        )
        .await;
        tracing::info!("collector stopped");
    }
}

fn forbidden(message: String) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// The peer's certificate CN must name a client of `clients.toml`: its [`Caller`] goes into
/// the request; anyone else gets 403.
async fn authorise(State(clients): State<Arc<Clients>>, mut req: Request, next: Next) -> Response {
    let Some(peer) = req.extensions().get::<PeerIdentity>().cloned() else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "a client certificate is required"})),
        )
            .into_response();
    };
    let Some(name) = peer.common_name.clone() else {
        return forbidden(format!(
            "the client certificate (sha256 {}) has no usable common name",
            peer.sha256
        ));
    };
    let Some(role) = clients.role(&name) else {
        tracing::warn!(client = %name, cert_sha256 = %peer.sha256, "client refused: not in clients.toml");
        return forbidden(format!("{name} is not a client of this collector"));
    };
    req.extensions_mut().insert(Caller { name, role });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn databases_parse_and_print_without_password() {
        assert_eq!(
            Database::parse("sqlite:/var/lib/vigil/c.db").unwrap(),
            Database::Sqlite("/var/lib/vigil/c.db".into())
        );
        let pg = Database::parse("postgres://vigil:s3cret@db.example:5432/fleet").unwrap();
        assert_eq!(pg.to_string(), "postgres://vigil:***@db.example:5432/fleet");
        assert!(!format!("{pg:?}").contains("s3cret"));
        let pg = Database::parse("postgresql://vigil@db/fleet").unwrap();
        assert_eq!(pg.to_string(), "postgresql://vigil@db/fleet");
        for bad in ["sqlite:", "mysql://x", "c.db", ""] {
            assert!(Database::parse(bad).is_err(), "{bad}");
        }
    }
}

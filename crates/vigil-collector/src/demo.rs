//! A collector for `vigil demo` (feature `demo`): SQLite in a folder, a demo PKI (its own CA,
//! a server certificate for loopback, one device and one operator certificate), a fresh
//! witness key, served on a loopback port in the caller's runtime. DEMO material: the
//! certificates and keys lie in the folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_ledger::NoteVerifier;
use vigil_net::{DemoCa, TlsFiles};

use crate::server::{load_witness, ServeError, Server};
use crate::SqliteStore;

/// The operator certificate's CN in a demo collector.
pub const DEMO_OPERATOR: &str = "demo-operator";

/// A running demo collector: where it listens and where its files are.
#[derive(Debug)]
pub struct DemoCollector {
    /// `https://localhost:PORT`: the dashboard's address and the push URL.
    pub url: String,
    /// The loopback address it listens on.
    pub addr: SocketAddr,
    /// Its SQLite database.
    pub db: PathBuf,
    /// The CA of its certificates (the server's, the device's, the operator's).
    pub ca: PathBuf,
    /// The device's certificate and key (CN = the device id).
    pub device_cert: PathBuf,
    /// See `device_cert`.
    pub device_key: PathBuf,
    /// The operator's certificate and key (CN [`DEMO_OPERATOR`]), for the dashboard and API.
    pub operator_cert: PathBuf,
    /// See `operator_cert`.
    pub operator_key: PathBuf,
    /// The witness's public key (PEM), to check its cosignatures.
    pub witness_pubkey: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ServeError> {
    std::fs::write(path, bytes).map_err(|source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl DemoCollector {
    /// Makes the PKI, the witness key and the database in `dir` (created if missing), registers
    /// `device` (a certificate CN, `[A-Za-z0-9._-]`) with its ledger's checkpoint key
    /// `ledger_key`, and serves on `127.0.0.1:0`. Must run inside a Tokio runtime.
    pub async fn start(
        dir: &Path,
        device: &str,
        ledger_key: &NoteVerifier,
    ) -> Result<DemoCollector, ServeError> {
        std::fs::create_dir_all(dir).map_err(|source| ServeError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let ca = DemoCa::new("Vigil DEMO collector CA")?;
        let p = |name: &str| dir.join(name);
        write(&p("ca.crt"), ca.issued().cert_pem.as_bytes())?;
        let server = ca.issue_server()?;
        write(&p("server.crt"), server.cert_pem.as_bytes())?;
        write(&p("server.key"), server.key_pem.as_bytes())?;
        for (cn, file) in [(device, "device"), (DEMO_OPERATOR, "operator")] {
            let c = ca.issue_client(cn)?;
            write(&p(&format!("{file}.crt")), c.cert_pem.as_bytes())?;
            write(&p(&format!("{file}.key")), c.key_pem.as_bytes())?;
        }
        let witness = vigil_core::SigningKey::generate(vigil_core::KeyAlgorithm::Ed25519);
        let pem = witness
            .to_pkcs8_pem(None)
            .map_err(|e| ServeError::WitnessKey {
                path: p("witness.pem"),
                reason: e.to_string(),
            })?;
        write(&p("witness.pem"), pem.as_bytes())?;
        write(
            &p("witness.pub.pem"),
            witness.public_key().to_pem().as_bytes(),
        )?;
        let clients_toml = format!(
            "# DEMO collector clients (written by `vigil demo`).\n\
             [[client]]\nname = \"{DEMO_OPERATOR}\"\nrole = \"operator\"\n\n\
             [[client]]\nname = \"{device}\"\nrole = \"device\"\nledger_vkey = \"{}\"\n",
            ledger_key.to_vkey()
        );
        write(&p("clients.toml"), clients_toml.as_bytes())?;
        let clients = crate::Clients::load(&p("clients.toml"))?;
        let witness = load_witness(&p("witness.pem"), "vigil-collector")?;
        let tls = vigil_net::server_config(&TlsFiles {
            cert: &p("server.crt"),
            key: &p("server.key"),
            client_ca: &p("ca.crt"),
        })?;
        let db = p("collector.db");
        let store_path = db.clone();
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&store_path))
            .await
            .map_err(|e| ServeError::Database(e.to_string()))?
            .map_err(|source| ServeError::Store {
                db: format!("sqlite:{}", db.display()),
                source,
            })?;
        let server = Server::from_parts(Arc::new(store), witness, clients, tls);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| ServeError::Io {
                path: PathBuf::from("127.0.0.1:0"),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        Ok(DemoCollector {
            url: format!("https://localhost:{}", addr.port()),
            addr,
            db,
            ca: p("ca.crt"),
            device_cert: p("device.crt"),
            device_key: p("device.key"),
            operator_cert: p("operator.crt"),
            operator_key: p("operator.key"),
            witness_pubkey: p("witness.pub.pem"),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// TLS for the device's pushes: the demo CA and the device's certificate.
    pub fn device_tls(&self) -> Result<Arc<rustls::ClientConfig>, ServeError> {
        Ok(vigil_net::client_config(
            &self.ca,
            Some((&self.device_cert, &self.device_key)),
        )?)
    }

    /// Stops serving (requests in flight finish) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

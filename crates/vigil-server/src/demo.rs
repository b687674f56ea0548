//! The gateway's demo PKI (feature `demo-pki`): the certificates of [`vigil_net::DemoCa`] for
//! a server on loopback and its test clients, with a clients file that names them. DEMO
//! material: the CA key sits beside the certificates it signed.

use std::path::{Path, PathBuf};

use vigil_net::DemoCa;

use crate::error::ServerError;

/// The clients file `vigil tls demo-pki` writes.
pub const DEMO_CLIENTS_TOML: &str = r#"# clients.toml -- DEMO MATERIAL, NOT FOR CLINICAL USE.
# Written by `vigil tls demo-pki`. Each [[client]] names a certificate subject CN that may reach
# the gateway, its role (infer | audit | admin), and optional per-client overrides of the
# bundle's [limits] and [extraction] defaults: rate_per_second, burst, query_budget,
# extraction_monitor, or unlimited = true (all lifted). A client marked revoked = true, or a
# certificate listed under [[revoked]] by the SHA-256 of its DER, is refused and the refusal
# is logged (and recorded in the ledger when the gateway keeps one).

# The demo client: may infer and read the ledger (role admin, for the demo's auditor steps).
[[client]]
name = "demo-client"
role = "admin"

# The load-test client (bench/serve): rate limits, query budget and extraction monitor lifted.
[[client]]
name = "bench-client"
role = "infer"
unlimited = true
extraction_monitor = false

# A revoked client: its certificate chains to the CA, but it is refused.
[[client]]
name = "revoked-client"
role = "infer"
revoked = true
"#;

/// `README.txt` of a demo PKI directory.
pub const DEMO_README: &str = "DEMO MATERIAL - NOT FOR CLINICAL USE, NOT FOR ANY REAL NETWORK.

Written by `vigil tls demo-pki`. The CA's private key (ca.key) sits beside the certificates it
signed, so anyone holding this folder can mint clients. For a real deployment use your
organisation's PKI: a CA for client certificates (--client-ca), a server certificate for the
device's name, and a clients.toml that lists each client's certificate subject CN.

ca.crt, ca.key                      demo CA (ECDSA P-256)
server.crt, server.key              server certificate for localhost, 127.0.0.1 and ::1
client.crt, client.key              client certificate, subject CN demo-client (role admin)
bench-client.crt, bench-client.key  client certificate, CN bench-client (limits lifted, for load tests)
revoked-client.crt, .key            CN revoked-client: listed as revoked in clients.toml
unlisted-client.crt, .key           CN unlisted-client: signed by the CA, not in clients.toml
clients.toml                        who may connect, in which role, with which limits

Try: vigil serve --bundle BUNDLE --key PUB.pem --tls-cert server.crt --tls-key server.key \\
       --client-ca ca.crt --clients clients.toml --addr 127.0.0.1:8443
";

/// The files of a demo PKI, in the order they are written.
pub const DEMO_FILES: [&str; 14] = [
    "ca.crt",
    "ca.key",
    "server.crt",
    "server.key",
    "client.crt",
    "client.key",
    "bench-client.crt",
    "bench-client.key",
    "revoked-client.crt",
    "revoked-client.key",
    "unlisted-client.crt",
    "unlisted-client.key",
    "clients.toml",
    "README.txt",
];

/// Write a demo PKI into `dir` (created if missing; existing files are refused). Returns the
/// paths written.
pub fn write_demo_pki(dir: &Path) -> Result<Vec<PathBuf>, ServerError> {
    std::fs::create_dir_all(dir).map_err(|source| {
        ServerError::File(vigil_core::ReadError::Io {
            path: dir.to_path_buf(),
            source,
        })
    })?;
    for name in DEMO_FILES {
        let p = dir.join(name);
        if p.exists() {
            return Err(ServerError::File(vigil_core::ReadError::Io {
                path: p,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists; refusing to overwrite",
                ),
            }));
        }
    }
    let ca = DemoCa::new("Vigil DEMO CA")?;
    let mut files: Vec<(&str, String)> = Vec::new();
    let ca_i = ca.issued();
    files.push(("ca.crt", ca_i.cert_pem));
    files.push(("ca.key", ca_i.key_pem));
    for (crt, key, issued) in [
        ("server.crt", "server.key", ca.issue_server()?),
        ("client.crt", "client.key", ca.issue_client("demo-client")?),
        (
            "bench-client.crt",
            "bench-client.key",
            ca.issue_client("bench-client")?,
        ),
        (
            "revoked-client.crt",
            "revoked-client.key",
            ca.issue_client("revoked-client")?,
        ),
        (
            "unlisted-client.crt",
            "unlisted-client.key",
            ca.issue_client("unlisted-client")?,
        ),
    ] {
        files.push((crt, issued.cert_pem));
        files.push((key, issued.key_pem));
    }
    files.push(("clients.toml", DEMO_CLIENTS_TOML.to_string()));
    files.push(("README.txt", DEMO_README.to_string()));
    let mut written = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        vigil_core::write_new(&p, text.as_bytes(), name.ends_with(".key"))?;
        written.push(p);
    }
    Ok(written)
}

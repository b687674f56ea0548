//! A demo public-key infrastructure for trying the gateway: one CA, a server certificate for
//! localhost and 127.0.0.1, client certificates, and a matching clients file. DEMO material:
//! the CA key sits beside the certificates it signed.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::error::ServerError;

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PKCS#8 PEM).
    pub key_pem: String,
}

/// A demo CA that issues server and client certificates (ECDSA P-256).
pub struct DemoCa {
    cert: Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for DemoCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCa").finish_non_exhaustive()
    }
}

fn pki_err(e: rcgen::Error) -> ServerError {
    ServerError::Pki(e.to_string())
}

fn validity(params: &mut CertificateParams) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let year = 1970 + i32::try_from(now / 31_556_952).unwrap_or(56);
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
}

impl DemoCa {
    /// A new CA named `name` (subject CN).
    pub fn new(name: &str) -> Result<DemoCa, ServerError> {
        let key = KeyPair::generate().map_err(pki_err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(
            DnType::OrganizationName,
            "Vigil DEMO - not for clinical use",
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let cert = params.self_signed(&key).map_err(pki_err)?;
        Ok(DemoCa { cert, key })
    }

    /// The CA certificate and key.
    pub fn issued(&self) -> Issued {
        Issued {
            cert_pem: self.cert.pem(),
            key_pem: self.key.serialize_pem(),
        }
    }

    fn issue(
        &self,
        cn: &str,
        sans: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<Issued, ServerError> {
        let key = KeyPair::generate().map_err(pki_err)?;
        let mut params = CertificateParams::new(sans).map_err(pki_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        dn.push(
            DnType::OrganizationName,
            "Vigil DEMO - not for clinical use",
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(pki_err)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A server certificate for `localhost` and `127.0.0.1` (and `::1`).
    pub fn issue_server(&self) -> Result<Issued, ServerError> {
        self.issue(
            "localhost",
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate whose subject CN is `cn`.
    pub fn issue_client(&self, cn: &str) -> Result<Issued, ServerError> {
        self.issue(cn, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)
    }
}

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
    let write_err = |path: &Path, source| ServerError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    for name in DEMO_FILES {
        let p = dir.join(name);
        if p.exists() {
            return Err(write_err(
                &p,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists; refusing to overwrite",
                ),
            ));
        }
    }
    let ca = DemoCa::new("Vigil DEMO CA")?;
    let mut files: Vec<(&str, String)> = Vec::new();
    let ca_i = ca.issued();
    files.push(("ca.crt", ca_i.cert_pem));
    files.push(("ca.key", ca_i.key_pem));
    for (stem, issued) in [
        ("server", ca.issue_server()?),
        ("client", ca.issue_client("demo-client")?),
        ("bench-client", ca.issue_client("bench-client")?),
        ("revoked-client", ca.issue_client("revoked-client")?),
        ("unlisted-client", ca.issue_client("unlisted-client")?),
    ] {
        files.push((leak_name(stem, "crt"), issued.cert_pem));
        files.push((leak_name(stem, "key"), issued.key_pem));
    }
    files.push(("clients.toml", DEMO_CLIENTS_TOML.to_string()));
    files.push(("README.txt", DEMO_README.to_string()));
    let mut written = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        vigil_core::write_new(&p, text.as_bytes(), name.ends_with(".key")).map_err(|e| {
            let source = match e {
                vigil_core::ReadError::Io { source, .. } => source,
                other => std::io::Error::other(other.reason()),
            };
            write_err(&p, source)
        })?;
        written.push(p);
    }
    Ok(written)
}

fn leak_name(stem: &str, ext: &str) -> &'static str {
    // Names come from the fixed list above; map them back to the static strings.
    let want = format!("{stem}.{ext}");
    DEMO_FILES
        .iter()
        .find(|n| **n == want)
        .copied()
        .unwrap_or("unnamed")
}

//! TLS: TLS 1.3 only, mutual authentication required, ring provider; and the identity of the
//! peer read from its certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;

use crate::clients::PeerIdentity;
use crate::error::ServerError;

/// Most bytes read from a PEM file.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// ALPN protocols offered: HTTP/2 first, then HTTP/1.1 (HTTP/1.0 clients send no ALPN).
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Read a whole file, refusing one over `max` bytes.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ServerError> {
    vigil_core::read_bounded(path, max).map_err(|e| match e {
        vigil_core::ReadError::TooLarge { max, .. } => ServerError::TooLarge {
            path: path.to_path_buf(),
            max,
        },
        vigil_core::ReadError::Io { source, .. } => ServerError::Read {
            path: path.to_path_buf(),
            source,
        },
        other => ServerError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// Read every certificate of a PEM file (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let pem = read_bounded(path, MAX_PEM_BYTES)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Pem {
            path: path.to_path_buf(),
            reason: format!("cannot read certificates: {e}"),
        })?;
    if certs.is_empty() {
        return Err(ServerError::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

/// Read one private key (PKCS#8, SEC1 or PKCS#1) from a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServerError> {
    let pem = read_bounded(path, MAX_PEM_BYTES)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| ServerError::Pem {
        path: path.to_path_buf(),
        reason: format!("cannot read a private key: {e}"),
    })
}

/// The TLS files of a gateway.
#[derive(Debug, Clone)]
pub struct TlsFiles<'a> {
    /// Server certificate chain (PEM).
    pub cert: &'a Path,
    /// Server private key (PEM).
    pub key: &'a Path,
    /// CA certificate(s) that client certificates must chain to (PEM).
    pub client_ca: &'a Path,
}

/// Build the server's TLS configuration: TLS 1.3 only, ring, a client certificate required
/// and verified against the client CA (rustls `WebPkiClientVerifier`), ALPN h2 and http/1.1.
pub fn server_config(files: &TlsFiles<'_>) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let certs = read_certs(files.cert)?;
    let key = read_key(files.key)?;
    let cas = read_certs(files.client_ca)?;
    server_config_from(certs, key, cas)
}

/// [`server_config`] from parsed certificates and key.
pub fn server_config_from(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_cas: Vec<CertificateDer<'static>>,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in client_cas {
        roots
            .add(ca)
            .map_err(|e| ServerError::Tls(format!("client ca: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ServerError::Tls(format!("client verifier: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(format!("server certificate and key: {e}")))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The identity in a (verified) client certificate: subject CN and SHA-256 fingerprint.
pub fn peer_identity(cert: &CertificateDer<'_>) -> PeerIdentity {
    use x509_cert::der::Decode;
    let sha256 = hex::encode(sha2::Sha256::digest(cert.as_ref()));
    let common_name = x509_cert::Certificate::from_der(cert.as_ref())
        .ok()
        .and_then(|c| common_name(&c.tbs_certificate.subject));
    PeerIdentity {
        common_name,
        sha256,
    }
}

fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
    // id-at-commonName, 2.5.4.3
    const CN: x509_cert::der::asn1::ObjectIdentifier =
        x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
    let mut found = None;
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid != CN {
                continue;
            }
            let v = atv
                .value
                .decode_as::<Utf8StringRef<'_>>()
                .map(|s| s.to_string())
                .or_else(|_| {
                    atv.value
                        .decode_as::<PrintableStringRef<'_>>()
                        .map(|s| s.to_string())
                })
                .ok()?;
            if found.is_some() {
                // Two CNs: ambiguous, refuse to pick one.
                return None;
            }
            found = Some(v);
        }
    }
    found
}

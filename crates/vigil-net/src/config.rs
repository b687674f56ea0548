//! rustls configurations for mutual TLS: TLS 1.3 only, the ring provider, a client certificate
//! required by the server and verified against the client CA.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::NetError;
use crate::pem::{read_certs, read_key};

/// ALPN protocols a server offers: HTTP/2 first, then HTTP/1.1 (HTTP/1.0 clients send no ALPN).
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The TLS files of a server.
#[derive(Debug, Clone)]
pub struct TlsFiles<'a> {
    /// Server certificate chain (PEM).
    pub cert: &'a Path,
    /// Server private key (PEM).
    pub key: &'a Path,
    /// CA certificate(s) that client certificates must chain to (PEM).
    pub client_ca: &'a Path,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(cas: Vec<CertificateDer<'static>>, what: &'static str) -> Result<RootCertStore, NetError> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots.add(ca).map_err(|e| NetError::tls(what, e))?;
    }
    Ok(roots)
}

/// A server's TLS configuration from its files: TLS 1.3 only, ring, a client certificate
/// required and verified against the client CA (rustls `WebPkiClientVerifier`), ALPN h2 and
/// http/1.1.
pub fn server_config(files: &TlsFiles<'_>) -> Result<Arc<rustls::ServerConfig>, NetError> {
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
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let provider = provider();
    let roots = roots(client_cas, "client ca")?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| NetError::tls("client verifier", e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::tls("protocol versions", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| NetError::tls("server certificate and key", e))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client's TLS configuration: trust the CA(s) in `ca`, present `identity` (certificate
/// chain and key files) if given; TLS 1.3 only; ALPN http/1.1.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let cas = read_certs(ca)?;
    let identity = match identity {
        None => None,
        Some((c, k)) => Some((read_certs(c)?, read_key(k)?)),
    };
    client_config_from(cas, identity, &[&rustls::version::TLS13])
}

/// [`client_config`] from parsed certificates, with the protocol versions to offer (tests
/// offer TLS 1.2 to see it refused).
pub fn client_config_from(
    cas: Vec<CertificateDer<'static>>,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let roots = roots(cas, "ca")?;
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| NetError::tls("protocol versions", e))?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| NetError::tls("client certificate", e))?,
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

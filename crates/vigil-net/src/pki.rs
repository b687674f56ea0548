//! A demo certificate authority (feature `demo-pki`): one CA that issues server certificates
//! for the loopback names and client certificates by subject CN. DEMO material: whoever holds
//! the CA key can mint clients, and nothing here is revocable.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::error::NetError;

/// The organisation every demo certificate names, so that none passes for a real one.
pub const DEMO_ORGANISATION: &str = "Vigil DEMO - not for clinical use";

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PKCS#8 PEM).
    pub key_pem: String,
}

/// A demo CA that issues server and client certificates (ECDSA P-256), valid from the start of
/// last year to the start of the year after next.
pub struct DemoCa {
    cert: Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for DemoCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCa").finish_non_exhaustive()
    }
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

fn subject(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, DEMO_ORGANISATION);
    dn
}

impl DemoCa {
    /// A new CA named `name` (subject CN).
    pub fn new(name: &str) -> Result<DemoCa, NetError> {
        let key = KeyPair::generate().map_err(NetError::Pki)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(NetError::Pki)?;
        params.distinguished_name = subject(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let cert = params.self_signed(&key).map_err(NetError::Pki)?;
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
        usages: Vec<ExtendedKeyUsagePurpose>,
    ) -> Result<Issued, NetError> {
        let key = KeyPair::generate().map_err(NetError::Pki)?;
        let mut params = CertificateParams::new(sans).map_err(NetError::Pki)?;
        params.distinguished_name = subject(cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = usages;
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(NetError::Pki)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A server certificate for `localhost`, `127.0.0.1` and `::1` (subject CN `localhost`).
    /// It may also authenticate as a client (extended key usages serverAuth and clientAuth):
    /// `vigil serve --collector` presents the gateway's own certificate to the collector.
    pub fn issue_server(&self) -> Result<Issued, NetError> {
        self.issue(
            "localhost",
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
    }

    /// A client certificate whose subject CN is `cn`.
    pub fn issue_client(&self, cn: &str) -> Result<Issued, NetError> {
        self.issue(cn, Vec::new(), vec![ExtendedKeyUsagePurpose::ClientAuth])
    }
}

impl Issued {
    /// The certificate chain, parsed.
    pub fn certs(&self) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, NetError> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| NetError::tls("demo certificate", e))
    }

    /// The private key, parsed.
    pub fn key(&self) -> Result<rustls_pki_types::PrivateKeyDer<'static>, NetError> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| NetError::tls("demo key", e))
    }
}

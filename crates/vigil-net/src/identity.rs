//! Who is at the other end of a verified connection: the client certificate's subject CN and
//! fingerprint, and the roles a server grants to the names it knows.

use rustls_pki_types::CertificateDer;
use sha2::Digest;

/// The identity of a TLS peer: its certificate's subject CN and the SHA-256 of its DER. The
/// accept loop ([`crate::serve`]) puts one into every request's extensions; in-process tests
/// insert it themselves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerIdentity {
    /// Subject CN, if the certificate has exactly one that is UTF-8 or printable.
    pub common_name: Option<String>,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub sha256: String,
}

impl PeerIdentity {
    /// The identity in a (verified) certificate. A certificate that does not parse, or whose
    /// subject has no CN or two of them, has no `common_name`: a server refuses it by name.
    pub fn from_certificate(cert: &CertificateDer<'_>) -> PeerIdentity {
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

    /// An identity with this CN and a fingerprint derived from it (for in-process tests).
    pub fn for_tests(common_name: &str) -> PeerIdentity {
        PeerIdentity {
            common_name: Some(common_name.to_string()),
            sha256: hex::encode(sha2::Sha256::digest(common_name.as_bytes())),
        }
    }
}

fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    use x509_cert::der::asn1::{ObjectIdentifier, PrintableStringRef, Utf8StringRef};
    // id-at-commonName, 2.5.4.3
    const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
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

/// What a known peer may do. The gateway maps each certificate CN of its clients file to one
/// role; a fleet collector maps device and auditor certificates the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Health, metadata, inference and metrics.
    Infer,
    /// Health, metadata, metrics, the ledger's checkpoints and proofs, and the detector
    /// scores and names of every answer; no inference.
    Audit,
    /// Everything.
    Admin,
}

impl Role {
    /// Every role, in order of the names.
    pub const ALL: [Role; 3] = [Role::Infer, Role::Audit, Role::Admin];

    /// The role's name in a clients file: `infer`, `audit` or `admin`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Infer => "infer",
            Role::Audit => "audit",
            Role::Admin => "admin",
        }
    }

    /// The role named `name` (as [`Role::name`] writes it).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// May run inference.
    pub fn may_infer(self) -> bool {
        matches!(self, Role::Infer | Role::Admin)
    }

    /// May read the audit trail (ledger checkpoints and proofs, detector scores).
    pub fn may_audit(self) -> bool {
        matches!(self, Role::Audit | Role::Admin)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

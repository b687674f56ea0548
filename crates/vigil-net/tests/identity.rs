//! A peer's identity comes from its certificate's subject: exactly one CN, or none at all.

#![allow(clippy::unwrap_used)]

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls_pki_types::CertificateDer;
use vigil_net::{PeerIdentity, Role};

fn cert(cn: Option<&str>) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "test");
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    CertificateDer::from(params.self_signed(&key).unwrap().der().to_vec())
}

#[test]
fn one_common_name_is_the_identity() {
    let c = cert(Some("ward-7"));
    let id = PeerIdentity::from_certificate(&c);
    assert_eq!(id.common_name.as_deref(), Some("ward-7"));
    assert_eq!(id.sha256.len(), 64);
    assert!(id
        .sha256
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn no_common_name_or_garbage_has_none() {
    assert_eq!(
        PeerIdentity::from_certificate(&cert(None)).common_name,
        None
    );
    let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01]);
    let id = PeerIdentity::from_certificate(&garbage);
    assert_eq!(id.common_name, None);
    assert_eq!(id.sha256.len(), 64);
}

#[test]
fn roles_by_name() {
    for r in Role::ALL {
        assert_eq!(Role::parse(r.name()), Some(r));
    }
    assert_eq!(Role::parse("root"), None);
    assert!(Role::Admin.may_infer() && Role::Admin.may_audit());
    assert!(!Role::Audit.may_infer() && !Role::Infer.may_audit());
}

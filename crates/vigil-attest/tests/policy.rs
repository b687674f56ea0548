//! Trust policies: parsing, distinct signers by name, required signers and roles, revocation
//! and the minimum version, each failure typed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use vigil_attest::{Counted, PolicyError, TrustFailure, TrustPolicy};
use vigil_core::{KeyAlgorithm, SigningKey};

struct Keys {
    dir: tempfile::TempDir,
    a: SigningKey,
    b: SigningKey,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let a = SigningKey::generate(KeyAlgorithm::Ed25519);
    let b = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    let c = SigningKey::generate(KeyAlgorithm::Ed25519);
    for (name, k) in [("a", &a), ("b", &b), ("c", &c)] {
        std::fs::write(
            dir.path().join(format!("{name}.pem")),
            k.public_key().to_pem(),
        )
        .unwrap();
    }
    Keys { dir, a, b }
}

fn parse(k: &Keys, text: &str) -> Result<TrustPolicy, PolicyError> {
    TrustPolicy::parse(text.as_bytes(), Path::new("p.toml"), k.dir.path())
}

const THREE: &str = "\
[[signer]]\nname = \"ann\"\nrole = \"ml-lead\"\nkey = \"a.pem\"\n\
[[signer]]\nname = \"ann\"\nrole = \"ml-lead\"\nkey = \"b.pem\"\n\
[[signer]]\nname = \"cy\"\nrole = \"qa\"\nkey = \"c.pem\"\nrequired = true\n";

#[test]
fn signers_count_once_by_key_and_by_name() {
    let k = keys();
    let p = parse(&k, &format!("threshold = 2\n{THREE}")).unwrap();
    let mut tally = p.tally();
    let ann_a = &p.signers[0];
    let ann_b = &p.signers[1];
    let cy = &p.signers[2];
    assert_eq!(tally.count(ann_a), Counted::New);
    assert_eq!(tally.count(ann_a), Counted::SameKey);
    assert_eq!(tally.count(ann_b), Counted::SameSigner);
    assert_eq!(
        tally.decide(),
        Err(TrustFailure::Counted {
            valid: 1,
            threshold: 2
        })
    );
    assert_eq!(tally.count(cy), Counted::New);
    assert_eq!(tally.decide(), Ok(()));
}

#[test]
fn required_signer_and_role_are_typed_failures() {
    let k = keys();
    let p = parse(&k, &format!("threshold = 1\n{THREE}")).unwrap();
    let mut tally = p.tally();
    tally.count(&p.signers[0]);
    assert_eq!(
        tally.decide(),
        Err(TrustFailure::RequiredSigner { name: "cy".into() })
    );
    let p = parse(
        &k,
        "threshold = 1\nrequired_roles = [\"qa\"]\n\
         [[signer]]\nname = \"ann\"\nrole = \"ml-lead\"\nkey = \"a.pem\"\n\
         [[signer]]\nname = \"cy\"\nrole = \"qa\"\nkey = \"c.pem\"\n",
    )
    .unwrap();
    let mut tally = p.tally();
    tally.count(&p.signers[0]);
    assert_eq!(
        tally.decide(),
        Err(TrustFailure::MissingRole { role: "qa".into() })
    );
}

#[test]
fn revoked_hint_and_versions() {
    let k = keys();
    let text = format!(
        "threshold = 1\nmin_bundle_version = \"2.0.0\"\nrevoked = [\"{}\"]\n{THREE}",
        k.a.public_key().key_id()
    );
    let p = parse(&k, &text).unwrap();
    let id = k.a.public_key().key_id();
    assert_eq!(
        p.candidates(Some(id.as_str())).unwrap_err(),
        TrustFailure::Revoked { key_id: id }
    );
    assert_eq!(p.candidates(None).unwrap().len(), 2);
    let b = k.b.public_key().key_id();
    assert_eq!(p.candidates(Some(b.as_str())).unwrap().len(), 1);
    let v = |s: &str| semver::Version::parse(s).unwrap();
    assert!(matches!(
        p.check_version(Some(&v("1.9.9"))),
        Err(TrustFailure::Rollback { .. })
    ));
    assert!(matches!(
        p.check_version(None),
        Err(TrustFailure::Unversioned { .. })
    ));
    assert_eq!(p.check_version(Some(&v("2.0.0"))), Ok(()));
}

#[test]
fn a_policy_file_that_is_a_fifo_or_missing_is_refused_without_blocking() {
    let k = keys();
    let missing = TrustPolicy::load(&k.dir.path().join("none.toml")).unwrap_err();
    assert!(matches!(missing, PolicyError::File(_)), "{missing}");
    #[cfg(unix)]
    {
        let fifo = k.dir.path().join("fifo.toml");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = TrustPolicy::load(&fifo).unwrap_err();
        assert!(
            err.to_string().contains("not a regular file (fifo)"),
            "{err}"
        );
    }
}

#[test]
fn unknown_keys_are_refused_unless_the_user_allows_them() {
    let k = keys();
    let text = format!("threshold = 1\nsignatures = [\"x\"]\n{THREE}");
    let err = parse(&k, &text).unwrap_err();
    assert!(err.to_string().contains("signatures"), "{err}");
    let (_, own) = TrustPolicy::parse_with(
        text.as_bytes(),
        Path::new("p.toml"),
        k.dir.path(),
        &["signatures"],
    )
    .unwrap();
    assert!(own.contains_key("signatures"));
}

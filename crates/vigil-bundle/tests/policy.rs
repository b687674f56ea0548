//! Trust policies: k-of-n distinct signers, roles, revocation, anti-rollback; and
//! VerifiedBundle handing out exactly the verified bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;

use vigil_bundle::{
    sign, BundleError, BundlePolicy, BundleVerifier, Limits, SignOptions, SignatureStatus, Trust,
    TrustFailure,
};
use vigil_core::{KeyAlgorithm, SigningKey};

struct Setup {
    dir: tempfile::TempDir,
    keys: tempfile::TempDir,
    lead: SigningKey,
    qa: SigningKey,
    other: SigningKey,
}

fn setup(version: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("model.onnx"), b"model").unwrap();
    fs::write(
        dir.path().join("vigil.toml"),
        format!("[bundle]\nname = \"m\"\nversion = \"{version}\"\n"),
    )
    .unwrap();
    let keys = tempfile::tempdir().unwrap();
    let lead = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    let qa = SigningKey::generate(KeyAlgorithm::Ed25519);
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    for (name, k) in [("lead", &lead), ("qa", &qa), ("other", &other)] {
        fs::write(
            keys.path().join(format!("{name}.pub.pem")),
            k.public_key().to_pem(),
        )
        .unwrap();
    }
    Setup {
        dir,
        keys,
        lead,
        qa,
        other,
    }
}

fn sign_as(dir: &Path, key: &SigningKey, file: &str) {
    let opts = SignOptions {
        signature: Some(dir.join(file)),
        ..SignOptions::default()
    };
    sign(dir, key, &opts, None).unwrap();
}

fn policy(s: &Setup, body: &str) -> BundlePolicy {
    let text = format!(
        "{body}\n[[signer]]\nname = \"Lee\"\nrole = \"ml-lead\"\nkey = \"lead.pub.pem\"\n\
         [[signer]]\nname = \"Quinn\"\nrole = \"qa-release\"\nkey = \"qa.pub.pem\"\n"
    );
    BundlePolicy::parse(text.as_bytes(), Path::new("policy.toml"), s.keys.path()).unwrap()
}

fn check(s: &Setup, p: BundlePolicy) -> Result<vigil_bundle::TrustReport, BundleError> {
    BundleVerifier::new(s.dir.path(), Trust::Policy(p)).check()
}

#[test]
fn two_of_two_signers_in_either_order() {
    let s = setup("1.2.0");
    sign_as(s.dir.path(), &s.qa, "model.qa.sig");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    let report = check(&s, policy(&s, "threshold = 2")).unwrap();
    assert_eq!(report.counted().count(), 2);
    assert_eq!(report.config.unwrap().version.to_string(), "1.2.0");
}

#[test]
fn one_signature_is_not_enough_for_two_of_two() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    let err = check(&s, policy(&s, "threshold = 2")).unwrap_err();
    assert!(
        err.to_string().contains("1 of 2 required distinct signers"),
        "{err}"
    );
    assert_eq!(
        err.trust_failure(),
        Some(&TrustFailure::Counted {
            valid: 1,
            threshold: 2
        })
    );
}

#[test]
fn same_key_twice_counts_once() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    sign_as(s.dir.path(), &s.lead, "model.again.sig");
    let err = check(&s, policy(&s, "threshold = 2")).unwrap_err();
    assert!(err.to_string().contains("already counted"), "{err}");
}

#[test]
fn unknown_signer_does_not_count() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    sign_as(s.dir.path(), &s.other, "model.other.sig");
    let err = check(&s, policy(&s, "threshold = 2")).unwrap_err();
    assert!(err.to_string().contains("does not list"), "{err}");
}

#[test]
fn revoked_key_does_not_count() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    sign_as(s.dir.path(), &s.qa, "model.qa.sig");
    let body = format!(
        "threshold = 1\nrevoked = [\"{}\"]",
        s.qa.public_key().key_id()
    );
    let report = check(&s, policy(&s, &body)).unwrap();
    assert!(report
        .signatures
        .iter()
        .any(|r| matches!(r.status, SignatureStatus::Revoked { .. })));
    assert_eq!(report.counted().count(), 1);
}

#[test]
fn threshold_that_cannot_be_met_is_a_policy_error() {
    let s = setup("1.0.0");
    let text = format!(
        "threshold = 2\nrevoked = [\"{}\"]\n[[signer]]\nname = \"a\"\nrole = \"r\"\nkey = \"lead.pub.pem\"\n\
         [[signer]]\nname = \"b\"\nrole = \"r\"\nkey = \"qa.pub.pem\"\n",
        s.qa.public_key().key_id()
    );
    let err = BundlePolicy::parse(text.as_bytes(), Path::new("p.toml"), s.keys.path()).unwrap_err();
    assert!(err.to_string().contains("can never be met"), "{err}");
}

#[test]
fn required_role_must_sign() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    let err = check(
        &s,
        policy(&s, "threshold = 1\nrequired_roles = [\"qa-release\"]"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("qa-release"), "{err}");
    assert_eq!(
        err.trust_failure(),
        Some(&TrustFailure::MissingRole {
            role: "qa-release".into()
        })
    );
}

#[test]
fn older_version_is_refused_as_rollback() {
    let s = setup("1.1.9");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    let err = check(
        &s,
        policy(&s, "threshold = 1\nmin_bundle_version = \"1.2.0\""),
    )
    .unwrap_err();
    assert!(err.to_string().contains("rollback refused"), "{err}");
    assert!(
        matches!(err.trust_failure(), Some(TrustFailure::Rollback { version, minimum })
            if version.to_string() == "1.1.9" && minimum.to_string() == "1.2.0"),
        "{err}"
    );
    check(
        &s,
        policy(&s, "threshold = 1\nmin_bundle_version = \"1.1.9\""),
    )
    .unwrap();
}

#[test]
fn tampered_file_fails_every_signature() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    sign_as(s.dir.path(), &s.qa, "model.qa.sig");
    fs::write(s.dir.path().join("model.onnx"), b"evil").unwrap();
    let err = check(&s, policy(&s, "threshold = 1")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("0 of 1"), "{text}");
    assert_eq!(
        text.matches("model.onnx: content changed").count(),
        2,
        "{text}"
    );
}

#[test]
fn malformed_policies_are_refused_with_reasons() {
    let s = setup("1.0.0");
    for (body, needle) in [
        ("threshold = 0\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"lead.pub.pem\"", "at least 1"),
        ("threshold = 1", "no [[signer]]"),
        ("threshold = 1\nsurprise = 1\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"lead.pub.pem\"", "surprise"),
        ("threshold = 1\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"missing.pem\"", "missing.pem"),
        ("threshold = 1\nrevoked=[\"xyz\"]\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"lead.pub.pem\"", "key id"),
        ("threshold = 1\nmin_bundle_version=\"one\"\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"lead.pub.pem\"", "semantic"),
        ("threshold = 1\nsignatures=[\"../x.sig\"]\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"lead.pub.pem\"", "escapes"),
        ("threshold = [", "invalid trust policy"),
    ] {
        let err = BundlePolicy::parse(body.as_bytes(), Path::new("p.toml"), s.keys.path()).unwrap_err();
        assert!(err.to_string().contains(needle), "{body:?}: {err}");
    }
}

#[test]
fn verified_bundle_hands_out_the_verified_bytes() {
    let s = setup("2.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    let trust = Trust::Key(s.lead.public_key());
    let bundle = BundleVerifier::new(s.dir.path(), trust.clone())
        .verify()
        .unwrap();
    // The file changes on disk after the check: the bundle still holds what was verified.
    fs::write(
        s.dir.path().join("model.onnx"),
        b"swapped after verification",
    )
    .unwrap();
    assert_eq!(bundle.file("model.onnx").unwrap(), b"model");
    assert_eq!(bundle.config().unwrap().version.to_string(), "2.0.0");
    assert!(
        bundle.file("model.sig").is_none(),
        "signatures are not bundle content"
    );
    assert!(bundle.file("../etc/passwd").is_none());
    // And a fresh open sees the swap.
    let err = BundleVerifier::new(s.dir.path(), trust.clone())
        .verify()
        .unwrap_err();
    assert!(
        err.to_string().contains("model.onnx: content changed"),
        "{err}"
    );
}

#[test]
fn verified_bundle_respects_the_memory_limit() {
    let s = setup("1.0.0");
    fs::write(s.dir.path().join("big.bin"), vec![0u8; 100_000]).unwrap();
    sign_as(s.dir.path(), &s.lead, "model.sig");
    let trust = Trust::Key(s.lead.public_key());
    let small = Limits {
        max_load_bytes: 50_000,
        ..Limits::default()
    };
    let err = BundleVerifier::new(s.dir.path(), trust)
        .limits(small)
        .verify()
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn verified_bundle_with_policy_exposes_files_all_counted_signers_cover() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    fs::write(s.dir.path().join("notes.md"), b"qa notes").unwrap();
    // QA signs, leaving notes.md out; the lead's signature does not cover notes.md either
    // (it did not exist), so the lead's check fails on the unsigned file.
    let opts = SignOptions {
        signature: Some(s.dir.path().join("model.qa.sig")),
        ignore_paths: vec!["notes.md".into()],
        ..SignOptions::default()
    };
    sign(s.dir.path(), &s.qa, &opts, None).unwrap();
    let p = policy(&s, "threshold = 1");
    let bundle = BundleVerifier::new(s.dir.path(), Trust::Policy(p))
        .verify()
        .unwrap();
    assert_eq!(bundle.report().counted().count(), 1);
    assert!(bundle.file("notes.md").is_none());
    assert_eq!(bundle.file("model.onnx").unwrap(), b"model");
}

// ---------------------------------------------------------------- issue 20 regressions

/// Issue 20 item 11: one signer listed twice with two keys signs twice; that is one distinct
/// signer, not two.
#[test]
fn issue20_11_same_signer_name_with_two_keys_counts_once() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    sign_as(s.dir.path(), &s.other, "model.second.sig");
    let text = "threshold = 2\n\
         [[signer]]\nname = \"Lee\"\nrole = \"ml-lead\"\nkey = \"lead.pub.pem\"\n\
         [[signer]]\nname = \"Lee\"\nrole = \"ml-lead\"\nkey = \"other.pub.pem\"\n\
         [[signer]]\nname = \"Quinn\"\nrole = \"qa-release\"\nkey = \"qa.pub.pem\"\n";
    let p = BundlePolicy::parse(text.as_bytes(), Path::new("policy.toml"), s.keys.path()).unwrap();
    let err = check(&s, p).unwrap_err();
    assert_eq!(
        err.trust_failure(),
        Some(&TrustFailure::Counted {
            valid: 1,
            threshold: 2
        }),
        "{err}"
    );
    assert!(
        err.to_string().contains("signer Lee already counted"),
        "{err}"
    );
    // Lee and Quinn together are two.
    sign_as(s.dir.path(), &s.qa, "model.qa.sig");
    let p = BundlePolicy::parse(text.as_bytes(), Path::new("policy.toml"), s.keys.path()).unwrap();
    assert_eq!(check(&s, p).unwrap().counted().count(), 2);
}

/// Issue 20 item 11: a threshold that only duplicate names could meet can never be met.
#[test]
fn issue20_11_threshold_counts_distinct_names_at_parse_time() {
    let s = setup("1.0.0");
    let text = "threshold = 2\n\
         [[signer]]\nname = \"Lee\"\nrole = \"ml-lead\"\nkey = \"lead.pub.pem\"\n\
         [[signer]]\nname = \"Lee\"\nrole = \"ml-lead\"\nkey = \"other.pub.pem\"\n";
    let err = BundlePolicy::parse(text.as_bytes(), Path::new("p.toml"), s.keys.path()).unwrap_err();
    assert!(err.to_string().contains("can never be met"), "{err}");
}

/// Issue 20 item 11: empty names and roles are refused, naming the field.
#[test]
fn issue20_11_empty_names_and_roles_are_refused() {
    let s = setup("1.0.0");
    for (body, needle) in [
        (
            "threshold = 1\n[[signer]]\nname=\"\"\nrole=\"r\"\nkey=\"lead.pub.pem\"",
            "signer #1: name is empty",
        ),
        (
            "threshold = 1\n[[signer]]\nname=\" \"\nrole=\"r\"\nkey=\"lead.pub.pem\"",
            "signer #1: name is empty",
        ),
        (
            "threshold = 1\n[[signer]]\nname=\"a\"\nrole=\"\"\nkey=\"lead.pub.pem\"",
            "signer 'a': role is empty",
        ),
        (
            "threshold = 1\nrequired_roles=[\"\"]\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"lead.pub.pem\"",
            "required_roles: a role is empty",
        ),
        (
            "threshold = 1\n[[signer]]\nname=\"a\"\nrole=\"r\"\nkey=\"lead.pub.pem\"\n\
             [[signer]]\nname=\"b\"\nrole=\"r\"\nkey=\"lead.pub.pem\"",
            "already the key of signer 'a'",
        ),
    ] {
        let err =
            BundlePolicy::parse(body.as_bytes(), Path::new("p.toml"), s.keys.path()).unwrap_err();
        assert!(err.to_string().contains(needle), "{body:?}: {err}");
    }
}

/// A required signer must be among those that count.
#[test]
fn required_signer_must_sign() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    let text = "threshold = 1\n\
         [[signer]]\nname = \"Lee\"\nrole = \"ml-lead\"\nkey = \"lead.pub.pem\"\n\
         [[signer]]\nname = \"Quinn\"\nrole = \"qa-release\"\nkey = \"qa.pub.pem\"\nrequired = true\n";
    let p = BundlePolicy::parse(text.as_bytes(), Path::new("p.toml"), s.keys.path()).unwrap();
    let err = check(&s, p).unwrap_err();
    assert_eq!(
        err.trust_failure(),
        Some(&TrustFailure::RequiredSigner {
            name: "Quinn".into()
        }),
        "{err}"
    );
}

/// Issue 20 item 11: a link to a directory appearing in a bundle signed with symlinks allowed
/// is refused at verify time (its files are covered by no signature).
#[cfg(unix)]
#[test]
fn issue20_11_symlink_to_a_directory_is_refused_at_verify_time() {
    let s = setup("1.0.0");
    let opts = SignOptions {
        allow_symlinks: true,
        ..SignOptions::default()
    };
    sign(s.dir.path(), &s.lead, &opts, None).unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("w.bin"), b"unsigned").unwrap();
    std::os::unix::fs::symlink(outside.path(), s.dir.path().join("linked")).unwrap();
    let err = BundleVerifier::new(s.dir.path(), Trust::Key(s.lead.public_key()))
        .check()
        .unwrap_err();
    assert!(matches!(err, BundleError::UnsupportedFile { .. }), "{err}");
    assert!(
        err.to_string().contains("symbolic link to a directory"),
        "{err}"
    );
}

/// A FIFO in place of a signed file is refused, never opened for a writer to appear (the
/// listing refuses it; the hashing opens every file without blocking too, for one swapped in
/// after the listing).
#[cfg(unix)]
#[test]
fn fifo_in_place_of_a_signed_file_is_refused() {
    let s = setup("1.0.0");
    sign_as(s.dir.path(), &s.lead, "model.sig");
    fs::remove_file(s.dir.path().join("model.onnx")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(s.dir.path().join("model.onnx"))
        .status()
        .unwrap();
    assert!(status.success());
    let err = BundleVerifier::new(s.dir.path(), Trust::Key(s.lead.public_key()))
        .verify()
        .unwrap_err();
    assert!(err.to_string().contains("model.onnx"), "{err}");
}

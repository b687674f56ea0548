//! Every way a signed bundle can be altered is detected, and named.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;

use vigil_bundle::{
    sign, AttestError, BundleError, BundleVerifier, Discrepancy, HashMethod, Limits, SignOptions,
    Trust,
};
use vigil_core::{KeyAlgorithm, SigningKey};

fn tree(dir: &Path) {
    fs::create_dir_all(dir.join("weights/deep")).unwrap();
    fs::write(dir.join("model.onnx"), b"onnx bytes").unwrap();
    fs::write(
        dir.join("vigil.toml"),
        b"[bundle]\nname = \"t\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    fs::write(dir.join("weights/deep/w.bin"), vec![7u8; 10_000]).unwrap();
    fs::write(dir.join("weights/empty"), b"").unwrap();
    fs::write(dir.join("données-ü.txt"), "non-ASCII name").unwrap();
}

fn signed(method: HashMethod) -> (tempfile::TempDir, SigningKey) {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    let opts = SignOptions {
        method,
        ..SignOptions::default()
    };
    sign(tmp.path(), &key, &opts, None).unwrap();
    (tmp, key)
}

fn check(dir: &Path, key: &SigningKey) -> Result<(), BundleError> {
    BundleVerifier::new(dir, Trust::Key(key.public_key()))
        .check()
        .map(|_| ())
}

fn problems(err: BundleError) -> Vec<Discrepancy> {
    match err {
        BundleError::Mismatch { problems, .. } => problems,
        other => panic!("expected a mismatch, got: {other}"),
    }
}

const METHODS: [HashMethod; 2] = [HashMethod::Files, HashMethod::Shards { shard_size: 4096 }];

#[test]
fn untouched_bundle_verifies_with_both_methods() {
    for m in METHODS {
        let (dir, key) = signed(m);
        check(dir.path(), &key).unwrap();
    }
}

#[test]
fn changed_file_is_named() {
    for m in METHODS {
        let (dir, key) = signed(m);
        let mut w = fs::read(dir.path().join("weights/deep/w.bin")).unwrap();
        w[5000] ^= 1;
        fs::write(dir.path().join("weights/deep/w.bin"), w).unwrap();
        let p = problems(check(dir.path(), &key).unwrap_err());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(matches!(&p[0], Discrepancy::Changed { name, .. } if name == "weights/deep/w.bin"));
        if m != HashMethod::Files {
            assert!(
                p[0].to_string().contains("bytes 4096..8192 differ"),
                "{}",
                p[0]
            );
        }
    }
}

#[test]
fn added_file_is_named() {
    let (dir, key) = signed(HashMethod::Files);
    fs::write(dir.path().join("weights/extra.pkl"), b"payload").unwrap();
    let p = problems(check(dir.path(), &key).unwrap_err());
    assert_eq!(
        p,
        vec![Discrepancy::Unsigned {
            name: "weights/extra.pkl".into()
        }]
    );
}

#[test]
fn removed_file_is_named() {
    let (dir, key) = signed(HashMethod::Files);
    fs::remove_file(dir.path().join("model.onnx")).unwrap();
    let p = problems(check(dir.path(), &key).unwrap_err());
    assert_eq!(
        p,
        vec![Discrepancy::Missing {
            name: "model.onnx".into()
        }]
    );
}

#[test]
fn removed_empty_file_is_named() {
    let (dir, key) = signed(HashMethod::Files);
    fs::remove_file(dir.path().join("weights/empty")).unwrap();
    let p = problems(check(dir.path(), &key).unwrap_err());
    assert_eq!(
        p,
        vec![Discrepancy::Missing {
            name: "weights/empty".into()
        }]
    );
}

#[test]
fn renamed_file_is_reported_as_a_rename() {
    let (dir, key) = signed(HashMethod::Files);
    fs::rename(
        dir.path().join("model.onnx"),
        dir.path().join("model2.onnx"),
    )
    .unwrap();
    let p = problems(check(dir.path(), &key).unwrap_err());
    assert_eq!(
        p,
        vec![Discrepancy::Renamed {
            from: "model.onnx".into(),
            to: "model2.onnx".into()
        }]
    );
}

#[test]
fn truncated_or_grown_shard_file_reports_size() {
    let (dir, key) = signed(HashMethod::Shards { shard_size: 4096 });
    fs::write(dir.path().join("weights/deep/w.bin"), vec![7u8; 9_000]).unwrap();
    let p = problems(check(dir.path(), &key).unwrap_err());
    assert!(
        p[0].to_string()
            .contains("size was 10000 bytes, is 9000 bytes"),
        "{}",
        p[0]
    );
}

#[test]
fn wrong_key_is_refused_by_hint_and_by_crypto() {
    let (dir, _key) = signed(HashMethod::Files);
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    let err = check(dir.path(), &other).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::Signature {
                error: AttestError::WrongKey { .. } | AttestError::BadSignature(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("not by the given key"), "{err}");
    let ed = SigningKey::generate(KeyAlgorithm::Ed25519);
    assert!(check(dir.path(), &ed).is_err());
}

fn edit_signature(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("model.sig");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    f(&mut v);
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn b64e(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn altered_payload_fails_the_signature_check() {
    let (dir, key) = signed(HashMethod::Files);
    edit_signature(dir.path(), |v| {
        let payload = b64(v["dsseEnvelope"]["payload"].as_str().unwrap());
        let text = String::from_utf8(payload)
            .unwrap()
            .replace("model.onnx", "model.onnz");
        v["dsseEnvelope"]["payload"] = b64e(text.as_bytes()).into();
    });
    let err = check(dir.path(), &key).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::Signature {
                error: AttestError::WrongKey { .. } | AttestError::BadSignature(_),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn altered_signature_bytes_fail() {
    let (dir, key) = signed(HashMethod::Files);
    edit_signature(dir.path(), |v| {
        let mut sig = b64(v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap());
        let last = sig.len() - 3;
        sig[last] ^= 0x40;
        v["dsseEnvelope"]["signatures"][0]["sig"] = b64e(&sig).into();
    });
    let err = check(dir.path(), &key).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::Signature {
                error: AttestError::WrongKey { .. } | AttestError::BadSignature(_),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn removed_hint_still_needs_the_right_key() {
    let (dir, key) = signed(HashMethod::Files);
    edit_signature(dir.path(), |v| {
        v["verificationMaterial"]["publicKey"]["hint"] = "".into()
    });
    check(dir.path(), &key).unwrap();
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    assert!(matches!(
        check(dir.path(), &other),
        Err(BundleError::Signature {
            error: AttestError::WrongKey { .. } | AttestError::BadSignature(_),
            ..
        })
    ));
}

/// Re-signs a hand-edited statement, so the statement checks themselves are exercised.
fn resign_statement(dir: &Path, key: &SigningKey, f: impl FnOnce(&mut serde_json::Value)) {
    edit_signature(dir, |v| {
        let payload = b64(v["dsseEnvelope"]["payload"].as_str().unwrap());
        let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        f(&mut st);
        // keep the subject digest consistent with the resources
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for r in st["predicate"]["resources"].as_array().unwrap() {
            h.update(hex::decode(r["digest"].as_str().unwrap()).unwrap());
        }
        st["subject"][0]["digest"]["sha256"] = hex::encode(h.finalize()).into();
        set_signed_payload(v, key, &st);
    });
}

/// Puts `statement` in the envelope, signed by `key` over its DSSE PAE.
fn set_signed_payload(v: &mut serde_json::Value, key: &SigningKey, statement: &serde_json::Value) {
    let bytes = serde_json::to_vec(statement).unwrap();
    let pae = [
        format!("DSSEv1 28 application/vnd.in-toto+json {} ", bytes.len()).as_bytes(),
        &bytes,
    ]
    .concat();
    v["dsseEnvelope"]["payload"] = b64e(&bytes).into();
    v["dsseEnvelope"]["signatures"][0]["sig"] = b64e(&key.sign(&pae)).into();
}

#[test]
fn resource_escaping_the_directory_is_refused() {
    for evil in ["../outside.bin", "/etc/passwd", "a/../../x", "weights//w"] {
        let (dir, key) = signed(HashMethod::Files);
        resign_statement(dir.path(), &key, |st| {
            st["predicate"]["resources"][0]["name"] = evil.into();
        });
        let err = check(dir.path(), &key).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::Signature {
                    error: AttestError::Statement(_),
                    ..
                }
            ),
            "{evil}: {err}"
        );
    }
}

#[test]
fn ignore_path_escaping_the_directory_is_refused() {
    let (dir, key) = signed(HashMethod::Files);
    resign_statement(dir.path(), &key, |st| {
        st["predicate"]["serialization"]["ignore_paths"] = serde_json::json!(["../x"]);
    });
    assert!(matches!(
        check(dir.path(), &key),
        Err(BundleError::Signature {
            error: AttestError::Statement(_),
            ..
        })
    ));
}

#[test]
fn inconsistent_subject_digest_is_refused() {
    let (dir, key) = signed(HashMethod::Files);
    edit_signature(dir.path(), |v| {
        let payload = b64(v["dsseEnvelope"]["payload"].as_str().unwrap());
        let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        st["subject"][0]["digest"]["sha256"] = "00".repeat(32).into();
        set_signed_payload(v, &key, &st);
    });
    let err = check(dir.path(), &key).unwrap_err();
    assert!(err.to_string().contains("subject digest"), "{err}");
}

#[test]
fn duplicate_json_keys_are_refused() {
    let (dir, key) = signed(HashMethod::Files);
    let path = dir.path().join("model.sig");
    let text = String::from_utf8(fs::read(&path).unwrap()).unwrap();
    let doubled = text.replacen("{\"mediaType\"", "{\"mediaType\":\"x\",\"mediaType\"", 1);
    fs::write(&path, doubled).unwrap();
    assert!(matches!(
        check(dir.path(), &key),
        Err(BundleError::Signature {
            error: AttestError::Malformed(_),
            ..
        })
    ));
}

#[cfg(unix)]
#[test]
fn symlink_is_refused_unless_the_signature_allows_it() {
    let (dir, key) = signed(HashMethod::Files);
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
    let err = check(dir.path(), &key).unwrap_err();
    assert!(matches!(err, BundleError::UnsupportedFile { .. }), "{err}");
    assert!(err.to_string().contains("link"), "{err}");

    // Signed with allow_symlinks, the link's target bytes are what is checked.
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    fs::write(tmp.path().join("target.bin"), b"t").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("target.bin"), tmp.path().join("link")).unwrap();
    let opts = SignOptions {
        allow_symlinks: true,
        ..SignOptions::default()
    };
    sign(tmp.path(), &key, &opts, None).unwrap();
    check(tmp.path(), &key).unwrap();
    fs::write(tmp.path().join("target.bin"), b"u").unwrap();
    assert_eq!(problems(check(tmp.path(), &key).unwrap_err()).len(), 2);
}

#[test]
fn ignored_paths_and_git_paths_are_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    fs::create_dir_all(tmp.path().join(".git/objects")).unwrap();
    fs::write(tmp.path().join(".git/objects/x"), b"git").unwrap();
    fs::write(tmp.path().join("notes.txt"), b"scratch").unwrap();
    let key = SigningKey::generate(KeyAlgorithm::Ed25519);
    let opts = SignOptions {
        ignore_paths: vec![tmp.path().join("notes.txt")],
        ..SignOptions::default()
    };
    let signed = sign(tmp.path(), &key, &opts, None).unwrap();
    let ignored: Vec<_> = signed
        .manifest
        .serialization
        .ignore_paths
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(ignored.contains(&"notes.txt".to_string()));
    assert!(ignored.contains(&".git".to_string()));
    assert!(ignored.contains(&"model.sig".to_string()));
    fs::write(tmp.path().join("notes.txt"), b"changed freely").unwrap();
    fs::write(tmp.path().join(".git/objects/y"), b"more git").unwrap();
    check(tmp.path(), &key).unwrap();
}

#[test]
fn missing_signature_is_an_io_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    let err = check(tmp.path(), &key).unwrap_err();
    assert!(err.to_string().contains("model.sig"), "{err}");
}

#[test]
fn signature_outside_the_directory_works() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let out = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    let sig = out.path().join("elsewhere.sig");
    let opts = SignOptions {
        signature: Some(sig.clone()),
        ..SignOptions::default()
    };
    sign(tmp.path(), &key, &opts, None).unwrap();
    BundleVerifier::new(tmp.path(), Trust::Key(key.public_key()))
        .signature_path(&sig)
        .check()
        .unwrap();
}

#[test]
fn limits_bound_the_signature_and_the_tree() {
    let (dir, key) = signed(HashMethod::Files);
    let tiny = Limits {
        max_signature_bytes: 100,
        ..Limits::default()
    };
    let err = BundleVerifier::new(dir.path(), Trust::Key(key.public_key()))
        .limits(tiny)
        .check()
        .unwrap_err();
    assert!(matches!(err, BundleError::Limit { .. }), "{err}");
    let few = Limits {
        max_files: 2,
        ..Limits::default()
    };
    let err = BundleVerifier::new(dir.path(), Trust::Key(key.public_key()))
        .limits(few)
        .check()
        .unwrap_err();
    assert!(matches!(err, BundleError::Limit { .. }), "{err}");
}

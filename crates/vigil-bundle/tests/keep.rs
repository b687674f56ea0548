//! `BundleVerifier::keep`: every file is verified, only the kept ones are held.
#![allow(clippy::unwrap_used)]

use vigil_bundle::{sign, BundleVerifier, SignOptions, Trust};
use vigil_core::{KeyAlgorithm, SigningKey};

/// A signed bundle of a small `model.onnx` and a 1 MiB `big.bin` of sevens.
fn signed_bundle() -> (tempfile::TempDir, SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.onnx"), b"weights").unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 1 << 20]).unwrap();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    sign(dir.path(), &key, &SignOptions::default(), None).unwrap();
    (dir, key)
}

#[test]
fn unkept_files_are_verified_but_not_held() {
    let (dir, key) = signed_bundle();
    let keep = |name: &str| name == "model.onnx";
    let bundle = BundleVerifier::new(dir.path(), Trust::Key(key.public_key()))
        .keep(&keep)
        .verify()
        .unwrap();
    assert_eq!(bundle.file("model.onnx"), Some(&b"weights"[..]));
    assert_eq!(bundle.file("big.bin"), None, "not kept");

    // A change to a file that is not kept still fails the verification.
    std::fs::write(dir.path().join("big.bin"), vec![8u8; 1 << 20]).unwrap();
    let err = BundleVerifier::new(dir.path(), Trust::Key(key.public_key()))
        .keep(&keep)
        .verify()
        .unwrap_err();
    assert!(err.to_string().contains("big.bin"), "{err}");
}

#[test]
fn known_digests_stand_for_unkept_files_only() {
    use sha2::Digest;
    let (dir, key) = signed_bundle();
    let keep = |name: &str| name == "model.onnx";
    let verify = |known: &std::collections::HashMap<String, [u8; 32]>| {
        BundleVerifier::new(dir.path(), Trust::Key(key.public_key()))
            .keep(&keep)
            .known_digests(known)
            .verify()
    };
    let right: [u8; 32] = sha2::Sha256::digest(vec![7u8; 1 << 20]).into();
    let mut known = std::collections::HashMap::from([("big.bin".to_string(), right)]);
    verify(&known).unwrap();

    // A known digest is used instead of reading the file: a wrong one fails, naming the file.
    known.insert("big.bin".into(), [0u8; 32]);
    let err = verify(&known).unwrap_err();
    assert!(err.to_string().contains("big.bin"), "{err}");

    // A kept file is always read and hashed: a known digest for it is ignored.
    known.insert("big.bin".into(), right);
    known.insert("model.onnx".into(), [0u8; 32]);
    let bundle = verify(&known).unwrap();
    assert_eq!(bundle.file("model.onnx"), Some(&b"weights"[..]));
}

//! `BundleVerifier::keep`: every file is verified, only the kept ones are held.
#![allow(clippy::unwrap_used)]

use vigil_bundle::{sign, BundleVerifier, SignOptions, Trust};
use vigil_core::{KeyAlgorithm, SigningKey};

#[test]
fn unkept_files_are_verified_but_not_held() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.onnx"), b"weights").unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 1 << 20]).unwrap();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    sign(dir.path(), &key, &SignOptions::default(), None).unwrap();
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

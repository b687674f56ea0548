//! Properties over random bundles: what is signed verifies; any single change is caught.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;

use proptest::prelude::*;
use vigil_bundle::{sign, BundleVerifier, HashMethod, SignOptions, Trust};
use vigil_core::{KeyAlgorithm, SigningKey};

fn name() -> impl Strategy<Value = String> {
    // Components from a small alphabet with ASCII punctuation and non-ASCII letters, so that
    // component-wise ordering ("a/b" before "a-b") and \u escaping are exercised.
    prop::collection::vec("[a-c\\-_.é😀]{1,4}", 1..4).prop_map(|parts| {
        parts
            .into_iter()
            .map(|p| if p == "." || p == ".." { "d".into() } else { p })
            .collect::<Vec<String>>()
            .join("/")
    })
}

fn bundle() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec((name(), prop::collection::vec(any::<u8>(), 0..300)), 1..8)
}

fn write(dir: &std::path::Path, files: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut written = Vec::new();
    for (n, data) in files {
        let p = dir.join(n);
        // Skip names that collide with an existing file or directory.
        if p.exists()
            || p.ancestors().skip(1).any(|a| a.is_file())
            || n.starts_with(".git")
            || n.starts_with("model.")
        {
            continue;
        }
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        written.push(n.clone());
    }
    written
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn signed_bundles_verify_and_any_flip_is_caught(files in bundle(), shards in any::<bool>(), pick in any::<prop::sample::Index>(), bit in 0u8..8) {
        let tmp = tempfile::tempdir().unwrap();
        let written = write(tmp.path(), &files);
        prop_assume!(!written.is_empty());
        let key = SigningKey::generate(KeyAlgorithm::Ed25519);
        let method = if shards { HashMethod::Shards { shard_size: 17 } } else { HashMethod::Files };
        let opts = SignOptions { method, ..SignOptions::default() };
        sign(tmp.path(), &key, &opts, None).unwrap();
        BundleVerifier::new(tmp.path(), Trust::Key(key.public_key())).check().unwrap();

        let victim = tmp.path().join(pick.get(&written));
        let mut data = fs::read(&victim).unwrap();
        if data.is_empty() { data.push(0) } else { let i = data.len() / 2; data[i] ^= 1 << bit; }
        fs::write(&victim, data).unwrap();
        prop_assert!(BundleVerifier::new(tmp.path(), Trust::Key(key.public_key())).check().is_err());
    }
}

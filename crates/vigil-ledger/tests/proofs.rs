//! Property: every inclusion and consistency proof for random sizes verifies, and every
//! altered one (hash bit flipped, hash dropped or added, index or size changed) fails. Also
//! checks the store-backed proofs equal the naive in-memory reference.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use vigil_ledger::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    Hash, Ledger, MemoryTree,
};

fn tree(n: u64) -> MemoryTree {
    MemoryTree::new((0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect())
}

fn alterations(proof: &[Hash], pick: usize, bit: u8) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    if !proof.is_empty() {
        let mut flipped = proof.to_vec();
        let i = pick % proof.len();
        flipped[i][usize::from(bit) % 32] ^= 1 << (bit % 8);
        out.push(flipped);
        out.push(proof[..proof.len() - 1].to_vec());
        out.push(proof[1..].to_vec());
    }
    let mut longer = proof.to_vec();
    longer.push([bit; 32]);
    out.push(longer);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn inclusion_proofs_verify_and_alterations_fail(size in 1u64..300, i in any::<u64>(), pick in any::<usize>(), bit in any::<u8>()) {
        let t = tree(size);
        let index = i % size;
        let r = root(&t, size).unwrap();
        let leaf = leaf_hash(&index.to_le_bytes());
        let proof = inclusion_proof(&t, index, size).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &r).is_ok());
        for bad in alterations(&proof, pick, bit) {
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &r).is_err());
        }
        let mut bad_leaf = leaf;
        bad_leaf[usize::from(bit) % 32] ^= 1;
        prop_assert!(verify_inclusion(&bad_leaf, index, size, &proof, &r).is_err());
        let mut bad_root = r;
        bad_root[0] ^= 0x80;
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &bad_root).is_err());
        if size > 1 {
            let other = (index + 1 + (i >> 32) % (size - 1)) % size;
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &r).is_err());
        }
        // (A different size with the same path shape can verify: RFC 9162 binds the size
        // through the signed checkpoint, not the path.)
    }

    #[test]
    fn consistency_proofs_verify_and_alterations_fail(new in 1u64..300, o in any::<u64>(), pick in any::<usize>(), bit in any::<u8>()) {
        let t = tree(new);
        let old = 1 + o % new;
        let (r1, r2) = (root(&t, old).unwrap(), root(&t, new).unwrap());
        let proof = consistency_proof(&t, old, new).unwrap();
        prop_assert!(verify_consistency(old, new, &proof, &r1, &r2).is_ok());
        for bad in alterations(&proof, pick, bit) {
            prop_assert!(verify_consistency(old, new, &bad, &r1, &r2).is_err());
        }
        let mut bad = r1;
        bad[31] ^= 1;
        prop_assert!(verify_consistency(old, new, &proof, &bad, &r2).is_err());
        let mut bad = r2;
        bad[31] ^= 1;
        prop_assert!(verify_consistency(old, new, &proof, &r1, &bad).is_err());
        if old < new {
            prop_assert!(verify_consistency(old + 1, new, &proof, &r1, &r2).is_err() || old + 1 == new);
        }
    }
}

#[test]
fn store_proofs_equal_reference() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let log = Ledger::create(
        &dir.path().join("l.db"),
        "test/log",
        &key.verifying_key(),
        None,
    )
    .unwrap();
    let mut reference = MemoryTree::default();
    let mut n = 0u64;
    for batch in [1usize, 2, 3, 5, 8, 13, 21, 34, 55] {
        let events: Vec<String> = (0..batch)
            .map(|k| format!("{{\"n\":{},\"k\":{k}}}", n + k as u64))
            .collect();
        let receipts = log.append_batch(&events).unwrap();
        for (k, r) in receipts.iter().enumerate() {
            assert_eq!(r.index, n + k as u64);
            reference.push(r.leaf_hash);
            let entry = log.entry(r.index).unwrap();
            assert_eq!(leaf_hash(&entry), r.leaf_hash);
        }
        n += batch as u64;
        assert_eq!(log.size(), n);
        assert_eq!(log.root(), root(&reference, n).unwrap());
    }
    for size in 1..=n {
        assert_eq!(log.root_at(size).unwrap(), root(&reference, size).unwrap());
        for index in (0..size).step_by(7) {
            let p = log.prove(index, size).unwrap();
            assert_eq!(p.proof, inclusion_proof(&reference, index, size).unwrap());
            p.verify().unwrap();
        }
        for old in (1..=size).step_by(5) {
            let c = log.consistency(old, size).unwrap();
            assert_eq!(c.proof, consistency_proof(&reference, old, size).unwrap());
            c.verify().unwrap();
        }
    }
    assert!(log.prove(n, n).is_err());
    assert!(log.prove(0, n + 1).is_err());
    assert!(log.consistency(0, n).is_err());
    assert!(log.consistency(2, 1).is_err());
}

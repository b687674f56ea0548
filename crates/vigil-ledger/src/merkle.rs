//! RFC 9162 section 2.1 Merkle tree: hashing, tree heads, proofs and their verification.
//!
//! Generation works over a [`NodeSource`] that returns the hash of any *complete* subtree (a
//! power-of-two run of leaves starting at a multiple of its length); a stored log keeps those
//! hashes so that a proof costs O(log n) reads and never rehashes the tree.

use sha2::digest::{consts::U64, generic_array::GenericArray};
use sha2::{Digest, Sha256};

use crate::error::{Error, ProofError};

/// One 64-byte SHA-256 message block.
type Block = GenericArray<u8, U64>;

/// A SHA-256 hash: a leaf hash, a node hash or a tree head.
pub type Hash = [u8; 32];

/// Leaf hash `SHA-256(0x00 || data)` (RFC 9162 section 2.1.1).
///
/// A 32-byte leaf (a digest, as most of Vigil's leaves are) is one padded block, laid out here
/// and given to the compression function directly (see [`node_hash`]).
pub fn leaf_hash(data: &[u8]) -> Hash {
    if let Ok(digest) = <&Hash>::try_from(data) {
        return leaf_hash_of_digest(digest);
    }
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// Leaf hash `SHA-256(0x00 || digest)` of a 32-byte leaf: the 33-byte message pads to one
/// block, given to the compression function as [`node_hash`] gives its two.
fn leaf_hash_of_digest(digest: &Hash) -> Hash {
    let mut block = [0u8; 64];
    // FIPS 180-4 section 5.1.1: the message, a 1 bit, zeros, and the length in bits (33 * 8)
    // as a 64-bit big-endian number ending the block.
    block[1..33].copy_from_slice(digest);
    block[33] = 0x80;
    block[56..].copy_from_slice(&(33u64 * 8).to_be_bytes());
    compress(&[block.into()])
}

/// Interior node hash `SHA-256(0x01 || left || right)` (RFC 9162 section 2.1.1).
///
/// The 65-byte message always pads to the same two blocks, laid out here and given to `sha2`'s
/// compression function (SHA-NI where the CPU has it) without the incremental hasher's
/// buffering, which costs about half as much again for messages this short. Tests check both
/// layouts against `sha2::Sha256` on random input.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut first = [0u8; 64];
    first[0] = 1;
    first[1..33].copy_from_slice(left);
    first[33..].copy_from_slice(&right[..31]);
    let mut second = [0u8; 64];
    second[0] = right[31];
    second[1] = 0x80;
    second[56..].copy_from_slice(&(65u64 * 8).to_be_bytes());
    compress(&[first.into(), second.into()])
}

/// SHA-256 of message blocks already padded (FIPS 180-4 section 5.1.1), from the initial hash
/// value of section 5.3.3.
fn compress(blocks: &[Block]) -> Hash {
    let mut state: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    sha2::compress256(&mut state, blocks);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// The tree head of an empty tree: `SHA-256()` of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Where proof generation reads complete-subtree hashes from.
pub trait NodeSource {
    /// The hash of the complete subtree at `level` (0 = a leaf hash) covering leaves
    /// `[index << level, (index + 1) << level)`.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Error>;
}

/// The largest power of two strictly less than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `[start, end)`, from complete subtrees only (O(log n) reads).
pub fn range_hash<S: NodeSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash, Error> {
    let n = end.saturating_sub(start);
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start % n == 0 {
        let level = n.trailing_zeros();
        return src.node(level, start >> level);
    }
    let k = split_point(n);
    let left = range_hash(src, start, start + k)?;
    let right = range_hash(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The tree head of the first `size` leaves.
pub fn root<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, Error> {
    range_hash(src, 0, size)
}

/// Inclusion proof for leaf `index` in the tree of `size` leaves (RFC 9162 section 2.1.3.1,
/// `PATH(m, D[n])`), ordered from the leaf's sibling up to the root's child.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, Error> {
    if index >= size {
        return Err(Error::Proof(ProofError::IndexOutOfRange { index, size }));
    }
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            path.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(src, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// Consistency proof between the trees of `old` and `new` leaves (RFC 9162 section 2.1.4.1,
/// `PROOF(m, D[n])`); `0 < old <= new`, and `old == new` gives an empty proof.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, Error> {
    if old == 0 || old > new {
        return Err(Error::Proof(ProofError::BadSizes { old, new }));
    }
    let mut path = Vec::new();
    let (mut lo, mut hi, mut whole) = (0u64, new, true);
    loop {
        let len = hi - lo;
        let m = old - lo;
        if m == len {
            if !whole {
                path.push(range_hash(src, lo, hi)?);
            }
            break;
        }
        let k = split_point(len);
        if m <= k {
            path.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(src, lo, lo + k)?);
            lo += k;
            whole = false;
        }
    }
    path.reverse();
    Ok(path)
}

/// Verify an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    if r != *root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(r),
            expected: hex::encode(root),
        });
    }
    Ok(())
}

/// Verify a consistency proof between tree heads of sizes `old` and `new`
/// (RFC 9162 section 2.1.4.2). `old == new` needs an empty proof and equal roots; as in
/// transparency-dev/merkle, a proof from the empty tree (`old == 0`) is refused as meaningless.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::TooLong);
        }
        if old_root != new_root {
            return Err(ProofError::RootMismatch {
                computed: hex::encode(old_root),
                expected: hex::encode(new_root),
            });
        }
        return Ok(());
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(ProofError::TooShort);
    };
    let (seed, rest): (Hash, &[Hash]) = if old.is_power_of_two() {
        (*old_root, proof)
    } else {
        (*first, rest)
    };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    if fr != *old_root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(fr),
            expected: hex::encode(old_root),
        });
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(sr),
            expected: hex::encode(new_root),
        });
    }
    Ok(())
}

/// The right border of a tree: the hashes of the complete subtrees for the set bits of `size`,
/// largest first. Appending a leaf costs O(1) amortised hashes and yields the newly complete
/// subtrees, which a store keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    stack: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Frontier::default()
    }

    /// Rebuild the frontier of a tree of `size` leaves from its complete subtrees.
    pub fn load<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Self, Error> {
        let mut stack = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                stack.push(src.node(level, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(Frontier { size, stack })
    }

    /// A frontier from its parts, as [`Frontier::hashes`] gives them: one hash per set bit of
    /// `size`, largest subtree first. `None` when the count does not match `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (hashes.len() == size.count_ones() as usize).then_some(Frontier {
            size,
            stack: hashes,
        })
    }

    /// The complete-subtree hashes of the right border, largest subtree first (one per set
    /// bit of the size): all a store needs to keep to extend the tree later.
    pub fn hashes(&self) -> &[Hash] {
        &self.stack
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a leaf hash; `created` receives each newly complete subtree at level >= 1 as
    /// `(level, index, hash)`.
    pub fn push(&mut self, leaf: Hash, created: &mut Vec<(u32, u64, Hash)>) {
        let mut h = leaf;
        let mut level = 0u32;
        let mut idx = self.size;
        while idx & 1 == 1 {
            let Some(left) = self.stack.pop() else { break };
            h = node_hash(&left, &h);
            level += 1;
            idx >>= 1;
            created.push((level, idx, h));
        }
        self.stack.push(h);
        self.size += 1;
    }

    /// The tree head.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        let mut r = *last;
        for left in it {
            r = node_hash(left, &r);
        }
        r
    }
}

/// An in-memory tree over leaf hashes, computing complete subtrees on demand: the naive
/// reference for tests and for verifying a whole log from its entries.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    leaves: Vec<Hash>,
}

impl MemoryTree {
    /// A tree over these leaf hashes.
    pub fn new(leaves: Vec<Hash>) -> Self {
        MemoryTree { leaves }
    }

    /// Append a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }
}

impl NodeSource for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Result<Hash, Error> {
        let size = self.size();
        let missing = || Error::Proof(ProofError::MissingNode { level, index });
        if level >= 64 {
            return Err(missing());
        }
        let start = index.checked_shl(level).ok_or_else(missing)?;
        let n = 1u64 << level;
        if start.checked_add(n).is_none_or(|end| end > size) {
            return Err(missing());
        }
        if level == 0 {
            return usize::try_from(start)
                .ok()
                .and_then(|i| self.leaves.get(i).copied())
                .ok_or_else(missing);
        }
        let left = self.node(level - 1, index * 2)?;
        let right = self.node(level - 1, index * 2 + 1)?;
        Ok(node_hash(&left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    proptest! {
        // The padded one- and two-block layouts against sha2's own padding.
        #[test]
        fn fixed_layouts_are_sha256(left in any::<[u8; 32]>(), right in any::<[u8; 32]>()) {
            prop_assert_eq!(leaf_hash_of_digest(&left), reference(&[&[0], &left]));
            prop_assert_eq!(leaf_hash(&left), reference(&[&[0], &left]));
            prop_assert_eq!(node_hash(&left, &right), reference(&[&[1], &left, &right]));
        }

        #[test]
        fn leaf_hash_of_any_length_is_sha256(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(leaf_hash(&data), reference(&[&[0], &data]));
        }
    }

    #[test]
    fn rfc6962_test_vector_leaves() {
        // Certificate Transparency's test vectors (RFC 6962 hashing is RFC 9162's): the leaf
        // hash of the empty leaf and of one zero byte.
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            hex::encode(leaf_hash(&[0])),
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
        );
    }

    #[test]
    fn split_point_is_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
    }

    #[test]
    fn frontier_root_matches_memory_tree() {
        let mut f = Frontier::new();
        let mut t = MemoryTree::default();
        let mut created = Vec::new();
        for i in 0..100u32 {
            let l = leaf_hash(&i.to_be_bytes());
            f.push(l, &mut created);
            t.push(l);
            assert_eq!(f.root(), root(&t, t.size()).unwrap());
            assert_eq!(Frontier::load(&t, t.size()).unwrap(), f);
        }
        for (level, index, h) in created {
            assert_eq!(t.node(level, index).unwrap(), h);
        }
    }
}

//! Inclusion and consistency proofs in their JSON wire forms.

use serde::{Deserialize, Serialize};

use crate::error::ProofError;
use crate::merkle::{self, Hash};

/// An inclusion proof, in the JSON form `vigil log prove --json` prints:
/// `{"index":I,"size":N,"leaf_hash":"<hex>","proof":["<hex>",...],"root":"<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Leaf index.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// Leaf hash (hex).
    #[serde(with = "hex_hash")]
    pub leaf_hash: Hash,
    /// Audit path, leaf side first (hex).
    #[serde(with = "hex_hashes")]
    pub proof: Vec<Hash>,
    /// Tree head (hex).
    #[serde(with = "hex_hash")]
    pub root: Hash,
}

impl InclusionProof {
    /// Verify this proof against its own root.
    pub fn verify(&self) -> Result<(), ProofError> {
        merkle::verify_inclusion(
            &self.leaf_hash,
            self.index,
            self.size,
            &self.proof,
            &self.root,
        )
    }
}

/// A consistency proof, in the JSON form `vigil log consistency --json` prints:
/// `{"old":M,"new":N,"proof":["<hex>",...],"old_root":"<hex>","new_root":"<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// Older tree size.
    pub old: u64,
    /// Newer tree size.
    pub new: u64,
    /// Proof hashes (hex).
    #[serde(with = "hex_hashes")]
    pub proof: Vec<Hash>,
    /// Older tree head (hex).
    #[serde(with = "hex_hash")]
    pub old_root: Hash,
    /// Newer tree head (hex).
    #[serde(with = "hex_hash")]
    pub new_root: Hash,
}

impl ConsistencyProof {
    /// Verify this proof against its own roots.
    pub fn verify(&self) -> Result<(), ProofError> {
        merkle::verify_consistency(
            self.old,
            self.new,
            &self.proof,
            &self.old_root,
            &self.new_root,
        )
    }
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    pub(super) fn parse(s: &str) -> Result<[u8; 32], String> {
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(format!("hash {s:?} is not 64 hex digits"));
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| format!("hash {s:?} is not hex"))?;
        Ok(out)
    }
}

mod hex_hashes {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&hex::encode(h))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        if v.len() > 64 {
            return Err(serde::de::Error::custom("proof has more than 64 hashes"));
        }
        v.iter()
            .map(|s| super::hex_hash::parse(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Parse proof JSON read from outside (bounded: at most 64 KiB).
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProofError> {
    if bytes.len() > 64 * 1024 {
        return Err(ProofError::Json("proof JSON is over 64 KiB".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| ProofError::Json(e.to_string()))
}

impl InclusionProof {
    /// Parse the JSON form (at most 64 KiB, 64 hashes).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ProofError> {
        parse_json(bytes)
    }
}

impl ConsistencyProof {
    /// Parse the JSON form (at most 64 KiB, 64 hashes).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ProofError> {
        parse_json(bytes)
    }
}

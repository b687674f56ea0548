//! The `model_signing` v1.0 predicate (`https://model_signing/signature/v1.0`): the in-toto
//! Statement that a bundle's Sigstore bundle signs, as `model_signing` 1.x writes it in key mode.
//! The envelope, the bundle and the statement framing are `vigil-attest`'s; this module maps the
//! predicate to and from a [`Manifest`].
//!
//! Writing follows `model_signing` byte for byte where it is deterministic (see
//! [`vigil_attest::Statement::to_json`]). `model_signing` prints map keys in an unspecified order,
//! and writes `shard_size` as a float (`4.0`), which its own verifier then fails on; Vigil writes
//! an integer, which both verifiers read.
//!
//! Reading is strict where it matters for security (duplicate keys, types, names that escape the
//! bundle, the subject digest) and lenient where `model_signing` itself is (key order, extra
//! bundle fields, `shard_size` written as an integral float).

use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_attest::{AttestError, Statement, Subject};

use crate::error::BundleError;
use crate::manifest::{HashMethod, Manifest, Resource, Serialization};
use crate::path::ResourcePath;
use crate::Limits;

/// model_signing's predicate type, v1.0.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
const PREDICATE_TYPE_V01: &str = "https://model_signing/Digests/v0.1";

// ---------------------------------------------------------------- writing

#[derive(Serialize)]
pub(crate) struct PredicateOut<'a> {
    resources: Vec<ResourceOut>,
    serialization: SerializationOut<'a>,
}

#[derive(Serialize)]
struct ResourceOut {
    algorithm: String,
    name: String,
    digest: String,
}

#[derive(Serialize)]
struct SerializationOut<'a> {
    allow_symlinks: bool,
    hash_type: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ignore_paths: Vec<&'a str>,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_size: Option<u64>,
}

/// The statement (the DSSE payload) for a manifest.
pub(crate) fn statement(manifest: &Manifest) -> Statement<PredicateOut<'_>> {
    let algorithm = manifest.serialization.method.algorithm();
    Statement {
        subject: vec![Subject::sha256(
            manifest.model_name.clone(),
            &manifest.root_digest(),
        )],
        predicate_type: PREDICATE_TYPE.to_string(),
        predicate: PredicateOut {
            resources: manifest
                .resources
                .iter()
                .map(|r| ResourceOut {
                    algorithm: algorithm.clone(),
                    name: r.name(),
                    digest: hex::encode(r.digest),
                })
                .collect(),
            serialization: SerializationOut {
                allow_symlinks: manifest.serialization.allow_symlinks,
                hash_type: "sha256",
                ignore_paths: manifest
                    .serialization
                    .ignore_paths
                    .iter()
                    .map(|p| p.as_str())
                    .collect(),
                method: match manifest.serialization.method {
                    HashMethod::Files => "files",
                    HashMethod::Shards { .. } => "shards",
                },
                shard_size: match manifest.serialization.method {
                    HashMethod::Files => None,
                    HashMethod::Shards { shard_size } => Some(shard_size),
                },
            },
        },
    }
}

// ---------------------------------------------------------------- reading

#[derive(Deserialize)]
struct PredicateIn {
    serialization: SerializationIn,
    resources: Vec<ResourceIn>,
}

#[derive(Deserialize)]
struct SerializationIn {
    method: String,
    hash_type: String,
    allow_symlinks: bool,
    #[serde(default)]
    ignore_paths: Vec<String>,
    #[serde(default)]
    shard_size: Option<serde_json::Number>,
}

#[derive(Deserialize)]
struct ResourceIn {
    name: String,
    algorithm: String,
    digest: String,
}

fn parse_digest(hex_text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    Some(out)
}

/// Parses and checks the signed statement: types, serialization, every resource name, duplicate
/// resources, and the subject digest over the resources.
pub(crate) fn parse_statement(
    payload: &[u8],
    path: &Path,
    limits: &Limits,
) -> Result<Manifest, BundleError> {
    let bad = |reason: String| BundleError::Signature {
        path: path.to_path_buf(),
        error: AttestError::Statement(reason),
    };
    let st = Statement::<PredicateIn>::parse(payload, PREDICATE_TYPE).map_err(|e| match e {
        AttestError::PredicateType { found, .. } if found == PREDICATE_TYPE_V01 => bad(
            "predicate type v0.1 (model_signing before 1.0) records no serialization, so added \
             files cannot be detected; re-sign the model"
                .into(),
        ),
        error => BundleError::Signature {
            path: path.to_path_buf(),
            error,
        },
    })?;
    let [subject] = st.subject.as_slice() else {
        return Err(bad(format!(
            "expected one subject, found {}",
            st.subject.len()
        )));
    };
    let predicate = st.predicate;
    let ser = &predicate.serialization;
    if ser.hash_type != "sha256" {
        return Err(bad(format!(
            "hash_type '{}' is not supported (vigil verifies sha256)",
            ser.hash_type
        )));
    }
    let method = match ser.method.as_str() {
        "files" => HashMethod::Files,
        "shards" => {
            let n = ser
                .shard_size
                .as_ref()
                .ok_or_else(|| bad("shards without shard_size".into()))?;
            let size = n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.0e15)
                        .map(|f| f as u64)
                })
                .filter(|s| *s > 0)
                .ok_or_else(|| bad(format!("shard_size {n} is not a positive integer")))?;
            HashMethod::Shards { shard_size: size }
        }
        other => {
            return Err(bad(format!(
                "serialization method '{other}' is not supported"
            )))
        }
    };
    let mut ignore_paths = Vec::new();
    for p in &ser.ignore_paths {
        let trimmed = p.trim_end_matches('/');
        ignore_paths
            .push(ResourcePath::parse(trimmed).map_err(|e| bad(format!("ignore path: {e}")))?);
    }
    if predicate.resources.len() as u64 > limits.max_files {
        return Err(BundleError::Limit {
            what: format!("{}: resources in the signature", path.display()),
            limit: limits.max_files,
        });
    }
    let algorithm = method.algorithm();
    let mut resources = Vec::with_capacity(predicate.resources.len());
    for r in &predicate.resources {
        if r.algorithm != algorithm {
            return Err(bad(format!(
                "resource '{}' has algorithm '{}', expected '{algorithm}'",
                r.name, r.algorithm
            )));
        }
        let digest = parse_digest(&r.digest).ok_or_else(|| {
            bad(format!(
                "resource '{}': digest is not 64 hex digits",
                r.name
            ))
        })?;
        let (name, range) = match method {
            HashMethod::Files => (r.name.as_str(), None),
            HashMethod::Shards { shard_size } => {
                let mut parts = r.name.rsplitn(3, ':');
                let (end, start, name) = match (parts.next(), parts.next(), parts.next()) {
                    (Some(e), Some(s), Some(n)) => (e, s, n),
                    _ => {
                        return Err(bad(format!(
                            "shard name '{}' is not path:start:end",
                            r.name
                        )))
                    }
                };
                let (Ok(start), Ok(end)) = (start.parse::<u64>(), end.parse::<u64>()) else {
                    return Err(bad(format!("shard name '{}' has bad offsets", r.name)));
                };
                if end <= start || end - start > shard_size {
                    return Err(bad(format!("shard '{}' has an impossible range", r.name)));
                }
                (name, Some((start, end)))
            }
        };
        let path = ResourcePath::parse(name).map_err(|e| bad(format!("resource name: {e}")))?;
        resources.push(Resource {
            path,
            range,
            digest,
        });
    }
    let mut manifest = Manifest {
        model_name: subject.name.clone(),
        serialization: Serialization {
            method,
            allow_symlinks: ser.allow_symlinks,
            ignore_paths,
        },
        resources,
    };
    manifest.sort();
    if manifest
        .resources
        .windows(2)
        .any(|w| w[0].sort_key() == w[1].sort_key())
    {
        return Err(bad("a resource is listed twice".into()));
    }
    let subject_sha256 = subject.digest.get("sha256").map_or("", String::as_str);
    let expected = parse_digest(subject_sha256)
        .ok_or_else(|| bad("subject digest is not 64 hex digits".into()))?;
    if manifest.root_digest() != expected {
        return Err(bad(format!(
            "subject digest {} does not match the resources (they hash to {})",
            subject_sha256,
            hex::encode(manifest.root_digest())
        )));
    }
    Ok(manifest)
}

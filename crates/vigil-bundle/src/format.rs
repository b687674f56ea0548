//! The wire format: a Sigstore bundle v0.3 (JSON) holding a DSSE envelope whose payload is an
//! in-toto Statement v1 with predicate type `https://model_signing/signature/v1.0`, exactly as
//! `model_signing` 1.x writes in its key mode.
//!
//! Writing follows `model_signing` byte for byte where it is deterministic: the bundle is compact
//! JSON (`mediaType`, `verificationMaterial`, `dsseEnvelope`), the payload is the statement as
//! protobuf's `MessageToJson` prints it (two-space indent, `": "`, non-ASCII escaped as
//! `\uXXXX`). `model_signing` prints map keys in an unspecified order, and writes `shard_size`
//! as a float (`4.0`), which its own verifier then fails on; Vigil writes an integer, which both
//! verifiers read.
//!
//! Reading is strict where it matters for security (duplicate keys, types, names that escape the
//! bundle, the subject digest) and lenient where `model_signing` itself is (key order, extra
//! bundle fields, `shard_size` written as an integral float).

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::BundleError;
use crate::manifest::{HashMethod, Manifest, Resource, Serialization};
use crate::path::ResourcePath;
use crate::Limits;

/// Sigstore bundle media type written by `model_signing` 1.x.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1 type.
pub(crate) const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// model_signing's predicate type, v1.0.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
const PREDICATE_TYPE_V01: &str = "https://model_signing/Digests/v0.1";

/// DSSE pre-authentication encoding (DSSE protocol v1.0):
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

// ---------------------------------------------------------------- writing

#[derive(Serialize)]
struct StatementOut<'a> {
    #[serde(rename = "_type")]
    ty: &'a str,
    subject: [SubjectOut<'a>; 1],
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    predicate: PredicateOut<'a>,
}

#[derive(Serialize)]
struct SubjectOut<'a> {
    name: &'a str,
    digest: DigestOut,
}

#[derive(Serialize)]
struct DigestOut {
    sha256: String,
}

#[derive(Serialize)]
struct PredicateOut<'a> {
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

/// The statement JSON (the DSSE payload) for a manifest.
pub(crate) fn statement_json(manifest: &Manifest) -> String {
    let algorithm = manifest.serialization.method.algorithm();
    let statement = StatementOut {
        ty: STATEMENT_TYPE,
        subject: [SubjectOut {
            name: &manifest.model_name,
            digest: DigestOut {
                sha256: hex::encode(manifest.root_digest()),
            },
        }],
        predicate_type: PREDICATE_TYPE,
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
    };
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serializing plain structs of strings and integers into memory cannot fail.
    let _ = statement.serialize(&mut ser);
    ascii_escape(&String::from_utf8_lossy(&buf))
}

/// Escapes every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF), as Python's
/// `json` does with `ensure_ascii`. Only string contents can hold such characters.
fn ascii_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleJson {
    media_type: String,
    verification_material: VerificationMaterial,
    dsse_envelope: Envelope,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<PublicKeyHint>,
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(default, skip_serializing)]
    certificate: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    x509_certificate_chain: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct PublicKeyHint {
    #[serde(default)]
    hint: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
struct EnvelopeSignature {
    sig: String,
    #[serde(default)]
    keyid: String,
}

/// The signature file: compact JSON, as `model_signing` writes it (no trailing newline).
pub(crate) fn bundle_json(payload: &[u8], signature: &[u8], key_hint: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle = BundleJson {
        media_type: BUNDLE_MEDIA_TYPE.to_string(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyHint {
                hint: Some(key_hint.to_string()),
            }),
            tlog_entries: Vec::new(),
            certificate: None,
            x509_certificate_chain: None,
        },
        dsse_envelope: Envelope {
            payload: b64.encode(payload),
            payload_type: PAYLOAD_TYPE.to_string(),
            signatures: vec![EnvelopeSignature {
                sig: b64.encode(signature),
                keyid: String::new(),
            }],
        },
    };
    serde_json::to_string(&bundle).unwrap_or_default()
}

// ---------------------------------------------------------------- reading

/// A signature file, parsed but not yet checked.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBundle {
    /// The DSSE payload type.
    pub(crate) payload_type: String,
    /// The DSSE payload bytes (the statement JSON).
    pub(crate) payload: Vec<u8>,
    /// The signature bytes.
    pub(crate) signature: Vec<u8>,
    /// The key hint (SHA-256 of the signer's public key PEM), when present.
    pub(crate) key_hint: Option<String>,
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let e = &base64::engine::general_purpose::STANDARD;
    e.decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::URL_SAFE.decode(text).ok())
}

/// Parses a signature file's bytes.
pub(crate) fn parse_bundle(bytes: &[u8], path: &Path) -> Result<ParsedBundle, BundleError> {
    let bad = |reason: String| BundleError::SignatureFormat {
        path: path.to_path_buf(),
        reason,
    };
    let bundle: BundleJson =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a Sigstore bundle: {e}")))?;
    if !bundle
        .media_type
        .starts_with("application/vnd.dev.sigstore.bundle")
    {
        return Err(bad(format!("unknown mediaType '{}'", bundle.media_type)));
    }
    let vm = &bundle.verification_material;
    if vm.certificate.is_some() || vm.x509_certificate_chain.is_some() {
        return Err(bad(
            "this signature was made with a certificate (Sigstore or certificate mode); \
             vigil verifies key-mode signatures"
                .into(),
        ));
    }
    let env = &bundle.dsse_envelope;
    let [sig] = env.signatures.as_slice() else {
        return Err(bad(format!(
            "expected exactly one DSSE signature, found {}",
            env.signatures.len()
        )));
    };
    let payload = decode_b64(&env.payload).ok_or_else(|| bad("payload is not base64".into()))?;
    let signature = decode_b64(&sig.sig).ok_or_else(|| bad("signature is not base64".into()))?;
    Ok(ParsedBundle {
        payload_type: env.payload_type.clone(),
        payload,
        signature,
        key_hint: vm
            .public_key
            .as_ref()
            .and_then(|k| k.hint.clone())
            .filter(|h| !h.is_empty()),
    })
}

#[derive(Deserialize)]
struct StatementIn {
    #[serde(rename = "_type")]
    ty: String,
    subject: Vec<SubjectIn>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: Option<PredicateIn>,
}

#[derive(Deserialize)]
struct SubjectIn {
    name: String,
    digest: DigestIn,
}

#[derive(Deserialize)]
struct DigestIn {
    sha256: String,
}

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
    let bad = |reason: String| BundleError::Statement {
        path: path.to_path_buf(),
        reason,
    };
    let st: StatementIn = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("not an in-toto statement: {e}")))?;
    if st.ty != STATEMENT_TYPE {
        return Err(bad(format!(
            "_type is '{}', expected '{STATEMENT_TYPE}'",
            st.ty
        )));
    }
    if st.predicate_type == PREDICATE_TYPE_V01 {
        return Err(bad(
            "predicate type v0.1 (model_signing before 1.0) records no serialization, so added \
             files cannot be detected; re-sign the model"
                .into(),
        ));
    }
    if st.predicate_type != PREDICATE_TYPE {
        return Err(bad(format!(
            "predicateType is '{}', expected '{PREDICATE_TYPE}'",
            st.predicate_type
        )));
    }
    let [subject] = st.subject.as_slice() else {
        return Err(bad(format!(
            "expected one subject, found {}",
            st.subject.len()
        )));
    };
    let predicate = st.predicate.ok_or_else(|| bad("no predicate".into()))?;
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
    let expected = parse_digest(&subject.digest.sha256)
        .ok_or_else(|| bad("subject digest is not 64 hex digits".into()))?;
    if manifest.root_digest() != expected {
        return Err(bad(format!(
            "subject digest {} does not match the resources (they hash to {})",
            subject.digest.sha256,
            hex::encode(manifest.root_digest())
        )));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_dsse_spec_example() {
        // DSSE protocol.md test vector: PAE("http://example.com/HelloWorld", "hello world").
        let got = pae("http://example.com/HelloWorld", b"hello world");
        assert_eq!(
            got,
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn ascii_escape_uses_surrogates() {
        assert_eq!(ascii_escape("\"ü😀\""), "\"\\u00fc\\ud83d\\ude00\"");
    }
}

//! The Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`) in its public-key
//! form, as OpenSSF `model_signing` 1.x writes it in key mode: a key hint, no transparency log
//! entries, and one DSSE envelope.
//!
//! Writing is byte for byte what `model_signing` writes: compact JSON with the fields in the
//! order `mediaType`, `verificationMaterial` (`publicKey.hint`, `tlogEntries`), `dsseEnvelope`
//! (`payload`, `payloadType`, `signatures` with `sig` and an empty `keyid`), standard base64, no
//! trailing newline. Reading accepts any `application/vnd.dev.sigstore.bundle*` media type,
//! unknown extra fields and URL-safe base64, and refuses certificate material (Sigstore keyless
//! and certificate modes are not verified here) and envelopes with other than one signature.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use vigil_core::{PublicKey, Signer};

use crate::dsse::{Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE};
use crate::error::AttestError;

/// The Sigstore bundle media type `model_signing` 1.x writes.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A Sigstore bundle in public-key form: one DSSE envelope and the hint of the key that signed
/// it (the key id, hex SHA-256 of the public key PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreBundle {
    /// The key hint, when the bundle has one.
    pub key_hint: Option<String>,
    /// The envelope (exactly one signature).
    pub envelope: Envelope,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleJson {
    media_type: String,
    verification_material: VerificationMaterial,
    dsse_envelope: EnvelopeJson,
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
struct EnvelopeJson {
    payload: String,
    payload_type: String,
    signatures: Vec<SignatureJson>,
}

#[derive(Serialize, Deserialize)]
struct SignatureJson {
    sig: String,
    #[serde(default)]
    keyid: String,
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let e = &base64::engine::general_purpose::STANDARD;
    e.decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::URL_SAFE.decode(text).ok())
}

impl SigstoreBundle {
    /// Signs an in-toto statement's JSON bytes with `signer`: the DSSE envelope over them, with
    /// the signer's key id as the hint.
    pub fn sign_statement(
        statement_json: Vec<u8>,
        signer: &dyn Signer,
    ) -> Result<SigstoreBundle, AttestError> {
        let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement_json, signer)?;
        Ok(SigstoreBundle {
            key_hint: Some(signer.public_key().key_id().to_string()),
            envelope,
        })
    }

    /// The bundle as `model_signing` writes it (compact JSON, no trailing newline).
    pub fn to_json(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let bundle = BundleJson {
            media_type: BUNDLE_MEDIA_TYPE.to_string(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyHint {
                    hint: Some(self.key_hint.clone().unwrap_or_default()),
                }),
                tlog_entries: Vec::new(),
                certificate: None,
                x509_certificate_chain: None,
            },
            dsse_envelope: EnvelopeJson {
                payload: b64.encode(&self.envelope.payload),
                payload_type: self.envelope.payload_type.clone(),
                signatures: self
                    .envelope
                    .signatures
                    .iter()
                    .map(|s| SignatureJson {
                        sig: b64.encode(&s.sig),
                        keyid: s.keyid.clone(),
                    })
                    .collect(),
            },
        };
        // Plain structs of strings into memory: serialization cannot fail.
        serde_json::to_string(&bundle).unwrap_or_default()
    }

    /// Parses a bundle's bytes. Nothing is verified yet: see [`SigstoreBundle::verify`].
    pub fn parse(bytes: &[u8]) -> Result<SigstoreBundle, AttestError> {
        let bad = AttestError::Malformed;
        let bundle: BundleJson = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not a Sigstore bundle: {e}")))?;
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
        let payload =
            decode_b64(&env.payload).ok_or_else(|| bad("payload is not base64".into()))?;
        let signature =
            decode_b64(&sig.sig).ok_or_else(|| bad("signature is not base64".into()))?;
        Ok(SigstoreBundle {
            key_hint: vm
                .public_key
                .as_ref()
                .and_then(|k| k.hint.clone())
                .filter(|h| !h.is_empty()),
            envelope: Envelope {
                payload_type: env.payload_type.clone(),
                payload,
                signatures: vec![EnvelopeSignature {
                    sig: signature,
                    keyid: sig.keyid.clone(),
                }],
            },
        })
    }

    /// The in-toto statement bytes, if `key` signed this bundle: the key hint (when present) must
    /// name `key`, the payload type must be in-toto's, and the signature must verify.
    pub fn verify(&self, key: &PublicKey) -> Result<&[u8], AttestError> {
        let key_id = key.key_id();
        if let Some(hint) = &self.key_hint {
            if !hint.eq_ignore_ascii_case(key_id.as_str()) {
                return Err(AttestError::WrongKey {
                    hint: hint.clone(),
                    key_id,
                });
            }
        }
        self.envelope.verify(IN_TOTO_PAYLOAD_TYPE, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::{KeyAlgorithm, SigningKey};

    #[test]
    fn round_trip_and_wrong_key() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
        let b = SigstoreBundle::sign_statement(b"{\"a\":1}".to_vec(), &key).unwrap();
        let text = b.to_json();
        assert!(text.starts_with(
            "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\
             \"verificationMaterial\":{\"publicKey\":{\"hint\":\""
        ));
        assert!(text.ends_with("\"keyid\":\"\"}]}}"), "{text}");
        let back = SigstoreBundle::parse(text.as_bytes()).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.verify(&key.public_key()).unwrap(), b"{\"a\":1}");
        let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).public_key();
        assert!(matches!(
            back.verify(&other),
            Err(AttestError::WrongKey { .. })
        ));
    }

    #[test]
    fn certificates_and_several_signatures_are_refused() {
        let cert = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial":{"certificate":{"rawBytes":"AA=="}},
            "dsseEnvelope":{"payload":"","payloadType":"x","signatures":[{"sig":""}]}}"#;
        let e = SigstoreBundle::parse(cert).unwrap_err().to_string();
        assert!(e.contains("certificate"), "{e}");
        let two = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial":{},
            "dsseEnvelope":{"payload":"","payloadType":"x","signatures":[{"sig":""},{"sig":""}]}}"#;
        let e = SigstoreBundle::parse(two).unwrap_err().to_string();
        assert!(e.contains("exactly one DSSE signature, found 2"), "{e}");
    }
}

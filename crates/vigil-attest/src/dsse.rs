//! DSSE (Dead Simple Signing Envelope, protocol v1.0): the pre-authentication encoding and an
//! envelope signed through [`vigil_core::Signer`].

use vigil_core::{PublicKey, Signer};

use crate::error::AttestError;

/// DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE pre-authentication encoding (DSSE protocol v1.0), the bytes that are signed:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal.
///
/// ```
/// let pae = vigil_attest::pae("http://example.com/HelloWorld", b"hello world");
/// assert_eq!(pae, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world");
/// ```
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
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

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The signature over [`pae`] of the payload type and payload.
    pub sig: Vec<u8>,
    /// The envelope's own key id field (`model_signing` leaves it empty).
    pub keyid: String,
}

/// A DSSE envelope: a typed payload and its signatures. It is plain data; [`Envelope::verify`]
/// says whether a key signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// What the payload is (`application/vnd.in-toto+json` for a statement).
    pub payload_type: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// Signs `payload` of type `payload_type` with `signer` (one signature, empty key id field).
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signer: &dyn Signer,
    ) -> Result<Envelope, AttestError> {
        let sig = signer
            .sign(&pae(payload_type, &payload))
            .map_err(AttestError::Signing)?;
        Ok(Envelope {
            payload_type: payload_type.to_string(),
            payload,
            signatures: vec![EnvelopeSignature {
                sig,
                keyid: String::new(),
            }],
        })
    }

    /// The payload, if `key` made one of the signatures and the payload type is `payload_type`.
    pub fn verify(&self, payload_type: &str, key: &PublicKey) -> Result<&[u8], AttestError> {
        if self.payload_type != payload_type {
            return Err(AttestError::Malformed(format!(
                "payloadType '{}', expected '{payload_type}'",
                self.payload_type
            )));
        }
        let message = pae(&self.payload_type, &self.payload);
        let mut last = None;
        for s in &self.signatures {
            match key.verify(&message, &s.sig) {
                Ok(()) => return Ok(&self.payload),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => AttestError::BadSignature(e),
            None => AttestError::Malformed("the envelope has no signature".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::{KeyAlgorithm, SigningKey};

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
    fn sign_then_verify_and_refuse_another_key_or_type() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519);
        let env = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, b"{}".to_vec(), &key).unwrap();
        assert_eq!(
            env.verify(IN_TOTO_PAYLOAD_TYPE, &key.public_key()).unwrap(),
            b"{}"
        );
        let other = SigningKey::generate(KeyAlgorithm::Ed25519).public_key();
        assert!(matches!(
            env.verify(IN_TOTO_PAYLOAD_TYPE, &other),
            Err(AttestError::BadSignature(_))
        ));
        assert!(matches!(
            env.verify("text/plain", &key.public_key()),
            Err(AttestError::Malformed(_))
        ));
    }
}

//! C2SP signed-note (<https://c2sp.org/signed-note>) with Ed25519 signatures.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
//! `— <key name> <base64(key hash || signature)>`. The key hash is the first four bytes of
//! `SHA-256(name || "\n" || 0x01 || public key)`, big-endian.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::sync::Arc;

use ed25519_dalek::{Signature, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use vigil_core::Signer;

use crate::error::NoteError;

/// The signature-type byte of Ed25519 in signed-note.
const ALG_ED25519: u8 = 0x01;
/// The signature-type byte of a timestamped Ed25519 witness cosignature (C2SP
/// tlog-cosignature, `cosignature/v1`).
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The prefix of a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Bounds on a note read from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteLimits {
    /// Largest note in bytes (default 64 KiB).
    pub max_bytes: usize,
    /// Most signature lines (default 100, as golang.org/x/mod/sumdb/note).
    pub max_signatures: usize,
}

impl Default for NoteLimits {
    fn default() -> Self {
        NoteLimits {
            max_bytes: 64 * 1024,
            max_signatures: 100,
        }
    }
}

/// The 4-byte key hash of an Ed25519 key named `name`.
pub fn key_hash(name: &str, key: &VerifyingKey) -> u32 {
    typed_key_hash(name, ALG_ED25519, key)
}

/// The 4-byte key id of an Ed25519 witness key named `name` for `cosignature/v1`:
/// `SHA-256(name || "\n" || 0x04 || key)[:4]` (C2SP tlog-cosignature).
pub fn cosignature_key_hash(name: &str, key: &VerifyingKey) -> u32 {
    typed_key_hash(name, ALG_COSIGNATURE_V1, key)
}

fn typed_key_hash(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(key.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The message a `cosignature/v1` signs: `cosignature/v1\ntime <t>\n` then the note text.
fn cosigned_message(time: u64, text: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::BadKeyName(name.to_string()));
    }
    Ok(())
}

/// An Ed25519 key that signs notes under a name. The key stands behind a
/// [`vigil_core::Signer`], so a key file, a token or a remote signer can sign checkpoints.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    signer: Arc<dyn Signer>,
    key: VerifyingKey,
    hash: u32,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name, self.hash)
    }
}

impl NoteSigner {
    /// A signer named `name` (no spaces, no '+') over a raw Ed25519 key.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        NoteSigner::from_signer(
            name,
            Arc::new(vigil_core::SigningKey::ed25519_from_seed(&key.to_bytes())),
        )
    }

    /// A signer named `name` (no spaces, no '+') over any [`Signer`]. C2SP signed notes carry
    /// Ed25519 signatures (type 0x01); a signer of another algorithm is refused, naming it.
    pub fn from_signer(name: &str, signer: Arc<dyn Signer>) -> Result<Self, NoteError> {
        check_name(name)?;
        let public = signer.public_key();
        let Some(raw) = public.ed25519_bytes() else {
            return Err(NoteError::UnsupportedKey(format!(
                "checkpoints are signed with Ed25519 (C2SP signed-note type 0x01), but the key is {}",
                public.algorithm()
            )));
        };
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|e| NoteError::UnsupportedKey(format!("Ed25519 public key: {e}")))?;
        let hash = key_hash(name, &key);
        Ok(NoteSigner {
            name: name.to_string(),
            signer,
            key,
            hash,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key,
            hash: self.hash,
            cosignature_hash: None,
        }
    }

    /// A raw Ed25519 signature of `message` (64 bytes) by this key.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> Result<[u8; 64], NoteError> {
        let sig = self
            .signer
            .sign(message)
            .map_err(|e| NoteError::Signing(e.to_string()))?;
        <[u8; 64]>::try_from(sig.as_slice()).map_err(|_| {
            NoteError::Signing(format!(
                "the signer returned {} bytes, not a 64-byte Ed25519 signature",
                sig.len()
            ))
        })
    }

    fn sign_line(&self, text: &str) -> Result<String, NoteError> {
        let sig = self.sign_raw(text.as_bytes())?;
        let mut bytes = self.hash.to_be_bytes().to_vec();
        bytes.extend_from_slice(&sig);
        Ok(format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(bytes)))
    }
}

/// An Ed25519 public key trusted under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    hash: u32,
    /// Key id of a `cosignature/v1` by the same key, when this verifier accepts one.
    cosignature_hash: Option<u32>,
}

impl NoteVerifier {
    /// A verifier named `name` (no spaces, no '+').
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        let hash = key_hash(name, &key);
        Ok(NoteVerifier {
            name: name.to_string(),
            key,
            hash,
            cosignature_hash: None,
        })
    }

    /// The same verifier, also satisfied by a timestamped witness cosignature (C2SP
    /// `cosignature/v1`, key id type 0x04) by the same key: for witnesses, which may sign
    /// either way.
    pub fn accepting_cosignature_v1(mut self) -> Self {
        self.cosignature_hash = Some(cosignature_key_hash(&self.name, &self.key));
        self
    }

    /// A verifier named `name` for a public key loaded by `vigil-core` (a PEM file). Only
    /// Ed25519 keys can verify C2SP signed notes; another algorithm is refused, naming it.
    pub fn from_public_key(name: &str, key: &vigil_core::PublicKey) -> Result<Self, NoteError> {
        let Some(raw) = key.ed25519_bytes() else {
            return Err(NoteError::UnsupportedKey(format!(
                "checkpoints are signed with Ed25519 (C2SP signed-note type 0x01), but the key is {}",
                key.algorithm()
            )));
        };
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|e| NoteError::UnsupportedKey(format!("Ed25519 public key: {e}")))?;
        NoteVerifier::new(name, key)
    }

    /// Parse a verifier key string `name+hash+base64(0x01 || key)` as golang.org/x/mod's
    /// `note.NewVerifier` reads it; the hash must match.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::BadVerifierKey(vkey.to_string());
        let (name, rest) = vkey.split_once('+').ok_or_else(bad)?;
        let (hash_hex, b64) = rest.split_once('+').ok_or_else(bad)?;
        if hash_hex.len() != 8 || !hash_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let hash = u32::from_str_radix(hash_hex, 16).map_err(|_| bad())?;
        let raw = B64.decode(b64).map_err(|_| bad())?;
        let (alg, key) = raw.split_first().ok_or_else(bad)?;
        if *alg != ALG_ED25519 {
            return Err(bad());
        }
        let key: [u8; 32] = key.try_into().map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| bad())?;
        let v = NoteVerifier::new(name, key).map_err(|_| bad())?;
        if v.hash != hash {
            return Err(bad());
        }
        Ok(v)
    }

    /// The verifier key string `name+hash+base64(0x01 || key)`.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.hash, B64.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key hash.
    pub key_hash: u32,
    /// Signature bytes after the key hash.
    pub signature: Vec<u8>,
}

/// A parsed signed note: its text and signature lines (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Which signatures of a note verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// `name+hash` of every trusted key whose signature verified, in note order.
    pub verified: Vec<String>,
    /// `name+hash` of every signature by a key not among the trusted ones (not checked).
    pub unverified: Vec<String>,
    /// `(name+hash, time)` of every verified `cosignature/v1`, with the time it states.
    pub cosignatures: Vec<(String, u64)>,
}

/// Splits a `cosignature/v1` signature into its time and Ed25519 signature; `None` when it is
/// not 8 + 64 bytes or the time exceeds 2^63-1.
fn cosignature_parts(bytes: &[u8]) -> Option<(u64, Signature)> {
    let (time, sig) = bytes.split_first_chunk::<8>()?;
    let time = u64::from_be_bytes(*time);
    if time > i64::MAX as u64 {
        return None;
    }
    Some((time, Signature::from_slice(sig).ok()?))
}

impl Note {
    /// Sign `text` (non-empty, ending in a newline, no blank line at its end) with each signer.
    pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
        check_text(text)?;
        if signers.is_empty() {
            return Err(NoteError::Malformed("no signer given".into()));
        }
        let mut out = String::with_capacity(text.len() + 120 * signers.len());
        out.push_str(text);
        out.push('\n');
        for s in signers {
            out.push_str(&s.sign_line(text)?);
        }
        Ok(out)
    }

    /// Parse a signed note (syntax only; see [`Note::verify`]).
    pub fn parse(msg: &[u8], limits: &NoteLimits) -> Result<Note, NoteError> {
        let bad = |why: &str| NoteError::Malformed(why.to_string());
        if msg.len() > limits.max_bytes {
            return Err(bad("note is larger than the limit"));
        }
        let msg = std::str::from_utf8(msg).map_err(|_| bad("not UTF-8"))?;
        if msg.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad("control character other than newline"));
        }
        let split = msg
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line before the signatures"))?;
        let text = msg.get(..split + 1).ok_or_else(|| bad("bad split"))?;
        let sigs = msg.get(split + 2..).ok_or_else(|| bad("bad split"))?;
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(bad(
                "signature block must be non-empty and end in a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs.split_terminator('\n') {
            let line = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| bad("signature line does not start with an em dash"))?;
            let (name, b64) = line
                .split_once(' ')
                .ok_or_else(|| bad("signature line has no space"))?;
            check_name(name).map_err(|_| bad("bad key name in signature line"))?;
            let raw = B64
                .decode(b64)
                .map_err(|_| bad("signature is not standard base64"))?;
            if b64.is_empty() || raw.len() < 5 {
                return Err(bad("signature too short"));
            }
            let (hash, sig) = raw.split_at(4);
            let key_hash = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_hash,
                signature: sig.to_vec(),
            });
            if signatures.len() > limits.max_signatures {
                return Err(bad("too many signatures"));
            }
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// The signed text (ends in a newline).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Add a co-signature (replacing any earlier one by the same key).
    pub fn add_signature(&mut self, signer: &NoteSigner) -> Result<(), NoteError> {
        let sig = signer.sign_raw(self.text.as_bytes())?;
        self.signatures
            .retain(|s| !(s.name == signer.name && s.key_hash == signer.hash));
        self.signatures.push(NoteSignature {
            name: signer.name.clone(),
            key_hash: signer.hash,
            signature: sig.to_vec(),
        });
        Ok(())
    }

    /// Add a timestamped witness cosignature (C2SP tlog-cosignature `cosignature/v1`: key id
    /// type 0x04, then the 8-byte big-endian `time` and the Ed25519 signature of
    /// `cosignature/v1\ntime <time>\n<note text>`), replacing an earlier one by the same key.
    pub fn add_cosignature(&mut self, signer: &NoteSigner, time: u64) -> Result<(), NoteError> {
        if time > i64::MAX as u64 {
            return Err(NoteError::Malformed(format!(
                "cosignature time {time} exceeds 2^63-1"
            )));
        }
        let hash = cosignature_key_hash(&signer.name, &signer.key);
        let sig = signer.sign_raw(cosigned_message(time, &self.text).as_bytes())?;
        self.signatures
            .retain(|s| !(s.name == signer.name && s.key_hash == hash));
        let mut bytes = time.to_be_bytes().to_vec();
        bytes.extend_from_slice(&sig);
        self.signatures.push(NoteSignature {
            name: signer.name.clone(),
            key_hash: hash,
            signature: bytes,
        });
        Ok(())
    }

    /// The note in its wire form.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            let mut raw = s.key_hash.to_be_bytes().to_vec();
            raw.extend_from_slice(&s.signature);
            out.push_str(&format!("{SIG_PREFIX}{} {}\n", s.name, B64.encode(raw)));
        }
        out
    }

    /// Verify the note against the keys the caller trusts: **every** trusted key must have
    /// signed and its signature must verify. Signatures by other keys are listed as
    /// unverified; repeated identical signature lines are counted once.
    pub fn verify(&self, trusted: &[NoteVerifier]) -> Result<Verification, NoteError> {
        if trusted.is_empty() {
            return Err(NoteError::Malformed("no trusted key given".into()));
        }
        let mut verified = Vec::new();
        let mut unverified = Vec::new();
        let mut cosigned = Vec::new();
        let mut satisfied = vec![false; trusted.len()];
        for s in &self.signatures {
            let id = format!("{}+{:08x}", s.name, s.key_hash);
            let found = trusted.iter().enumerate().find(|(_, v)| {
                v.name == s.name && (v.hash == s.key_hash || v.cosignature_hash == Some(s.key_hash))
            });
            match found {
                Some((i, v)) => {
                    let ok = if v.hash == s.key_hash {
                        Signature::from_slice(&s.signature)
                            .is_ok_and(|sig| v.key.verify(self.text.as_bytes(), &sig).is_ok())
                    } else {
                        match cosignature_parts(&s.signature) {
                            Some((time, sig)) => {
                                let message = cosigned_message(time, &self.text);
                                let ok = v.key.verify(message.as_bytes(), &sig).is_ok();
                                if ok {
                                    cosigned.push((id.clone(), time));
                                }
                                ok
                            }
                            None => false,
                        }
                    };
                    if !ok {
                        return Err(NoteError::InvalidSignature {
                            name: s.name.clone(),
                            key_hash: s.key_hash,
                        });
                    }
                    if let Some(flag) = satisfied.get_mut(i) {
                        *flag = true;
                    }
                    if !verified.contains(&id) {
                        verified.push(id);
                    }
                }
                None => {
                    if !unverified.contains(&id) {
                        unverified.push(id);
                    }
                }
            }
        }
        for (v, ok) in trusted.iter().zip(&satisfied) {
            if !ok {
                return Err(NoteError::MissingSignature {
                    name: v.name.clone(),
                    key_hash: v.hash,
                });
            }
        }
        Ok(Verification {
            verified,
            unverified,
            cosignatures: cosigned,
        })
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    let bad = |why: &str| NoteError::Malformed(why.to_string());
    if text.is_empty() || !text.ends_with('\n') {
        return Err(bad("text must be non-empty and end in a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(bad("text must not hold a blank line"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad("control character other than newline"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signed() -> (Note, NoteSigner, NoteSigner) {
        let log = NoteSigner::new("example.com/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let witness = NoteSigner::new("w.example/w1", SigningKey::from_bytes(&[2; 32])).unwrap();
        let text = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let note = Note::sign(text, &[&log]).unwrap();
        let note = Note::parse(note.as_bytes(), &NoteLimits::default()).unwrap();
        (note, log, witness)
    }

    #[test]
    fn cosignature_v1_round_trips_and_states_its_time() {
        let (mut note, log, witness) = signed();
        note.add_cosignature(&witness, 1_679_315_147).unwrap();
        let wire = note.to_text();
        let note = Note::parse(wire.as_bytes(), &NoteLimits::default()).unwrap();
        let trusted = [
            log.verifier(),
            witness.verifier().accepting_cosignature_v1(),
        ];
        let v = note.verify(&trusted).unwrap();
        assert_eq!(v.cosignatures.len(), 1);
        assert_eq!(v.cosignatures[0].1, 1_679_315_147);
        let line = wire.lines().last().unwrap();
        let raw = B64.decode(line.rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(raw.len(), 4 + 8 + 64);
        let id = cosignature_key_hash("w.example/w1", &witness.verifier().key);
        assert_eq!(raw[..4], id.to_be_bytes());
        assert_eq!(raw[4..12], 1_679_315_147u64.to_be_bytes());
        // A verifier that wants a plain note signature does not take a cosignature.
        assert!(matches!(
            note.verify(&[log.verifier(), witness.verifier()]),
            Err(NoteError::MissingSignature { .. })
        ));
    }

    #[test]
    fn cosignature_v1_with_another_time_fails() {
        let (mut note, log, witness) = signed();
        note.add_cosignature(&witness, 100).unwrap();
        let last = note.signatures.last_mut().unwrap();
        last.signature[11] ^= 1; // the time, not the signature
        let trusted = [
            log.verifier(),
            witness.verifier().accepting_cosignature_v1(),
        ];
        assert!(matches!(
            note.verify(&trusted),
            Err(NoteError::InvalidSignature { .. })
        ));
        assert!(note.add_cosignature(&witness, u64::MAX).is_err());
    }
}

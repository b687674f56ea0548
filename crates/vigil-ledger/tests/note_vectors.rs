//! C2SP signed-note vectors from golang.org/x/mod/sumdb/note/note_test.go
//! (https://github.com/golang/mod, commit 02c991387e35f9e4c0a9b7ce137717055f8d716d):
//! TestNewVerifier, TestSign, TestVerifierList and TestOpen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use vigil_ledger::{
    open_checkpoint, Checkpoint, Note, NoteError, NoteLimits, NoteSigner, NoteVerifier,
};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter_signer() -> NoteSigner {
    // PRIVATE+KEY+<name>+<hash>+base64(0x01 || 32-byte Ed25519 seed)
    let raw = B64
        .decode(PETER_SKEY.splitn(5, '+').last().unwrap())
        .unwrap();
    assert_eq!(raw[0], 1);
    let seed: [u8; 32] = raw[1..].try_into().unwrap();
    NoteSigner::new("PeterNeumann", ed25519_dalek::SigningKey::from_bytes(&seed)).unwrap()
}

fn parse(s: &str) -> Result<Note, NoteError> {
    Note::parse(s.as_bytes(), &NoteLimits::default())
}

#[test]
fn verifier_key_and_key_hash() {
    let v = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    assert_eq!(v.key_hash(), 0xc74f20a3);
    assert_eq!(v.to_vkey(), PETER_VKEY);
    assert_eq!(peter_signer().verifier(), v);
    assert_eq!(peter_signer().key_hash(), 0xc74f20a3);
    // Every substring and every single-byte change is refused (TestNewVerifier).
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(NoteVerifier::from_vkey(s).is_err(), "{s}");
                }
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = std::str::from_utf8(&m) {
            assert!(NoteVerifier::from_vkey(s).is_err(), "{s}");
        }
    }
    assert!(NoteVerifier::from_vkey(
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    )
    .is_err());
    assert!(NoteVerifier::from_vkey(
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    .is_err());
}

#[test]
fn sign_is_byte_exact() {
    let got = Note::sign(TEXT, &[&peter_signer()]).unwrap();
    assert_eq!(got, format!("{TEXT}\n{PETER_SIG}"));
    assert!(Note::sign("abc", &[&peter_signer()]).is_err());
    assert!(NoteSigner::new("a+b", peter_signer_key()).is_err());
    assert!(NoteSigner::new("bad name", peter_signer_key()).is_err());
}

fn peter_signer_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[9u8; 32])
}

#[test]
fn open_one_verified_one_not() {
    let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let enoch = NoteVerifier::from_vkey(ENOCH_VKEY).unwrap();
    let n = parse(&format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}")).unwrap();
    assert_eq!(n.text(), TEXT);
    let v = n.verify(std::slice::from_ref(&peter)).unwrap();
    assert_eq!(v.verified, vec!["PeterNeumann+c74f20a3"]);
    assert_eq!(v.unverified, vec!["EnochRoot+af0cfe78"]);
    let v = n.verify(&[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(v.verified.len(), 2);
    // Nothing trusted: refused.
    assert!(n.verify(&[]).is_err());
    // A trusted key that did not sign: refused, naming it.
    let only_peter = parse(&format!("{TEXT}\n{PETER_SIG}")).unwrap();
    assert!(matches!(
        only_peter.verify(&[peter.clone(), enoch]),
        Err(NoteError::MissingSignature { .. })
    ));
    // Repeated identical signatures count once; 101 signatures are too many.
    let twice = parse(&format!("{TEXT}\n{PETER_SIG}{PETER_SIG}")).unwrap();
    assert_eq!(
        twice
            .verify(std::slice::from_ref(&peter))
            .unwrap()
            .verified
            .len(),
        1
    );
    assert!(parse(&format!("{TEXT}\n{}", PETER_SIG.repeat(101))).is_err());
}

#[test]
fn open_invalid_signature() {
    let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let err = parse(&bad).unwrap().verify(&[peter]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid signature for key PeterNeumann+c74f20a3"
    );
}

#[test]
fn open_malformed() {
    let bad = [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in bad {
        assert!(
            matches!(parse(&msg), Err(NoteError::Malformed(_))),
            "{msg:?}"
        );
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert!(Note::parse(&invalid_utf8, &NoteLimits::default()).is_err());
}

#[test]
fn misnamed_or_wrong_hash_is_not_trusted() {
    let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert!(parse(&format!("{TEXT}\n{misnamed}"))
        .unwrap()
        .verify(std::slice::from_ref(&peter))
        .is_err());
    let wrong_hash = PETER_SIG.replace("x08g", "xxxx");
    assert!(parse(&format!("{TEXT}\n{wrong_hash}"))
        .unwrap()
        .verify(&[peter])
        .is_err());
}

#[test]
fn checkpoint_round_trip_and_cosignature() {
    let log = NoteSigner::new(
        "example.org/log",
        ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let witness = NoteSigner::new(
        "hospital-witness",
        ed25519_dalek::SigningKey::from_bytes(&[4; 32]),
    )
    .unwrap();
    let cp = Checkpoint {
        origin: "example.org/log".into(),
        size: 0,
        root: vigil_ledger::empty_root(),
        extensions: vec![],
    };
    let note = cp.sign(&[&log]).unwrap();
    assert!(note.starts_with(
        "example.org/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— example.org/log "
    ));
    let mut opened =
        open_checkpoint(note.as_bytes(), &[log.verifier()], Some("example.org/log")).unwrap();
    assert_eq!(opened.checkpoint, cp);
    opened.note.add_signature(&witness).unwrap();
    let cosigned = opened.note.to_text();
    let v = open_checkpoint(
        cosigned.as_bytes(),
        &[log.verifier(), witness.verifier()],
        None,
    )
    .unwrap();
    assert_eq!(v.verification.verified.len(), 2);
    assert!(open_checkpoint(note.as_bytes(), &[log.verifier(), witness.verifier()], None).is_err());
    assert!(open_checkpoint(note.as_bytes(), &[log.verifier()], Some("other")).is_err());
    for bad in [
        "o\n01\nAAAA\n",
        "o\n1\nAAAA\n",
        "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n1\n",
    ] {
        assert!(Checkpoint::parse_text(bad).is_err(), "{bad:?}");
    }
}

//! A ledger kept beside the key that signs its checkpoints: the part the gateway's audit log
//! and the updater's device log share.

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;
use crate::ledger::{Ledger, OpenCheck};
use crate::note::NoteSigner;

/// Makes an Ed25519 checkpoint key at `key` (PKCS#8 PEM, mode 0600, never overwritten) and its
/// public half at `public` when `key` does not exist yet. Returns whether it made one.
pub fn ensure_checkpoint_key(key: &Path, public: &Path) -> Result<bool, Error> {
    if key.exists() {
        return Ok(false);
    }
    let bad = |reason: String| Error::Key {
        path: key.to_path_buf(),
        reason,
    };
    let new = vigil_core::SigningKey::generate(vigil_core::KeyAlgorithm::Ed25519);
    let pem = new.to_pkcs8_pem(None).map_err(|e| bad(e.to_string()))?;
    vigil_core::write_new(key, pem.as_bytes(), true).map_err(|e| bad(e.to_string()))?;
    vigil_core::write_atomic(public, new.public_key().to_pem().as_bytes()).map_err(|e| {
        Error::Key {
            path: public.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    Ok(true)
}

/// Opens the ledger at `db` (checked as `check` says), or creates it with `origin` and the
/// public half of `key` as its checkpoint key; returns it with the signer of its checkpoints,
/// named as the ledger's key.
pub fn open_or_create_signed(
    db: &Path,
    origin: &str,
    key: Arc<dyn vigil_core::Signer>,
    check: OpenCheck,
) -> Result<(Ledger, NoteSigner), Error> {
    let ledger = if db.exists() {
        Ledger::open_with(db, check)?
    } else {
        let signer = NoteSigner::from_signer(origin, key.clone())?;
        Ledger::create(db, origin, signer.verifier().key(), None)?
    };
    let signer = NoteSigner::from_signer(&ledger.info().key_name, key)?;
    Ok((ledger, signer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_and_the_ledger_reopens_with_the_same_signer() {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = (dir.path().join("k.pem"), dir.path().join("k.pub.pem"));
        assert!(ensure_checkpoint_key(&key, &public).unwrap());
        let first = std::fs::read(&key).unwrap();
        assert!(!ensure_checkpoint_key(&key, &public).unwrap());
        assert_eq!(std::fs::read(&key).unwrap(), first, "never overwritten");
        let load = || -> Arc<dyn vigil_core::Signer> {
            Arc::new(vigil_core::SigningKey::load(&key, None).unwrap())
        };
        let db = dir.path().join("l.db");
        let (ledger, signer) = open_or_create_signed(&db, "o", load(), OpenCheck::Full).unwrap();
        let name = ledger.info().key_name.clone();
        drop(ledger);
        let (again, signer2) = open_or_create_signed(&db, "o", load(), OpenCheck::Full).unwrap();
        assert_eq!(again.info().key_name, name);
        assert_eq!(signer.verifier().key(), signer2.verifier().key());
    }
}

//! Certificates and private keys from PEM files, read with a bound.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::NetError;

/// Most bytes read from a PEM file of certificates or a key (chains and CA bundles included).
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Read every certificate of a PEM file (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let pem = vigil_core::read_bounded(path, MAX_PEM_BYTES)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NetError::Pem {
            path: path.to_path_buf(),
            reason: format!("cannot read certificates: {e}"),
        })?;
    if certs.is_empty() {
        return Err(NetError::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

/// Read one private key (PKCS#8, SEC1 or PKCS#1) from a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, NetError> {
    let pem = vigil_core::read_bounded(path, MAX_PEM_BYTES)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| NetError::Pem {
        path: path.to_path_buf(),
        reason: format!("cannot read a private key: {e}"),
    })
}

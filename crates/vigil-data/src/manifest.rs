//! Signed dataset manifests: the predicate, its signing in the DSSE / in-toto form of model
//! bundles, and the sidecar file that holds the per-sample digests.
//!
//! # Files
//!
//! `MANIFEST.json` is a Sigstore bundle v0.3 in public-key form (as `vigil bundle sign` and
//! OpenSSF `model_signing` write) whose DSSE envelope holds an in-toto Statement v1 with
//! predicate type [`PREDICATE_TYPE`]. Its subjects are the data set (`name`, digest: the
//! Merkle root as `sha256`) and the sidecar file (its file name and SHA-256). The predicate is
//! [`Manifest`]: digests and counts only, never a cell's value, except the ids of an id column
//! (which live in the sidecar: use pseudonymous sample ids, never patient identifiers).
//!
//! The sidecar (`MANIFEST.samples`, beside the manifest) is binary:
//!
//! ```text
//! "vigil-data-samples/v1\n"   22 bytes
//! named                       1 byte: 1 when samples carry names (ids or paths), else 0
//! count                       u64, little endian
//! count times:                32-byte SHA-256 digest, then when named:
//!                             u32 little-endian length and that many bytes of UTF-8 name
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_attest::{SigstoreBundle, Statement, Subject};
use vigil_core::{PublicKey, Signer};
use vigil_ledger::Hash;

use crate::error::DataError;
use crate::samples::{samples_root, ColumnType, Format, GroupCount, Samples};

/// The in-toto predicate type of a dataset manifest.
pub const PREDICATE_TYPE: &str = "https://vigil.dev/dataset-manifest/v1";
/// Largest manifest file read (the sidecar holds the per-sample data).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Largest sidecar read.
pub const MAX_SIDECAR_BYTES: u64 = 4 << 30;
/// Longest sample name in a sidecar.
pub const MAX_NAME_BYTES: usize = 65_536;
const MAGIC: &[u8] = b"vigil-data-samples/v1\n";

/// Where the data came from: free fields, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Source (a site, a registry, a study).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// First collection date (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_from: Option<String>,
    /// Last collection date (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_to: Option<String>,
    /// Licence or terms of use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// The sidecar's name and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// File name, beside the manifest.
    pub path: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The signed predicate of a dataset manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Data set name.
    pub name: String,
    /// Data set version.
    pub version: String,
    /// CSV records or files.
    pub format: Format,
    /// The sample encoding ([`crate::CSV_ENCODING`] or [`crate::FILE_ENCODING`]).
    pub encoding: String,
    /// Number of samples.
    pub samples: u64,
    /// Bytes hashed.
    pub bytes: u64,
    /// Hex RFC 9162 Merkle root over the samples in order.
    pub merkle_root: String,
    /// Hex SHA-256 of the header record (CSV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_sha256: Option<String>,
    /// Columns and kinds (CSV).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnType>,
    /// The id column, when samples are named by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// The label column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    /// Rows per label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, u64>,
    /// Per subgroup column, per value: rows and label counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subgroups: BTreeMap<String, BTreeMap<String, GroupCount>>,
    /// Where the data came from.
    #[serde(default)]
    pub provenance: Provenance,
    /// The per-sample digests.
    pub sidecar: Sidecar,
}

/// A manifest read back, with its sample digests (and names) from the sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The predicate.
    pub manifest: Manifest,
    /// One digest per sample.
    pub digests: Vec<Hash>,
    /// Sample names (ids or paths), when the samples have them.
    pub names: Option<Vec<String>>,
}

/// What names the data set in a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Data set name.
    pub name: String,
    /// Data set version.
    pub version: String,
    /// Id column (CSV).
    pub id_column: Option<String>,
    /// Label column (CSV).
    pub label_column: Option<String>,
    /// Provenance fields.
    pub provenance: Provenance,
}

/// The sidecar's path for a manifest path: the same name with the extension `samples`.
pub fn sidecar_path(manifest: &Path) -> PathBuf {
    manifest.with_extension("samples")
}

/// Encode the sidecar of samples.
pub fn encode_sidecar(digests: &[Hash], names: Option<&[String]>) -> Vec<u8> {
    let extra: usize = names.map_or(0, |n| n.iter().map(|s| s.len() + 4).sum());
    let mut out = Vec::with_capacity(MAGIC.len() + 9 + digests.len() * 32 + extra);
    // Writing to a vector cannot fail.
    let _ = encode_sidecar_to(&mut out, digests, names);
    out
}

/// Write the sidecar of samples to `w` (the bytes of [`encode_sidecar`]).
fn encode_sidecar_to(
    w: &mut impl std::io::Write,
    digests: &[Hash],
    names: Option<&[String]>,
) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&[u8::from(names.is_some())])?;
    w.write_all(&(digests.len() as u64).to_le_bytes())?;
    for (i, d) in digests.iter().enumerate() {
        w.write_all(d)?;
        if let Some(n) = names.and_then(|n| n.get(i)) {
            w.write_all(&(n.len() as u32).to_le_bytes())?;
            w.write_all(n.as_bytes())?;
        }
    }
    Ok(())
}

/// A writer that hashes (SHA-256) and counts what goes through it.
struct Hashing<W> {
    inner: W,
    ctx: sha2::Sha256,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or_default();
        sha2::Digest::update(&mut self.ctx, done);
        self.bytes += done.len() as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write the sidecar of `samples` to the temporary file `tmp` through one buffer, hashing each
/// full buffer on its way to the file, and fsync it once; returns its SHA-256 and length. The
/// caller renames it.
fn write_sidecar(tmp: &Path, samples: &Samples) -> Result<(Hash, u64), DataError> {
    let io = |e: std::io::Error| {
        DataError::Io(vigil_core::ReadError::Io {
            path: tmp.to_owned(),
            source: e,
        })
    };
    let file = std::fs::File::create(tmp).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(
        1 << 20,
        Hashing {
            inner: file,
            ctx: sha2::Digest::new(),
            bytes: 0,
        },
    );
    encode_sidecar_to(&mut w, &samples.digests, samples.names.as_deref()).map_err(io)?;
    let Hashing { inner, ctx, bytes } = w.into_inner().map_err(|e| io(e.into_error()))?;
    inner.sync_all().map_err(io)?;
    Ok((sha2::Digest::finalize(ctx).into(), bytes))
}

/// Decode a sidecar (bounded: counts and lengths are checked against the bytes present).
pub fn decode_sidecar(bytes: &[u8]) -> Result<(Vec<Hash>, Option<Vec<String>>), String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a vigil-data samples file (bad magic)")?;
    let (&named, rest) = rest.split_first().ok_or("truncated header")?;
    if named > 1 {
        return Err(format!("bad naming flag {named}"));
    }
    let (count, mut rest) = rest.split_at_checked(8).ok_or("truncated header")?;
    let count = u64::from_le_bytes(count.try_into().map_err(|_| "truncated header")?);
    let per = if named == 1 { 36 } else { 32 };
    if count > (rest.len() / per) as u64 {
        return Err(format!(
            "{count} samples announced, the file cannot hold them"
        ));
    }
    let count = count as usize;
    let mut digests = Vec::with_capacity(count);
    let mut names = (named == 1).then(|| Vec::with_capacity(count));
    for i in 0..count {
        let (d, r) = rest
            .split_at_checked(32)
            .ok_or_else(|| format!("sample {i}: truncated"))?;
        let mut h = [0u8; 32];
        h.copy_from_slice(d);
        digests.push(h);
        rest = r;
        if let Some(names) = &mut names {
            let (len, r) = rest
                .split_at_checked(4)
                .ok_or_else(|| format!("sample {i}: truncated"))?;
            let len = u32::from_le_bytes(len.try_into().map_err(|_| "truncated")?) as usize;
            if len > MAX_NAME_BYTES {
                return Err(format!(
                    "sample {i}: name longer than {MAX_NAME_BYTES} bytes"
                ));
            }
            let (name, r) = r
                .split_at_checked(len)
                .ok_or_else(|| format!("sample {i}: truncated name"))?;
            let name =
                std::str::from_utf8(name).map_err(|_| format!("sample {i}: name is not UTF-8"))?;
            names.push(name.to_owned());
            rest = r;
        }
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the last sample", rest.len()));
    }
    Ok((digests, names))
}

/// The predicate for `samples`, whose Merkle root is `root` (whose sidecar is `sidecar`, already
/// encoded).
pub(crate) fn build(
    samples: &Samples,
    root: &Hash,
    identity: &Identity,
    sidecar: Sidecar,
) -> Manifest {
    Manifest {
        name: identity.name.clone(),
        version: identity.version.clone(),
        format: samples.format,
        encoding: match samples.format {
            Format::Csv => crate::samples::CSV_ENCODING.into(),
            Format::Files => crate::samples::FILE_ENCODING.into(),
        },
        samples: samples.len() as u64,
        bytes: samples.bytes,
        merkle_root: hex::encode(root),
        header_sha256: samples.header_sha256.map(hex::encode),
        columns: samples.columns.clone(),
        id_column: identity.id_column.clone(),
        label_column: identity.label_column.clone(),
        labels: samples.labels.clone(),
        subgroups: samples.subgroups.clone(),
        provenance: identity.provenance.clone(),
        sidecar,
    }
}

/// Sign `samples` and write the manifest at `out` and its sidecar beside it (both atomically).
/// Returns the predicate written.
pub fn write_signed(
    samples: &Samples,
    identity: &Identity,
    out: &Path,
    signer: &dyn Signer,
) -> Result<Manifest, DataError> {
    let side_path = sidecar_path(out);
    let side_name = side_path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| DataError::Manifest {
            path: out.to_owned(),
            reason: "the manifest's file name is not UTF-8".into(),
        })?
        .to_owned();
    // The sidecar is written (to a temporary name) while the root is computed; it takes its
    // name once the statement naming its digest is signed, and the manifest's atomic write
    // then fsyncs the directory for both.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&side_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = side_path.with_file_name(tmp_name);
    let result = (|| {
        let (written, root) =
            rayon::join(|| write_sidecar(&tmp, samples), || samples.merkle_root());
        let (side_digest, side_bytes) = written?;
        let manifest = build(
            samples,
            &root,
            identity,
            Sidecar {
                path: side_name.clone(),
                sha256: hex::encode(side_digest),
                bytes: side_bytes,
            },
        );
        let statement = Statement {
            subject: vec![
                Subject::sha256(identity.name.clone(), &root),
                Subject::sha256(side_name.clone(), &side_digest),
            ],
            predicate_type: PREDICATE_TYPE.to_string(),
            predicate: manifest.clone(),
        };
        let json = statement.to_json().map_err(DataError::Sign)?;
        let bundle =
            SigstoreBundle::sign_statement(json.into_bytes(), signer).map_err(DataError::Sign)?;
        std::fs::rename(&tmp, &side_path).map_err(|e| {
            DataError::Io(vigil_core::ReadError::Io {
                path: side_path.clone(),
                source: e,
            })
        })?;
        vigil_core::write_atomic(out, bundle.to_json().as_bytes())?;
        Ok(manifest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Read a manifest and its sidecar. With `key`, the signature must verify with it; without,
/// the signature is not checked (say so to the user). The sidecar must match its digest in the
/// manifest and its samples the Merkle root.
pub fn open(path: &Path, key: Option<&PublicKey>) -> Result<Opened, DataError> {
    let bad = |reason: String| DataError::Manifest {
        path: path.to_owned(),
        reason,
    };
    let bytes = vigil_core::read_bounded(path, MAX_MANIFEST_BYTES)?;
    let manifest = parse(&bytes, key).map_err(bad)?;
    let name = &manifest.sidecar.path;
    if name.is_empty() || name.contains(['/', '\\']) || name == ".." || name == "." {
        return Err(bad(format!(
            "sidecar path {name:?} is not a plain file name beside the manifest"
        )));
    }
    let side_path = path.parent().unwrap_or(Path::new("")).join(name);
    let side = vigil_core::read_bounded(&side_path, MAX_SIDECAR_BYTES)?;
    let side_bad = |reason: String| DataError::Manifest {
        path: side_path.clone(),
        reason,
    };
    if hex::encode(crate::samples::sha256(&side)) != manifest.sidecar.sha256 {
        return Err(side_bad(
            "does not match the SHA-256 the manifest signs (replaced or damaged)".into(),
        ));
    }
    let (digests, names) = decode_sidecar(&side).map_err(side_bad)?;
    if digests.len() as u64 != manifest.samples {
        return Err(side_bad(format!(
            "{} samples, the manifest says {}",
            digests.len(),
            manifest.samples
        )));
    }
    let root = samples_root(manifest.format, &digests, names.as_deref());
    if hex::encode(root) != manifest.merkle_root {
        return Err(side_bad(
            "its samples do not give the manifest's Merkle root".into(),
        ));
    }
    Ok(Opened {
        manifest,
        digests,
        names,
    })
}

/// Parse manifest bytes (a Sigstore bundle); with `key`, verify the signature.
pub fn parse(bytes: &[u8], key: Option<&PublicKey>) -> Result<Manifest, String> {
    let bundle = SigstoreBundle::parse(bytes).map_err(|e| e.to_string())?;
    let payload = match key {
        Some(k) => bundle.verify(k).map_err(|e| e.to_string())?,
        None => &bundle.envelope.payload,
    };
    let statement: Statement<Manifest> =
        Statement::parse(payload, PREDICATE_TYPE).map_err(|e| e.to_string())?;
    let m = statement.predicate;
    let root_subject = statement
        .subject
        .iter()
        .any(|s| s.digest.get("sha256") == Some(&m.merkle_root));
    if !root_subject {
        return Err("no subject carries the manifest's Merkle root".into());
    }
    Ok(m)
}

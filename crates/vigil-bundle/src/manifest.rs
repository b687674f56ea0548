//! The signed manifest: every file (or file shard) of a bundle with its digest, and how it was
//! serialized. This is the `predicate` of a `model_signing` v1.0 in-toto statement.

use sha2::{Digest as _, Sha256};

use crate::path::ResourcePath;

/// `model_signing`'s default shard size (1 GB, decimal).
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// How files are cut into signed resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashMethod {
    /// One resource per file (`"method": "files"`). `model_signing`'s default.
    Files,
    /// Files cut into shards of `shard_size` bytes, hashed in parallel (`"method": "shards"`);
    /// resources are named `path:start:end`, and empty files have no shard.
    Shards {
        /// Bytes per shard (the last shard of a file may be shorter).
        shard_size: u64,
    },
}

impl HashMethod {
    /// The resource `algorithm` string: `sha256`, or `sha256-sharded-N`.
    pub fn algorithm(&self) -> String {
        match self {
            HashMethod::Files => "sha256".to_string(),
            HashMethod::Shards { shard_size } => format!("sha256-sharded-{shard_size}"),
        }
    }
}

/// The `serialization` block of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    /// Files or shards.
    pub method: HashMethod,
    /// Whether symbolic links were followed (`allow_symlinks`).
    pub allow_symlinks: bool,
    /// Paths left out of the signature, relative to the bundle (`ignore_paths`).
    pub ignore_paths: Vec<ResourcePath>,
}

/// One signed resource: a file, or a byte range of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The file.
    pub path: ResourcePath,
    /// The byte range `[start, end)` for shard signatures; `None` for whole files.
    pub range: Option<(u64, u64)>,
    /// SHA-256 of the bytes.
    pub digest: [u8; 32],
}

impl Resource {
    /// The resource name as written in the statement: `path`, or `path:start:end`.
    pub fn name(&self) -> String {
        match self.range {
            None => self.path.to_string(),
            Some((s, e)) => format!("{}:{s}:{e}", self.path),
        }
    }

    /// Sort key: path by component, then range, as `model_signing` orders resources.
    pub(crate) fn sort_key(&self) -> (&ResourcePath, u64, u64) {
        let (s, e) = self.range.unwrap_or((0, 0));
        (&self.path, s, e)
    }
}

/// A manifest: what a signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The subject name (the bundle directory's name when signed; informative only).
    pub model_name: String,
    /// How the resources were made.
    pub serialization: Serialization,
    /// The resources, sorted as `model_signing` sorts them.
    pub resources: Vec<Resource>,
}

impl Manifest {
    /// Sorts resources into signature order.
    pub(crate) fn sort(&mut self) {
        self.resources
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }

    /// The subject digest: SHA-256 over the concatenated raw digests of the resources in order,
    /// exactly as `model_signing` computes it.
    pub fn root_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for r in &self.resources {
            h.update(r.digest);
        }
        h.finalize().into()
    }

    /// Every distinct file the manifest covers, in order.
    pub fn files(&self) -> Vec<&ResourcePath> {
        let mut out: Vec<&ResourcePath> = Vec::new();
        for r in &self.resources {
            if out.last() != Some(&&r.path) {
                out.push(&r.path);
            }
        }
        out
    }
}

//! Writing CycloneDX 1.6 BOMs: the SBOM of the `vigil` binary. The document model is
//! `serde-cyclonedx`'s, generated from the official CycloneDX 1.6 JSON schema.
//!
//! The binary's dependencies are fixed when it is built: [`dependencies_from_metadata`] walks
//! `cargo metadata --format-version 1 --filter-platform <target>` from the root package over
//! normal edges only (no dev or build edges) and takes each package's SHA-256 from
//! `Cargo.lock`; the `vigil` command embeds that list (a test in vigil-cli keeps it equal to
//! what cargo resolves for the tree) and [`sbom`] turns it into the document.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_cyclonedx::cyclonedx::v_1_6 as cdx;
use sha2::{Digest as _, Sha256};

use crate::deploy::Deployment;
use crate::error::EvidenceError;

/// One package the binary is built from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// The crate's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its licence as an SPDX expression (`MIT/Apache-2.0` is written `MIT OR Apache-2.0`).
    pub license: Option<String>,
    /// SHA-256 of the `.crate` file, from `Cargo.lock` (none for a workspace crate).
    pub sha256: Option<String>,
    /// Whether it is one of this workspace's crates.
    pub workspace: bool,
    /// The packages it depends on over normal edges, as `name@version`.
    pub depends_on: Vec<String>,
}

impl Dependency {
    /// `name@version`, the BOM reference.
    pub fn bom_ref(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
    /// `pkg:cargo/name@version`.
    pub fn purl(&self) -> String {
        format!("pkg:cargo/{}@{}", self.name, self.version)
    }
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Option<Resolve>,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    checksum: Option<String>,
}

fn spdx(license: &str) -> String {
    license
        .split('/')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The packages reachable from `root` over normal edges of `cargo metadata` output
/// (`--format-version 1`, with `--filter-platform` for the build target), with checksums from
/// `Cargo.lock`; sorted by name and version.
pub fn dependencies_from_metadata(
    metadata: &[u8],
    lock: &str,
    root: &str,
) -> Result<Vec<Dependency>, EvidenceError> {
    let bad = |reason: String| EvidenceError::Parse {
        path: Path::new("cargo metadata").to_path_buf(),
        reason,
    };
    let meta: Metadata =
        serde_json::from_slice(metadata).map_err(|e| bad(format!("not cargo metadata: {e}")))?;
    let lock: Lock = toml::from_str(lock).map_err(|e| EvidenceError::Parse {
        path: Path::new("Cargo.lock").to_path_buf(),
        reason: e.to_string(),
    })?;
    let checksums: BTreeMap<(String, String), String> = lock
        .package
        .into_iter()
        .filter_map(|p| Some(((p.name, p.version), p.checksum?)))
        .collect();
    let packages: BTreeMap<&str, &Package> =
        meta.packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let resolve = meta
        .resolve
        .ok_or_else(|| bad("no resolve graph (run without --no-deps)".into()))?;
    let edges: BTreeMap<&str, Vec<&str>> = resolve
        .nodes
        .iter()
        .map(|n| {
            let normal = n
                .deps
                .iter()
                .filter(|d| d.dep_kinds.iter().any(|k| k.kind.is_none()))
                .map(|d| d.pkg.as_str())
                .collect();
            (n.id.as_str(), normal)
        })
        .collect();
    let start = meta
        .workspace_members
        .iter()
        .find(|id| packages.get(id.as_str()).is_some_and(|p| p.name == root))
        .ok_or_else(|| bad(format!("no workspace member named {root}")))?;
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut queue = VecDeque::from([start.as_str()]);
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        for next in edges.get(id).into_iter().flatten() {
            queue.push_back(next);
        }
    }
    let members: BTreeSet<&str> = meta.workspace_members.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for id in &seen {
        let p = packages
            .get(id)
            .ok_or_else(|| bad(format!("package {id} is not listed")))?;
        let mut depends_on: Vec<String> = edges
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|d| packages.get(d).map(|q| format!("{}@{}", q.name, q.version)))
            .collect();
        depends_on.sort();
        depends_on.dedup();
        out.push(Dependency {
            name: p.name.clone(),
            version: p.version.clone(),
            license: p.license.as_deref().map(spdx),
            sha256: checksums.get(&(p.name.clone(), p.version.clone())).cloned(),
            workspace: members.contains(id),
            depends_on,
        });
    }
    out.sort();
    Ok(out)
}

fn property(name: &str, value: &str) -> cdx::Property {
    cdx::Property {
        name: name.to_string(),
        value: Some(value.to_string()),
    }
}

fn model_error(what: &str, e: serde_json::Error) -> EvidenceError {
    EvidenceError::Limit {
        what: format!("the CycloneDX 1.6 model refused {what}: {e}"),
    }
}

/// A value of the generated model from its JSON form (the generated structs have dozens of
/// optional fields; this leaves them empty without naming each).
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    value: serde_json::Value,
) -> Result<T, EvidenceError> {
    serde_json::from_value(value).map_err(|e| model_error(what, e))
}

/// A component of `kind` named `name` with every optional field empty.
pub(crate) fn empty_component(kind: &str, name: &str) -> Result<cdx::Component, EvidenceError> {
    from_json(
        "a component",
        serde_json::json!({"type": kind, "name": name}),
    )
}

fn component(d: &Dependency) -> Result<cdx::Component, EvidenceError> {
    let mut c = empty_component("library", &d.name)?;
    c.version = Some(d.version.clone());
    c.bom_ref = Some(d.bom_ref());
    c.purl = Some(d.purl());
    c.scope = Some("required".into());
    c.licenses = d.license.as_ref().map(|l| {
        cdx::LicenseChoiceUrl::Variant1(vec![cdx::LicenseChoiceUrlVariant1ItemLicense {
            acknowledgement: None,
            bom_ref: None,
            expression: l.clone(),
        }])
    });
    c.hashes = d.sha256.as_ref().map(|h| {
        vec![cdx::Hash {
            alg: cdx::HashAlg::Sha256,
            content: h.clone(),
        }]
    });
    Ok(c)
}

/// The SBOM of a binary `name` `version` built from `deps` (its own package among them),
/// with the deployment's support fields; `timestamp` is RFC 3339.
pub fn sbom(
    name: &str,
    version: &str,
    deps: &[Dependency],
    deployment: Option<&Deployment>,
    timestamp: &str,
) -> Result<cdx::CycloneDx, EvidenceError> {
    let root_ref = format!("{name}@{version}");
    let mut root = empty_component("application", name)?;
    root.version = Some(version.to_string());
    root.bom_ref = Some(root_ref.clone());
    root.purl = Some(format!("pkg:cargo/{name}@{version}"));
    let mut metadata: cdx::Metadata =
        from_json("metadata", serde_json::json!({"timestamp": timestamp}))?;
    if let Some(d) = deployment {
        root.properties = Some(vec![
            property("vigil:support:level", &d.support.level),
            property("vigil:support:end-of-support", &d.support.end_of_support),
            property("vigil:device", &d.device.name),
            property("vigil:disclosure", &d.contact.disclosure),
        ]);
        metadata.manufacturer = Some(from_json(
            "the manufacturer",
            serde_json::json!({"name": d.device.manufacturer}),
        )?);
    }
    metadata.component = Some(root);
    let components = deps
        .iter()
        .filter(|d| d.bom_ref() != root_ref)
        .map(component)
        .collect::<Result<Vec<_>, _>>()?;
    let dependencies: Vec<cdx::Dependency> = deps
        .iter()
        .map(|d| cdx::Dependency {
            depends_on: Some(d.depends_on.clone()),
            provides: None,
            ref_: d.bom_ref(),
        })
        .collect();
    let digest = Sha256::digest(serde_json::to_vec(&(name, version, deps)).unwrap_or_default());
    let mut bom: cdx::CycloneDx = from_json(
        "the header",
        serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}),
    )?;
    bom.serial_number = Some(crate::vex::urn_uuid(&digest));
    bom.metadata = Some(metadata);
    bom.components = Some(components);
    bom.dependencies = Some(dependencies);
    Ok(bom)
}

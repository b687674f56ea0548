//! The CycloneDX 1.6 VEX document `vigil evidence vulns --out` writes: the affected packages
//! as components, one vulnerability per match with its OSV source, aliases, severity and the
//! triage's analysis (state, justification, detail).
//!
//! The model is typed (serde structs for exactly the fields written); the interop suite
//! validates the output strictly against the CycloneDX 1.6 JSON schema with
//! cyclonedx-python-lib.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::osv::Match;

/// A CycloneDX 1.6 BOM holding only VEX data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vex {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Tools {
    components: Vec<Tool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Tool {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    version: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    purl: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Vulnerability {
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    id: String,
    source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ratings: Vec<Rating>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<Analysis>,
    affects: Vec<Affects>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Source {
    name: &'static str,
    url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Reference {
    id: String,
    source: Source,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Rating {
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Analysis {
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Affects {
    #[serde(rename = "ref")]
    target: String,
}

/// The name and version of a purl (`pkg:cargo/serde@1.0.1` -> `serde`, `1.0.1`), decoded only
/// as far as a display name needs.
fn name_version(purl: &str) -> (String, Option<String>) {
    let body = purl.split(['?', '#']).next().unwrap_or(purl);
    let (path, version) = match body.rsplit_once('@') {
        Some((p, v)) if !p.ends_with('/') => (p, Some(v.to_string())),
        _ => (body, None),
    };
    let name = path.rsplit('/').next().unwrap_or(path).replace("%40", "@");
    (name, version)
}

/// A rating from the OSV severity label: a CycloneDX severity word for `LOW`..`CRITICAL`, a
/// CVSS vector with its method otherwise.
fn rating(label: &str) -> Option<Rating> {
    let word = match label.to_ascii_lowercase().as_str() {
        "critical" => Some("critical"),
        "high" => Some("high"),
        "moderate" | "medium" => Some("medium"),
        "low" => Some("low"),
        _ => None,
    };
    if word.is_some() {
        return Some(Rating {
            severity: word,
            method: None,
            vector: None,
        });
    }
    let method = if label.starts_with("CVSS:4.0/") {
        "CVSSv4"
    } else if label.starts_with("CVSS:3.1/") {
        "CVSSv31"
    } else if label.starts_with("CVSS:3.0/") {
        "CVSSv3"
    } else {
        return None;
    };
    Some(Rating {
        severity: None,
        method: Some(method),
        vector: Some(label.to_string()),
    })
}

impl Vex {
    /// The VEX document for `matches`, stamped `timestamp` (RFC 3339). Its serial number is
    /// derived from its content, so the same matches and time give the same document.
    pub fn new(matches: &[Match], timestamp: &str) -> Vex {
        let mut components: Vec<Component> = Vec::new();
        for m in matches {
            if components.iter().all(|c| c.bom_ref != m.purl) {
                let (name, version) = name_version(&m.purl);
                components.push(Component {
                    kind: "library",
                    bom_ref: m.purl.clone(),
                    name,
                    version,
                    purl: m.purl.clone(),
                });
            }
        }
        let vulnerabilities = matches
            .iter()
            .map(|m| Vulnerability {
                bom_ref: format!("{}|{}", m.id, m.purl),
                id: m.id.clone(),
                source: Source {
                    name: "OSV",
                    url: format!("https://osv.dev/vulnerability/{}", m.id),
                },
                references: m
                    .aliases
                    .iter()
                    .map(|a| Reference {
                        id: a.clone(),
                        source: Source {
                            name: "OSV",
                            url: format!("https://osv.dev/vulnerability/{a}"),
                        },
                    })
                    .collect(),
                ratings: rating(&m.severity).into_iter().collect(),
                recommendation: m.fixed.as_ref().map(|f| format!("upgrade to {f} or later")),
                analysis: m.state.as_ref().map(|state| Analysis {
                    state: state.clone(),
                    justification: m.justification.clone(),
                    detail: m.detail.clone(),
                }),
                affects: vec![Affects {
                    target: m.purl.clone(),
                }],
            })
            .collect();
        let mut vex = Vex {
            bom_format: "CycloneDX",
            spec_version: "1.6",
            serial_number: String::new(),
            version: 1,
            metadata: Metadata {
                timestamp: timestamp.to_string(),
                tools: Tools {
                    components: vec![Tool {
                        kind: "application",
                        name: "vigil",
                        version: env!("CARGO_PKG_VERSION"),
                    }],
                },
            },
            components,
            vulnerabilities,
        };
        let digest = Sha256::digest(serde_json::to_vec(&vex).unwrap_or_default());
        vex.serial_number = urn_uuid(&digest);
        vex
    }

    /// The document as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// A `urn:uuid:` of the first 16 bytes of `digest`, marked as a version-8 (custom) RFC 9562
/// UUID.
pub(crate) fn urn_uuid(digest: &[u8]) -> String {
    let mut b = [0u8; 16];
    for (d, s) in b.iter_mut().zip(digest) {
        *d = *s;
    }
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_names_and_uuids() {
        assert_eq!(
            name_version("pkg:cargo/serde@1.0.1"),
            ("serde".into(), Some("1.0.1".into()))
        );
        assert_eq!(
            name_version("pkg:npm/%40scope/pkg@2.0.0?x=y"),
            ("pkg".into(), Some("2.0.0".into()))
        );
        let u = urn_uuid(&[0xffu8; 32]);
        assert_eq!(u, "urn:uuid:ffffffff-ffff-8fff-bfff-ffffffffffff");
    }
}

//! Offline vulnerability matching: package URLs against a directory of OSV records, with the
//! OSV schema's evaluation algorithm (schema 1.6, "Evaluation").
//!
//! A package `pkg` at version `v` is affected by a record when, for one of the record's
//! `affected[]` entries naming `pkg` (same ecosystem, same name), `v` is in its `versions` list
//! or in one of its `SEMVER` or `ECOSYSTEM` ranges:
//!
//! ```text
//! for each range before its limits (no limit event: an implicit "*"):
//!   vulnerable = false
//!   for evt in sorted(range.events):          # "0" sorts before every version
//!     if evt.introduced and v >= introduced:   vulnerable = true
//!     elif evt.fixed and v >= fixed:           vulnerable = false
//!     elif evt.last_affected and v > last:     vulnerable = false
//!   if vulnerable: affected
//! ```
//!
//! `GIT` ranges need a repository and are not evaluated (their `versions` list is). A withdrawn
//! record never matches. Versions compare by SemVer 2.0 precedence where the ecosystem's versions
//! are SemVer (`crates.io`, `npm`, `Go`, `Hex`, `Pub`, and every `SEMVER` range); other
//! ecosystems' `ECOSYSTEM` ranges compare dot-separated numeric and text parts in order (a
//! documented approximation; their `versions` lists are exact).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::error::EvidenceError;

/// Largest OSV record read (the largest real records are a few hundred KiB).
pub const MAX_RECORD_BYTES: u64 = 8 << 20;
/// Most records read from one directory.
pub const MAX_RECORDS: usize = 1_000_000;

/// A package named by a purl: `pkg:<type>/<namespace>/<name>@<version>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// The purl as given.
    pub purl: String,
    /// The OSV ecosystem of its type (`cargo` is `crates.io`); `None` for a type with none.
    pub ecosystem: Option<&'static str>,
    /// The name as OSV spells it (`group:artifact` for Maven, `namespace/name` elsewhere).
    pub name: String,
    /// The version.
    pub version: String,
}

/// Percent-decodes a purl segment (RFC 3986); invalid escapes stay as they are.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The OSV ecosystem of a purl type.
fn ecosystem_of(purl_type: &str) -> Option<&'static str> {
    Some(match purl_type {
        "cargo" => "crates.io",
        "npm" => "npm",
        "pypi" => "PyPI",
        "maven" => "Maven",
        "golang" => "Go",
        "gem" => "RubyGems",
        "nuget" => "NuGet",
        "composer" => "Packagist",
        "hex" => "Hex",
        "pub" => "Pub",
        "swift" => "SwiftURL",
        "hackage" => "Hackage",
        "cran" => "CRAN",
        _ => return None,
    })
}

impl Package {
    /// Parses a purl with a version. Qualifiers (`?...`) and subpath (`#...`) are ignored.
    pub fn from_purl(purl: &str) -> Result<Package, EvidenceError> {
        let bad = |why: &str| EvidenceError::Purl {
            purl: purl.to_string(),
            reason: why.to_string(),
        };
        let rest = purl
            .strip_prefix("pkg:")
            .ok_or_else(|| bad("does not start with pkg:"))?;
        let rest = rest.split('#').next().unwrap_or(rest);
        let rest = rest.split('?').next().unwrap_or(rest);
        let (path, version) = rest
            .rsplit_once('@')
            .ok_or_else(|| bad("has no @version"))?;
        let (ty, name_path) = path.split_once('/').ok_or_else(|| bad("has no name"))?;
        let ty = ty.to_ascii_lowercase();
        let segments: Vec<String> = name_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(unescape)
            .collect();
        if segments.is_empty() || version.is_empty() {
            return Err(bad("has an empty name or version"));
        }
        let mut name = match ty.as_str() {
            "maven" => segments.join(":"),
            _ => segments.join("/"),
        };
        if ty == "pypi" {
            // PEP 503 normalisation, as OSV's PyPI names are.
            name = name.to_ascii_lowercase().replace(['_', '.'], "-");
        }
        Ok(Package {
            purl: purl.to_string(),
            ecosystem: ecosystem_of(&ty),
            name,
            version: unescape(version),
        })
    }
}

/// One OSV record, as much of it as matching needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// Its id (`RUSTSEC-2023-0001`, `GHSA-...`).
    pub id: String,
    /// Other ids of the same vulnerability.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Set when the record was withdrawn: it never matches.
    #[serde(default)]
    pub withdrawn: Option<String>,
    /// One-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Severities of the whole record.
    #[serde(default)]
    pub severity: Vec<Severity>,
    /// What it affects.
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// Database-specific fields (`severity` of GitHub advisories).
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

/// A severity score.
#[derive(Debug, Clone, Deserialize)]
pub struct Severity {
    /// `CVSS_V3`, `CVSS_V4`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or score.
    pub score: String,
}

/// An `affected[]` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    /// The package.
    #[serde(default)]
    pub package: Option<OsvPackage>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Enumerated affected versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Severities of this package.
    #[serde(default)]
    pub severity: Vec<Severity>,
}

/// `affected[].package`.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvPackage {
    /// Ecosystem (`crates.io`, `PyPI`, ...), possibly with a `:suffix`.
    pub ecosystem: String,
    /// Name within the ecosystem.
    pub name: String,
}

/// `affected[].ranges[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The timeline.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One event of a range: exactly one of the fields is set.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Event {
    /// Introduced in this version (`"0"`: from the start).
    #[serde(default)]
    pub introduced: Option<String>,
    /// Fixed in this version.
    #[serde(default)]
    pub fixed: Option<String>,
    /// Last affected version.
    #[serde(default)]
    pub last_affected: Option<String>,
    /// Upper limit (`"*"`: none).
    #[serde(default)]
    pub limit: Option<String>,
}

/// A version as an ecosystem orders it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    /// Before every version (`introduced: "0"`).
    Zero,
    /// After every version (`limit: "*"`).
    Infinity,
    Semver(semver::Version),
    /// Dot/dash separated parts, numbers compared as numbers.
    Parts(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    // Text sorts before numbers ("1.0.rc1" < "1.0.1"), as most ecosystems have it.
    Text(String),
    Num(u64),
}

fn semver_ordered(ecosystem: &str) -> bool {
    matches!(
        ecosystem.split(':').next().unwrap_or(ecosystem),
        "crates.io" | "npm" | "Go" | "Hex" | "Pub"
    )
}

fn parse_version(s: &str, semver: bool) -> Option<Version> {
    if s == "0" {
        return Some(Version::Zero);
    }
    if s.contains('*') {
        return Some(Version::Infinity);
    }
    if semver {
        let t = s.strip_prefix('v').unwrap_or(s);
        return semver::Version::parse(t).ok().map(Version::Semver);
    }
    let parts = s
        .split(['.', '-', '_', '+'])
        .filter(|p| !p.is_empty())
        .map(|p| match p.parse::<u64>() {
            Ok(n) => Part::Num(n),
            Err(_) => Part::Text(p.to_ascii_lowercase()),
        })
        .collect();
    Some(Version::Parts(parts))
}

fn compare(a: &Version, b: &Version) -> Ordering {
    match (a, b) {
        (Version::Zero, Version::Zero) | (Version::Infinity, Version::Infinity) => Ordering::Equal,
        (Version::Zero, _) | (_, Version::Infinity) => Ordering::Less,
        (_, Version::Zero) | (Version::Infinity, _) => Ordering::Greater,
        (Version::Semver(x), Version::Semver(y)) => x.cmp_precedence(y),
        (Version::Parts(x), Version::Parts(y)) => x.cmp(y),
        // Mixed kinds cannot happen within one range (one parser per range).
        (Version::Semver(_), Version::Parts(_)) => Ordering::Less,
        (Version::Parts(_), Version::Semver(_)) => Ordering::Greater,
    }
}

/// What one record says about one package version: affected or not, and the smallest fixed
/// version above it among the ranges that affect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the version is affected.
    pub affected: bool,
    /// The smallest `fixed` version above the installed one among the affecting ranges.
    pub fixed: Option<String>,
}

fn range_affects(range: &Range, v: &Version, semver: bool) -> Option<(bool, Option<String>)> {
    // Parse every event; a range with an unparseable version cannot be judged.
    let mut events = Vec::with_capacity(range.events.len());
    let mut limits = Vec::new();
    for e in &range.events {
        if let Some(l) = &e.limit {
            limits.push(parse_version(l, semver)?);
        }
        let (kind, text) = match (&e.introduced, &e.fixed, &e.last_affected) {
            (Some(t), None, None) => (0u8, t),
            (None, Some(t), None) => (1, t),
            (None, None, Some(t)) => (2, t),
            _ => continue,
        };
        events.push((parse_version(text, semver)?, kind, text.clone()));
    }
    if !limits.is_empty() && !limits.iter().any(|l| compare(v, l) == Ordering::Less) {
        return Some((false, None));
    }
    events.sort_by(|a, b| compare(&a.0, &b.0));
    let mut vulnerable = false;
    for (ver, kind, _) in &events {
        match kind {
            0 if compare(v, ver) != Ordering::Less => vulnerable = true,
            1 if compare(v, ver) != Ordering::Less => vulnerable = false,
            2 if compare(v, ver) == Ordering::Greater => vulnerable = false,
            _ => {}
        }
    }
    let fixed = vulnerable
        .then(|| {
            events
                .iter()
                .filter(|(ver, kind, _)| *kind == 1 && compare(ver, v) == Ordering::Greater)
                .min_by(|a, b| compare(&a.0, &b.0))
                .map(|(_, _, t)| t.clone())
        })
        .flatten();
    Some((vulnerable, fixed))
}

impl Record {
    /// Whether `pkg` at its version is affected, and the fix above it.
    pub fn judge(&self, pkg: &Package) -> Verdict {
        let none = Verdict {
            affected: false,
            fixed: None,
        };
        if self.withdrawn.is_some() {
            return none;
        }
        let Some(ecosystem) = pkg.ecosystem else {
            return none;
        };
        let mut affected = false;
        let mut fixes: Vec<(Version, String)> = Vec::new();
        for a in &self.affected {
            let Some(p) = &a.package else { continue };
            let eco = p.ecosystem.split(':').next().unwrap_or(&p.ecosystem);
            let name_matches = if ecosystem == "PyPI" {
                p.name.to_ascii_lowercase().replace(['_', '.'], "-") == pkg.name
            } else {
                p.name == pkg.name
            };
            if eco != ecosystem || !name_matches {
                continue;
            }
            if a.versions.contains(&pkg.version) {
                affected = true;
            }
            for range in &a.ranges {
                let semver = match range.kind.as_str() {
                    "SEMVER" => true,
                    "ECOSYSTEM" => semver_ordered(ecosystem),
                    _ => continue,
                };
                let Some(v) = parse_version(&pkg.version, semver) else {
                    continue;
                };
                if let Some((hit, fixed)) = range_affects(range, &v, semver) {
                    if hit {
                        affected = true;
                        if let Some(f) = fixed {
                            if let Some(fv) = parse_version(&f, semver) {
                                fixes.push((fv, f));
                            }
                        }
                    }
                }
            }
        }
        let fixed = fixes
            .into_iter()
            .min_by(|a, b| compare(&a.0, &b.0))
            .map(|(_, t)| t);
        Verdict {
            affected,
            fixed: if affected { fixed } else { None },
        }
    }

    /// A one-word severity: the record's `database_specific.severity` (as GitHub advisories
    /// give it) or its first CVSS vector; `unknown` when it states none.
    pub fn severity_label(&self) -> String {
        if let Some(s) = self
            .database_specific
            .as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(|s| s.as_str())
        {
            return s.to_ascii_uppercase();
        }
        self.severity
            .first()
            .or_else(|| self.affected.iter().find_map(|a| a.severity.first()))
            .map_or_else(|| "unknown".to_string(), |s| s.score.clone())
    }
}

/// Reads every `*.json` OSV record under `dir` (recursively, in path order). A file that is
/// not a record is an error naming it: an offline database that cannot be read is not a clean
/// result.
pub fn read_records(dir: &Path) -> Result<Vec<Record>, EvidenceError> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| EvidenceError::Io {
            path: d.clone(),
            source,
        })?;
        for e in entries {
            let e = e.map_err(|source| EvidenceError::Io {
                path: d.clone(),
                source,
            })?;
            let path = e.path();
            let ty = e.file_type().map_err(|source| EvidenceError::Io {
                path: path.clone(),
                source,
            })?;
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() && path.extension().is_some_and(|x| x == "json") {
                paths.push(path);
                if paths.len() > MAX_RECORDS {
                    return Err(EvidenceError::Limit {
                        what: format!("{}: more than {MAX_RECORDS} OSV records", dir.display()),
                    });
                }
            }
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let bytes = vigil_core::read_bounded(p, MAX_RECORD_BYTES)?;
            serde_json::from_slice::<Record>(&bytes).map_err(|e| EvidenceError::Parse {
                path: p.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// One package affected by one record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Match {
    /// The package's purl, with its version.
    pub purl: String,
    /// The record id.
    pub id: String,
    /// The record's aliases.
    pub aliases: Vec<String>,
    /// Its severity label.
    pub severity: String,
    /// The smallest fixed version above the installed one, if any.
    pub fixed: Option<String>,
    /// The triage state given for it, if any.
    pub state: Option<String>,
    /// The triage justification (written to the VEX document, not to `--json`).
    #[serde(skip)]
    pub justification: Option<String>,
    /// The triage detail (written to the VEX document, not to `--json`).
    #[serde(skip)]
    pub detail: Option<String>,
}

/// Every (package, record) pair where the record affects the package, in purl then id order.
pub fn match_packages(packages: &[Package], records: &[Record]) -> Vec<Match> {
    let mut out = BTreeSet::new();
    for pkg in packages {
        for r in records {
            let v = r.judge(pkg);
            if v.affected {
                out.insert((pkg.purl.clone(), r.id.clone(), v.fixed, r));
            }
        }
    }
    out.into_iter()
        .map(|(purl, id, fixed, r)| Match {
            purl,
            id,
            aliases: r.aliases.clone(),
            severity: r.severity_label(),
            fixed,
            state: None,
            justification: None,
            detail: None,
        })
        .collect()
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for Record {}
impl PartialOrd for Record {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Record {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id.cmp(&other.id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(json: &str) -> Record {
        serde_json::from_str(json).unwrap()
    }

    fn cargo(name: &str, v: &str) -> Package {
        Package::from_purl(&format!("pkg:cargo/{name}@{v}")).unwrap()
    }

    const RANGES: &str = r#"{"id":"RUSTSEC-0000-0001","aliases":["CVE-1"],
      "affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.0.2"},
                                            {"introduced":"3.0.0"},{"fixed":"3.2.5"}]}]}]}"#;

    #[test]
    fn semver_ranges_as_the_schema_examples_say() {
        let r = record(RANGES);
        for (v, hit, fixed) in [
            ("0.9.0", false, None),
            ("1.0.0", true, Some("1.0.2")),
            ("1.0.1", true, Some("1.0.2")),
            ("1.0.2", false, None),
            ("2.5.0", false, None),
            ("3.0.0", true, Some("3.2.5")),
            ("3.2.5-rc.1", true, Some("3.2.5")),
            ("3.2.5", false, None),
        ] {
            let got = r.judge(&cargo("foo", v));
            assert_eq!(
                (got.affected, got.fixed.as_deref()),
                (hit, fixed),
                "version {v}"
            );
        }
        assert!(!r.judge(&cargo("bar", "1.0.0")).affected);
    }

    #[test]
    fn last_affected_versions_lists_withdrawn_and_other_ecosystems() {
        let r = record(
            r#"{"id":"X","affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"last_affected":"2.1.214"}]}],
              "versions":["9.9.9"]}]}"#,
        );
        assert!(r.judge(&cargo("foo", "0.0.1")).affected);
        assert!(r.judge(&cargo("foo", "2.1.214")).affected);
        assert!(!r.judge(&cargo("foo", "2.1.215")).affected);
        assert!(r.judge(&cargo("foo", "9.9.9")).affected);
        assert_eq!(r.judge(&cargo("foo", "1.0.0")).fixed, None);

        let w = record(
            r#"{"id":"W","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
              "ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#,
        );
        assert!(!w.judge(&cargo("foo", "1.0.0")).affected);

        let pypi = record(
            r#"{"id":"P","affected":[{"package":{"ecosystem":"PyPI","name":"foo"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}],"versions":["1.0.0"]}]}"#,
        );
        assert!(!pypi.judge(&cargo("foo", "1.0.0")).affected);
        assert!(
            pypi.judge(&Package::from_purl("pkg:pypi/Foo@1.0.0").unwrap())
                .affected
        );
    }

    #[test]
    fn limits_and_several_fixes_pick_the_smallest_above() {
        let r = record(
            r#"{"id":"L","affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
              "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"},{"limit":"5.0.0"}]},
                        {"type":"SEMVER","events":[{"introduced":"1.5.0"},{"fixed":"1.9.0"}]}]}]}"#,
        );
        let v = r.judge(&cargo("foo", "1.6.0"));
        assert_eq!((v.affected, v.fixed.as_deref()), (true, Some("1.9.0")));
        let v = r.judge(&cargo("foo", "1.9.0"));
        assert_eq!((v.affected, v.fixed.as_deref()), (true, Some("2.0.0")));
        assert!(!r.judge(&cargo("foo", "6.0.0")).affected);
    }

    #[test]
    fn purls_parse_as_osv_names() {
        let p = Package::from_purl("pkg:maven/org.apache/log4j-core@2.14.0?type=jar").unwrap();
        assert_eq!(
            (p.ecosystem, p.name.as_str()),
            (Some("Maven"), "org.apache:log4j-core")
        );
        let p = Package::from_purl("pkg:npm/%40scope/pkg@1.0.0").unwrap();
        assert_eq!(p.name, "@scope/pkg");
        assert!(Package::from_purl("cargo/foo@1").is_err());
        assert!(Package::from_purl("pkg:cargo/foo").is_err());
    }
}

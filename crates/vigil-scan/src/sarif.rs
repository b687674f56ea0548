//! SARIF 2.1.0 output for code-scanning dashboards.

use serde_json::{json, Value};

use crate::{FileReport, Rule, Severity};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// The file's URI reference: its exact bytes, percent-encoded (RFC 3986) where they are not
/// unreserved, so a name that is not UTF-8 survives exactly (`x%FF.pkl`).
fn uri(path: &std::path::Path) -> String {
    let raw = crate::output::path_bytes(path);
    let mut out = String::with_capacity(raw.len());
    for b in raw
        .into_iter()
        .map(|b| if cfg!(windows) && b == b'\\' { b'/' } else { b })
    {
        if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A SARIF 2.1.0 log with one run: every rule, and one result per finding.
pub fn to_sarif(reports: &[FileReport]) -> Value {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.id(),
                "shortDescription": { "text": r.description() },
                "fullDescription": { "text": r.description() },
                "helpUri": "https://example.invalid/vigil/docs/scan.md",
            })
        })
        .collect();
    let mut results = Vec::new();
    for rep in reports {
        for f in &rep.findings {
            let index = Rule::ALL.iter().position(|r| *r == f.rule).unwrap_or(0);
            let mut loc = json!({
                "physicalLocation": { "artifactLocation": { "uri": uri(&rep.path) } }
            });
            if let Some(m) = &f.member {
                loc["logicalLocations"] = json!([{ "fullyQualifiedName": m, "kind": "member" }]);
            }
            let mut props = json!({ "severity": f.severity.as_str() });
            if let Some(g) = &f.global {
                props["global"] = json!(g);
            }
            results.push(json!({
                "ruleId": f.rule.id(),
                "ruleIndex": index,
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": [loc],
                "properties": props,
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "vigil-scan",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/vigil",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

//! The premarket evidence pack: one self-contained `index.html` (no script, no network, inline
//! SVG), `README.md` and `evidence.json`, organised by the FDA's premarket cybersecurity
//! sections, every statement taken from a check that ran ([`ThreatModel`]) or from a document
//! generated beside it (SBOM, AIBOM, Threat Dragon model). A missing control is listed as a
//! finding.

use std::fmt::Write as _;

use serde::Serialize;
use vigil_report::{escape, flow_diagram, markdown_cell};

use crate::deploy::Deployment;
use crate::facts::{ledger_facts, metrics_refusals, read_test_records, LedgerFacts, TestRecord};
use crate::threats::{Status, Threat, ThreatModel};

/// The sections of the pack, in order: `(anchor, title)`.
pub const SECTIONS: [(&str, &str); 8] = [
    ("risk-management", "Security risk management report"),
    (
        "threat-model",
        "Threat model and security architecture views",
    ),
    ("risk-assessment", "Cybersecurity risk assessment"),
    ("bom", "SBOM and AIBOM"),
    ("testing", "Cybersecurity testing"),
    ("metrics", "Vulnerability metrics"),
    ("traceability", "Traceability matrix"),
    ("support", "Support and disclosure"),
];

/// Facts the pack reports besides the threat model.
#[derive(Debug, Clone, Serialize)]
pub struct PackFacts {
    /// Packages in the SBOM (`sbom.cdx.json` beside the page).
    pub sbom_packages: usize,
    /// Whether an AIBOM was written (`aibom.cdx.json`): only for a bundle that verified.
    pub aibom: bool,
    /// What the update and gateway ledgers say.
    pub ledger: LedgerFacts,
    /// Test records (fuzzing, crash trials, interop suites) the deployment names.
    pub tests: Vec<TestRecord>,
    /// Test records named but unreadable or malformed.
    pub test_errors: Vec<String>,
    /// Refusals counted by the gateway's `/metrics` snapshot, by reason.
    pub metrics_refusals: Vec<(String, u64)>,
    /// Why the metrics snapshot could not be read, when one was named.
    pub metrics_error: Option<String>,
}

impl PackFacts {
    /// Gathers the facts a deployment's records hold.
    pub fn gather(d: &Deployment, sbom_packages: usize, aibom: bool) -> PackFacts {
        let (tests, test_errors) = read_test_records(&d.evidence.test_records);
        let (metrics_refusals, metrics_error) = match &d.evidence.metrics {
            None => (Vec::new(), None),
            Some(p) => match metrics_refusals(p) {
                Ok(v) => (v, None),
                Err(e) => (Vec::new(), Some(e)),
            },
        };
        PackFacts {
            sbom_packages,
            aibom,
            ledger: ledger_facts(d),
            tests,
            test_errors,
            metrics_refusals,
            metrics_error,
        }
    }
}

/// `evidence.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PackJson<'a> {
    /// The device.
    pub device: &'a str,
    /// The threat model.
    pub threat_model: &'a ThreatModel,
    /// The other facts.
    pub facts: &'a PackFacts,
    /// The files of the pack.
    pub files: Vec<&'static str>,
}

/// The files `vigil evidence pack` writes.
pub const FILES: [&str; 6] = [
    "index.html",
    "README.md",
    "evidence.json",
    "threat-dragon.json",
    "sbom.cdx.json",
    "aibom.cdx.json",
];

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Met => "met",
        Status::Partial => "partial",
        Status::Missing => "missing",
        Status::NotApplicable => "not applicable",
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}\
.met{color:#070}.partial{color:#a60}.missing{color:#b00;font-weight:bold}figure{margin:1em 0}nav a{margin-right:1em}";

/// The four architecture views the FDA asks for, drawn from the deployment.
fn views(d: &Deployment) -> Vec<(String, String)> {
    let tls = if d.gateway.mtls {
        "HTTPS, mutual TLS"
    } else {
        "HTTPS, NO client certificates"
    };
    let global = flow_diagram(
        "Global system view",
        &[
            ("clients", "clinical clients", 0, 0),
            ("gateway", "gateway (vigil serve)", 1, 0),
            ("guard", "guard + signed model", 2, 0),
            ("ledger", "audit ledger", 3, 0),
            ("repo", "update repository (TUF)", 1, 1),
            ("collector", "fleet collector", 3, 1),
        ],
        &[
            ("clients", "gateway", tls),
            ("gateway", "guard", "in process"),
            ("guard", "ledger", "signed events"),
            ("repo", "guard", "signed updates"),
            ("ledger", "collector", "checkpoints"),
        ],
    );
    let patients = d.device.patients;
    let harm = flow_diagram(
        &format!("Multi-patient harm view: one device serves {patients} patient(s) at once"),
        &[
            ("model", "one model release", 0, 0),
            (
                "device",
                &format!(
                    "{} device(s) in the fleet",
                    if d.collector.is_some() { "many" } else { "one" }
                ),
                1,
                0,
            ),
            (
                "patients",
                &format!("{patients} patient(s) per device"),
                2,
                0,
            ),
            ("abstain", "guard abstains: safe state", 1, 1),
        ],
        &[
            ("model", "device", "update"),
            ("device", "patients", "answers"),
            ("device", "abstain", "out of contract"),
        ],
    );
    let update = flow_diagram(
        "Updatability and patchability view",
        &[
            ("publisher", "manufacturer (repo add)", 0, 0),
            ("repo", "TUF repository", 1, 0),
            ("staging", "device staging: verify, scan, acceptance", 2, 0),
            ("current", "STATE/current (atomic switch)", 3, 0),
            ("rollback", "previous release (rollback)", 3, 1),
        ],
        &[
            ("publisher", "repo", "signed metadata"),
            ("repo", "staging", "TUF checks"),
            ("staging", "current", "rename(2)"),
            ("current", "rollback", "health check fails"),
        ],
    );
    let cases = flow_diagram(
        "Security use cases",
        &[
            ("clinician", "clinician client (role infer)", 0, 0),
            ("operator", "operator (role audit)", 0, 1),
            ("gateway", "gateway: identity by certificate", 1, 0),
            ("guard", "guard: contract, detectors", 2, 0),
            ("proof", "ledger proofs", 2, 1),
        ],
        &[
            ("clinician", "gateway", "infer"),
            ("gateway", "guard", "screened"),
            ("operator", "proof", "verify"),
        ],
    );
    vec![
        ("global-system".into(), global),
        ("multi-patient-harm".into(), harm),
        ("updatability".into(), update),
        ("security-use-cases".into(), cases),
    ]
}

/// `index.html`.
pub fn index_html(
    model: &ThreatModel,
    catalog: &[Threat],
    d: &Deployment,
    facts: &PackFacts,
) -> String {
    let n = |k: &str| model.summary.get(k).copied().unwrap_or(0);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<title>Premarket cybersecurity evidence: {dev}</title><style>{STYLE}</style></head><body>\
<h1>Premarket cybersecurity evidence: {dev}</h1><p>Manufacturer: {man}. Intended use: {use_}.</p><nav>",
        dev = escape(&d.device.name),
        man = escape(&d.device.manufacturer),
        use_ = escape(&d.device.intended_use),
    );
    for (id, title) in SECTIONS {
        let _ = write!(h, "<a href=\"#{id}\">{}</a>", escape(title));
    }
    h.push_str("</nav>");

    // Risk management.
    let _ = write!(
        h,
        "<section id=\"risk-management\"><h2>Security risk management report</h2>\
<p>All {total} threats of the catalog were evaluated against checks that ran: \
<span class=\"met\">{met} met</span>, <span class=\"partial\">{partial} partial</span>, \
<span class=\"missing\">{missing} missing</span>. A missing or partial row is a finding to resolve \
before submission; nothing below is a claim that a check did not back.</p></section>",
        total = n("total"),
        met = n("met"),
        partial = n("partial"),
        missing = n("missing"),
    );

    // Threat model and views.
    h.push_str(
        "<section id=\"threat-model\"><h2>Threat model and security architecture views</h2>",
    );
    h.push_str(
        "<p>The editable model is <code>threat-dragon.json</code> (OWASP Threat Dragon v2).</p>",
    );
    for (id, svg) in views(d) {
        let _ = write!(h, "<figure id=\"{id}\">{svg}</figure>");
    }
    h.push_str("<table><tr><th>id</th><th>phase</th><th>threat</th><th>FDA</th><th>ATLAS</th><th>OWASP</th><th>status</th></tr>");
    for t in catalog {
        let status = model
            .threats
            .iter()
            .find(|r| r.id == t.id)
            .map(|r| r.status);
        let word = status.map_or("missing", status_word);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&t.id), escape(&t.phase), escape(&t.threat), escape(&t.fda_name),
            escape(&t.atlas.join(", ")), escape(&t.owasp.join(", ")), word.replace(' ', "-"), word
        );
    }
    h.push_str("</table></section>");

    // Risk assessment.
    h.push_str("<section id=\"risk-assessment\"><h2>Cybersecurity risk assessment</h2><table><tr><th>id</th><th>status</th><th>why</th></tr>");
    for r in model.threats.iter().filter(|r| r.status != Status::Met) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            escape(&r.id),
            status_word(r.status),
            status_word(r.status),
            escape(r.reason.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table></section>");

    // BOMs.
    let _ = write!(
        h,
        "<section id=\"bom\"><h2>SBOM and AIBOM</h2><p><code>sbom.cdx.json</code>: CycloneDX 1.6, {} packages of the <code>vigil</code> binary with purls, licences and SHA-256. {}</p></section>",
        facts.sbom_packages,
        if facts.aibom {
            "<code>aibom.cdx.json</code>: CycloneDX 1.6 AIBOM of the verified bundle (model card, data sets, signers)."
        } else {
            "<span class=\"missing\">No AIBOM: the bundle did not verify.</span>"
        }
    );

    // Testing: every check that ran.
    h.push_str("<section id=\"testing\"><h2>Cybersecurity testing</h2><table><tr><th>check</th><th>result</th><th>evidence</th></tr>");
    let mut seen = std::collections::BTreeSet::new();
    for c in model.threats.iter().flat_map(|r| &r.checks) {
        if !seen.insert(c.check.clone()) {
            continue;
        }
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            escape(&c.check),
            if c.ok { "met" } else { "missing" },
            if c.ok { "passed" } else { "FAILED" },
            escape(&c.evidence)
        );
    }
    h.push_str("</table>");
    testing_records(&mut h, facts);
    h.push_str("</section>");

    // Metrics.
    h.push_str("<section id=\"metrics\"><h2>Vulnerability metrics</h2>");
    let l = &facts.ledger;
    if l.update_events.is_empty() {
        h.push_str("<p class=\"missing\">No update ledger: time to patch and time to deploy cannot be measured (deploy.toml [update] state).</p>");
    } else {
        h.push_str("<table><tr><th>update step</th><th>events</th></tr>");
        for (k, v) in &l.update_events {
            let _ = write!(h, "<tr><td>{}</td><td>{v}</td></tr>", escape(k));
        }
        h.push_str("</table>");
        seconds_table(
            &mut h,
            "time to patch: publication to activation (s)",
            &l.time_to_patch,
            "No release in the update ledger says when it was published (custom.published of its TUF target): time to patch cannot be measured.",
        );
        seconds_table(
            &mut h,
            "time to deploy: download to activation (s)",
            &l.time_to_deploy,
            "No release was activated: time to deploy cannot be measured.",
        );
    }
    for e in &l.errors {
        let _ = write!(h, "<p class=\"missing\">{}</p>", escape(e));
    }
    h.push_str("</section>");

    // Traceability.
    h.push_str("<section id=\"traceability\"><h2>Traceability matrix</h2><table><tr><th>threat</th><th>control</th><th>test (check)</th><th>evidence</th></tr>");
    for t in catalog {
        let Some(r) = model.threats.iter().find(|r| r.id == t.id) else {
            continue;
        };
        for c in &r.checks {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                escape(&t.id),
                escape(&t.control),
                if c.ok { "met" } else { "missing" },
                escape(&c.check),
                escape(&c.evidence)
            );
        }
    }
    h.push_str("</table></section>");

    let _ = writeln!(
        h,
        "<section id=\"support\"><h2>Support and disclosure</h2><p>Level of support: {}. End of support: {}. \
Coordinated vulnerability disclosure: {}.</p></section></body></html>",
        escape(&d.support.level),
        escape(&d.support.end_of_support),
        escape(&d.contact.disclosure)
    );
    h
}

/// A release-by-seconds table, or `none` as a finding.
fn seconds_table(h: &mut String, what: &str, rows: &[(String, f64)], none: &str) {
    if rows.is_empty() {
        let _ = write!(h, "<p class=\"partial\">{}</p>", escape(none));
        return;
    }
    let _ = write!(
        h,
        "<table><tr><th>release</th><th>{}</th></tr>",
        escape(what)
    );
    for (v, s) in rows {
        let _ = write!(h, "<tr><td>{}</td><td>{s:.1}</td></tr>", escape(v));
    }
    h.push_str("</table>");
}

/// The testing section's records: fuzzing, crash trials, interop suites, and the refusals the
/// gateway counted (mutual TLS at work).
fn testing_records(h: &mut String, facts: &PackFacts) {
    use crate::facts::TestKind;
    for (kind, title) in [
        (TestKind::Fuzz, "Fuzzing"),
        (
            TestKind::CrashTrials,
            "Crash trials (SIGKILL at random moments)",
        ),
        (TestKind::Interop, "Interoperability suites"),
    ] {
        let _ = write!(h, "<h3>{}</h3>", escape(title));
        let rows: Vec<&TestRecord> = facts.tests.iter().filter(|r| r.kind == kind).collect();
        if rows.is_empty() {
            h.push_str("<p class=\"missing\">No record (deploy.toml [evidence] test_records).</p>");
            continue;
        }
        h.push_str("<table><tr><th>name</th><th>tool</th><th>runs</th><th>failures</th><th>seconds</th><th>finished</th><th>detail</th></tr>");
        for r in rows {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{:.0}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.name),
                escape(&r.tool),
                r.runs,
                if r.failures == 0 { "met" } else { "missing" },
                r.failures,
                r.seconds,
                escape(&r.finished),
                escape(&r.detail)
            );
        }
        h.push_str("</table>");
    }
    for e in &facts.test_errors {
        let _ = write!(h, "<p class=\"missing\">{}</p>", escape(e));
    }
    h.push_str("<h3>Refusals at the gateway (mutual TLS and client roles)</h3>");
    let ledger = &facts.ledger.gateway_refusals;
    if ledger.is_empty() && facts.metrics_refusals.is_empty() && facts.metrics_error.is_none() {
        h.push_str("<p class=\"partial\">No refusal counted: no gateway ledger with refusals and no /metrics snapshot (deploy.toml [ledger], [evidence] metrics).</p>");
    } else {
        h.push_str("<table><tr><th>source</th><th>refusal</th><th>count</th></tr>");
        for (src, rows) in [("ledger", ledger), ("/metrics", &facts.metrics_refusals)] {
            for (k, n) in rows {
                let _ = write!(
                    h,
                    "<tr><td>{src}</td><td>{}</td><td>{n}</td></tr>",
                    escape(k)
                );
            }
        }
        h.push_str("</table>");
        if let Some(e) = &facts.metrics_error {
            let _ = write!(h, "<p class=\"missing\">{}</p>", escape(e));
        }
    }
}

/// `README.md`: the same findings as Markdown.
pub fn readme(model: &ThreatModel, d: &Deployment) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Premarket cybersecurity evidence: {}\n", d.device.name);
    let _ = writeln!(
        m,
        "Open `index.html` (self-contained). Files: {}.\n",
        FILES.join(", ")
    );
    let rows: Vec<Vec<String>> = model
        .threats
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                status_word(r.status).into(),
                markdown_cell(r.reason.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    m.push_str(&vigil_report::markdown::table(
        &["id", "status", "why"],
        &rows,
    ));
    m
}

//! Self-contained HTML reports (`vigil-report`: inline SVG, no scripts, no network), each with
//! its JSON embedded.

use std::fmt::Write as _;

use vigil_report::{escape, lines, number};

use crate::extraction::ExtractionReport;
use crate::membership::Membership;
use crate::performance::{Estimate, PerformanceReport};
use crate::robustness::RobustnessReport;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:72em}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}\
figure{display:inline-block;margin:1em}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}";

fn page(title: &str, body: &str, json: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>{STYLE}</style></head><body><h1>{t}</h1>{body}<h2>JSON</h2><pre>{}</pre></body></html>\n",
        escape(json),
        t = escape(title),
    )
}

fn opt(v: Option<f64>) -> String {
    v.map(number).unwrap_or_else(|| "-".into())
}

/// The robustness report: a table, and accuracy against budget per attack, bare and through
/// the guard.
pub fn robustness_html(r: &RobustnessReport, adaptive: bool) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>{} rows; clean accuracy {}; budgets in standard deviations of the features over the \
calibration rows{}.</p><table><tr><th>attack</th><th>norm</th><th>budget</th><th>accuracy under attack</th>\
<th>success rate</th><th>median perturbation</th><th>median queries</th><th>guard abstained</th>\
<th>success through guard</th></tr>",
        r.rows,
        number(r.clean_accuracy),
        if adaptive {
            "; adaptive: the attacker queried the guard"
        } else {
            ""
        }
    );
    for a in &r.attacks {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(a.attack),
            escape(a.norm),
            number(a.budget),
            number(a.accuracy_under_attack),
            number(a.success_rate),
            opt(a.median_perturbation),
            a.median_queries.map_or("-".into(), |q| q.to_string()),
            opt(a.guard.abstained),
            opt(a.guard.success_rate_through_guard)
        );
    }
    b.push_str("</table>");
    let mut names: Vec<&str> = r.attacks.iter().map(|a| a.attack).collect();
    names.dedup();
    for name in names {
        let mut bare: Vec<(f64, f64)> = Vec::new();
        let mut guarded: Vec<(f64, f64)> = Vec::new();
        for a in r.attacks.iter().filter(|a| a.attack == name) {
            bare.push((a.budget, a.accuracy_under_attack));
            let through = a.guard.success_rate_through_guard.unwrap_or(0.0);
            guarded.push((a.budget, r.clean_accuracy * (1.0 - through)));
        }
        bare.sort_by(|x, y| x.0.total_cmp(&y.0));
        guarded.sort_by(|x, y| x.0.total_cmp(&y.0));
        let title = format!("{name}: accuracy against budget");
        let _ = write!(
            b,
            "<figure>{}<figcaption>{}: bare model (blue), through the guard (orange)</figcaption></figure>",
            lines(&title, &[("bare model", &bare), ("through the guard", &guarded)]),
            escape(name)
        );
    }
    page(
        "Vigil robustness assessment",
        &b,
        &serde_json::to_string(r).unwrap_or_default(),
    )
}

/// The membership report: a table, and the ROC curve of each attack per output policy.
pub fn membership_html(m: &Membership) -> String {
    let r = &m.report;
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>{} members, {} non-members. An AUC of 0.5 means the attack learns nothing.</p>\
<table><tr><th>policy</th><th>attack</th><th>AUC</th><th>TPR at 1% FPR</th></tr>",
        r.members, r.nonmembers
    );
    for p in &r.policies {
        for a in &p.attacks {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(p.policy),
                escape(a.attack),
                number(a.auc),
                number(a.tpr_at_1pct_fpr)
            );
        }
    }
    b.push_str("</table>");
    let mut attacks: Vec<&str> = m.scores.iter().map(|s| s.attack).collect();
    attacks.sort_unstable();
    attacks.dedup();
    for attack in attacks {
        let series: Vec<(&str, &[(f64, f64)])> = m
            .scores
            .iter()
            .filter(|s| s.attack == attack)
            .map(|s| (s.policy, s.roc.as_slice()))
            .collect();
        let legend: Vec<&str> = series.iter().map(|s| s.0).collect();
        let _ = write!(
            b,
            "<figure>{}<figcaption>{} attack: ROC (false-positive rate across, true-positive rate up) \
under the policies {} (blue, orange, green, red)</figcaption></figure>",
            lines(&format!("{attack}: ROC per output policy"), &series),
            escape(attack),
            escape(&legend.join(", "))
        );
    }
    page(
        "Vigil membership inference assessment",
        &b,
        &serde_json::to_string(r).unwrap_or_default(),
    )
}

fn est(e: &Estimate) -> String {
    match (e.value, e.ci) {
        (Some(v), Some([lo, hi])) => format!("{} [{}, {}]", number(v), number(lo), number(hi)),
        (Some(v), None) => number(v),
        _ => "-".into(),
    }
}

/// The subgroup performance report: a table with the intervals.
pub fn performance_html(r: &PerformanceReport) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>{} rows; positive class <code>{}</code>; 95% percentile bootstrap intervals ({} resamples, seed {}).</p>\
<table><tr><th>subgroup</th><th>rows</th><th>accuracy</th><th>sensitivity</th><th>specificity</th>\
<th>calibration error</th></tr>",
        r.rows,
        escape(&r.positive),
        r.bootstrap,
        r.seed
    );
    for g in &r.groups {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&g.subgroup),
            g.rows,
            est(&g.accuracy),
            est(&g.sensitivity),
            est(&g.specificity),
            est(&g.calibration_error)
        );
    }
    b.push_str("</table>");
    page(
        "Vigil subgroup performance",
        &b,
        &serde_json::to_string(r).unwrap_or_default(),
    )
}

/// The extraction report: what the attacker got through the guard.
pub fn extraction_html(r: &ExtractionReport) -> String {
    let b = format!(
        "<table><tr><th>strategy</th><th>queries</th><th>answered</th><th>refused</th>\
<th>first extraction alarm at query</th><th>held-out rows</th><th>surrogate agreement</th></tr>\
<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        escape(r.strategy),
        r.queries,
        r.answered,
        r.refused,
        r.first_alarm.map_or("never".into(), |q| q.to_string()),
        r.heldout,
        opt(r.agreement)
    );
    page(
        "Vigil extraction assessment",
        &b,
        &serde_json::to_string(r).unwrap_or_default(),
    )
}

//! The drift report: a results table and one plot per drifted feature.

use std::fmt::Write as _;

use crate::svg::{paired_bars, Binned};
use crate::text::{escape, number};

/// Everything a drift report shows; built by the caller from a drift comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriftPage {
    /// The reference data, as named to the user.
    pub reference: String,
    /// The current data, as named to the user.
    pub current: String,
    /// Significance level of the drift flags.
    pub alpha: f64,
    /// Whether any result drifted.
    pub drift: bool,
    /// One row per test and feature.
    pub results: Vec<DriftRow>,
    /// Whether the joint MMD test over all numeric columns drifted.
    pub joint_drift: bool,
    /// One plot per drifted feature, reference against current.
    pub figures: Vec<DriftFigure>,
}

/// One result of the table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriftRow {
    /// Column name (`*` for a joint test).
    pub feature: String,
    /// Test name.
    pub test: String,
    /// Test statistic.
    pub statistic: f64,
    /// Raw p-value.
    pub p_value: f64,
    /// Adjusted p-value, under a correction.
    pub p_adjusted: Option<f64>,
    /// Whether the result drifted.
    pub drift: bool,
}

/// The distributions of one feature, reference against current.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriftFigure {
    /// Column name.
    pub feature: String,
    /// Shares per bin or category: reference first, current second.
    pub binned: Binned,
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}\
.drift{color:#b00;font-weight:bold}figure{display:inline-block;margin:1em}";

/// The self-contained HTML report (no scripts, no external resources; all text escaped).
pub fn drift_html(page: &DriftPage) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Vigil drift report</title>\
<style>{STYLE}</style></head><body>\
<h1>Vigil drift report</h1><p>Reference: <code>{}</code> &middot; current: <code>{}</code> &middot; alpha {} &middot; \
overall: <span class=\"{}\">{}</span></p><table><tr><th>feature</th><th>test</th><th>statistic</th><th>p-value</th>\
<th>p-adjusted</th><th>drift</th></tr>",
        escape(&page.reference),
        escape(&page.current),
        page.alpha,
        if page.drift { "drift" } else { "" },
        if page.drift { "drift found" } else { "no drift" }
    );
    for r in &page.results {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            escape(&r.feature),
            escape(&r.test),
            number(r.statistic),
            number(r.p_value),
            r.p_adjusted.map(number).unwrap_or_default(),
            if r.drift { "drift" } else { "" },
            if r.drift { "yes" } else { "no" }
        );
    }
    h.push_str("</table><h2>Drifted features</h2>");
    if page.joint_drift {
        h.push_str(
            "<p>MMD found joint drift over all numeric columns (feature <code>*</code>).</p>",
        );
    }
    for f in &page.figures {
        h.push_str("<figure>");
        h.push_str(&paired_bars(&f.feature, &f.binned));
        let _ = write!(
            h,
            "<figcaption>{}: reference (blue) against current (orange)</figcaption></figure>",
            escape(&f.feature)
        );
    }
    h.push_str("</body></html>\n");
    h
}

/// The same report as Markdown: a summary line and the results table (no plots).
pub fn drift_markdown(page: &DriftPage) -> String {
    let mut m = format!(
        "# Vigil drift report\n\nReference: {} · current: {} · alpha {} · overall: **{}**\n\n",
        crate::text::markdown_cell(&page.reference),
        crate::text::markdown_cell(&page.current),
        page.alpha,
        if page.drift {
            "drift found"
        } else {
            "no drift"
        }
    );
    let rows: Vec<Vec<String>> = page
        .results
        .iter()
        .map(|r| {
            vec![
                r.feature.clone(),
                r.test.clone(),
                number(r.statistic),
                number(r.p_value),
                r.p_adjusted.map(number).unwrap_or_default(),
                if r.drift { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    m.push_str(&crate::markdown::table(
        &[
            "feature",
            "test",
            "statistic",
            "p-value",
            "p-adjusted",
            "drift",
        ],
        &rows,
    ));
    m
}

//! Reports stand alone and escape whatever text comes from data.

#![allow(clippy::unwrap_used)]

use vigil_report::{
    bars, drift_html, drift_markdown, histogram, lines, markdown, paired_bars, Binned, DriftFigure,
    DriftPage, DriftRow,
};

const HOSTILE: &str = "<script>alert('x')</script>\"&|`*_\n# [a](b)";

fn page() -> DriftPage {
    DriftPage {
        reference: HOSTILE.into(),
        current: "cur.csv".into(),
        alpha: 0.05,
        drift: true,
        results: vec![
            DriftRow {
                feature: HOSTILE.into(),
                test: "chi2".into(),
                statistic: f64::INFINITY,
                p_value: 1e-9,
                p_adjusted: Some(2e-9),
                drift: true,
            },
            DriftRow {
                feature: "*".into(),
                test: "mmd".into(),
                statistic: 0.01,
                p_value: 0.0,
                p_adjusted: None,
                drift: true,
            },
        ],
        joint_drift: true,
        figures: vec![DriftFigure {
            feature: HOSTILE.into(),
            binned: Binned::proportions(&[HOSTILE.into(), "b".into()], &[3, 1], &[0, 4]),
        }],
    }
}

fn assert_self_contained(html: &str) {
    for banned in ["<script", "href", "src=", "@import", "url(", "javascript:"] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
}

#[test]
fn drift_html_escapes_data_and_loads_nothing() {
    let html = drift_html(&page());
    assert_self_contained(&html);
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"));
    assert!(html.contains("MMD found joint drift"));
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    // The page round-trips through JSON: a report can be made from a stored page.
    assert!(html.contains("<td>inf</td>"));
    let mut finite = page();
    finite.results[0].statistic = 3.5;
    let json = serde_json::to_string(&finite).unwrap();
    let back: DriftPage = serde_json::from_str(&json).unwrap();
    assert_eq!(drift_html(&back), drift_html(&finite));
}

#[test]
fn markdown_cells_cannot_break_the_table() {
    let md = drift_markdown(&page());
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 4, "{md}");
    for l in &table {
        // Every row has the header's 6 cells: unescaped pipes would add more.
        assert_eq!(l.matches(" |").count(), 6, "{l}");
    }
    assert!(!md.contains("<script>"));
    let t = markdown::table(&["a"], &[vec!["x|y".into()]]);
    assert_eq!(t, "| a |\n| --- |\n| x\\|y |\n");
}

#[test]
fn primitives_are_escaped_svg_and_survive_odd_data() {
    let nan = [f64::NAN, f64::INFINITY, -1.0, 0.0];
    for svg in [
        paired_bars(HOSTILE, &Binned::histograms(&nan, &[], 30)),
        paired_bars(HOSTILE, &Binned::histograms(&[], &[], 0)),
        bars(HOSTILE, &[HOSTILE.into()], &[f64::NAN]),
        histogram(HOSTILE, &[1.0, 2.0, 2.0, 3.0], 3),
        lines(
            HOSTILE,
            &[(HOSTILE, &[(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)][..])],
        ),
        lines("empty", &[]),
    ] {
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        assert_self_contained(&svg);
        assert!(!svg.contains("<script>"));
    }
    let b = Binned::histograms(&[0.0, 1.0, 1.0, 2.0], &[2.0, 2.0], 2);
    assert_eq!(b.first, [0.25, 0.75]);
    assert_eq!(b.second, [0.0, 1.0]);
    assert_eq!(b.labels, ["0.000000", "2.000000"]);
}

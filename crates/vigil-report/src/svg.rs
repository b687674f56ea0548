//! Inline SVG plots: self-contained `<svg>` elements (no scripts, no external resources), text
//! escaped. Colours: reference `#1f77b4` (blue), current `#ff7f0e` (orange).

use std::fmt::Write as _;

use crate::text::{escape, number};

/// Plot size, in pixels.
const W: f64 = 480.0;
const H: f64 = 240.0;
const PAD: f64 = 30.0;
const BLUE: &str = "#1f77b4";
const ORANGE: &str = "#ff7f0e";

/// Proportions of two samples on shared bins: labels for the bins (empty where none is drawn)
/// and the share of each sample in each bin.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Binned {
    /// One label per bin (empty: no label drawn).
    pub labels: Vec<String>,
    /// Share of the first sample per bin.
    pub first: Vec<f64>,
    /// Share of the second sample per bin.
    pub second: Vec<f64>,
}

impl Binned {
    /// Histograms of two samples on `bins` equal-width bins spanning both (NaN values left
    /// out), as shares of each sample; the first and last bins are labelled with the range.
    pub fn histograms(first: &[f64], second: &[f64], bins: usize) -> Binned {
        let bins = bins.max(1);
        let present = |v: &[f64]| {
            v.iter()
                .copied()
                .filter(|x| !x.is_nan())
                .collect::<Vec<_>>()
        };
        let (a, b) = (present(first), present(second));
        let lo = a.iter().chain(&b).copied().fold(f64::INFINITY, f64::min);
        let hi = a
            .iter()
            .chain(&b)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let hist = |v: &[f64]| {
            let mut h = vec![0.0; bins];
            for &x in v {
                let k = (((x - lo) / span) * bins as f64).floor();
                let k = if k.is_finite() && k > 0.0 {
                    k as usize
                } else {
                    0
                };
                if let Some(slot) = h.get_mut(k.min(bins - 1)) {
                    *slot += 1.0;
                }
            }
            let n = v.len().max(1) as f64;
            h.into_iter().map(|x| x / n).collect::<Vec<f64>>()
        };
        let mut labels = vec![String::new(); bins];
        if let Some(l) = labels.first_mut() {
            *l = number(lo);
        }
        if let Some(l) = labels.last_mut() {
            *l = number(hi);
        }
        Binned {
            labels,
            first: hist(&a),
            second: hist(&b),
        }
    }

    /// Shares of two samples' category counts (categories as labels).
    pub fn proportions(categories: &[String], first: &[u64], second: &[u64]) -> Binned {
        let share = |v: &[u64]| {
            let n = v.iter().sum::<u64>().max(1) as f64;
            v.iter().map(|&x| x as f64 / n).collect()
        };
        Binned {
            labels: categories.to_vec(),
            first: share(first),
            second: share(second),
        }
    }
}

fn open(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">\
<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>",
        escape(title)
    )
}

fn close(s: &mut String, title: &str) {
    let _ = write!(
        s,
        "<line x1=\"{PAD}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#333\"/><text x=\"{PAD}\" y=\"16\" font-size=\"12\">{2}</text></svg>",
        H - PAD,
        W - PAD,
        escape(title)
    );
}

/// Two series as side-by-side bars per bin (first blue, second orange), scaled to the largest
/// value, labelled under the bins that have a label, titled `title`.
pub fn paired_bars(title: &str, binned: &Binned) -> String {
    let k = binned.labels.len().max(1) as f64;
    let max = binned
        .first
        .iter()
        .chain(&binned.second)
        .copied()
        .fold(0.0, f64::max)
        .max(1e-12);
    let bw = (W - 2.0 * PAD) / k;
    let mut s = open(title);
    for (i, (a, b)) in binned.first.iter().zip(&binned.second).enumerate() {
        let x = PAD + i as f64 * bw;
        let ha = a / max * (H - 2.0 * PAD);
        let hb = b / max * (H - 2.0 * PAD);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{BLUE}\" fill-opacity=\"0.6\"/>\
<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{ORANGE}\" fill-opacity=\"0.6\"/>",
            x,
            H - PAD - ha,
            bw / 2.0,
            ha,
            x + bw / 2.0,
            H - PAD - hb,
            bw / 2.0,
            hb
        );
        label(&mut s, binned.labels.get(i), x);
    }
    close(&mut s, title);
    s
}

fn label(s: &mut String, l: Option<&String>, x: f64) {
    if let Some(l) = l.filter(|l| !l.is_empty()) {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
            x,
            H - PAD / 3.0,
            escape(l)
        );
    }
}

/// One series as bars (blue), scaled to the largest value, one label per bar.
pub fn bars(title: &str, labels: &[String], values: &[f64]) -> String {
    let k = labels.len().max(values.len()).max(1) as f64;
    let max = values.iter().copied().fold(0.0, f64::max).max(1e-12);
    let bw = (W - 2.0 * PAD) / k;
    let mut s = open(title);
    for (i, v) in values.iter().enumerate() {
        let x = PAD + i as f64 * bw;
        let h = (v.max(0.0) / max * (H - 2.0 * PAD)).min(H - 2.0 * PAD);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{BLUE}\" fill-opacity=\"0.8\"/>",
            x + bw * 0.1,
            H - PAD - h,
            bw * 0.8,
            h
        );
        label(&mut s, labels.get(i), x);
    }
    close(&mut s, title);
    s
}

/// A histogram of one sample on `bins` equal-width bins (NaN left out), as counts.
pub fn histogram(title: &str, values: &[f64], bins: usize) -> String {
    let b = Binned::histograms(values, &[], bins);
    let n = values.iter().filter(|x| !x.is_nan()).count() as f64;
    let counts: Vec<f64> = b.first.iter().map(|p| p * n).collect();
    bars(title, &b.labels, &counts)
}

/// Lines through points `(x, y)`, one polyline per series (colours in turn: blue, orange,
/// green, red), both axes scaled to the data; non-finite points are left out.
pub fn lines(title: &str, series: &[(&str, &[(f64, f64)])]) -> String {
    const COLOURS: [&str; 4] = [BLUE, ORANGE, "#2ca02c", "#d62728"];
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = || series.iter().flat_map(|(_, pts)| pts.iter().filter(finite));
    let (x0, x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (y0, y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    let sx = if x1 > x0 { x1 - x0 } else { 1.0 };
    let sy = if y1 > y0 { y1 - y0 } else { 1.0 };
    let mut s = open(title);
    for (i, (name, pts)) in series.iter().enumerate() {
        let colour = COLOURS.get(i % COLOURS.len()).copied().unwrap_or(BLUE);
        let points: Vec<String> = pts
            .iter()
            .filter(finite)
            .map(|&(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    PAD + (x - x0) / sx * (W - 2.0 * PAD),
                    H - PAD - (y - y0) / sy * (H - 2.0 * PAD)
                )
            })
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
            points.join(" "),
            escape(name)
        );
    }
    if x0.is_finite() {
        label(&mut s, Some(&number(x0)), PAD);
        label(&mut s, Some(&number(x1)), W - 2.0 * PAD);
    }
    close(&mut s, title);
    s
}

/// A box-and-arrow diagram: `nodes` are `(key, label, column, row)` on a grid, `edges` are
/// `(from key, to key, label)`. Every text is escaped.
pub fn flow_diagram(
    title: &str,
    nodes: &[(&str, &str, u32, u32)],
    edges: &[(&str, &str, &str)],
) -> String {
    use std::fmt::Write as _;
    const W: f64 = 170.0;
    const H: f64 = 56.0;
    const GX: f64 = 230.0;
    const GY: f64 = 110.0;
    let pos = |key: &str| {
        nodes
            .iter()
            .find(|n| n.0 == key)
            .map(|n| (20.0 + f64::from(n.2) * GX, 40.0 + f64::from(n.3) * GY))
    };
    let cols = nodes.iter().map(|n| n.2).max().unwrap_or(0);
    let rows = nodes.iter().map(|n| n.3).max().unwrap_or(0);
    let width = 40.0 + f64::from(cols) * GX + W;
    let height = 60.0 + f64::from(rows) * GY + H;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{t}"><defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#555"/></marker></defs><text x="10" y="20" font-size="14" font-weight="bold">{t}</text>"##,
        t = crate::text::escape(title)
    );
    for (from, to, label) in edges {
        let (Some((x1, y1)), Some((x2, y2))) = (pos(from), pos(to)) else {
            continue;
        };
        let (ax, ay) = (x1 + W / 2.0, y1 + H / 2.0);
        let (bx, by) = (x2 + W / 2.0, y2 + H / 2.0);
        // End the arrow at the target box's border.
        let (dx, dy) = (bx - ax, by - ay);
        let t = if dx.abs() * H > dy.abs() * W {
            (W / 2.0) / dx.abs().max(1e-9)
        } else {
            (H / 2.0) / dy.abs().max(1e-9)
        };
        let (ex, ey) = (bx - dx * t, by - dy * t);
        let _ = write!(
            s,
            r##"<line x1="{ax:.1}" y1="{ay:.1}" x2="{ex:.1}" y2="{ey:.1}" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#333">{}</text>"##,
            (ax + ex) / 2.0 + 4.0,
            (ay + ey) / 2.0 - 4.0,
            crate::text::escape(label)
        );
    }
    for (_, label, c, r) in nodes {
        let (x, y) = (20.0 + f64::from(*c) * GX, 40.0 + f64::from(*r) * GY);
        let _ = write!(
            s,
            r##"<rect x="{x}" y="{y}" width="{W}" height="{H}" rx="6" fill="#eef3fb" stroke="#335"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"##,
            x + W / 2.0,
            y + H / 2.0 + 4.0,
            crate::text::escape(label)
        );
    }
    s.push_str("</svg>");
    s
}

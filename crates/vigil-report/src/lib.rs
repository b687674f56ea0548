//! Vigil's reports: pure functions from serde types to self-contained HTML, inline SVG plots and
//! Markdown, for the drift monitor, data screening, assessments, evidence packs and the
//! dashboard.
//!
//! Every output stands alone: no scripts, no fonts, no style sheets or images from elsewhere,
//! no network at all, so a report can be archived with a device's records and opened offline
//! years later. Every piece of text that comes from data (file and column names, categories) is
//! escaped ([`escape`] for HTML and SVG, [`markdown_cell`] for Markdown): a column named
//! `<script>` is shown, never run.
//!
//! - Primitives: [`paired_bars`] (two distributions on shared bins, [`Binned`]), [`bars`],
//!   [`histogram`], [`lines`]; [`markdown::table`].
//! - Reports: [`drift_html`] and [`drift_markdown`] of a [`DriftPage`].
//!
//! # Example
//!
//! ```
//! use vigil_report::{drift_html, Binned, DriftFigure, DriftPage, DriftRow};
//!
//! let page = DriftPage {
//!     reference: "ref.csv".into(),
//!     current: "cur <1>.csv".into(),
//!     alpha: 0.05,
//!     drift: true,
//!     results: vec![DriftRow {
//!         feature: "age".into(),
//!         test: "ks".into(),
//!         statistic: 0.4,
//!         p_value: 1e-6,
//!         p_adjusted: None,
//!         drift: true,
//!     }],
//!     joint_drift: false,
//!     figures: vec![DriftFigure {
//!         feature: "age".into(),
//!         binned: Binned::histograms(&[50.0, 52.0, 61.0], &[70.0, 71.0, 75.0], 30),
//!     }],
//! };
//! let html = drift_html(&page);
//! assert!(html.contains("cur &lt;1&gt;.csv") && html.contains("<svg"));
//! assert!(!html.contains("href") && !html.contains("src=") && !html.contains("<script"));
//! ```

#![deny(missing_docs)]

mod drift;
pub mod markdown;
mod svg;
mod text;

// The public interface:
// text
pub use crate::text::{escape, markdown_cell, number};
// plots
pub use crate::svg::{bars, flow_diagram, histogram, lines, paired_bars, Binned};
// reports
pub use crate::drift::{drift_html, drift_markdown, DriftFigure, DriftPage, DriftRow};

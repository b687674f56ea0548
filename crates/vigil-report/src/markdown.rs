//! Markdown tables.

use crate::text::markdown_cell;

/// A GitHub-flavoured Markdown table: the header, a rule, then one line per row; every cell
/// escaped so that no cell can end its row or start markup.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let line = |cells: &mut dyn Iterator<Item = String>| {
        let mut s = String::from("|");
        for c in cells {
            s.push(' ');
            s.push_str(&c);
            s.push_str(" |");
        }
        s.push('\n');
        s
    };
    let mut out = line(&mut header.iter().map(|h| markdown_cell(h)));
    out.push_str(&line(&mut header.iter().map(|_| "---".to_owned())));
    for r in rows {
        out.push_str(&line(&mut r.iter().map(|c| markdown_cell(c))));
    }
    out
}

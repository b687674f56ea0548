//! Escaping and number formatting shared by every output.

/// Escape text for HTML element content and quoted attribute values (`& < > " '`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for people: `nan`, `inf`, `-inf`; scientific with 4 decimals below 1e-4 or from
/// 1e6 on (zero excepted); otherwise fixed with 6 decimals.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e6) {
        format!("{x:.4e}")
    } else {
        format!("{x:.6}")
    }
}

/// Escape text for a Markdown table cell: `|` and line breaks would end the cell, `\`, `` ` ``,
/// `*`, `_`, `<` and `[` would start markup.
pub fn markdown_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

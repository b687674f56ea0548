//! What people and programs read: the table, the `--json` document, and the lossless forms of
//! file names that are not UTF-8.

use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use serde::Serialize;

use crate::FileReport;

/// The exact bytes of a path (on Unix, the bytes the file system holds).
pub(crate) fn path_bytes(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().into_owned().into_bytes()
    }
}

/// Standard base64 (RFC 4648 section 4, padded).
pub(crate) fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Text made safe for a terminal line: control characters (newlines, escapes, DEL, C1
/// controls) are written as Rust escapes (`\n`, `\u{1b}`) and bytes that are not UTF-8 as
/// `\xFF`, so no name can forge or repaint lines of the table.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// [`escape_bytes`] for text.
fn esc(s: &str) -> String {
    escape_bytes(s.as_bytes())
}

/// Write the table `vigil scan` prints for people: one block per file, one line per finding,
/// then a count by severity. Every name and message is escaped with [`escape_bytes`].
pub fn write_table(out: &mut dyn Write, reports: &[FileReport]) -> io::Result<()> {
    let mut counts = [0usize; 4];
    for r in reports {
        writeln!(
            out,
            "{} ({}):",
            escape_bytes(&path_bytes(&r.path)),
            esc(&r.format)
        )?;
        if r.findings.is_empty() {
            writeln!(out, "  no findings")?;
        }
        for f in &r.findings {
            if let Some(c) = counts.get_mut(f.severity as usize) {
                *c += 1;
            }
            let at = match (&f.member, &f.global) {
                (Some(m), Some(g)) => format!(" [{}] {}", esc(m), esc(g)),
                (Some(m), None) => format!(" [{}]", esc(m)),
                (None, Some(g)) => format!(" {}", esc(g)),
                (None, None) => String::new(),
            };
            writeln!(
                out,
                "  {:<8} {}{at}: {}",
                f.severity.as_str(),
                f.rule,
                esc(&f.message)
            )?;
        }
    }
    writeln!(
        out,
        "{} file(s): {} critical, {} high, {} medium, {} low",
        reports.len(),
        counts[3],
        counts[2],
        counts[1],
        counts[0]
    )
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    files: &'a [FileReport],
}

/// Write the `--json` document, `{"files":[...]}` (see [`FileReport`] for each entry), and a
/// newline. Never fails on a file name: names that are not UTF-8 carry `path_bytes`.
pub fn write_json(out: &mut dyn Write, reports: &[FileReport]) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &JsonDoc { files: reports }).map_err(io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::escape_bytes;

    #[test]
    fn escapes_controls_and_invalid_bytes() {
        assert_eq!(escape_bytes(b"a\nb"), "a\\nb");
        assert_eq!(escape_bytes(b"x\xff.pkl"), "x\\xFF.pkl");
        assert_eq!(escape_bytes(b"\x1b[2J"), "\\u{1b}[2J");
        assert_eq!(escape_bytes("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }
}

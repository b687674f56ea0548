//! Reading the body of a large table on every core: the body is cut at line ends that lie
//! outside quoted fields, the stretches are parsed in parallel and joined in order.
//!
//! A cut is taken at a newline before which the input holds an even number of quotes. For
//! input that parses, that is exactly a newline outside a quoted field (inside quoted fields
//! quotes come in pairs, and fields outside quotes hold none), so the stretches parse to the
//! same records as one pass would. For input that does not parse, or that would pass a limit,
//! the body is parsed again in one pass, whose error (with its line and row) is the one
//! returned.

use rayon::prelude::*;

use crate::body::{parse_part, Part, Plan};
use crate::error::TableError;

/// Below this many bytes a body is parsed in one pass.
pub(crate) const MIN_PARALLEL_BYTES: usize = 1 << 20;

/// Parse the body (the bytes after the header, starting on line `first_line`).
pub(crate) fn parse_body(
    body: &[u8],
    first_line: usize,
    plan: &Plan,
    file: &str,
    min_parallel: usize,
) -> Result<Part, TableError> {
    let threads = rayon::current_num_threads().max(2);
    if body.len() < min_parallel.max(1) {
        return parse_part(body, first_line, 0, plan, file);
    }
    let cuts = cut_points(body, threads * 4);
    let stretches: Vec<&[u8]> = cuts
        .windows(2)
        .filter_map(|w| body.get(*w.first()?..*w.get(1)?))
        .collect();
    // Upper bounds on the rows of each stretch, for the limits and for the line numbers.
    let newlines: Vec<usize> = stretches
        .par_iter()
        .map(|s| memchr::memchr_iter(b'\n', s).count())
        .collect();
    let bound: usize = newlines.iter().map(|n| n + 1).sum();
    let limits = &plan.limits;
    if bound > limits.max_rows || bound.saturating_mul(plan.names.len()) > limits.max_cells {
        // Possibly over a limit: one pass stops exactly there.
        return parse_part(body, first_line, 0, plan, file);
    }
    let mut starts = Vec::with_capacity(stretches.len());
    let mut line = first_line;
    for n in &newlines {
        starts.push(line);
        line += n;
    }
    let parts: Vec<Result<Part, TableError>> = stretches
        .par_iter()
        .zip(starts)
        .map(|(s, line)| parse_part(s, line, 0, plan, file))
        .collect();
    let mut whole: Option<Part> = None;
    for part in parts {
        let Ok(part) = part else {
            return parse_part(body, first_line, 0, plan, file);
        };
        match &mut whole {
            None => whole = Some(part),
            Some(w) => w.append(part),
        }
    }
    match whole {
        Some(w) => Ok(w),
        None => parse_part(body, first_line, 0, plan, file),
    }
}

/// Offsets `0 = c0 < c1 < ... < ck = len` cutting `body` into about `pieces` stretches, each cut
/// just after a newline preceded by an even number of quotes.
pub(crate) fn cut_points(body: &[u8], pieces: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let step = (body.len() / pieces.max(1)).max(1);
    let mut quotes = 0usize; // quotes in body[..scanned]
    let mut scanned = 0usize;
    let mut target = step;
    while target < body.len() {
        let Some(rest) = body.get(target..) else {
            break;
        };
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            break;
        };
        let mut at = target + nl;
        quotes += count_quotes(body.get(scanned..at).unwrap_or_default());
        scanned = at;
        // Move on to the next newline until the quotes before it are even.
        while quotes % 2 == 1 {
            let Some(rest) = body.get(at + 1..) else {
                break;
            };
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                at = body.len();
                break;
            };
            let next = at + 1 + nl;
            quotes += count_quotes(body.get(scanned..next).unwrap_or_default());
            scanned = next;
            at = next;
        }
        let cut = at + 1;
        if cut >= body.len() {
            break;
        }
        cuts.push(cut);
        target = (cut + step).max(target + step);
    }
    cuts.push(body.len());
    cuts
}

fn count_quotes(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'"', bytes).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_after_newlines_outside_quotes() {
        let body = b"1,\"a\nb\"\n2,x\n3,\"c\n\nd\"\n4,y\n".repeat(50);
        for pieces in 1..40 {
            let cuts = cut_points(&body, pieces);
            assert_eq!(cuts.first(), Some(&0));
            assert_eq!(cuts.last(), Some(&body.len()));
            for w in cuts.windows(2) {
                assert!(w[0] < w[1]);
            }
            for &c in &cuts[1..cuts.len() - 1] {
                assert_eq!(body[c - 1], b'\n');
                assert_eq!(count_quotes(&body[..c]) % 2, 0);
            }
        }
    }
}

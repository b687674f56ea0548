//! Issue 20 item 2: a 153 KB xz that expands to 1 GiB took 2.1 GB of memory, and three in one
//! folder 4 GB. This test binary holds one test, so the process's peak resident size is its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

mod wrap;

use vigil_scan::{Limits, Policy, Rule, Scanner, Severity};

/// Peak resident set size of this process, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn issue20_2_xz_bombs_in_a_folder_stay_in_the_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    // 256 MiB of zeros in about 40 KiB of xz (the issue's bomb was 1 GiB in 153 KB; before the
    // fix each such file took more than twice its size in memory). The same, text and lzma.
    let zeros = wrap::wrap_repeated("xz", &[0u8; 1 << 20], 256);
    assert!(zeros.len() < 200 << 10, "{}", zeros.len());
    let text = wrap::wrap_repeated("xz", &[b'a'; 1 << 20], 256);
    let lzma = wrap::wrap_repeated("lzma", &[0u8; 1 << 20], 256);
    for i in 0..3 {
        std::fs::write(dir.path().join(format!("bomb{i}.pkl.xz")), &zeros).unwrap();
    }
    std::fs::write(dir.path().join("text.xz"), &text).unwrap();
    std::fs::write(dir.path().join("bomb.lzma"), &lzma).unwrap();
    let before = peak_rss();
    let out = Scanner::new(Limits::default(), Policy::new()).scan_paths(&[dir.path()]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.reports.len(), 5);
    for r in &out.reports {
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule == Rule::ResourceLimit && f.severity == Severity::Medium),
            "{}: {:?}",
            r.path.display(),
            r.findings
        );
        assert!(
            !r.findings.iter().any(|f| f.rule == Rule::ArchiveMalformed),
            "a bomb is a resource limit, not a malformed archive: {:?}",
            r.findings
        );
    }
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        // The documented bound: max_in_memory (512 MiB) shared by the whole walk, plus one
        // dictionary (at most 64 MiB) and small buffers per thread.
        let threads = rayon::current_num_threads() as u64;
        let bound = (512 << 20) + threads * (80 << 20);
        assert!(
            after <= before.max(bound),
            "peak RSS {} MiB before, {} MiB after (bound {} MiB)",
            before >> 20,
            after >> 20,
            bound >> 20
        );
    }
}

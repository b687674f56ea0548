//! Scan files or directories and print each finding: the library behind `vigil scan`.
//!
//! Run: `cargo run -p vigil-scan --example scan_dir -- crates/vigil-scan/tests/data/malicious`

use vigil_scan::{Limits, Policy, Scanner, Severity};

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let scanner = Scanner::new(Limits::default(), Policy::new());
    let outcome = scanner.scan_paths(&paths);
    for e in &outcome.errors {
        eprintln!("scan_dir: {e}");
    }
    let mut worst = None;
    for report in &outcome.reports {
        for f in &report.findings {
            println!(
                "{} {} {} {}: {}",
                report.path.display(),
                f.severity,
                f.rule,
                f.global.as_deref().unwrap_or("-"),
                f.message
            );
        }
        worst = worst.max(report.max_severity());
    }
    std::process::exit(if worst >= Some(Severity::Medium) {
        1
    } else {
        0
    });
}

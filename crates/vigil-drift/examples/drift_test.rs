//! What `vigil drift test --test T --reference R --current C --json` runs, as a small program:
//! read both CSV files (vigil-table), compare, print the results as JSON. It takes the same
//! arguments, so `bench/drift` can time it where the full `vigil` release build is not at hand:
//! `drift_test drift test --test ks --permutations 100 --reference R.csv --current C.csv --json`.

use vigil_drift::{compare, CompareOptions, MmdOptions, Schema, Table, TestKind, TestSelection};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let test = match value("--test").as_deref() {
        Some("ks") => TestKind::Ks,
        Some("cvm") => TestKind::Cvm,
        Some("mmd") => TestKind::Mmd,
        other => return Err(format!("--test {other:?}: ks, cvm or mmd").into()),
    };
    let permutations = value("--permutations")
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(100);
    let schema = Schema::all();
    let reference = Table::read_path(value("--reference").ok_or("--reference")?.as_ref(), &schema)?;
    let current = Table::read_path(value("--current").ok_or("--current")?.as_ref(), &schema)?;
    let options = CompareOptions {
        tests: TestSelection::One(test),
        mmd: MmdOptions {
            permutations,
            ..MmdOptions::default()
        },
        ..CompareOptions::default()
    };
    let report = compare(&reference, &current, &options)?;
    let results: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|r| serde_json::json!({"feature": r.feature, "statistic": r.statistic, "p_value": r.p_value}))
        .collect();
    println!(
        "{}",
        serde_json::json!({"results": results, "drift": report.drift})
    );
    std::process::exit(i32::from(report.drift));
}

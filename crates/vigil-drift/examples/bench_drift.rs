//! Timing driver for `bench/drift/run` (run: `cargo run --release -p vigil-drift --example
//! bench_drift -- DIR`): reads the raw little-endian f64 inputs the benchmark script wrote to
//! DIR, times the library on them, and prints one JSON object with seconds and results.
//!
//! Inputs: `ref.f64` and `cur.f64` (features x rows, feature-major, sizes in `meta.json` as
//! `{"features": F, "rows": R, "mmd_n": N, "mmd_dim": D, "permutations": P}`), `mmd_x.f64` and
//! `mmd_y.f64` (N x D each, row-major).

use std::time::Instant;

use vigil_drift::{
    compare, Column, CompareOptions, KsMethod, MmdOptions, Table, TestKind, TestSelection,
};

/// CPU time of this process so far (all threads), from `/proc/self/task/*/schedstat`, in
/// seconds; 0 where that is unavailable.
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

fn read_f64(path: &std::path::Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

fn table(data: &[f64], features: usize, rows: usize) -> Table {
    Table::new(
        (0..features).map(|i| format!("f{i}")).collect(),
        (0..features)
            .map(|i| Column::Numeric(data[i * rows..(i + 1) * rows].to_vec()))
            .collect(),
    )
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap_or_default())
            .unwrap_or_default();
    let get = |k: &str| meta[k].as_u64().unwrap_or(0) as usize;
    let (features, rows) = (get("features"), get("rows"));
    let reference = table(&read_f64(&dir.join("ref.f64")), features, rows);
    let current = table(&read_f64(&dir.join("cur.f64")), features, rows);
    let mut out = serde_json::Map::new();
    for (label, tests) in [
        ("ks", TestSelection::One(TestKind::Ks)),
        ("cvm", TestSelection::One(TestKind::Cvm)),
        ("both", TestSelection::Univariate),
    ] {
        let options = CompareOptions {
            tests,
            ks_method: KsMethod::Auto,
            ..CompareOptions::default()
        };
        let best = (0..3)
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_seconds());
                let report = compare(&reference, &current, &options);
                (t.elapsed().as_secs_f64(), cpu_seconds() - c, report)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((secs, cpu, Ok(report))) = best {
            out.insert(format!("{label}_seconds"), secs.into());
            out.insert(format!("{label}_cpu"), cpu.into());
            let pairs: Vec<serde_json::Value> = report
                .results
                .iter()
                .map(|r| serde_json::json!([r.statistic, r.p_value]))
                .collect();
            out.insert(label.into(), pairs.into());
        }
    }
    let (n, dim) = (get("mmd_n"), get("mmd_dim"));
    let x = read_f64(&dir.join("mmd_x.f64"));
    let y = read_f64(&dir.join("mmd_y.f64"));
    let opts = MmdOptions {
        permutations: get("permutations"),
        seed: 1,
        max_points: 2 * n + 1,
        ..MmdOptions::default()
    };
    let (t, c) = (Instant::now(), cpu_seconds());
    if let Ok(r) = vigil_drift::mmd_test(&x, &y, dim, &opts) {
        out.insert("mmd_seconds".into(), t.elapsed().as_secs_f64().into());
        out.insert("mmd_cpu".into(), (cpu_seconds() - c).into());
        out.insert("mmd_statistic".into(), r.statistic.into());
        out.insert("mmd_p_value".into(), r.p_value.into());
        out.insert("mmd_sigma".into(), r.sigma.into());
    }
    println!("{}", serde_json::Value::Object(out));
}

//! Guard overhead per request beside bare tract inference on the same rows.
//!
//! Run (from the repository root; bench/guard/run does this):
//!
//! ```text
//! cargo run --release -p vigil-guard --example overhead -- examples/devices/breast-cancer 20000
//! ```

// A benchmark program: a failed run may stop with a panic.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;
use vigil_bundle::{BundlePolicy, Trust};
use vigil_guard::{parse_csv, CsvLimits, DangerousNoAudit, Guard, GuardOptions, RequestOptions};

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let device = PathBuf::from(
        args.next()
            .unwrap_or("examples/devices/breast-cancer".into()),
    );
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let bundle = device.join("bundle");
    let policy = BundlePolicy::load(&device.join("policy.toml"))?;
    let guard = Arc::new(Guard::open(
        &bundle,
        &Trust::Policy(policy),
        GuardOptions::new(Arc::new(DangerousNoAudit)),
    )?);
    let csv = std::fs::read(device.join("data/validation.csv"))?;
    let rows: Vec<Vec<f32>> = parse_csv(
        &csv,
        "validation.csv",
        guard.contract(),
        &CsvLimits::default(),
    )?
    .into_iter()
    .filter_map(|r| r.values.ok())
    .collect();
    let width = guard.contract().width();
    // Every request a distinct row: the validation rows cycled, each value jittered by up to
    // 0.01% (deterministically), so the extraction monitor sees new queries (exact repeats
    // are skipped by PRADA and would understate its cost). Built before timing.
    let rows: Arc<Vec<Vec<f32>>> = Arc::new(
        (0..n)
            .map(|i| {
                let base = &rows[i % rows.len()];
                base.iter()
                    .enumerate()
                    .map(|(j, v)| {
                        let h = (i as u64 * 0x9e37_79b9 + j as u64 * 0x85eb_ca6b) % 20001;
                        v * (1.0 + (h as f32 - 10000.0) * 1e-8)
                    })
                    .collect()
            })
            .collect(),
    );
    let bare = tract_onnx::onnx()
        .model_for_path(bundle.join("model.onnx"))?
        .with_input_fact(0, f32::fact([1, width]).into())?
        .into_optimized()?
        .into_runnable()?;
    let bare = Arc::new(bare);

    // Each run uses clients of its own: a client reused by a later run would see its virtual
    // clock go back, get no refill, and be rate-limited (measuring refusals, not the pipeline).
    let runs = AtomicUsize::new(0);
    let accepted = Arc::new(AtomicUsize::new(0));
    let run = |threads: usize, guarded: bool| -> (f64, f64) {
        let per = n / threads;
        let run_id = runs.fetch_add(1, Ordering::Relaxed);
        accepted.store(0, Ordering::Relaxed);
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let guard = guard.clone();
                let bare = bare.clone();
                let rows = rows.clone();
                let accepted = accepted.clone();
                std::thread::spawn(move || {
                    let mut lat = Vec::with_capacity(per);
                    let mut shape = [0usize; 2];
                    let clients: Vec<String> = (0..per.div_ceil(5000))
                        .map(|c| format!("bench-{run_id}-{t}-{c}"))
                        .collect();
                    for i in 0..per {
                        let row = &rows[i % rows.len()];
                        let start = Instant::now();
                        if guarded {
                            // A fresh client every 5,000 requests keeps budgets out of the way;
                            // one virtual second per request keeps the bucket full.
                            let request = RequestOptions::new().at(Duration::from_secs(i as u64));
                            let d = guard.infer(
                                &clients[i / 5000],
                                &guard.row(row, &mut shape),
                                &request,
                            );
                            if matches!(d.verdict, vigil_guard::Verdict::Accept { .. }) {
                                accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            std::hint::black_box(d);
                        } else {
                            let input = Tensor::from_shape(&[1, width], row).unwrap();
                            let out = bare.run(tvec!(input.into())).unwrap();
                            std::hint::black_box(out);
                        }
                        lat.push(start.elapsed().as_secs_f64() * 1e6);
                    }
                    lat
                })
            })
            .collect();
        let mut all: Vec<f64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        if guarded {
            let a = accepted.load(Ordering::Relaxed);
            // Validation rows the detectors flag abstain after the model ran: still the whole
            // pipeline. Refusals before the model (rate limit) would make the numbers meaningless.
            eprintln!(
                "  {threads} thread(s): {a} of {} requests accepted",
                all.len()
            );
        }
        if std::env::var_os("OVERHEAD_DETAIL").is_some() {
            let ps: Vec<String> = [0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999]
                .iter()
                .map(|q| format!("p{}={:.1}", q * 100.0, percentile(&mut all, *q)))
                .collect();
            let what = if guarded { "guard" } else { "bare" };
            eprintln!("  {what} {}", ps.join(" "));
        }
        (percentile(&mut all, 0.5), percentile(&mut all, 0.99))
    };
    // Warm-up.
    run(1, false);
    run(1, true);
    println!(
        "device {} ({} requests per cell, validation rows cycled and jittered)",
        device.display(),
        n
    );
    println!("| threads | bare tract p50 µs | p99 µs | guard p50 µs | p99 µs | overhead p50 µs | overhead p99 µs | ratio p50 |");
    println!("|---|---|---|---|---|---|---|---|");
    for threads in [1, 2] {
        let (bp50, bp99) = run(threads, false);
        let (gp50, gp99) = run(threads, true);
        println!(
            "| {threads} | {bp50:.1} | {bp99:.1} | {gp50:.1} | {gp99:.1} | {:.1} | {:.1} | {:.2} |",
            gp50 - bp50,
            gp99 - bp99,
            gp50 / bp50
        );
    }
    Ok(())
}

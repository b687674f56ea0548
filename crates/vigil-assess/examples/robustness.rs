//! HopSkipJump (L-infinity) on the first rows of an example device's validation data, as
//! `vigil assess robustness --attack hopskipjump` runs it, printing the report as JSON and the
//! wall time of the attack on standard error. `bench/assess/run` times it beside ART.
//!
//!   cargo run --release -p vigil-assess --example robustness -- DEVICE_DIR [ROWS] [MAX_QUERIES] [MAX_ITER] [BUDGET]...

use std::path::Path;
use std::time::Instant;

use vigil_assess::{robustness, Attack, HsjParams, Labelled, Norm, RobustnessOptions, Target};
use vigil_bundle::{BundlePolicy, Trust};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let device = Path::new(
        args.get(1)
            .ok_or("usage: robustness DEVICE_DIR [ROWS] [MAX_QUERIES] [MAX_ITER] [BUDGET]...")?,
    );
    let rows: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let max_queries: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let max_iter: usize = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(50);
    let mut budgets: Vec<f64> = args
        .iter()
        .skip(5)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    if budgets.is_empty() {
        budgets = vec![0.5, 1.0];
    }
    let trust = Trust::Policy(BundlePolicy::load(&device.join("policy.toml"))?);
    let target = Target::open(&device.join("bundle"), &trust)?;
    let mut data = Labelled::read(&device.join("data/validation.csv"), target.contract(), None)?;
    data.truncate(rows);
    let options = RobustnessOptions {
        attacks: vec![Attack::HopSkipJump],
        norm: Norm::Linf,
        budgets,
        max_queries,
        seed: 1,
        hsj: HsjParams {
            max_iter,
            max_eval: 1000,
            ..HsjParams::default()
        },
        ..RobustnessOptions::default()
    };
    let start = Instant::now();
    let result = robustness(&target, &data, &options, &|_| {})?;
    eprintln!("attack time {:.3} s", start.elapsed().as_secs_f64());
    println!("{}", serde_json::to_string(&result.report)?);
    Ok(())
}

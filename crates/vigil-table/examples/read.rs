//! Read a CSV file as drift does (every column a number) and say how long it took:
//! `cargo run --release -p vigil-table --example read -- FILE.csv [text columns...]`.

use std::time::Instant;

use vigil_table::{Schema, Table};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read FILE.csv [TEXT_COLUMN...]")?;
    let schema = Schema::all().text(args);
    let t = Instant::now();
    let table = Table::read_path(path.as_ref(), &schema)?;
    println!(
        "{path}: {} columns x {} rows in {:.3} s",
        table.names.len(),
        table.rows(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

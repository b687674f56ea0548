//! Benchmark of vigil-ledger against plain SQLite inserts of the same rows with the same
//! durability (WAL, synchronous=FULL), in the same run. Run through `bench/ledger/run`:
//!
//!     cargo run --release -p vigil-ledger --example ledger_bench -- [--entries N] [--vigil PATH]
//!
//! Prints a Markdown table with ratios. Inputs are generated at run time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use vigil_ledger::{canonicalize_event, Ledger, Limits};

fn event(i: u64) -> String {
    format!(
        "{{\"event\":\"inference\",\"seq\":{i},\"model\":\"sha256:9f2c4e\",\"input\":\"{:016x}\",\"verdict\":\"accept\",\"score\":0.{:04}}}",
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        i % 10000
    )
}

fn plain(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute_batch("CREATE TABLE entries(idx INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        .unwrap();
    c
}

fn disk_bytes(path: &Path) -> u64 {
    let mut n = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    for ext in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        n += std::fs::metadata(Path::new(&p))
            .map(|m| m.len())
            .unwrap_or(0);
    }
    n
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let mut entries: u64 = 1_000_000;
    let mut vigil: Option<String> = None;
    let mut per_append: u64 = 2000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--entries" => entries = args.next().unwrap().parse().unwrap(),
            "--per-append" => per_append = args.next().unwrap().parse().unwrap(),
            "--vigil" => vigil = args.next(),
            other => panic!("unknown argument {other}"),
        }
    }
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let canon: Vec<Vec<u8>> = (0..entries)
        .map(|i| canonicalize_event(event(i).as_bytes(), &Limits::default()).unwrap())
        .collect();
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    let batch = 10_000usize;

    // 1. Batched appends through the library vs plain SQLite batched inserts.
    let lpath = dir.path().join("ledger.db");
    let log = Ledger::create(&lpath, "bench/log", &key.verifying_key(), None).unwrap();
    let t = Instant::now();
    for chunk in (0..entries).collect::<Vec<_>>().chunks(batch) {
        let evs: Vec<String> = chunk.iter().map(|i| event(*i)).collect();
        log.append_batch(&evs).unwrap();
    }
    let ledger_batched = t.elapsed();
    let ppath = dir.path().join("plain.db");
    let mut pc = plain(&ppath);
    let t = Instant::now();
    for (c, chunk) in canon.chunks(batch).enumerate() {
        let tx = pc.transaction().unwrap();
        {
            let mut st = tx
                .prepare_cached("INSERT INTO entries(idx, data) VALUES (?1, ?2)")
                .unwrap();
            for (k, data) in chunk.iter().enumerate() {
                st.execute(params![(c * batch + k) as i64, data]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let plain_batched = t.elapsed();
    rows.push((
        format!("durable appends/s, batches of {batch} (library append_batch, incl. JCS)"),
        format!("{:.0}", rate(entries, ledger_batched)),
        format!("{:.0}", rate(entries, plain_batched)),
        format!(
            "{:.2}",
            rate(entries, ledger_batched) / rate(entries, plain_batched)
        ),
    ));

    // 2. Proof time at `entries` entries.
    let size = log.size();
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let n_proofs = 2000u64;
    let idx: Vec<u64> = (0..n_proofs).map(|_| next() % size).collect();
    let t = Instant::now();
    for &i in &idx {
        let p = log.prove(i, size).unwrap();
        std::hint::black_box(&p);
    }
    let prove = t.elapsed() / n_proofs as u32;
    let p = log.prove(idx[0], size).unwrap();
    let t = Instant::now();
    for _ in 0..n_proofs {
        p.verify().unwrap();
    }
    let verify = t.elapsed() / n_proofs as u32;
    let olds: Vec<u64> = (0..n_proofs).map(|_| 1 + next() % size).collect();
    let t = Instant::now();
    for &o in &olds {
        std::hint::black_box(log.consistency(o, size).unwrap());
    }
    let cons = t.elapsed() / n_proofs as u32;
    // Peer: reading the same number of rows by primary key as a proof needs (~log2 n + 2).
    let reads = 64 - size.leading_zeros() as u64 + 2;
    let t = Instant::now();
    for &i in &idx {
        let mut st = pc
            .prepare_cached("SELECT data FROM entries WHERE idx = ?1")
            .unwrap();
        for k in 0..reads {
            let v: Vec<u8> = st
                .query_row([((i + k * 7919) % size) as i64], |r| r.get(0))
                .unwrap();
            std::hint::black_box(v);
        }
    }
    let peer_reads = t.elapsed() / n_proofs as u32;
    rows.push((
        format!("inclusion proof at {size} entries (µs)"),
        format!("{:.1}", prove.as_secs_f64() * 1e6),
        format!(
            "{:.1} ({reads} point reads)",
            peer_reads.as_secs_f64() * 1e6
        ),
        format!("{:.2}", prove.as_secs_f64() / peer_reads.as_secs_f64()),
    ));
    rows.push((
        format!("consistency proof at {size} entries (µs)"),
        format!("{:.1}", cons.as_secs_f64() * 1e6),
        "-".into(),
        "-".into(),
    ));
    rows.push((
        "inclusion proof verification (µs)".into(),
        format!("{:.1}", verify.as_secs_f64() * 1e6),
        "-".into(),
        "-".into(),
    ));
    // Open-time full verification.
    drop(log);
    let t = Instant::now();
    let log = Ledger::open(&lpath).unwrap();
    let open = t.elapsed();
    rows.push((
        format!("open with full verification at {size} entries (s)"),
        format!("{:.2}", open.as_secs_f64()),
        "-".into(),
        "-".into(),
    ));
    drop(log);
    drop(pc);
    // 3. Bytes per entry (WAL checkpointed by closing).
    let lb = disk_bytes(&lpath) as f64 / entries as f64;
    let pb = disk_bytes(&ppath) as f64 / entries as f64;
    let avg = canon.iter().map(|c| c.len()).sum::<usize>() as f64 / entries as f64;
    rows.push((
        format!("bytes/entry on disk (entries avg {avg:.0} bytes)"),
        format!("{lb:.1}"),
        format!("{pb:.1}"),
        format!("{:.2}", lb / pb),
    ));

    // 4. One writer per append: 16 threads, each append() waits for durability.
    let threads = 16u64;
    let lpath2 = dir.path().join("ledger2.db");
    let log = Ledger::create(&lpath2, "bench/log", &key.verifying_key(), None).unwrap();
    let t = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|th| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..per_append / threads {
                    log.append(event(th * 1_000_000 + i).as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let ledger_single = t.elapsed();
    let n_single = (per_append / threads) * threads;
    // Peer: one transaction per insert, 16 threads with their own connections.
    let ppath2 = dir.path().join("plain2.db");
    drop(plain(&ppath2));
    let t = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|th| {
            let p = ppath2.clone();
            std::thread::spawn(move || {
                let c = Connection::open(&p).unwrap();
                c.busy_timeout(Duration::from_secs(60)).unwrap();
                c.pragma_update(None, "synchronous", "FULL").unwrap();
                for i in 0..per_append / threads {
                    let data = event(th * 1_000_000 + i);
                    c.execute("INSERT INTO entries(data) VALUES (?1)", [data.as_bytes()])
                        .unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let plain_single = t.elapsed();
    rows.push((
        format!("durable appends/s, one append per call, {threads} threads (group commit)"),
        format!("{:.0}", rate(n_single, ledger_single)),
        format!("{:.0} (one txn per insert)", rate(n_single, plain_single)),
        format!(
            "{:.2}",
            rate(n_single, ledger_single) / rate(n_single, plain_single)
        ),
    ));
    drop(log);

    // 5. Through the CLI: `vigil log append` reading lines from stdin.
    if let Some(vigil) = vigil {
        let input = dir.path().join("events.jsonl");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for i in 0..entries {
            writeln!(f, "{}", event(i)).unwrap();
        }
        f.flush().unwrap();
        drop(f);
        let keyfile = dir.path().join("k.pem");
        std::fs::write(
            &keyfile,
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEONavEfABrbWbwBnYaDdFCsuAuK0niOS5BbPIdXA6n4\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let db = dir.path().join("cli.db");
        let st = Command::new(&vigil)
            .args(["log", "init", "--db"])
            .arg(&db)
            .args(["--origin", "bench/cli", "--key"])
            .arg(&keyfile)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let t = Instant::now();
        let out = Command::new(&vigil)
            .args(["log", "append", "--db"])
            .arg(&db)
            .stdin(std::fs::File::open(&input).unwrap())
            .output()
            .unwrap();
        let cli = t.elapsed();
        assert!(out.status.success());
        let acked = out.stdout.iter().filter(|b| **b == b'\n').count() as u64;
        assert_eq!(acked, entries);
        // Peer: the same lines inserted by the sqlite3-equivalent path (batched, same durability).
        rows.push((
            format!("`vigil log append` durable appends/s ({entries} stdin lines)"),
            format!("{:.0}", rate(entries, cli)),
            format!("{:.0} (plain batched, row 1)", rate(entries, plain_batched)),
            format!("{:.2}", rate(entries, cli) / rate(entries, plain_batched)),
        ));
    }

    println!(
        "| measure | vigil-ledger | plain SQLite (same rows, WAL + synchronous=FULL) | ratio |"
    );
    println!("|---|---|---|---|");
    for (a, b, c, d) in rows {
        println!("| {a} | {b} | {c} | {d} |");
    }
}

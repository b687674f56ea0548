//! Crash safety: a child process appends through the library from several threads and
//! prints each receipt once `append` returns; the harness SIGKILLs it at a random moment,
//! then reopens the log (which re-verifies it in full) and checks that every acknowledged
//! entry is present with its leaf hash. 20 trials here; set `VIGIL_CRASH_TRIALS=N` for more
//! (interop/ledger-crash/run.sh runs hundreds, also through `vigil log append`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use vigil_ledger::{leaf_hash, Ledger, NoteSigner};

const CHILD_ENV: &str = "VIGIL_LEDGER_CRASH_CHILD";

fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[11; 32])
}

/// The child: append forever from 4 threads (single appends and batches), checkpoint now
/// and then, print `index leafhex` for every durable receipt.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let log = Ledger::open(std::path::Path::new(&path)).unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let log = log.clone();
            let out = out.clone();
            std::thread::spawn(move || {
                let signer = NoteSigner::new("crash/log", key()).unwrap();
                for i in 0u64.. {
                    let receipts = if i % 3 == 0 {
                        log.append_batch((0..5).map(|k| {
                            format!(
                                "{{\"t\":{t},\"i\":{i},\"k\":{k},\"pad\":\"{}\"}}",
                                "x".repeat((i % 50) as usize)
                            )
                        }))
                        .unwrap()
                    } else {
                        vec![log
                            .append(format!("{{\"t\":{t},\"i\":{i}}}").as_bytes())
                            .unwrap()]
                    };
                    let mut o = out.lock().unwrap();
                    for r in receipts {
                        writeln!(o, "{} {}", r.index, hex::encode(r.leaf_hash)).unwrap();
                    }
                    o.flush().unwrap();
                    drop(o);
                    if t == 0 && i % 97 == 0 {
                        log.checkpoint(&[&signer]).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn sigkill_loses_no_acknowledged_entry() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let trials: u64 = std::env::var("VIGIL_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    drop(Ledger::create(&path, "crash/log", &key().verifying_key(), None).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let (mut acked_total, mut lost) = (0usize, 0usize);
    for trial in 0..trials {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split(' ');
                if let (Some(i), Some(h), None) = (parts.next(), parts.next(), parts.next()) {
                    if let (Ok(i), Ok(h)) = (i.parse::<u64>(), hex::decode(h)) {
                        if h.len() == 32 {
                            acked.push((i, h));
                        }
                    }
                }
            }
            acked
        });
        // Kill after the child has opened the log and is appending: 30..230 ms.
        std::thread::sleep(Duration::from_millis(30 + seed % 200));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        let log = Ledger::open(&path).unwrap_or_else(|e| panic!("trial {trial}: {e}"));
        for (i, h) in &acked {
            let ok = log.entry(*i).is_ok_and(|e| leaf_hash(&e)[..] == h[..]);
            if !ok {
                lost += 1;
            }
        }
        acked_total += acked.len();
        drop(log);
    }
    eprintln!("crash trials: {trials}, acknowledged: {acked_total}, lost: {lost}");
    assert!(acked_total > 0, "the child never acknowledged anything");
    assert_eq!(lost, 0);
}

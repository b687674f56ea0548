//! The guard on the shipped breast-cancer bundle: refusal at open, the pipeline's reason codes
//! on hostile inputs, rate and budget, audit failure, output policy, threads.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vigil_bundle::{sign, BundlePolicy, SignOptions, Trust};
use vigil_core::{KeyAlgorithm, PublicKey, SigningKey};
use vigil_guard::{
    parse_csv, AuditSink, ClientOverrides, CsvLimits, Guard, GuardError, GuardOptions, Input,
    MemoryAudit, RequestOptions, Values, Verdict,
};

fn device() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer")
}

fn policy() -> Trust {
    Trust::Policy(BundlePolicy::load(&device().join("policy.toml")).unwrap())
}

fn open() -> (Guard, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::new(1_000_000));
    let g = Guard::open(
        &device().join("bundle"),
        &policy(),
        GuardOptions::new(audit.clone()),
    )
    .unwrap();
    (g, audit)
}

fn rows(split: &str, guard: &Guard) -> Vec<(Vec<f32>, Option<usize>)> {
    let csv = std::fs::read(device().join(format!("data/{split}.csv"))).unwrap();
    parse_csv(&csv, split, guard.contract(), &CsvLimits::default())
        .unwrap()
        .into_iter()
        .map(|r| (r.values.unwrap(), r.label))
        .collect()
}

/// A copy of the bundle, changed by `edit`, signed with a fresh key.
fn resigned(edit: impl FnOnce(&Path)) -> (tempfile::TempDir, Trust) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    std::fs::create_dir_all(dir.join("reference")).unwrap();
    for f in ["model.onnx", "vigil.toml", "reference/guard.json"] {
        std::fs::copy(device().join("bundle").join(f), dir.join(f)).unwrap();
    }
    edit(&dir);
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256);
    sign(&dir, &key, &SignOptions::default(), None).unwrap();
    let trust = Trust::Key(key.public_key());
    (tmp, trust)
}

fn edit_toml(dir: &Path, from: &str, to: &str) {
    let p = dir.join("vigil.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{from}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn open_refuses_a_wrong_key_and_a_tampered_bundle() {
    let wrong = Trust::Key(SigningKey::generate(KeyAlgorithm::EcdsaP256).public_key());
    let audit: Arc<dyn AuditSink> = Arc::new(MemoryAudit::new(10));
    let e = Guard::open(
        &device().join("bundle"),
        &wrong,
        GuardOptions::new(audit.clone()),
    )
    .unwrap_err();
    assert!(matches!(e, GuardError::Bundle { .. }), "{e}");

    // Changed after signing: the policy no longer holds.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    std::fs::create_dir_all(dir.join("reference")).unwrap();
    for f in [
        "model.onnx",
        "vigil.toml",
        "acceptance.csv",
        "reference/guard.json",
        "model.sig",
        "model.qa.sig",
    ] {
        std::fs::copy(device().join("bundle").join(f), dir.join(f)).unwrap();
    }
    assert!(Guard::open(&dir, &policy(), GuardOptions::new(audit.clone())).is_ok());
    edit_toml(&dir, "max = 38.6745", "max = 3867.45");
    let e = Guard::open(&dir, &policy(), GuardOptions::new(audit)).unwrap_err();
    assert!(e.to_string().contains("vigil.toml"), "{e}");
}

#[test]
fn open_refuses_a_model_that_does_not_match_the_contract() {
    let audit: Arc<dyn AuditSink> = Arc::new(MemoryAudit::new(10));
    let (tmp, trust) = resigned(|d| edit_toml(d, "name = \"input\"", "name = \"x\""));
    let e = Guard::open(
        &tmp.path().join("bundle"),
        &trust,
        GuardOptions::new(audit.clone()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("graph input is \"input\""), "{e}");

    let (tmp, trust) = resigned(|d| {
        edit_toml(
            d,
            "labels = [\"malignant\", \"benign\"]",
            "labels = [\"a\", \"b\", \"c\"]",
        )
    });
    let e = Guard::open(
        &tmp.path().join("bundle"),
        &trust,
        GuardOptions::new(audit.clone()),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("2 classes, contract has 3 labels"),
        "{e}"
    );

    let (tmp, trust) = resigned(|d| edit_toml(d, "hidden = \"hidden\"", "hidden = \"nope\""));
    let e = Guard::open(
        &tmp.path().join("bundle"),
        &trust,
        GuardOptions::new(audit.clone()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");

    let (tmp, trust) = resigned(|d| std::fs::remove_file(d.join("reference/guard.json")).unwrap());
    let e = Guard::open(
        &tmp.path().join("bundle"),
        &trust,
        GuardOptions::new(audit.clone()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("reference/guard.json"), "{e}");

    let (tmp, trust) = resigned(|d| edit_toml(d, "squeeze_bits = 6", "squeeze_bits = 4"));
    let e = Guard::open(
        &tmp.path().join("bundle"),
        &trust,
        GuardOptions::new(audit.clone()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("calibrate again"), "{e}");

    // Fitted on logarithms; the contract now says raw values.
    let (tmp, trust) = resigned(|d| edit_toml(d, "input_log = true", "input_log = false"));
    let e = Guard::open(
        &tmp.path().join("bundle"),
        &trust,
        GuardOptions::new(audit.clone()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("input_log"), "{e}");

    // A reference of an older format is refused, not misread.
    let (tmp, trust) = resigned(|d| {
        let p = d.join("reference/guard.json");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("vigil-guard-reference/2"));
        std::fs::write(
            &p,
            text.replace("vigil-guard-reference/2", "vigil-guard-reference/1"),
        )
        .unwrap();
    });
    let e = Guard::open(&tmp.path().join("bundle"), &trust, GuardOptions::new(audit)).unwrap_err();
    assert!(e.to_string().contains("vigil-guard-reference/2"), "{e}");
}

#[test]
fn hostile_inputs_get_a_reason_naming_the_feature() {
    let (g, audit) = open();
    let clean = rows("validation", &g);
    let base = clean[0].0.clone();
    let mut shape = [0usize; 2];
    let mut check = |x: Vec<f32>, want: &str| {
        let d = g.infer("hostile", &g.row(&x, &mut shape), &RequestOptions::new());
        let r = d.reason().unwrap_or_else(|| panic!("{want}: accepted"));
        assert_eq!(r.wire(), want);
    };
    let mut x = base.clone();
    x[3] = f32::NAN;
    check(x, "not_finite:mean area");
    let mut x = base.clone();
    x[29] = f32::INFINITY;
    check(x, "not_finite:worst fractal dimension");
    let mut x = base.clone();
    x[0] = -1.0;
    check(x, "out_of_range:mean radius");
    check(vec![], "wrong_shape");
    check(base[..29].to_vec(), "wrong_shape");
    check(vec![1.0; 5000], "payload_too_large");
    let f64s = vec![1.0f64; 30];
    let d = g.infer(
        "hostile",
        &Input {
            name: "input",
            shape: &[1, 30],
            values: Values::F64(&f64s),
        },
        &RequestOptions::new(),
    );
    assert_eq!(d.reason().unwrap().code(), "wrong_dtype");
    let d = g.infer(
        "hostile",
        &Input {
            name: "other",
            shape: &[1, 30],
            values: Values::F32(&base),
        },
        &RequestOptions::new(),
    );
    assert_eq!(d.reason().unwrap().code(), "wrong_input");
    let d = g.infer(
        "hostile",
        &Input {
            name: "input",
            shape: &[2, 15],
            values: Values::F32(&base),
        },
        &RequestOptions::new(),
    );
    assert_eq!(d.reason().unwrap().code(), "wrong_shape");
    let d = g.infer("", &g.row(&base, &mut shape), &RequestOptions::new());
    assert_eq!(d.reason().unwrap().code(), "invalid_client");
    let d = g.infer("bad\nid", &g.row(&base, &mut shape), &RequestOptions::new());
    assert_eq!(d.reason().unwrap().code(), "invalid_client");
    // Far from the data but inside the physical ranges: a detector abstains.
    let far: Vec<f32> = g
        .contract()
        .features
        .iter()
        .map(|f| (f.min + 0.99 * (f.max - f.min)) as f32)
        .collect();
    let d = g.infer("hostile", &g.row(&far, &mut shape), &RequestOptions::new());
    assert_eq!(d.reason().unwrap().code(), "ood_input", "{d:?}");
    // Every request made an event; none holds raw values.
    let events = audit.events();
    assert_eq!(events.len(), 12);
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains(&format!("{}", base[0])),
        "raw value in audit: {text}"
    );
    assert!(events.iter().all(|e| match e {
        vigil_ledger::Event::GuardInference(i) => i.input_sha256.len() == 64,
        _ => true,
    }));
}

#[test]
fn clean_rows_are_mostly_accepted_with_scores() {
    let (g, _) = open();
    let clean = rows("validation", &g);
    let mut shape = [0usize; 2];
    let mut abstained = 0;
    for (i, (x, _)) in clean.iter().enumerate() {
        let d = g.infer(
            "clinic",
            &g.row(x, &mut shape),
            &RequestOptions::new().at(Duration::from_secs(i as u64)),
        );
        if d.reason().is_some() {
            abstained += 1;
        }
        assert_eq!(d.scores.len(), 4, "{d:?}");
        if let Verdict::Accept { output } = &d.verdict {
            assert_eq!(output.probabilities.len(), 2);
            for (_, p) in &output.probabilities {
                assert_eq!((p * 100.0).round() / 100.0, *p, "rounded to 2 decimals");
            }
        }
    }
    let rate = abstained as f64 / clean.len() as f64;
    assert!(rate <= 0.10, "held-out false-positive rate {rate}");
}

#[test]
fn rate_limit_then_budget() {
    let (g, _) = open();
    let x = rows("validation", &g)[0].0.clone();
    let mut shape = [0usize; 2];
    let burst = g.config().limits.burst as usize;
    let at = Duration::from_secs(1);
    for _ in 0..burst {
        let d = g.infer(
            "fast",
            &g.row(&x, &mut shape),
            &RequestOptions::new().at(at),
        );
        assert_ne!(d.reason().map(|r| r.code()), Some("rate_limited"));
    }
    let d = g.infer(
        "fast",
        &g.row(&x, &mut shape),
        &RequestOptions::new().at(at),
    );
    assert_eq!(d.reason().unwrap().code(), "rate_limited");
    // Another client is not affected; time refills the bucket.
    let d = g.infer(
        "other",
        &g.row(&x, &mut shape),
        &RequestOptions::new().at(at),
    );
    assert_ne!(d.reason().map(|r| r.code()), Some("rate_limited"));
    let d = g.infer(
        "fast",
        &g.row(&x, &mut shape),
        &RequestOptions::new().at(at + Duration::from_secs(1)),
    );
    assert_ne!(d.reason().map(|r| r.code()), Some("rate_limited"));
}

#[test]
fn query_budget_and_volume_alarm() {
    let (tmp, trust) = resigned(|d| edit_toml(d, "query_budget = 20000", "query_budget = 10"));
    let audit: Arc<dyn AuditSink> = Arc::new(MemoryAudit::new(1000));
    let g = Guard::open(&tmp.path().join("bundle"), &trust, GuardOptions::new(audit)).unwrap();
    let x = rows("validation", &g)[0].0.clone();
    let mut shape = [0usize; 2];
    let mut volume = 0;
    for i in 0..10 {
        let d = g.infer(
            "c",
            &g.row(&x, &mut shape),
            &RequestOptions::new().at(Duration::from_secs(i)),
        );
        assert_ne!(d.reason().map(|r| r.code()), Some("query_budget_exhausted"));
        volume += d.alarms.iter().filter(|a| a.code() == "volume").count();
    }
    assert_eq!(volume, 1, "one volume alarm at 80%");
    let d = g.infer(
        "c",
        &g.row(&x, &mut shape),
        &RequestOptions::new().at(Duration::from_secs(20)),
    );
    assert_eq!(d.reason().unwrap().code(), "query_budget_exhausted");
}

#[test]
fn label_only_policy_reveals_no_probabilities() {
    let (tmp, trust) = resigned(|d| edit_toml(d, "mode = \"full\"", "mode = \"label\""));
    let audit: Arc<dyn AuditSink> = Arc::new(MemoryAudit::new(1000));
    let g = Guard::open(&tmp.path().join("bundle"), &trust, GuardOptions::new(audit)).unwrap();
    let mut shape = [0usize; 2];
    let mut accepted = 0;
    for (i, (x, _)) in rows("validation", &g).iter().enumerate().take(20) {
        let d = g.infer(
            "c",
            &g.row(x, &mut shape),
            &RequestOptions::new().at(Duration::from_secs(i as u64)),
        );
        if let Verdict::Accept { output } = d.verdict {
            assert!(output.probabilities.is_empty());
            assert!(["malignant", "benign"].contains(&output.label.as_str()));
            accepted += 1;
        }
    }
    assert!(accepted > 10);
}

struct Broken;
impl AuditSink for Broken {
    fn record(&self, _: &vigil_ledger::Event) -> Result<(), GuardError> {
        Err(GuardError::Audit("disk full".into()))
    }
}

#[test]
fn no_answer_without_a_durable_audit_event() {
    let g = Guard::open(
        &device().join("bundle"),
        &policy(),
        GuardOptions::new(Arc::new(Broken)),
    )
    .unwrap();
    let x = rows("validation", &g)[0].0.clone();
    let mut shape = [0usize; 2];
    let d = g.infer("c", &g.row(&x, &mut shape), &RequestOptions::new());
    assert_eq!(d.reason().unwrap().code(), "audit_unavailable");
}

#[test]
fn shared_between_threads() {
    let (g, audit) = open();
    let g = Arc::new(g);
    let clean = Arc::new(rows("validation", &g));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let g = g.clone();
            let clean = clean.clone();
            std::thread::spawn(move || {
                let mut shape = [0usize; 2];
                for (i, (x, _)) in clean.iter().enumerate().take(25) {
                    let d = g.infer(
                        &format!("t{t}"),
                        &g.row(x, &mut shape),
                        &RequestOptions::new().at(Duration::from_secs(i as u64)),
                    );
                    assert!(d.event_id > 0);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let ids: std::collections::BTreeSet<u64> = audit
        .events()
        .iter()
        .filter_map(|e| match e {
            vigil_ledger::Event::GuardInference(i) => Some(i.event_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 100);
}

#[test]
fn unused_public_key_import() {
    // PublicKey loads the demo key; kept so the key path stays exercised.
    let k = PublicKey::load(&device().join("demo-keys/signing-key.pub.pem")).unwrap();
    let g = Guard::open(
        &device().join("bundle"),
        &Trust::Key(k),
        GuardOptions::new(Arc::new(MemoryAudit::new(10))),
    );
    assert!(g.is_ok(), "{g:?}");
}

#[test]
fn per_client_overrides_lift_tighten_and_fail_closed() {
    let (g, audit) = open();
    let x = rows("validation", &g)[0].0.clone();
    let mut shape = [0usize; 2];
    let burst = g.config().limits.burst as usize;
    let at = Duration::from_secs(1);
    let before = audit.events().len();
    // Unlimited: three bursts at one instant, none rate limited, each one audited.
    let lifted = ClientOverrides {
        unlimited: true,
        ..Default::default()
    };
    for _ in 0..3 * burst {
        let d = g.infer("load", &g.row(&x, &mut shape), &request(&lifted, at));
        assert!(
            matches!(d.verdict, Verdict::Accept { .. }),
            "{:?}",
            d.reason()
        );
    }
    assert_eq!(audit.events().len() - before, 3 * burst);
    // Tightened: a burst of 2.
    let tight = ClientOverrides {
        burst: Some(2.0),
        rate_per_second: Some(1.0),
        ..Default::default()
    };
    for _ in 0..2 {
        let d = g.infer("tight", &g.row(&x, &mut shape), &request(&tight, at));
        assert_ne!(d.reason().map(|r| r.code()), Some("rate_limited"));
    }
    let d = g.infer("tight", &g.row(&x, &mut shape), &request(&tight, at));
    assert_eq!(d.reason().unwrap().code(), "rate_limited");
    // A budget of 1 for a named caller.
    let once = ClientOverrides {
        query_budget: Some(1),
        ..Default::default()
    };
    let d = g.infer("once", &g.row(&x, &mut shape), &request(&once, at));
    assert!(matches!(d.verdict, Verdict::Accept { .. }));
    let d = g.infer("once", &g.row(&x, &mut shape), &request(&once, at + at));
    assert_eq!(d.reason().unwrap().code(), "query_budget_exhausted");
    // Unusable values fail closed.
    for bad in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        let o = ClientOverrides {
            rate_per_second: Some(bad),
            ..Default::default()
        };
        let d = g.infer("bad", &g.row(&x, &mut shape), &request(&o, at));
        assert_eq!(d.reason().unwrap().code(), "invalid_client", "rate {bad}");
    }
}

#[test]
fn extraction_monitor_can_be_lifted_per_client() {
    let (g, _) = open();
    let features = g.contract().features.clone();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let stream: Vec<Vec<f32>> = (0..300)
        .map(|_| {
            features
                .iter()
                .map(|f| (f.min + uniform() * (f.max - f.min)) as f32)
                .collect()
        })
        .collect();
    let watched = ClientOverrides {
        unlimited: true,
        ..Default::default()
    };
    let lifted = ClientOverrides {
        unlimited: true,
        extraction_monitor: Some(false),
        ..Default::default()
    };
    let mut shape = [0usize; 2];
    let mut count = |client: &str, o: &ClientOverrides| {
        stream
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let at = Duration::from_secs(i as u64);
                let d = g.infer(client, &g.row(x, &mut shape), &request(o, at));
                d.alarms.iter().filter(|a| a.code() == "extraction").count()
            })
            .sum::<usize>()
    };
    assert!(count("watched", &watched) >= 1, "random stream not caught");
    assert_eq!(count("lifted", &lifted), 0);
}

#[test]
fn calibrate_refuses_clean_rows_outside_the_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["model.onnx", "vigil.toml"] {
        std::fs::copy(device().join("bundle").join(f), dir.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(device().join("data/calibration.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Line 3 (the second row): its first cell replaced.
    let with = |cell: &str| {
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let (_, rest) = lines[2].split_once(',').unwrap();
        out[2] = format!("{cell},{rest}");
        out.join("\n")
    };
    for (cell, want) in [
        (
            "1e9",
            "line 3: clean data must be clean: out_of_range: mean radius = 1000000000",
        ),
        (
            "inf",
            "line 3: clean data must be clean: not_finite: mean radius",
        ),
    ] {
        let clean = tmp.path().join("clean.csv");
        std::fs::write(&clean, with(cell)).unwrap();
        let e = vigil_guard::calibrate(&dir, &clean, None).unwrap_err();
        assert!(e.to_string().contains(want), "{cell}: {e}");
        assert!(e.to_string().contains("clean.csv"), "{e}");
        assert!(!dir.join("reference/guard.json").exists());
    }
}

/// A request of a caller with overrides `o`, arriving `at` after the guard opened.
fn request(o: &ClientOverrides, at: Duration) -> RequestOptions {
    RequestOptions::new().overrides(o.clone()).at(at)
}

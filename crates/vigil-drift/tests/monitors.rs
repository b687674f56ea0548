//! Monitors: reference statistics round-trip through a bundle's `reference/` folder, the
//! windowed monitor alarms on a shifted stream and not on a stable one, performance detectors
//! raise serialisable alarms, subgroup reports separate groups.

#![allow(clippy::unwrap_used)]

use vigil_drift::*;

fn gauss(seed: &mut u64) -> f64 {
    let mut u = || {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (a, b) = (u(), u());
    (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
}

fn reference() -> ReferenceStats {
    let mut s = 1;
    let f: Vec<f64> = (0..2000).map(|_| gauss(&mut s)).collect();
    let conf: Vec<f64> = (0..2000).map(|_| 0.9 + 0.05 * gauss(&mut s)).collect();
    ReferenceStats::build(
        &[
            ("hr", StreamKind::Feature, &f),
            ("confidence", StreamKind::Confidence, &conf),
        ],
        500,
    )
    .unwrap()
}

#[test]
fn reference_stats_round_trip_durably() {
    let dir = tempfile::tempdir().unwrap();
    let r = reference();
    assert_eq!(r.streams[0].sample.len(), 500);
    assert!(r.streams[0].sample.windows(2).all(|w| w[0] <= w[1]));
    r.save(dir.path()).unwrap();
    let back = ReferenceStats::load(dir.path(), 1 << 20).unwrap();
    assert_eq!(back, r);
    // Unknown fields, other formats and oversized files are refused.
    let path = dir.path().join(REFERENCE_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"format\": 1", "\"format\": 2", 1)).unwrap();
    assert!(ReferenceStats::load(dir.path(), 1 << 20)
        .unwrap_err()
        .to_string()
        .contains("format 2"));
    std::fs::write(&path, text.replacen("{", "{\"extra\": 1,", 1)).unwrap();
    assert!(ReferenceStats::load(dir.path(), 1 << 20).is_err());
    std::fs::write(&path, &text).unwrap();
    assert!(ReferenceStats::load(dir.path(), 10)
        .unwrap_err()
        .to_string()
        .contains("limit"));
}

#[test]
fn windowed_monitor_alarms_on_shift_only() {
    let mut m = WindowedMonitor::new(reference(), 200, 50, 0.01).unwrap();
    assert_eq!(m.streams(), ["hr", "confidence"]);
    let mut s = 99;
    let mut alarms = Vec::new();
    for _ in 0..1000 {
        let v = [gauss(&mut s), 0.9 + 0.05 * gauss(&mut s)];
        alarms.extend(m.observe(&v).unwrap());
    }
    assert!(alarms.is_empty(), "{alarms:?}");
    for _ in 0..400 {
        let v = [gauss(&mut s) + 1.0, 0.7 + 0.05 * gauss(&mut s)];
        alarms.extend(m.observe(&v).unwrap());
    }
    assert!(alarms
        .iter()
        .any(|a| matches!(a, DriftAlarm::WindowDrift { stream, .. } if stream == "hr")));
    assert!(alarms
        .iter()
        .any(|a| matches!(a, DriftAlarm::WindowDrift { stream, .. } if stream == "confidence")));
    let json = serde_json::to_string(&alarms[0]).unwrap();
    assert!(json.starts_with("{\"type\":\"window_drift\""), "{json}");
    let back: DriftAlarm = serde_json::from_str(&json).unwrap();
    assert_eq!(back, alarms[0]);
    assert!(m.observe(&[1.0]).is_err());
    assert!(m.observe(&[f64::NAN, 1.0]).is_err());
}

#[test]
fn performance_monitor_detects_accuracy_drop_per_subgroup() {
    let mut m = PerformanceMonitor::new();
    let mut s = 5u64;
    let mut alarms = Vec::new();
    for i in 0..6000 {
        let site = if i % 2 == 0 { "A" } else { "B" };
        // Site B degrades from 5% to 40% errors after observation 3000.
        let err_rate = if site == "B" && i >= 3000 { 0.4 } else { 0.05 };
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        let correct = u >= err_rate;
        alarms.extend(m.observe(correct, Some(("site", site))));
    }
    let streams: Vec<String> = alarms
        .iter()
        .filter_map(|a| match a {
            DriftAlarm::PerformanceChange {
                stream,
                observation,
                ..
            } if *observation > 3000 => Some(stream.clone()),
            _ => None,
        })
        .collect();
    assert!(streams.iter().any(|s| s == "error/site=B"), "{alarms:?}");
    assert!(!streams.iter().any(|s| s == "error/site=A"), "{alarms:?}");
    let json = serde_json::to_string(&alarms[0]).unwrap();
    assert!(json.contains("\"type\":\"performance_change\""), "{json}");
}

#[test]
fn subgroup_performance_and_drift() {
    let labels: Vec<String> = ["1", "0", "1", "0", "1", "1"].map(String::from).to_vec();
    let preds: Vec<String> = ["1", "0", "0", "0", "1", "0"].map(String::from).to_vec();
    let groups: Vec<String> = ["F", "F", "M", "M", "F", "M"].map(String::from).to_vec();
    let p = performance_by_subgroup(&labels, &preds, &groups, "1").unwrap();
    assert_eq!(p[0].group, "*");
    assert_eq!(
        (p[1].group.as_str(), p[1].n, p[1].accuracy, p[1].sensitivity),
        ("F", 3, 1.0, 1.0)
    );
    assert_eq!(
        (p[2].group.as_str(), p[2].accuracy, p[2].sensitivity),
        ("M", 1.0 / 3.0, 0.0)
    );

    let table = |shift_m: f64| {
        let mut s = 3;
        let (mut x, mut g) = (Vec::new(), Vec::new());
        for i in 0..400 {
            let m = i % 2 == 0;
            x.push(gauss(&mut s) + if m { shift_m } else { 0.0 });
            g.push(if m { "M" } else { "F" }.to_string());
        }
        Table::new(
            vec!["x".into(), "sex".into()],
            vec![Column::Numeric(x), Column::Categorical(g)],
        )
    };
    let reports =
        compare_subgroups(&table(0.0), &table(2.0), "sex", &CompareOptions::default()).unwrap();
    let drift: Vec<(String, bool)> = reports
        .iter()
        .map(|r| (r.group.clone(), r.report.as_ref().unwrap().drift))
        .collect();
    assert_eq!(drift, [("F".to_string(), false), ("M".to_string(), true)]);
}

//! `vigil evidence vulns` on fixture records: ranges in two branches, a withdrawn record,
//! `last_affected`, another ecosystem's record for the same name, nested components, triage
//! by alias and by versionless purl.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use vigil_evidence::{read_triage, vulns, Package, Record};

fn data(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

#[test]
fn fixtures_match_exactly() {
    let report = vulns(&data("sbom.cdx.json"), &data("osv"), &[]).unwrap();
    let got: Vec<_> = report
        .matches
        .iter()
        .map(|m| (m.purl.as_str(), m.id.as_str(), m.fixed.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("pkg:cargo/alpha@1.2.0", "RUSTSEC-2099-0001", Some("1.4.1")),
            ("pkg:cargo/gamma@2.3.0", "RUSTSEC-2099-0003", None),
        ]
    );
    assert_eq!(report.matches[0].severity, "HIGH");
    assert!(report.matches[1].severity.starts_with("CVSS:3.1/"));
    assert!(report.has_untriaged());
}

#[test]
fn triage_by_alias_and_versionless_purl() {
    let triage = read_triage(&data("triage.toml")).unwrap();
    let report = vulns(&data("sbom.cdx.json"), &data("osv"), &triage).unwrap();
    assert_eq!(report.matches[0].state.as_deref(), Some("not_affected"));
    assert_eq!(report.matches[1].state, None);
    assert_eq!(
        report.unmatched_triage,
        vec!["RUSTSEC-2099-0099".to_string()]
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["matches"][0]["aliases"][0], "CVE-2099-0001");
}

#[test]
fn bad_inputs_name_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.toml");
    std::fs::write(&t, "[[triage]]\nid = \"X\"\nstate = \"fine\"\n").unwrap();
    let err = read_triage(&t).unwrap_err().to_string();
    assert!(err.contains("triage[0] (X): state \"fine\""), "{err}");
    std::fs::create_dir(dir.path().join("osv")).unwrap();
    std::fs::write(dir.path().join("osv/x.json"), "{").unwrap();
    let err = vulns(&data("sbom.cdx.json"), &dir.path().join("osv"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.json"), "{err}");
}

proptest::proptest! {
    /// Two disjoint SEMVER intervals [a, b) and [c, d): a version is affected exactly when it
    /// lies in one of them, and `fixed` is that interval's end.
    #[test]
    fn intervals_agree_with_membership(
        mut bounds in proptest::collection::btree_set(0u64..60, 4),
        v in 0u64..60,
    ) {
        let b: Vec<u64> = std::mem::take(&mut bounds).into_iter().collect();
        let ver = |n: u64| format!("{}.{}.0", n / 10, n % 10);
        let json = format!(
            r#"{{"id":"P","affected":[{{"package":{{"ecosystem":"crates.io","name":"p"}},
              "ranges":[{{"type":"SEMVER","events":[{{"fixed":"{}"}},{{"introduced":"{}"}},
                                                    {{"introduced":"{}"}},{{"fixed":"{}"}}]}}]}}]}}"#,
            ver(b[1]), ver(b[0]), ver(b[2]), ver(b[3])
        );
        let r: Record = serde_json::from_str(&json).unwrap();
        let got = r.judge(&Package::from_purl(&format!("pkg:cargo/p@{}", ver(v))).unwrap());
        let want = if (b[0]..b[1]).contains(&v) {
            Some(ver(b[1]))
        } else if (b[2]..b[3]).contains(&v) {
            Some(ver(b[3]))
        } else {
            None
        };
        proptest::prop_assert_eq!(got.affected, want.is_some());
        proptest::prop_assert_eq!(got.fixed, want);
    }
}

/// Issue 18 item 1: each example device ships a commented deploy.toml that parses, with its
/// paths resolved next to it.
#[test]
fn the_example_deployments_parse() {
    for device in ["breast-cancer", "ecg-beats"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/devices")
            .join(device);
        let d = vigil_evidence::Deployment::load(&dir.join("deploy.toml")).unwrap();
        assert!(d.gateway.mtls, "{device}");
        assert_eq!(d.device.bundle, dir.join("bundle"));
        assert!(d.device.bundle.join("vigil.toml").is_file(), "{device}");
        assert_eq!(d.support.end_of_support, "2031-12-31");
    }
}

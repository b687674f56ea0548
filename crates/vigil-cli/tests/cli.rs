//! Tests of the `vigil` binary: one module per noun.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

mod general {
    use crate::util::{code, show, Vigil};

    #[test]
    fn unknown_command_is_a_usage_error() {
        let v = Vigil::new();
        let out = v.run(&["frobnicate"]);
        assert_eq!(code(&out), 2, "{}", show(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("frobnicate"));
    }

    #[test]
    fn help_exits_zero_and_documents_exit_codes() {
        let v = Vigil::new();
        let out = v.run(&["--help"]);
        assert_eq!(code(&out), 0, "{}", show(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Exit codes"), "{text}");
    }

    #[test]
    fn version_json_is_one_object() {
        let v = Vigil::new();
        let out = v.run(&["version", "--json"]);
        assert_eq!(code(&out), 0, "{}", show(&out));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(value["name"], "vigil");
        assert_eq!(value["version"], env!("CARGO_PKG_VERSION"));
    }

    /// Issue 20 item 12: an error prints its cause once, not `PATH: X: X`.
    #[test]
    fn issue20_12_errors_print_their_cause_once() {
        let v = Vigil::new();
        for args in [
            &[
                "log",
                "verify-proof",
                "--checkpoint",
                "missing.cp",
                "--pubkey",
                "k.pem",
            ][..],
            &["key", "show", "missing.pem"][..],
        ] {
            let out = v.run(args);
            assert_eq!(code(&out), 2, "{}", show(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
            assert!(err.contains("missing."), "{err}");
        }
    }
}

mod evidence {
    use std::path::Path;

    /// Issue 18 item 5: `vigil evidence vulns` exits 1 on an untriaged match and 0 once every
    /// match is triaged; `--json` is the documented object; `--out` writes a CycloneDX 1.6 VEX.
    #[test]
    fn evidence_vulns_exit_codes_json_and_vex() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigil-evidence/tests/data");
        let tmp = tempfile::tempdir().unwrap();
        let bin = env!("CARGO_BIN_EXE_vigil");
        let run = |extra: &[&str]| {
            let mut c = std::process::Command::new(bin);
            c.args(["evidence", "vulns", "--sbom"])
                .arg(data.join("sbom.cdx.json"))
                .arg("--osv")
                .arg(data.join("osv"))
                .args(extra);
            c.output().unwrap()
        };
        let out = run(&["--json"]);
        assert_eq!(out.status.code(), Some(1));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["matches"].as_array().unwrap().len(), 2);
        assert_eq!(v["matches"][0]["fixed"], "1.4.1");
        assert!(v["matches"][0].get("justification").is_none());
        // Every match triaged: exit 0.
        let triage = tmp.path().join("t.toml");
        std::fs::write(
            &triage,
            "[[triage]]\nid = \"RUSTSEC-2099-0001\"\nstate = \"not_affected\"\njustification = \"code_not_reachable\"\n\
             [[triage]]\nid = \"RUSTSEC-2099-0003\"\nstate = \"exploitable\"\ndetail = \"upgrade planned\"\n",
        )
        .unwrap();
        let vex = tmp.path().join("vex.cdx.json");
        let out = run(&[
            "--vex",
            triage.to_str().unwrap(),
            "--out",
            vex.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&vex).unwrap()).unwrap();
        assert_eq!(doc["specVersion"], "1.6");
        assert_eq!(
            doc["vulnerabilities"][0]["analysis"]["state"],
            "not_affected"
        );
        assert_eq!(
            doc["vulnerabilities"][1]["analysis"]["detail"],
            "upgrade planned"
        );
        // A bad triage state is a usage error naming the entry.
        std::fs::write(&triage, "[[triage]]\nid = \"X\"\nstate = \"fine\"\n").unwrap();
        let out = run(&["--vex", triage.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("triage[0] (X)"));
    }
}

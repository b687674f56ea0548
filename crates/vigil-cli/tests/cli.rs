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

//! The guard tables of vigil.toml: every table required, contract complete, keys checked.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vigil_guard::{GuardConfig, GuardError, OutputMode};

const GOOD: &str = r#"
[contract]
inputs = [{ name = "input", dtype = "float32", shape = [-1, 2] }]
output = { name = "probabilities", labels = ["a", "b"], hidden = "hidden" }
features = [
  { name = "x", unit = "mV", min = -1, max = 1 },
  { name = "y", unit = "1", min = 0, max = 10 },
]
[detectors]
[output]
mode = "top_k"
top_k = 1
decimals = 2
[extraction]
[limits]
"#;

fn parse(text: &str) -> Result<GuardConfig, GuardError> {
    GuardConfig::from_document(&text.parse::<toml::Table>().unwrap())
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_complete_contract_parses_with_defaults() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.contract.width(), 2);
    assert_eq!(c.contract.features[1].name, "y");
    assert_eq!(c.output.mode, OutputMode::TopK(1));
    assert_eq!(c.output.decimals, Some(2));
    assert_eq!(c.detectors.fpr, 0.05);
    assert_eq!(c.detectors.input_centres, 1);
    assert_eq!(c.extraction.min_queries, 100);
    assert!(c.limits.query_budget > 0);
}

#[test]
fn each_table_is_required() {
    for table in ["[detectors]", "[output]", "[extraction]", "[limits]"] {
        let text = GOOD.replace(&format!("{table}\n"), "");
        let text = if table == "[output]" {
            text.replace("mode = \"top_k\"\ntop_k = 1\ndecimals = 2\n", "")
        } else {
            text
        };
        let e = err(&text);
        assert!(e.contains(&table[1..table.len() - 1]), "{table}: {e}");
        assert!(e.contains("missing table"), "{e}");
    }
    assert!(err("[detectors]").contains("contract: missing table"));
}

#[test]
fn incomplete_or_inconsistent_contracts_name_the_key() {
    let cases = [
        (
            GOOD.replace("shape = [-1, 2]", "shape = [-1, 3]"),
            "contract.features",
        ),
        (
            GOOD.replace("dtype = \"float32\"", "dtype = \"int8\""),
            "contract.inputs[0].dtype",
        ),
        (
            GOOD.replace("min = 0, max = 10", "min = 10, max = 0"),
            "contract.features[1]",
        ),
        (
            GOOD.replace("name = \"y\"", "name = \"x\""),
            "appears twice",
        ),
        (
            GOOD.replace("labels = [\"a\", \"b\"]", "labels = [\"a\"]"),
            "contract.output.labels",
        ),
        (GOOD.replace("unit = \"mV\", ", ""), "missing field `unit`"),
        (
            GOOD.replace("[detectors]", "[detectors]\nfpr = 0.7"),
            "detectors.fpr",
        ),
        (
            GOOD.replace("[detectors]", "[detectors]\ninput_centres = 0"),
            "detectors.input_centres: must be in 1..=32",
        ),
        (
            GOOD.replace("[detectors]", "[detectors]\ninput_centres = 33"),
            "detectors.input_centres",
        ),
        (
            GOOD.replace("[detectors]", "[detectors]\nmedian_window = 3"),
            "median_window",
        ),
        (
            GOOD.replace("[detectors]", "[detectors]\nbogus = 1"),
            "unknown field",
        ),
        (GOOD.replace("top_k = 1", "top_k = 3"), "output.top_k"),
        (
            GOOD.replace("mode = \"top_k\"", "mode = \"everything\""),
            "output.mode",
        ),
        (
            GOOD.replace("[limits]", "[limits]\nmax_payload_values = 1"),
            "max_payload_values",
        ),
        (
            GOOD.replace("[limits]", "[limits]\nrate_per_second = -1.0"),
            "rate_per_second",
        ),
        (
            GOOD.replace("[extraction]", "[extraction]\ndelta = 1.5"),
            "extraction.delta",
        ),
        (
            GOOD.replace(", hidden = \"hidden\"", ""),
            "mahalanobis_hidden",
        ),
    ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "want {want:?} in {e:?}");
        assert!(e.starts_with("vigil.toml: "), "{e}");
    }
}

#[test]
fn signal_contracts_name_their_columns() {
    let text = GOOD
        .replace("shape = [-1, 2]", "shape = [-1, 4]")
        .replace(
            "features = [\n  { name = \"x\", unit = \"mV\", min = -1, max = 1 },\n  { name = \"y\", unit = \"1\", min = 0, max = 10 },\n]",
            "signal = { sampling_rate_hz = 128.0, length = 4, unit = \"mV\", min = -5, max = 5, column_prefix = \"s\" }",
        )
        .replace("[detectors]", "[detectors]\nmedian_window = 3");
    let c = parse(&text).unwrap();
    let names: Vec<_> = c
        .contract
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["s0", "s1", "s2", "s3"]);
    assert_eq!(c.contract.signal.as_ref().unwrap().sampling_rate_hz, 128.0);
    let e = err(&text.replace("length = 4", "length = 5"));
    assert!(e.contains("contract.signal.length"), "{e}");
}

#[test]
fn shipped_devices_parse() {
    for device in ["breast-cancer", "ecg-beats"] {
        let path = format!(
            "{}/../../examples/devices/{device}/bundle/vigil.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let c = parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(c.contract.width() > 0);
    }
}

#[test]
fn fuzz_entries_survive_garbage() {
    for data in [
        &b""[..],
        b"\xff\xfe",
        b"[contract]\ninputs = 5",
        GOOD.as_bytes(),
    ] {
        vigil_guard::internal::fuzz_contract(data);
        vigil_guard::internal::fuzz_csv(data);
    }
}

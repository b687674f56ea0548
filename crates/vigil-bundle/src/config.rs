//! `vigil.toml`, the bundle's own description: identity, version, intended use, model file.
//!
//! The `[bundle]` table is read here, and the `[data]` and `[acceptance]` tables on demand
//! ([`BundleConfig::data_sets`], [`BundleConfig::acceptance`]); other tables (the guard's `[contract]`, detector settings) are
//! kept as raw TOML for the crates that own them.

use std::path::Path;

use crate::error::BundleError;

/// The name of the bundle description file.
pub const CONFIG_FILE: &str = "vigil.toml";

/// The most bytes `vigil.toml` may have.
pub(crate) const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The `[bundle]` table of `vigil.toml`, plus the whole document.
#[derive(Debug, Clone)]
pub struct BundleConfig {
    /// `bundle.name`: the model's name.
    pub name: String,
    /// `bundle.version`: a semantic version; the trust policy's minimum applies to it.
    pub version: semver::Version,
    /// `bundle.intended_use`: the intended use statement.
    pub intended_use: Option<String>,
    /// `bundle.model`: the model file, relative to the bundle (default `model.onnx`).
    pub model: String,
    /// The whole document, for the tables other crates read.
    pub document: toml::Table,
}

impl BundleConfig {
    /// Parses `vigil.toml` bytes; `path` names the file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<BundleConfig, BundleError> {
        let bad = |reason: String| BundleError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(bad(format!("larger than {MAX_CONFIG_BYTES} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
        let document: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            bad(e
                .to_string()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_string())
        })?;
        let bundle = document
            .get("bundle")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| bad("missing [bundle] table".into()))?;
        let string = |key: &str| -> Result<Option<String>, BundleError> {
            match bundle.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("bundle.{key} must be a string"))),
            }
        };
        let name = string("name")?.ok_or_else(|| bad("bundle.name is required".into()))?;
        let version_text =
            string("version")?.ok_or_else(|| bad("bundle.version is required".into()))?;
        let version = semver::Version::parse(&version_text).map_err(|e| {
            bad(format!(
                "bundle.version '{version_text}' is not a semantic version: {e}"
            ))
        })?;
        let model = string("model")?.unwrap_or_else(|| "model.onnx".to_string());
        crate::ResourcePath::parse(&model).map_err(|e| bad(format!("bundle.model: {e}")))?;
        Ok(BundleConfig {
            name,
            version,
            intended_use: string("intended_use")?,
            model,
            document,
        })
    }

    /// The data sets `vigil.toml` names, one per split of the `[data]` table, in split name
    /// order (informational: nothing here is checked against data).
    ///
    /// A split is either a string, the SHA-256 of its file, or a table:
    ///
    /// ```toml
    /// [data.training]
    /// manifest = "data/training.manifest.json"  # optional, informational
    /// manifest_root = "<64 hex: the RFC 9162 root of the signed `vigil data manifest`>"
    /// sha256 = "<64 hex: the SHA-256 of the file>"  # optional
    /// ```
    ///
    /// A table needs `manifest_root` or `sha256`. Digests are 64 lowercase hex digits; other
    /// keys are refused. Errors name the field (`data.training.manifest_root`).
    ///
    /// ```
    /// use std::path::Path;
    /// use vigil_bundle::BundleConfig;
    ///
    /// let root = "ab".repeat(32);
    /// let toml = format!("[bundle]\nname = \"m\"\nversion = \"1.0.0\"\n\
    ///     [data.training]\nmanifest_root = \"{root}\"\n");
    /// let config = BundleConfig::parse(toml.as_bytes(), Path::new("vigil.toml"))?;
    /// let data = config.data_sets()?;
    /// assert_eq!(data[0].split, "training");
    /// assert_eq!(data[0].manifest_root.as_deref(), Some(root.as_str()));
    /// # Ok::<(), vigil_bundle::BundleError>(())
    /// ```
    pub fn data_sets(&self) -> Result<Vec<DataSetRef>, BundleError> {
        let bad = |reason: String| BundleError::Manifest {
            path: CONFIG_FILE.into(),
            reason,
        };
        let Some(data) = self.document.get("data") else {
            return Ok(Vec::new());
        };
        let data = data
            .as_table()
            .ok_or_else(|| bad("data must be a table of data sets by split".into()))?;
        let digest = |field: &str, v: &toml::Value| -> Result<String, BundleError> {
            match v {
                toml::Value::String(s) if is_digest(s) => Ok(s.clone()),
                toml::Value::String(s) => Err(bad(format!(
                    "{field} {s:?} is not 64 lowercase hex digits (a SHA-256)"
                ))),
                _ => Err(bad(format!("{field} must be a string of 64 hex digits"))),
            }
        };
        let mut sets = Vec::with_capacity(data.len());
        for (split, v) in data {
            let field = |key: &str| format!("data.{split}.{key}");
            let mut set = DataSetRef {
                split: split.clone(),
                sha256: None,
                manifest: None,
                manifest_root: None,
            };
            match v {
                toml::Value::String(_) => set.sha256 = Some(digest(&format!("data.{split}"), v)?),
                toml::Value::Table(t) => {
                    for (key, v) in t {
                        match key.as_str() {
                            "sha256" => set.sha256 = Some(digest(&field(key), v)?),
                            "manifest_root" => set.manifest_root = Some(digest(&field(key), v)?),
                            "manifest" => match v {
                                toml::Value::String(s) if !s.trim().is_empty() => {
                                    set.manifest = Some(s.clone());
                                }
                                _ => {
                                    return Err(bad(format!(
                                        "{} must be a non-empty path",
                                        field(key)
                                    )))
                                }
                            },
                            _ => {
                                return Err(bad(format!(
                                    "{}: unknown key (expected manifest, manifest_root or sha256)",
                                    field(key)
                                )))
                            }
                        }
                    }
                    if set.sha256.is_none() && set.manifest_root.is_none() {
                        return Err(bad(format!("data.{split} needs manifest_root or sha256")));
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "data.{split} must be a SHA-256 string or a table"
                    )))
                }
            }
            sets.push(set);
        }
        Ok(sets)
    }

    /// The `[acceptance]` table: the acceptance set a release must pass on the device before
    /// it is activated (`vigil-update` runs it); `Ok(None)` when there is none.
    ///
    /// ```toml
    /// [acceptance]
    /// data = "acceptance/acceptance.csv"  # in the bundle, signed: contract features and `label`
    /// min_accuracy = 0.90                 # correct answers over all rows (an abstention is a miss)
    /// max_abstain_share = 0.10            # optional: most rows the guard may abstain on
    /// subgroup = "sex"                    # optional: a column of the CSV
    /// min_subgroup_accuracy = 0.85        # required with `subgroup`: the floor for every group
    /// ```
    ///
    /// Shares are between 0 and 1; unknown keys are refused; errors name the field.
    ///
    /// ```
    /// use std::path::Path;
    /// use vigil_bundle::BundleConfig;
    ///
    /// let toml = "[bundle]\nname = \"m\"\nversion = \"1.0.0\"\n\
    ///     [acceptance]\ndata = \"acceptance.csv\"\nmin_accuracy = 0.9\n";
    /// let config = BundleConfig::parse(toml.as_bytes(), Path::new("vigil.toml"))?;
    /// let spec = config.acceptance()?.expect("an acceptance set");
    /// assert_eq!(spec.data, "acceptance.csv");
    /// assert_eq!(spec.max_abstain_share, None);
    /// # Ok::<(), vigil_bundle::BundleError>(())
    /// ```
    pub fn acceptance(&self) -> Result<Option<AcceptanceSpec>, BundleError> {
        let bad = |reason: String| BundleError::Manifest {
            path: CONFIG_FILE.into(),
            reason: format!("[acceptance]: {reason}"),
        };
        let Some(value) = self.document.get("acceptance") else {
            return Ok(None);
        };
        let spec: AcceptanceSpec = value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
        let share = |name: &str, x: f64| {
            if (0.0..=1.0).contains(&x) {
                Ok(())
            } else {
                Err(bad(format!("{name} = {x}: must be between 0 and 1")))
            }
        };
        share("min_accuracy", spec.min_accuracy)?;
        if let Some(x) = spec.max_abstain_share {
            share("max_abstain_share", x)?;
        }
        match (&spec.subgroup, spec.min_subgroup_accuracy) {
            (Some(_), Some(x)) => share("min_subgroup_accuracy", x)?,
            (None, None) => {}
            _ => return Err(bad("subgroup and min_subgroup_accuracy go together".into())),
        }
        Ok(Some(spec))
    }
}

/// `[acceptance]` in `vigil.toml` (see [`BundleConfig::acceptance`]).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceSpec {
    /// The CSV in the bundle (a signed file).
    pub data: String,
    /// The least accuracy over all rows.
    pub min_accuracy: f64,
    /// The most rows the guard may abstain on, as a share.
    #[serde(default)]
    pub max_abstain_share: Option<f64>,
    /// A subgroup column of the CSV.
    #[serde(default)]
    pub subgroup: Option<String>,
    /// The least accuracy in every subgroup.
    #[serde(default)]
    pub min_subgroup_accuracy: Option<f64>,
}

/// One data set a bundle names (`[data.<split>]` in `vigil.toml`, see
/// [`BundleConfig::data_sets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataSetRef {
    /// The split: `training`, `calibration`, `validation`...
    pub split: String,
    /// The SHA-256 of the data file, 64 lowercase hex digits.
    pub sha256: Option<String>,
    /// Where the signed manifest is (inside the bundle or beside it; informational).
    pub manifest: Option<String>,
    /// The RFC 9162 Merkle root of the signed data manifest, 64 lowercase hex digits.
    pub manifest_root: Option<String>,
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BundleConfig, BundleError> {
        BundleConfig::parse(text.as_bytes(), Path::new("vigil.toml"))
    }

    #[test]
    fn minimal_config_and_defaults() {
        let c = parse("[bundle]\nname = \"m\"\nversion = \"1.2.3-rc.1\"\n").unwrap();
        assert_eq!(c.model, "model.onnx");
        assert_eq!(c.version, semver::Version::parse("1.2.3-rc.1").unwrap());
    }

    #[test]
    fn hostile_configs_are_refused_naming_the_field() {
        for (text, needle) in [
            ("", "missing [bundle]"),
            ("[bundle]\nversion = \"1.0.0\"", "bundle.name"),
            ("[bundle]\nname = \"m\"", "bundle.version"),
            (
                "[bundle]\nname = \"m\"\nversion = \"1.0\"",
                "semantic version",
            ),
            (
                "[bundle]\nname = 3\nversion = \"1.0.0\"",
                "bundle.name must be a string",
            ),
            (
                "[bundle]\nname = \"m\"\nversion = \"1.0.0\"\nmodel = \"../x.onnx\"",
                "bundle.model",
            ),
            (
                "[bundle]\nname = \"m\"\nversion = \"1.0.0\"\nmodel = \"/abs.onnx\"",
                "absolute",
            ),
            ("[bundle\n", "vigil.toml"),
            ("bundle = 1", "missing [bundle]"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        let huge = "#".repeat(MAX_CONFIG_BYTES + 1);
        assert!(parse(&huge)
            .unwrap_err()
            .to_string()
            .contains("larger than"));
        assert!(BundleConfig::parse(&[0xff, 0xfe], Path::new("v")).is_err());
    }

    const HEAD: &str = "[bundle]\nname = \"m\"\nversion = \"1.0.0\"\n";

    fn data_sets(text: &str) -> Result<Vec<DataSetRef>, BundleError> {
        parse(&format!("{HEAD}{text}"))?.data_sets()
    }

    /// `[acceptance]`: read whole, and every bad field refused by name.
    #[test]
    fn acceptance_sets_are_read_and_checked() {
        let spec = |text: &str| parse(&format!("{HEAD}{text}"))?.acceptance();
        assert_eq!(spec("").unwrap(), None);
        let full = spec(
            "[acceptance]\ndata = \"a.csv\"\nmin_accuracy = 0.9\nmax_abstain_share = 0.1\n\
             subgroup = \"sex\"\nmin_subgroup_accuracy = 0.85\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(full.subgroup.as_deref(), Some("sex"));
        assert_eq!(full.min_subgroup_accuracy, Some(0.85));
        for (text, says) in [
            (
                "min_accuracy = 1.5",
                "min_accuracy = 1.5: must be between 0 and 1",
            ),
            (
                "min_accuracy = 0.9\nmax_abstain_share = -0.1",
                "max_abstain_share",
            ),
            ("min_accuracy = 0.9\nsubgroup = \"sex\"", "go together"),
            (
                "min_accuracy = 0.9\nmin_subgroup_accuracy = 0.8",
                "go together",
            ),
            ("min_accuracy = 0.9\nthreshold = 2", "threshold"),
            ("", "min_accuracy"),
        ] {
            let err = spec(&format!("[acceptance]\ndata = \"a.csv\"\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("[acceptance]") && err.contains(says),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn data_sets_by_split_as_strings_or_tables() {
        assert_eq!(data_sets("").unwrap(), []);
        let (a, b) = ("a".repeat(64), "0123456789abcdef".repeat(4));
        let sets = data_sets(&format!(
            "[data]\ncalibration = \"{a}\"\n[data.training]\nmanifest = \"data/t.json\"\n\
             manifest_root = \"{b}\"\nsha256 = \"{a}\"\n[data.validation]\nmanifest_root = \"{a}\"\n"
        ))
        .unwrap();
        let splits: Vec<&str> = sets.iter().map(|s| s.split.as_str()).collect();
        assert_eq!(splits, ["calibration", "training", "validation"]);
        assert_eq!(sets[0].sha256.as_deref(), Some(a.as_str()));
        assert_eq!(sets[0].manifest_root, None);
        assert_eq!(sets[1].manifest.as_deref(), Some("data/t.json"));
        assert_eq!(sets[1].manifest_root.as_deref(), Some(b.as_str()));
        assert_eq!(sets[1].sha256.as_deref(), Some(a.as_str()));
        assert_eq!(sets[2].manifest_root.as_deref(), Some(a.as_str()));
    }

    #[test]
    fn bad_data_sets_are_refused_naming_the_field() {
        let good = "b".repeat(64);
        for (text, needle) in [
            (
                format!("[data.training]\nmanifest_root = \"{}\"", "B".repeat(64)),
                "data.training.manifest_root \"BBBB",
            ),
            (
                format!("[data.training]\nmanifest_root = \"{}\"", "b".repeat(63)),
                "data.training.manifest_root",
            ),
            (
                format!("[data.training]\nmanifest_root = \"{}g\"", "b".repeat(63)),
                "not 64 lowercase hex",
            ),
            (
                "[data.validation]\nmanifest_root = 7".to_string(),
                "data.validation.manifest_root must be a string",
            ),
            (
                format!("[data.training]\nmanifest_roots = \"{good}\""),
                "data.training.manifest_roots: unknown key",
            ),
            (
                "[data.training]\nmanifest = \"t.json\"".to_string(),
                "data.training needs manifest_root or sha256",
            ),
            (
                format!("[data.training]\nmanifest = 3\nmanifest_root = \"{good}\""),
                "data.training.manifest must be",
            ),
            (
                "[data]\ntraining = \"abc\"".to_string(),
                "data.training \"abc\"",
            ),
            ("[data]\ntraining = 1".to_string(), "data.training must be"),
        ] {
            let err = data_sets(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.starts_with("vigil.toml: "), "{err}");
        }
        let err = parse(&format!("data = 1\n{HEAD}"))
            .unwrap()
            .data_sets()
            .unwrap_err();
        assert!(err.to_string().contains("data must be a table"), "{err}");
    }
}

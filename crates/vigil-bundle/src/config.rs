//! `vigil.toml`, the bundle's own description: identity, version, intended use, model file.
//!
//! Only the `[bundle]` table is read here; other tables (the guard's `[contract]`, detector
//! settings, data references) are kept as raw TOML for the crates that own them.

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
}

//! A team's reviewed exceptions: globals accepted by `--allow` or a TOML policy file.

use std::path::Path;

use serde::Deserialize;

use crate::Error;

/// One accepted global or module prefix, and where the acceptance came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    pattern: String,
    prefix: bool,
    source: String,
}

impl AllowRule {
    /// Parse `module.name` (exact) or `module.*` (prefix); `source` says where it came from.
    pub fn parse(pattern: &str, source: &str) -> Result<AllowRule, Error> {
        let p = pattern.trim();
        let (body, prefix) = match p.strip_suffix(".*") {
            Some(b) => (b, true),
            None => (p, false),
        };
        let ok = !body.is_empty()
            && body
                .split('.')
                .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_alphanumeric() || c == '_'));
        if !ok {
            return Err(Error::BadAllowRule(pattern.to_string()));
        }
        Ok(AllowRule {
            pattern: body.to_string(),
            prefix,
            source: source.to_string(),
        })
    }

    /// Whether the rule covers a dotted global.
    pub fn matches(&self, global: &str) -> bool {
        if self.prefix {
            global == self.pattern
                || (global.starts_with(&self.pattern)
                    && global.as_bytes().get(self.pattern.len()) == Some(&b'.'))
        } else {
            global == self.pattern
        }
    }

    /// How the rule is named in reports, such as `--allow mypkg.Net` or `policy team.toml: mypkg.* (reviewed)`.
    pub fn describe(&self) -> String {
        self.source.clone()
    }
}

/// The set of accepted globals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<AllowRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    allow: Vec<PolicyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    global: String,
    reason: String,
}

impl Policy {
    /// An empty policy: nothing beyond the built-in allow-list.
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Accept a global given on the command line (`--allow`).
    pub fn allow(&mut self, pattern: &str) -> Result<(), Error> {
        let rule = AllowRule::parse(pattern, &format!("--allow {pattern}"))?;
        self.rules.push(rule);
        Ok(())
    }

    /// Add the `[[allow]]` entries of a TOML policy file (`global` and a required `reason`).
    pub fn load_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Policy {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        self.load_str(&text, &path.display().to_string())
    }

    /// Like [`Policy::load_file`], from text; `name` names the file in reports.
    pub fn load_str(&mut self, text: &str, name: &str) -> Result<(), Error> {
        let parsed: PolicyFile = toml::from_str(text).map_err(|e| Error::Policy {
            path: name.into(),
            reason: e.to_string().trim().to_string(),
        })?;
        for (i, entry) in parsed.allow.iter().enumerate() {
            if entry.reason.trim().is_empty() {
                return Err(Error::Policy {
                    path: name.into(),
                    reason: format!("allow entry {} ({}): reason is empty", i + 1, entry.global),
                });
            }
            let source = format!("policy {name}: {} ({})", entry.global, entry.reason.trim());
            let rule = AllowRule::parse(&entry.global, &source).map_err(|e| Error::Policy {
                path: name.into(),
                reason: e.to_string(),
            })?;
            self.rules.push(rule);
        }
        Ok(())
    }

    /// The first rule accepting `global`.
    pub fn find(&self, global: &str) -> Option<&AllowRule> {
        self.rules.iter().find(|r| r.matches(global))
    }
}

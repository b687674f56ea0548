//! Names of files inside a bundle: relative, `/`-separated, never leaving the bundle.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Component, Path};

/// A file's name relative to the bundle directory, as it appears in a signature: components
/// joined by `/`, none empty, `.` or `..`, no leading `/`, no NUL or backslash.
///
/// Names sort as `model_signing` sorts them (Python `PurePosixPath` order: component by
/// component), so `a/b` sorts before `a-b` although `/` is after `-` in ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePath(String);

impl ResourcePath {
    /// Checks a name from a signature or a policy. The error says why it is refused.
    pub fn parse(name: &str) -> Result<ResourcePath, String> {
        if name.is_empty() {
            return Err("empty path".into());
        }
        if name.starts_with('/') {
            return Err(format!("'{name}' is absolute"));
        }
        if name.contains('\0') || name.contains('\\') {
            return Err(format!(
                "'{}' contains a NUL or backslash",
                name.escape_debug()
            ));
        }
        for part in name.split('/') {
            match part {
                "" => return Err(format!("'{name}' has an empty component")),
                "." => return Err(format!("'{name}' has a '.' component")),
                ".." => return Err(format!("'{name}' escapes the bundle directory ('..')")),
                _ => {}
            }
        }
        Ok(ResourcePath(name.to_string()))
    }

    /// Builds the name of a file found under the bundle directory from its relative path.
    pub(crate) fn from_relative(rel: &Path) -> Result<ResourcePath, String> {
        let mut parts = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(os) => match os.to_str() {
                    Some(s) => parts.push(s),
                    None => return Err("file name is not valid UTF-8".into()),
                },
                _ => return Err("not a plain relative path".into()),
            }
        }
        ResourcePath::parse(&parts.join("/"))
    }

    /// The name as written in signatures.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// True when `self` is `prefix` or lies under it (component-wise, as Python's
    /// `PurePath.is_relative_to`).
    pub fn is_within(&self, prefix: &ResourcePath) -> bool {
        self.0 == prefix.0
            || (self.0.len() > prefix.0.len()
                && self.0.starts_with(&prefix.0)
                && self.0.as_bytes().get(prefix.0.len()) == Some(&b'/'))
    }
}

impl Ord for ResourcePath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.components().cmp(other.components())
    }
}

impl PartialOrd for ResourcePath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ResourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes_and_odd_names() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "a\0b",
        ] {
            assert!(ResourcePath::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "a/b", "ünï/dätä", ".gitignore", "a..b", "..a"] {
            assert!(ResourcePath::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn sorts_by_component_like_python() {
        let mut v: Vec<_> = ["a-b", "a/b", "a", "B", "a/b/c", "ä"]
            .iter()
            .map(|s| ResourcePath::parse(s).unwrap())
            .collect();
        v.sort();
        let names: Vec<_> = v.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, ["B", "a", "a/b", "a/b/c", "a-b", "ä"]);
    }

    #[test]
    fn within_is_component_wise() {
        let git = ResourcePath::parse(".git").unwrap();
        assert!(ResourcePath::parse(".git/config").unwrap().is_within(&git));
        assert!(ResourcePath::parse(".git").unwrap().is_within(&git));
        assert!(!ResourcePath::parse(".gitignore").unwrap().is_within(&git));
    }
}

//! The in-toto Statement v1 (`https://in-toto.io/Statement/v1`), generic over its predicate, so
//! that bundle signatures, dataset manifests and scan attestations share one reader and writer.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::AttestError;

/// The in-toto Statement v1 type (`_type`).
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// What a statement is about: a name and its digests by algorithm (`{"sha256": "<hex>"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The subject's name.
    pub name: String,
    /// Digests by algorithm name, lowercase hex.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with one SHA-256 digest.
    pub fn sha256(name: impl Into<String>, digest: &[u8; 32]) -> Subject {
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Subject {
            name: name.into(),
            digest: BTreeMap::from([("sha256".to_string(), hex)]),
        }
    }
}

/// An in-toto Statement v1 with a predicate of type `P`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<P> {
    /// The subjects.
    pub subject: Vec<Subject>,
    /// The predicate type URI.
    pub predicate_type: String,
    /// The predicate.
    pub predicate: P,
}

#[derive(Serialize)]
struct StatementOut<'a, P> {
    #[serde(rename = "_type")]
    ty: &'a str,
    subject: &'a [Subject],
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    predicate: &'a P,
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "_type")]
    ty: String,
    #[serde(rename = "predicateType")]
    predicate_type: String,
}

#[derive(Deserialize)]
struct StatementIn<P> {
    subject: Vec<Subject>,
    #[serde(default = "Option::default")]
    predicate: Option<P>,
}

impl<P: Serialize> Statement<P> {
    /// The statement as JSON in the form protobuf's `MessageToJson` prints it, which is what
    /// `model_signing` signs: two-space indent, `": "`, fields in declaration order
    /// (`_type`, `subject`, `predicateType`, `predicate`, then the predicate's own order), and
    /// every non-ASCII character escaped as `\uXXXX` (surrogate pairs above U+FFFF).
    pub fn to_json(&self) -> Result<String, AttestError> {
        let out = StatementOut {
            ty: STATEMENT_TYPE,
            subject: &self.subject,
            predicate_type: &self.predicate_type,
            predicate: &self.predicate,
        };
        let mut buf = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
        out.serialize(&mut ser)
            .map_err(|e| AttestError::Statement(format!("cannot be written: {e}")))?;
        Ok(ascii_escape(&String::from_utf8_lossy(&buf)))
    }
}

impl<P: DeserializeOwned> Statement<P> {
    /// Parses a statement whose predicate type must be `predicate_type`. The `_type` and the
    /// predicate type are checked before the predicate is read, so a statement of another kind
    /// is refused as such ([`AttestError::PredicateType`]) rather than as a malformed predicate.
    /// Duplicate fields are refused.
    pub fn parse(payload: &[u8], predicate_type: &str) -> Result<Statement<P>, AttestError> {
        let bad = AttestError::Statement;
        let header: Header = serde_json::from_slice(payload)
            .map_err(|e| bad(format!("not an in-toto statement: {e}")))?;
        if header.ty != STATEMENT_TYPE {
            return Err(bad(format!(
                "_type is '{}', expected '{STATEMENT_TYPE}'",
                header.ty
            )));
        }
        if header.predicate_type != predicate_type {
            return Err(AttestError::PredicateType {
                found: header.predicate_type,
                expected: predicate_type.to_string(),
            });
        }
        let body: StatementIn<P> = serde_json::from_slice(payload)
            .map_err(|e| bad(format!("not an in-toto statement: {e}")))?;
        Ok(Statement {
            subject: body.subject,
            predicate_type: header.predicate_type,
            predicate: body.predicate.ok_or_else(|| bad("no predicate".into()))?,
        })
    }
}

/// Escapes every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF), as Python's
/// `json` does with `ensure_ascii`. Only string contents can hold such characters.
fn ascii_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rows {
        rows: u64,
    }

    #[test]
    fn ascii_escape_uses_surrogates() {
        assert_eq!(ascii_escape("\"ü😀\""), "\"\\u00fc\\ud83d\\ude00\"");
    }

    #[test]
    fn a_statement_round_trips_and_its_kind_is_checked_first() {
        let st = Statement {
            subject: vec![Subject::sha256("data", &[7; 32])],
            predicate_type: "https://example.invalid/rows/v1".into(),
            predicate: Rows { rows: 3 },
        };
        let json = st.to_json().unwrap();
        assert!(json.starts_with("{\n  \"_type\": \"https://in-toto.io/Statement/v1\",\n"));
        let back = Statement::<Rows>::parse(json.as_bytes(), &st.predicate_type).unwrap();
        assert_eq!(back, st);
        let other = Statement::<Rows>::parse(json.as_bytes(), "https://other/v1").unwrap_err();
        assert!(
            matches!(other, AttestError::PredicateType { .. }),
            "{other}"
        );
        let dup = br#"{"_type":"https://in-toto.io/Statement/v1","_type":"x","predicateType":"p"}"#;
        assert!(Statement::<Rows>::parse(dup, "p").is_err());
        let none =
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"}"#;
        let e = Statement::<Rows>::parse(none, "p").unwrap_err().to_string();
        assert!(e.contains("no predicate"), "{e}");
    }
}

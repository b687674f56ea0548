//! The clients file: which certificate subjects may talk to the gateway, in which role, with
//! which per-client limits, and which are revoked.
//!
//! ```toml
//! [[client]]
//! name = "ward-7-monitor"      # the certificate's subject CN
//! role = "infer"               # infer | audit | admin
//! rate_per_second = 5.0        # overrides the bundle's [limits] (optional)
//! burst = 10.0
//! query_budget = 100000
//! extraction_monitor = true
//!
//! [[client]]
//! name = "load-test"
//! role = "infer"
//! unlimited = true             # rate, burst and budget lifted; extraction monitor off
//!
//! [[client]]
//! name = "old-tablet"
//! role = "infer"
//! revoked = true               # refused, and the refusal is logged
//!
//! [[revoked]]                  # a single certificate, by SHA-256 of its DER
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! reason = "tablet lost 2026-11-02"
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use vigil_net::{PeerIdentity, Role};

use crate::error::ServerError;

/// Most bytes read from a clients file.
pub const MAX_CLIENTS_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Per-client overrides of the bundle's `[limits]` and `[extraction]` defaults. `None` keeps
/// the bundle's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientPolicy {
    /// Token-bucket refill rate (requests per second).
    pub rate_per_second: Option<f64>,
    /// Token-bucket capacity.
    pub burst: Option<f64>,
    /// Queries allowed in the guard's lifetime.
    pub query_budget: Option<u64>,
    /// Run the extraction monitor for this client.
    pub extraction_monitor: Option<bool>,
    /// Rate, burst and budget lifted, extraction monitor off (load tests).
    pub unlimited: bool,
    /// The site this client belongs to: every client of one site shares one rate limit,
    /// budget, extraction monitor and suspension (several certificates of one station count
    /// as one client). `None`: the client is its own site.
    pub site: Option<String>,
    /// The response to this client's extraction alarms, over the bundle's `[alarm_response]`.
    pub extraction_response: Option<vigil_guard::Action>,
    /// The response to this client's volume alarms.
    pub volume_response: Option<vigil_guard::Action>,
}

/// An authenticated and authorised caller, as the backend sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// Client id: the certificate's subject CN, as named in the clients file.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Its limits.
    pub policy: ClientPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    name: String,
    #[serde(deserialize_with = "role")]
    role: Role,
    #[serde(default)]
    rate_per_second: Option<f64>,
    #[serde(default)]
    burst: Option<f64>,
    #[serde(default)]
    query_budget: Option<u64>,
    #[serde(default)]
    extraction_monitor: Option<bool>,
    #[serde(default)]
    unlimited: bool,
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    extraction_response: Option<vigil_guard::Action>,
    #[serde(default)]
    volume_response: Option<vigil_guard::Action>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    comment: Option<String>,
}

/// A role by its name, refusing others as an unknown variant would be.
fn role<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
    let name = String::deserialize(d)?;
    Role::parse(&name)
        .ok_or_else(|| serde::de::Error::unknown_variant(&name, &["infer", "audit", "admin"]))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRevoked {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default)]
    client: Vec<FileClient>,
    #[serde(default)]
    revoked: Vec<FileRevoked>,
}

/// Why a certificate that chains to the client CA is still refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// The certificate has no subject CN (or it is not UTF-8).
    NoCommonName,
    /// The CN is not in the clients file.
    Unknown {
        /// The CN.
        name: String,
    },
    /// The client or this certificate is revoked.
    Revoked {
        /// The CN.
        name: String,
        /// Why, as the clients file says.
        reason: String,
    },
}

impl Denial {
    /// Stable code (metrics label, ledger event field).
    pub fn code(&self) -> &'static str {
        match self {
            Denial::NoCommonName => "no_common_name",
            Denial::Unknown { .. } => "unknown_client",
            Denial::Revoked { .. } => "revoked_client",
        }
    }

    /// The message sent in the error body.
    pub fn message(&self) -> String {
        match self {
            Denial::NoCommonName => {
                "client not authorised: the certificate has no subject common name".into()
            }
            Denial::Unknown { name } => {
                format!("client not authorised: {name:?} is not in the clients file")
            }
            Denial::Revoked { name, reason } => {
                format!("client not authorised: {name:?} is revoked ({reason})")
            }
        }
    }
}

/// The parsed clients file.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    by_name: HashMap<String, Caller>,
    revoked_names: HashMap<String, String>,
    revoked_certs: HashMap<String, String>,
}

impl Clients {
    /// Read and check a clients file.
    pub fn load(path: &Path) -> Result<Clients, ServerError> {
        let text = vigil_core::read_bounded(path, MAX_CLIENTS_FILE_BYTES)?;
        let text = String::from_utf8(text).map_err(|_| ServerError::Clients {
            path: path.to_path_buf(),
            reason: "not UTF-8".into(),
        })?;
        Clients::parse(&text).map_err(|reason| ServerError::Clients {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parse a clients file's text; the error names the entry and the reason.
    pub fn parse(text: &str) -> Result<Clients, String> {
        let file: ClientsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut clients = Clients::default();
        for (i, c) in file.client.into_iter().enumerate() {
            let at = format!("client[{i}] ({:?})", c.name);
            if c.name.is_empty() || c.name.len() > 256 || c.name.chars().any(char::is_control) {
                return Err(format!(
                    "{at}: name must be 1 to 256 characters without control characters"
                ));
            }
            for (key, v) in [("rate_per_second", c.rate_per_second), ("burst", c.burst)] {
                if let Some(v) = v {
                    if !v.is_finite() || v < 0.0 {
                        return Err(format!("{at}: {key} must be a finite number >= 0, not {v}"));
                    }
                }
            }
            if let Some(site) = &c.site {
                if site.is_empty() || site.len() > 256 || site.chars().any(char::is_control) {
                    return Err(format!(
                        "{at}: site must be 1 to 256 characters without control characters"
                    ));
                }
            }
            let _ = c.comment;
            if c.revoked {
                clients
                    .revoked_names
                    .insert(c.name.clone(), "revoked in the clients file".into());
            }
            let caller = Caller {
                id: c.name.clone(),
                role: c.role,
                policy: ClientPolicy {
                    rate_per_second: c.rate_per_second,
                    burst: c.burst,
                    query_budget: c.query_budget,
                    extraction_monitor: c.extraction_monitor,
                    unlimited: c.unlimited,
                    site: c.site.clone(),
                    extraction_response: c.extraction_response,
                    volume_response: c.volume_response,
                },
            };
            if clients.by_name.insert(c.name.clone(), caller).is_some() {
                return Err(format!("{at}: the name is listed twice"));
            }
        }
        for (i, r) in file.revoked.into_iter().enumerate() {
            let reason = r.reason.unwrap_or_else(|| "revoked".into());
            match (r.name, r.sha256) {
                (Some(name), None) => {
                    clients.revoked_names.insert(name, reason);
                }
                (None, Some(fp)) => {
                    let fp = fp.to_ascii_lowercase();
                    if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(format!(
                            "revoked[{i}]: sha256 must be 64 hex digits, not {fp:?}"
                        ));
                    }
                    clients.revoked_certs.insert(fp, reason);
                }
                _ => return Err(format!("revoked[{i}]: give exactly one of name or sha256")),
            }
        }
        Ok(clients)
    }

    /// Number of clients listed (revoked ones included).
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when no client is listed.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Decide whether this peer may talk to the gateway, and as whom.
    pub fn authorise(&self, peer: &PeerIdentity) -> Result<Caller, Denial> {
        let Some(name) = &peer.common_name else {
            return Err(Denial::NoCommonName);
        };
        if let Some(reason) = self.revoked_certs.get(&peer.sha256) {
            return Err(Denial::Revoked {
                name: name.clone(),
                reason: format!("certificate revoked: {reason}"),
            });
        }
        if let Some(reason) = self.revoked_names.get(name) {
            return Err(Denial::Revoked {
                name: name.clone(),
                reason: reason.clone(),
            });
        }
        self.by_name
            .get(name)
            .cloned()
            .ok_or_else(|| Denial::Unknown { name: name.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_limits_and_revocations() {
        let c = Clients::parse(
            r#"
[[client]]
name = "a"
role = "infer"
rate_per_second = 2.5
[[client]]
name = "b"
role = "audit"
revoked = true
[[client]]
name = "c"
role = "admin"
unlimited = true
[[revoked]]
sha256 = "AA00000000000000000000000000000000000000000000000000000000000000"
reason = "lost"
"#,
        )
        .unwrap();
        let a = c.authorise(&PeerIdentity::for_tests("a")).unwrap();
        assert_eq!(a.role, Role::Infer);
        assert_eq!(a.policy.rate_per_second, Some(2.5));
        assert_eq!(
            c.authorise(&PeerIdentity::for_tests("b"))
                .unwrap_err()
                .code(),
            "revoked_client"
        );
        assert_eq!(
            c.authorise(&PeerIdentity::for_tests("zz"))
                .unwrap_err()
                .code(),
            "unknown_client"
        );
        let mut lost = PeerIdentity::for_tests("c");
        lost.sha256 = "aa".to_string() + &"0".repeat(62);
        assert_eq!(c.authorise(&lost).unwrap_err().code(), "revoked_client");
        assert!(
            c.authorise(&PeerIdentity::for_tests("c"))
                .unwrap()
                .policy
                .unlimited
        );
    }

    #[test]
    fn bad_files_name_the_entry() {
        for (text, want) in [
            ("[[client]]\nname = \"\"\nrole = \"infer\"", "client[0]"),
            ("[[client]]\nname = \"x\"\nrole = \"root\"", "unknown variant"),
            ("[[client]]\nname = \"x\"\nrole = \"infer\"\nrate = 1", "unknown field"),
            (
                "[[client]]\nname = \"x\"\nrole = \"infer\"\nburst = -1.0",
                "burst must be",
            ),
            (
                "[[client]]\nname = \"x\"\nrole = \"infer\"\n[[client]]\nname = \"x\"\nrole = \"infer\"",
                "listed twice",
            ),
            ("[[revoked]]\nsha256 = \"zz\"", "64 hex digits"),
            ("[[revoked]]\nreason = \"r\"", "exactly one"),
        ] {
            let err = Clients::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}

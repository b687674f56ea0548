//! `clients.toml`: who may call the collector, and each device's checkpoint key.
//!
//! ```toml
//! [[client]]
//! name = "icu-7"              # the certificate's CN: the device id, [A-Za-z0-9._-]
//! role = "device"
//! ledger_vkey = "icu-7+1a2b3c4d+AXo..."   # what `vigil log init` prints; its name is the
//!                                         # log's origin
//!
//! [[client]]
//! name = "post-market-team"
//! role = "operator"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use vigil_ledger::NoteVerifier;

use crate::api::Role;

/// Largest clients file read.
pub const MAX_CLIENTS_BYTES: u64 = 16 << 20;

/// Why a clients file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientsError {
    /// The file could not be read.
    #[error(transparent)]
    File(#[from] vigil_core::ReadError),
    /// The file is not valid, naming the entry and field.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    client: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: Role,
    #[serde(default)]
    ledger_vkey: Option<String>,
}

/// The collector's clients: the role of each certificate name, and each device's key.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    roles: BTreeMap<String, Role>,
    devices: BTreeMap<String, NoteVerifier>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Clients {
    /// Reads and checks `path`: names valid and unique, every device with a `ledger_vkey`
    /// that parses, no operator with one.
    pub fn load(path: &Path) -> Result<Clients, ClientsError> {
        let text = vigil_core::read_bounded_string(path, MAX_CLIENTS_BYTES)?;
        Clients::parse(&text).map_err(|reason| ClientsError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the text of a clients file (see [`Clients::load`]).
    pub fn parse(text: &str) -> Result<Clients, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut out = Clients::default();
        for (i, e) in file.client.iter().enumerate() {
            let at = format!("client[{i}] ({:?})", e.name);
            if !valid_name(&e.name) {
                return Err(format!("{at}: name must be 1 to 128 of [A-Za-z0-9._-]"));
            }
            if out.roles.insert(e.name.clone(), e.role).is_some() {
                return Err(format!("{at}: the name appears twice"));
            }
            match (e.role, &e.ledger_vkey) {
                (Role::Device, Some(vkey)) => {
                    let v = NoteVerifier::from_vkey(vkey)
                        .map_err(|err| format!("{at}: ledger_vkey: {err}"))?;
                    out.devices.insert(e.name.clone(), v);
                }
                (Role::Device, None) => {
                    return Err(format!("{at}: a device needs ledger_vkey"));
                }
                (Role::Operator, Some(_)) => {
                    return Err(format!("{at}: an operator has no ledger_vkey"));
                }
                (Role::Operator, None) => {}
            }
        }
        Ok(out)
    }

    /// The role of a certificate name, if it is a client.
    pub fn role(&self, name: &str) -> Option<Role> {
        self.roles.get(name).copied()
    }

    /// How many devices and operators there are.
    pub fn counts(&self) -> (usize, usize) {
        let devices = self.devices.len();
        (devices, self.roles.len().saturating_sub(devices))
    }

    /// Each device's checkpoint key, for [`crate::Collector::new`].
    pub fn devices(&self) -> BTreeMap<String, NoteVerifier> {
        self.devices.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vkey(name: &str) -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        NoteVerifier::new(name, key.verifying_key())
            .unwrap()
            .to_vkey()
    }

    #[test]
    fn devices_and_operators() {
        let text = format!(
            "[[client]]\nname = \"icu-7\"\nrole = \"device\"\nledger_vkey = \"{}\"\n\n[[client]]\nname = \"ops\"\nrole = \"operator\"\n",
            vkey("icu-7")
        );
        let c = Clients::parse(&text).unwrap();
        assert_eq!(c.role("icu-7"), Some(Role::Device));
        assert_eq!(c.role("ops"), Some(Role::Operator));
        assert_eq!(c.role("other"), None);
        assert_eq!(c.devices().len(), 1);
    }

    #[test]
    fn refusals_name_the_entry() {
        for (text, want) in [
            ("[[client]]\nname = \"a b\"\nrole = \"operator\"\n", "client[0]"),
            ("[[client]]\nname = \"d\"\nrole = \"device\"\n", "needs ledger_vkey"),
            ("[[client]]\nname = \"o\"\nrole = \"operator\"\n[[client]]\nname = \"o\"\nrole = \"operator\"\n", "twice"),
            ("[[client]]\nname = \"o\"\nrole = \"root\"\n", "role"),
            ("[[client]]\nname = \"d\"\nrole = \"device\"\nledger_vkey = \"nope\"\n", "ledger_vkey"),
        ] {
            let err = Clients::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}

//! The one error type of this crate.

/// Why a contract or a model could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A table or key of `vigil.toml` is missing or wrong.
    #[error("{file}: {key}: {reason}")]
    Contract {
        /// The file (`vigil.toml`).
        file: String,
        /// The dotted key (`contract.features[3].max`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The model does not load, or does not match the contract.
    #[error("model {name}: {reason}")]
    Model {
        /// The model file's name in the bundle.
        name: String,
        /// What tract or the contract check reported.
        reason: String,
    },
}

impl ModelError {
    /// A [`ModelError::Contract`].
    pub fn contract(file: &str, key: impl Into<String>, reason: impl Into<String>) -> Self {
        ModelError::Contract {
            file: file.to_string(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

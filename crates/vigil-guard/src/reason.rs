//! Reason codes: why a request was answered with an abstention.

use std::fmt;

/// Why the guard abstained. Each variant knows, in one place, its stable code string, its HTTP
/// status (for the gateway) and its metrics label (the code). The wire form ([`Reason::wire`])
/// is the code, followed by `:` and the feature or detector it names where there is one, such
/// as `out_of_range:mean radius`; consumers match on the part before the first `:`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// The client identity is empty, too long or has control characters.
    InvalidClient,
    /// More distinct clients than `limits.max_clients`: a new one is refused.
    TooManyClients,
    /// The client's token bucket is empty (`[limits] rate_per_second`, `burst`).
    RateLimited,
    /// The client has used its whole query budget (`[limits] query_budget`).
    QueryBudgetExhausted,
    /// More values than `[limits] max_payload_values`.
    PayloadTooLarge {
        /// Values sent.
        values: usize,
        /// The limit.
        max: usize,
    },
    /// The tensor name is not the contract's input.
    WrongInput {
        /// The name sent.
        name: String,
    },
    /// The element type is not the contract's dtype.
    WrongDtype {
        /// The type sent.
        found: &'static str,
    },
    /// The shape is not the contract's.
    WrongShape {
        /// The shape sent.
        found: Vec<usize>,
    },
    /// A value is NaN or infinite.
    NotFinite {
        /// The feature.
        feature: String,
    },
    /// A value lies outside the feature's physical range.
    OutOfRange {
        /// The feature.
        feature: String,
        /// The value.
        value: f64,
        /// The contract's minimum.
        min: f64,
        /// The contract's maximum.
        max: f64,
    },
    /// A CSV cell was not a number (or was missing): the row never reached the guard.
    Malformed {
        /// The feature whose cell is bad.
        feature: String,
    },
    /// A detector's score exceeded its calibrated threshold.
    Detector {
        /// The detector ([`crate::DetectorKind::code`]).
        detector: &'static str,
        /// Its score.
        score: f64,
        /// Its threshold.
        threshold: f64,
    },
    /// The inference engine failed on this input.
    InferenceFailed,
    /// The audit event could not be recorded durably, so no answer is released.
    AuditUnavailable,
    /// The guard's own state is unusable (a lock poisoned by a panic elsewhere): no answer.
    Internal,
    /// An alarm suspended this client (`[alarm_response]`); an operator must reinstate it.
    ClientSuspended,
}

impl From<vigil_model::Violation> for Reason {
    fn from(v: vigil_model::Violation) -> Self {
        match v {
            vigil_model::Violation::NotFinite { feature } => Reason::NotFinite { feature },
            vigil_model::Violation::OutOfRange {
                feature,
                value,
                min,
                max,
            } => Reason::OutOfRange {
                feature,
                value,
                min,
                max,
            },
            // A violation this guard does not know is still a refusal, never a pass.
            _ => Reason::Internal,
        }
    }
}

impl Reason {
    /// The stable code string, also the metrics label.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::InvalidClient => "invalid_client",
            Reason::TooManyClients => "too_many_clients",
            Reason::RateLimited => "rate_limited",
            Reason::QueryBudgetExhausted => "query_budget_exhausted",
            Reason::PayloadTooLarge { .. } => "payload_too_large",
            Reason::WrongInput { .. } => "wrong_input",
            Reason::WrongDtype { .. } => "wrong_dtype",
            Reason::WrongShape { .. } => "wrong_shape",
            Reason::NotFinite { .. } => "not_finite",
            Reason::OutOfRange { .. } => "out_of_range",
            Reason::Malformed { .. } => "malformed",
            Reason::Detector { detector, .. } => detector,
            Reason::InferenceFailed => "inference_failed",
            Reason::AuditUnavailable => "audit_unavailable",
            Reason::Internal => "internal",
            Reason::ClientSuspended => "client_suspended",
        }
    }

    /// The HTTP status the gateway answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Reason::InvalidClient => 400,
            Reason::ClientSuspended => 403,
            Reason::TooManyClients | Reason::AuditUnavailable => 503,
            Reason::RateLimited | Reason::QueryBudgetExhausted => 429,
            Reason::PayloadTooLarge { .. } => 413,
            Reason::WrongInput { .. }
            | Reason::WrongDtype { .. }
            | Reason::WrongShape { .. }
            | Reason::Malformed { .. } => 400,
            Reason::NotFinite { .. } | Reason::OutOfRange { .. } | Reason::Detector { .. } => 422,
            Reason::InferenceFailed | Reason::Internal => 500,
        }
    }

    /// The code plus the feature it names, if any: `out_of_range:mean radius`.
    pub fn wire(&self) -> String {
        match self {
            Reason::NotFinite { feature }
            | Reason::OutOfRange { feature, .. }
            | Reason::Malformed { feature } => format!("{}:{feature}", self.code()),
            _ => self.code().to_string(),
        }
    }

    /// True for refusals before the model ran because of the input itself (contract).
    pub fn is_contract(&self) -> bool {
        matches!(
            self,
            Reason::PayloadTooLarge { .. }
                | Reason::WrongInput { .. }
                | Reason::WrongDtype { .. }
                | Reason::WrongShape { .. }
                | Reason::NotFinite { .. }
                | Reason::OutOfRange { .. }
                | Reason::Malformed { .. }
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::InvalidClient => write!(
                f,
                "invalid_client: client id empty, too long or not printable"
            ),
            Reason::TooManyClients => write!(f, "too_many_clients: client table full"),
            Reason::RateLimited => write!(f, "rate_limited: token bucket empty"),
            Reason::QueryBudgetExhausted => {
                write!(f, "query_budget_exhausted: client used its whole budget")
            }
            Reason::PayloadTooLarge { values, max } => {
                write!(f, "payload_too_large: {values} values, limit {max}")
            }
            Reason::WrongInput { name } => write!(f, "wrong_input: no input named {name:?}"),
            Reason::WrongDtype { found } => write!(f, "wrong_dtype: {found}, contract is float32"),
            Reason::WrongShape { found } => write!(f, "wrong_shape: {found:?}"),
            Reason::NotFinite { feature } => write!(f, "not_finite: {feature} is NaN or infinite"),
            Reason::OutOfRange {
                feature,
                value,
                min,
                max,
            } => {
                write!(
                    f,
                    "out_of_range: {feature} = {value} outside [{min}, {max}]"
                )
            }
            Reason::Malformed { feature } => write!(f, "malformed: {feature} is not a number"),
            Reason::Detector {
                detector,
                score,
                threshold,
            } => {
                write!(
                    f,
                    "{detector}: score {score:.4} above threshold {threshold:.4}"
                )
            }
            Reason::InferenceFailed => write!(f, "inference_failed: the engine failed"),
            Reason::AuditUnavailable => write!(f, "audit_unavailable: event not recorded"),
            Reason::Internal => write!(f, "internal: the guard's state is unusable"),
            Reason::ClientSuspended => write!(
                f,
                "client_suspended: an alarm suspended this client until an operator reinstates it"
            ),
        }
    }
}

//! Every answer of the gateway other than a success, in one place: each [`Refusal`] defines
//! its stable code, HTTP status, Open Inference Protocol error body and metrics label.

use std::time::Duration;

use axum::http::StatusCode;
use vigil_guard::Reason;
use vigil_net::Role;

use crate::clients::Denial;

/// Why a backend did not answer a request: an abstention with a stable reason code.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Abstain {
    /// The guard's reason (contract, limits, detectors, faults of the device).
    Guard(Reason),
    /// Proxy mode: the upstream server could not be reached, timed out or answered malformed
    /// JSON (`502`).
    UpstreamUnavailable,
    /// Proxy mode: the upstream's answer differs from the guard's run of the verified model
    /// (`502`).
    UpstreamMismatch,
    /// A detector flagged the input; a caller without the audit role is not told which one
    /// (`abstain: flagged`, the reason's status). Metrics and the ledger keep the detector.
    Withheld(Reason),
}

impl Abstain {
    /// The stable code, also the metrics label (`out_of_range`, `rate_limited`...).
    pub fn code(&self) -> &'static str {
        match self {
            Abstain::Guard(r) | Abstain::Withheld(r) => r.code(),
            Abstain::UpstreamUnavailable => "upstream_unavailable",
            Abstain::UpstreamMismatch => "upstream_mismatch",
        }
    }

    /// The reason as it is sent: the code, then `:` and the feature it names, if any.
    pub fn wire(&self) -> String {
        match self {
            Abstain::Guard(r) => r.wire(),
            Abstain::Withheld(_) => "flagged".to_string(),
            other => other.code().to_string(),
        }
    }

    /// The HTTP status: 4xx for the request's fault, 429 for limits, 5xx for the device's.
    pub fn status(&self) -> StatusCode {
        match self {
            Abstain::Guard(r) | Abstain::Withheld(r) => StatusCode::from_u16(r.http_status())
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
            Abstain::UpstreamUnavailable | Abstain::UpstreamMismatch => StatusCode::BAD_GATEWAY,
        }
    }
}

/// A backend's abstention, with what came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Abstention {
    /// Why.
    pub reason: Abstain,
    /// Monitor alarms raised by this request (counted in the metrics).
    pub alarms: Vec<String>,
    /// The backend has already recorded this request in the audit trail (the guard records
    /// every request it screens). When false, the gateway records it, so that every guarded
    /// request has one durable entry.
    pub recorded: bool,
}

impl Abstention {
    /// An abstention the backend decided before the guard saw the request (not recorded).
    pub fn early(reason: Abstain) -> Abstention {
        Abstention {
            reason,
            alarms: Vec::new(),
            recorded: false,
        }
    }

    /// The guard's abstention on a request it screened and recorded.
    pub fn guarded(reason: Reason, alarms: Vec<String>) -> Abstention {
        Abstention {
            reason: Abstain::Guard(reason),
            alarms,
            recorded: true,
        }
    }
}

/// What a refused client was not allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Run inference.
    Infer,
    /// Read the ledger.
    ReadLedger,
    /// Reinstate a client an alarm suspended.
    Reinstate,
}

/// Which metrics family counts a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Counted {
    /// `vigil_refusals_total{reason}`: refused before the guard.
    Refusal(&'static str),
    /// `vigil_verdicts_total{verdict}`: an inference request's verdict.
    Verdict(&'static str),
    /// Not counted beyond `vigil_requests_total`.
    No,
}

/// An answer other than success. Each variant defines its code ([`Refusal::code`]), HTTP
/// status ([`Refusal::status`]), error body (`{"error": message}`, [`Refusal::message`]) and
/// metrics label ([`Refusal::counted`]), here and nowhere else.
///
/// | variant | status | metrics |
/// |---|---|---|
/// | `NoClientCertificate` | 401 | refusal `no_client_certificate` |
/// | `NotAuthorised` | 403 | refusal `no_common_name`, `unknown_client`, `revoked_client` |
/// | `RoleForbidden` | 403 | refusal `role` |
/// | `Overloaded` | 503 | refusal `overloaded` |
/// | `BodyTooLarge` | 413 | refusal `body_too_large` |
/// | `BodyTimeout` | 408 | refusal `body_timeout` |
/// | `BodyUnreadable`, `BadHeaderLength` | 400 | - |
/// | `Malformed` | 400 | verdict `malformed_request` |
/// | `Abstained` | the reason's | verdict: the reason's code |
/// | `UnknownModel`, `UnknownVersion`, `NotFound` | 404 | - |
/// | `MethodNotAllowed` | 405 | - |
/// | `ModelNotReady` | 503 | - |
/// | `NoLedger`, `NoCheckpoint` | 404 | - |
/// | `BadProofQuery`, `ProofRefused` | 400 | - |
/// | `LedgerFailed`, `ReinstateFailed` | 500 | - |
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Refusal {
    /// The request carries no peer identity (no client certificate).
    NoClientCertificate,
    /// The certificate chains to the client CA, but the clients file refuses it.
    NotAuthorised(Denial),
    /// The client's role does not allow the action.
    RoleForbidden {
        /// The client id.
        client: String,
        /// Its role.
        role: Role,
        /// What it tried.
        action: Action,
    },
    /// `max_in_flight` requests are being worked on.
    Overloaded {
        /// The limit.
        in_flight: usize,
    },
    /// The body is larger than `max_body_bytes`.
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// The body did not arrive within `body_read_timeout`.
    BodyTimeout {
        /// The limit.
        after: Duration,
    },
    /// The body could not be read.
    BodyUnreadable {
        /// Why.
        reason: String,
    },
    /// The binary extension's header is not a byte count.
    BadHeaderLength,
    /// The request is not a valid inference request; the message names the field.
    Malformed {
        /// What is wrong.
        message: String,
    },
    /// The backend abstained.
    Abstained(Abstain),
    /// The model name is not the one served.
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The name served.
        serving: String,
    },
    /// The model version is not the one served.
    UnknownVersion {
        /// The model.
        name: String,
        /// The version asked for.
        version: String,
        /// The version served.
        serving: String,
    },
    /// No such route.
    NotFound {
        /// The path.
        path: String,
    },
    /// The route exists, not with this method.
    MethodNotAllowed {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The model cannot answer yet.
    ModelNotReady,
    /// The gateway keeps no ledger.
    NoLedger,
    /// The ledger has no signed checkpoint yet.
    NoCheckpoint,
    /// The proof query is not `?index=I[&size=N]`.
    BadProofQuery,
    /// The ledger cannot prove what was asked (index or size out of range).
    ProofRefused {
        /// Why.
        reason: String,
    },
    /// Reading the ledger failed.
    LedgerFailed {
        /// Why.
        reason: String,
    },
    /// A client could not be reinstated (the reinstatement could not be recorded, or the
    /// backend keeps no client state).
    ReinstateFailed {
        /// Why.
        reason: String,
    },
}

impl Refusal {
    /// The stable code (the metrics label where one is counted).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoClientCertificate => "no_client_certificate",
            Refusal::NotAuthorised(d) => d.code(),
            Refusal::RoleForbidden { .. } => "role",
            Refusal::Overloaded { .. } => "overloaded",
            Refusal::BodyTooLarge { .. } => "body_too_large",
            Refusal::BodyTimeout { .. } => "body_timeout",
            Refusal::BodyUnreadable { .. } => "body_unreadable",
            Refusal::BadHeaderLength => "bad_header_length",
            Refusal::Malformed { .. } => "malformed_request",
            Refusal::Abstained(a) => a.code(),
            Refusal::UnknownModel { .. } => "unknown_model",
            Refusal::UnknownVersion { .. } => "unknown_version",
            Refusal::NotFound { .. } => "not_found",
            Refusal::MethodNotAllowed { .. } => "method_not_allowed",
            Refusal::ModelNotReady => "model_not_ready",
            Refusal::NoLedger => "no_ledger",
            Refusal::NoCheckpoint => "no_checkpoint",
            Refusal::BadProofQuery => "bad_proof_query",
            Refusal::ProofRefused { .. } => "proof_refused",
            Refusal::LedgerFailed { .. } => "ledger_failed",
            Refusal::ReinstateFailed { .. } => "reinstate_failed",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NoClientCertificate => StatusCode::UNAUTHORIZED,
            Refusal::NotAuthorised(_) | Refusal::RoleForbidden { .. } => StatusCode::FORBIDDEN,
            Refusal::Overloaded { .. } | Refusal::ModelNotReady => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Refusal::BodyUnreadable { .. }
            | Refusal::BadHeaderLength
            | Refusal::Malformed { .. }
            | Refusal::BadProofQuery
            | Refusal::ProofRefused { .. } => StatusCode::BAD_REQUEST,
            Refusal::Abstained(a) => a.status(),
            Refusal::UnknownModel { .. }
            | Refusal::UnknownVersion { .. }
            | Refusal::NotFound { .. }
            | Refusal::NoLedger
            | Refusal::NoCheckpoint => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::LedgerFailed { .. } | Refusal::ReinstateFailed { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The message of the error body `{"error": message}`.
    pub fn message(&self) -> String {
        match self {
            Refusal::NoClientCertificate => {
                "client not authenticated: no client certificate".into()
            }
            Refusal::NotAuthorised(d) => d.message(),
            Refusal::RoleForbidden {
                client,
                role,
                action,
            } => format!(
                "client not authorised: role {:?} of {client:?} may not {}",
                role.name(),
                match action {
                    Action::Infer => "run inference",
                    Action::ReadLedger => "read the ledger",
                    Action::Reinstate => "reinstate clients",
                }
            ),
            Refusal::Overloaded { in_flight } => {
                format!("overloaded: {in_flight} requests in flight, try again later")
            }
            Refusal::BodyTooLarge { max } => format!("request body is larger than {max} bytes"),
            Refusal::BodyTimeout { after } => format!(
                "request body not received within {} s",
                after.as_secs_f64()
            ),
            Refusal::BodyUnreadable { reason } => {
                format!("cannot read the request body: {reason}")
            }
            Refusal::BadHeaderLength => {
                format!("{}: not a byte count", crate::wire::HEADER_LENGTH)
            }
            Refusal::Malformed { message } => message.clone(),
            Refusal::Abstained(a) => format!("abstain: {}", a.wire()),
            Refusal::UnknownModel { name, serving } => {
                format!("unknown model {name:?}: this gateway serves {serving:?}")
            }
            Refusal::UnknownVersion {
                name,
                version,
                serving,
            } => format!(
                "unknown version {version:?} of model {name:?}: this gateway serves version {serving:?}"
            ),
            Refusal::NotFound { path } => format!("not found: {path}"),
            Refusal::MethodNotAllowed { method, path } => {
                format!("method {method} not allowed on {path}")
            }
            Refusal::ModelNotReady => "model not ready".into(),
            Refusal::NoLedger => "this gateway keeps no ledger".into(),
            Refusal::NoCheckpoint => "no checkpoint signed yet".into(),
            Refusal::BadProofQuery => "query must be ?index=I[&size=N] with integers".into(),
            Refusal::ProofRefused { reason } | Refusal::LedgerFailed { reason } => {
                format!("ledger: {reason}")
            }
            Refusal::ReinstateFailed { reason } => format!("reinstate: {reason}"),
        }
    }

    /// The error body: `{"error": message}`.
    pub fn body(&self) -> Vec<u8> {
        crate::wire::error_body(&self.message())
    }

    /// Which metrics family counts it, under which label.
    pub fn counted(&self) -> Counted {
        match self {
            Refusal::NoClientCertificate
            | Refusal::NotAuthorised(_)
            | Refusal::RoleForbidden { .. }
            | Refusal::Overloaded { .. }
            | Refusal::BodyTooLarge { .. }
            | Refusal::BodyTimeout { .. } => Counted::Refusal(self.code()),
            Refusal::Malformed { .. } | Refusal::Abstained(_) => Counted::Verdict(self.code()),
            _ => Counted::No,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

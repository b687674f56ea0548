//! Per-client overrides of the bundle's `[limits]` and `[extraction]`: a gateway's clients
//! file lifts or tightens them for named callers (for example a load-test client).

use crate::contract::GuardLimits;
use crate::Reason;

/// What one caller may do, where it differs from the bundle's defaults. `Default` changes
/// nothing. Values are checked on every request: a rate or burst that is not a positive
/// finite number makes the guard abstain with `invalid_client` (fail closed), never run
/// unlimited by accident; only `unlimited` lifts the rate limit and the budget.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientOverrides {
    /// Token-bucket refill rate, requests per second (`[limits] rate_per_second`).
    pub rate_per_second: Option<f64>,
    /// Token-bucket capacity (`[limits] burst`).
    pub burst: Option<f64>,
    /// Queries in the guard's lifetime (`[limits] query_budget`).
    pub query_budget: Option<u64>,
    /// `Some(false)` turns the extraction monitor off for this caller; `None` keeps the
    /// bundle's setting (the monitor is on for every caller by default).
    pub extraction_monitor: Option<bool>,
    /// No rate limit and no query budget (a load generator). The contract, the detectors and
    /// the audit event still apply to every request.
    pub unlimited: bool,
    /// The response to this caller's `extraction` alarms, where it differs from the bundle's
    /// `[alarm_response] extraction`.
    pub extraction_response: Option<crate::contract::Action>,
    /// The response to this caller's `volume` alarms (`[alarm_response] volume`).
    pub volume_response: Option<crate::contract::Action>,
}

/// The admission limits in force for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Admission {
    pub(crate) rate_per_second: f64,
    pub(crate) burst: f64,
    /// `None`: no budget.
    pub(crate) query_budget: Option<u64>,
    pub(crate) budget_alarm_share: f64,
    pub(crate) unlimited: bool,
}

impl ClientOverrides {
    /// These overrides over the bundle's limits; `Err` when a value is unusable.
    pub(crate) fn admission(&self, limits: &GuardLimits) -> Result<Admission, Reason> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let rate = self.rate_per_second.unwrap_or(limits.rate_per_second);
        let burst = self.burst.unwrap_or(limits.burst);
        let usable = positive(rate) && positive(burst);
        if !(self.unlimited || usable) {
            return Err(Reason::InvalidClient);
        }
        Ok(Admission {
            rate_per_second: rate,
            burst,
            query_budget: (!self.unlimited)
                .then(|| self.query_budget.unwrap_or(limits.query_budget)),
            budget_alarm_share: limits.budget_alarm_share,
            unlimited: self.unlimited,
        })
    }

    /// Whether the extraction monitor watches this caller.
    pub(crate) fn monitored(&self) -> bool {
        self.extraction_monitor.unwrap_or(true)
    }
}

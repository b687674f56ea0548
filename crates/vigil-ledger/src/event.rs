//! The audit events Vigil writes into a ledger: one tagged type for the guard, the gateway and
//! the updater, so that every reader (the collector, `vigil log`, the evidence pack) parses the
//! same schema instead of ad-hoc JSON.
//!
//! Each event is one JSON object whose `type` names it (`guard.inference`, `guard.alarm`,
//! `drift.alarm`, `gateway.refusal`, `gateway.client_refused`); [`Ledger::record`] appends it
//! in RFC 8785 canonical form. No event holds a request's values: inputs appear only as salted
//! digests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ledger::{Ledger, Receipt};

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum Event {
    /// One request the guard answered or refused.
    #[serde(rename = "guard.inference")]
    GuardInference(Inference),
    /// An extraction or volume alarm raised by the guard's monitor at a request.
    #[serde(rename = "guard.alarm")]
    GuardAlarm(GuardAlarm),
    /// A drift alarm raised by the monitor fed with accepted requests.
    #[serde(rename = "drift.alarm")]
    DriftAlarm(DriftAlarm),
    /// An inference request the gateway refused before the guard recorded it.
    #[serde(rename = "gateway.refusal")]
    GatewayRefusal(GatewayRefusal),
    /// A client whose certificate chains to the client CA but who may not connect (once per
    /// connection).
    #[serde(rename = "gateway.client_refused")]
    ClientRefused(ClientRefused),
    /// An operator lifted the suspension or tightening an alarm had put on a client.
    #[serde(rename = "guard.reinstated")]
    Reinstated(Reinstated),
    /// One step of a model update on the device (`vigil update`).
    #[serde(rename = "update.step")]
    UpdateStep(UpdateStep),
}

impl Event {
    /// The event's `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::GuardInference(_) => "guard.inference",
            Event::GuardAlarm(_) => "guard.alarm",
            Event::DriftAlarm(_) => "drift.alarm",
            Event::GatewayRefusal(_) => "gateway.refusal",
            Event::ClientRefused(_) => "gateway.client_refused",
            Event::Reinstated(_) => "guard.reinstated",
            Event::UpdateStep(_) => "update.step",
        }
    }

    /// The event as JSON bytes (not yet canonical: [`Ledger::record`] canonicalizes).
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|e| Error::Schema(format!("event: {e}")))
    }

    /// Parses one ledger entry as an event; an entry of another schema is an error naming why.
    pub fn from_json(bytes: &[u8]) -> Result<Event, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Schema(format!("event: {e}")))
    }
}

/// What a request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Answered.
    Accept,
    /// The guard abstained (the reason says why).
    Abstain,
    /// The gateway refused it before the guard.
    Refused,
}

/// `guard.inference`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inference {
    /// The guard's event id (alarms raised at this request carry the same id).
    pub event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The bundle's subject digest (hex).
    pub model: String,
    /// The client id (the certificate's CN at a gateway), at most 256 characters.
    pub client: String,
    /// SHA-256 of the guard's salt and the input (name, shape, values), hex.
    pub input_sha256: String,
    /// Accept or abstain.
    pub verdict: Verdict,
    /// The abstention's wire form (`out_of_range:mean radius`), for an abstention.
    pub reason: Option<String>,
    /// The predicted label, for an accepted request.
    pub label: Option<String>,
    /// Detector scores by detector code; `null` where a score was not finite.
    pub scores: BTreeMap<String, Option<f64>>,
    /// Codes of the monitor alarms raised at this request.
    pub alarms: Vec<String>,
}

/// `guard.alarm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardAlarm {
    /// The id of the request that raised it.
    pub event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The bundle's subject digest (hex).
    pub model: String,
    /// The client.
    pub client: String,
    /// `"alarm": "extraction" | "volume"` and its `"detail"`.
    #[serde(flatten)]
    pub alarm: AlarmDetail,
    /// What the alarm did to the client (`[alarm_response]`): `record`, `tighten` or
    /// `suspend` (empty in events written before responses existed).
    #[serde(default)]
    pub response: String,
}

/// `guard.reinstated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reinstated {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The bundle's subject digest (hex).
    pub model: String,
    /// The client reinstated.
    pub client: String,
    /// Who reinstated it (the operator's client id).
    pub by: String,
}

/// A monitor alarm, as `{"alarm": code, "detail": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "alarm", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlarmDetail {
    /// The client's queries look like model extraction.
    Extraction {
        /// `prada` or `ood_share`.
        signal: String,
        /// The signal's statistic (Shapiro-Wilk W, or the flagged share).
        statistic: f64,
        /// The client's query count when raised.
        queries: u64,
    },
    /// The client used the alarm share of its query budget.
    Volume {
        /// Queries used.
        used: u64,
        /// The budget.
        budget: u64,
    },
}

/// `drift.alarm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftAlarm {
    /// The id of the request whose observation raised it.
    pub event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The bundle's subject digest (hex).
    pub model: String,
    /// What drifted.
    pub alarm: DriftDetail,
}

/// A drift monitor's alarm, tagged by `type` as `vigil-drift` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DriftDetail {
    /// The last `window` observations of a stream differ from its reference.
    WindowDrift {
        /// Stream name (a contract feature, or `confidence`).
        stream: String,
        /// The test (`ks`).
        test: String,
        /// Its statistic.
        statistic: f64,
        /// Its p-value, Bonferroni-adjusted across the streams checked together.
        p_value: f64,
        /// Window length.
        window: usize,
        /// Observations seen when it fired.
        observation: u64,
    },
}

/// `gateway.refusal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayRefusal {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The served model's name.
    pub model: String,
    /// The client, at most 256 characters.
    pub client: String,
    /// Always [`Verdict::Refused`].
    pub verdict: Verdict,
    /// The abstention's wire form or the refusal's code (`body_too_large`).
    pub reason: String,
    /// The HTTP status answered.
    pub status: u16,
}

/// `gateway.client_refused`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRefused {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Why (`unknown_client`, `revoked_client`, `no_common_name`).
    pub reason: String,
    /// The certificate's CN, or empty.
    pub client: String,
    /// SHA-256 of the certificate (hex).
    pub cert_sha256: String,
    /// The peer's address.
    pub remote: String,
}

/// `update.step`: what the updater did, in order: `refresh`, `download`, `verify`, `scan`,
/// `acceptance`, `activate`, `health_check`, `rollback`, and `refused` with the reason code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateStep {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The step.
    pub step: UpdatePhase,
    /// The bundle name (the TUF target's directory).
    pub name: String,
    /// The release the step is about, when one was chosen.
    pub version: Option<String>,
    /// Whether the step passed.
    pub ok: bool,
    /// The refusal's code (`tuf_signature`, `scan_finding`, ...) when `ok` is false.
    pub reason: Option<String>,
    /// What was checked or why it failed, for people.
    pub detail: String,
    /// When the manufacturer published the release (milliseconds since the Unix epoch), as its
    /// signed TUF target says (`custom.published`, written by `vigil update repo add`); absent
    /// when the target does not say. Time to patch is activation minus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_ms: Option<u64>,
}

/// The steps of an update, in the order an install takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UpdatePhase {
    /// TUF metadata refreshed and verified.
    Refresh,
    /// The target downloaded with TUF's length and hash checks and unpacked into staging.
    Download,
    /// Bundle signature and trust policy checked on the unpacked files.
    Verify,
    /// The model-file scanner ran over the staged bundle.
    Scan,
    /// The bundle's acceptance set ran through the guard.
    Acceptance,
    /// `current` switched to the release.
    Activate,
    /// The health command ran after the switch.
    HealthCheck,
    /// `current` switched back to the previous release.
    Rollback,
    /// The update was refused (`reason` says why); nothing was activated.
    Refused,
}

pub use vigil_core::time::now_ms;

impl Ledger {
    /// Appends `event` durably (canonical JSON), as [`Ledger::append`].
    pub fn record(&self, event: &Event) -> Result<Receipt, Error> {
        self.append(&event.to_json()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(e: Event, expect: serde_json::Value) {
        let bytes = e.to_json().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v, expect);
        assert_eq!(Event::from_json(&bytes).unwrap(), e);
        let canon = crate::canonicalize_event(&bytes, &crate::Limits::default()).unwrap();
        assert_eq!(Event::from_json(&canon).unwrap(), e);
    }

    #[test]
    fn events_keep_their_documented_shape() {
        roundtrip(
            Event::GuardAlarm(GuardAlarm {
                event_id: 3,
                time_ms: 5,
                model: "ab".into(),
                client: "c".into(),
                alarm: AlarmDetail::Volume {
                    used: 8,
                    budget: 10,
                },
                response: "record".into(),
            }),
            serde_json::json!({"type":"guard.alarm","event_id":3,"time_ms":5,"model":"ab",
                "client":"c","alarm":"volume","detail":{"used":8,"budget":10},
                "response":"record"}),
        );
        roundtrip(
            Event::DriftAlarm(DriftAlarm {
                event_id: 1,
                time_ms: 2,
                model: "m".into(),
                alarm: DriftDetail::WindowDrift {
                    stream: "mean radius".into(),
                    test: "ks".into(),
                    statistic: 0.5,
                    p_value: 0.001,
                    window: 200,
                    observation: 250,
                },
            }),
            serde_json::json!({"type":"drift.alarm","event_id":1,"time_ms":2,"model":"m",
                "alarm":{"type":"window_drift","stream":"mean radius","test":"ks",
                "statistic":0.5,"p_value":0.001,"window":200,"observation":250}}),
        );
        let mut scores = BTreeMap::new();
        scores.insert("margin".to_string(), Some(0.25));
        scores.insert("squeezing".to_string(), None);
        roundtrip(
            Event::GuardInference(Inference {
                event_id: 9,
                time_ms: 1,
                model: "m".into(),
                client: "c".into(),
                input_sha256: "00".into(),
                verdict: Verdict::Abstain,
                reason: Some("out_of_range:x".into()),
                label: None,
                scores,
                alarms: vec!["extraction".into()],
            }),
            serde_json::json!({"type":"guard.inference","event_id":9,"time_ms":1,"model":"m",
                "client":"c","input_sha256":"00","verdict":"abstain","reason":"out_of_range:x",
                "label":null,"scores":{"margin":0.25,"squeezing":null},"alarms":["extraction"]}),
        );
        roundtrip(
            Event::GatewayRefusal(GatewayRefusal {
                time_ms: 1,
                model: "m".into(),
                client: "c".into(),
                verdict: Verdict::Refused,
                reason: "body_too_large".into(),
                status: 413,
            }),
            serde_json::json!({"type":"gateway.refusal","time_ms":1,"model":"m","client":"c",
                "verdict":"refused","reason":"body_too_large","status":413}),
        );
        roundtrip(
            Event::Reinstated(Reinstated {
                time_ms: 1,
                model: "m".into(),
                client: "ward-7".into(),
                by: "operator".into(),
            }),
            serde_json::json!({"type":"guard.reinstated","time_ms":1,"model":"m",
                "client":"ward-7","by":"operator"}),
        );
        roundtrip(
            Event::ClientRefused(ClientRefused {
                time_ms: 1,
                reason: "revoked".into(),
                client: "c".into(),
                cert_sha256: "ff".into(),
                remote: "127.0.0.1:1".into(),
            }),
            serde_json::json!({"type":"gateway.client_refused","time_ms":1,"reason":"revoked",
                "client":"c","cert_sha256":"ff","remote":"127.0.0.1:1"}),
        );
    }

    #[test]
    fn an_alarm_written_before_responses_existed_still_reads() {
        let old = br#"{"type":"guard.alarm","event_id":1,"time_ms":2,"model":"m","client":"c","alarm":"volume","detail":{"used":8,"budget":10}}"#;
        match Event::from_json(old).unwrap() {
            Event::GuardAlarm(a) => assert_eq!(a.response, ""),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_update_step_without_a_publication_time_keeps_its_bytes() {
        // Entries written before `published_ms` existed must hash as they did.
        let old = br#"{"type":"update.step","time_ms":5,"step":"activate","name":"n","version":"1.0.0","ok":true,"reason":null,"detail":"d"}"#;
        let e = Event::from_json(old).unwrap();
        match &e {
            Event::UpdateStep(s) => assert_eq!(s.published_ms, None),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::from_slice::<serde_json::Value>(old).unwrap()
        );
        let mut with = serde_json::from_slice::<serde_json::Value>(old).unwrap();
        with["published_ms"] = serde_json::json!(3);
        match Event::from_json(with.to_string().as_bytes()).unwrap() {
            Event::UpdateStep(s) => assert_eq!(s.published_ms, Some(3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn another_schema_is_an_error() {
        assert!(Event::from_json(br#"{"event":"client_refused"}"#).is_err());
        assert!(Event::from_json(br#"{"type":"guard.nothing"}"#).is_err());
    }
}

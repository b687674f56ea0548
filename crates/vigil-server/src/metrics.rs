//! Counters and histograms, written in the Prometheus text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                if let Some(c) = self.counts.get(i) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The gateway's metrics. Label values are stable codes (reason codes, status codes, route
/// names), never client input, so the label sets stay small.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    verdicts: Mutex<BTreeMap<String, u64>>,
    alarms: Mutex<BTreeMap<String, u64>>,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    latency: Histogram,
    infer_latency: Histogram,
    connections: AtomicU64,
    open_connections: AtomicU64,
    in_flight: AtomicU64,
    collector: [AtomicU64; 4],
}

/// How one push of the ledger to a collector ended (`vigil serve --collector`), as counted in
/// `vigil_collector_pushes_total{outcome}` and `vigil_collector_forks_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectorPush {
    /// Accepted and co-signed: `outcome="ok"`.
    Ok,
    /// Refused, not as a fork: `outcome="refused"`.
    Refused,
    /// Refused as a fork (409): `outcome="refused"` and `vigil_collector_forks_total`.
    Fork,
    /// Not made (ledger, network, the collector's failure): `outcome="failed"`.
    Failed,
}

impl CollectorPush {
    fn slot(self) -> usize {
        match self {
            CollectorPush::Ok => 0,
            CollectorPush::Refused => 1,
            CollectorPush::Fork => 2,
            CollectorPush::Failed => 3,
        }
    }
}

fn bump<K: Ord>(m: &Mutex<BTreeMap<K, u64>>, k: K) {
    if let Ok(mut m) = m.lock() {
        *m.entry(k).or_insert(0) += 1;
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// A request finished on `route` with `status` after `elapsed`.
    pub(crate) fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        bump(&self.requests, (route, status));
        self.latency.observe(elapsed);
    }

    /// An inference request's verdict: `accept` or the abstention's reason code.
    pub(crate) fn verdict(&self, code: &str, elapsed: Duration) {
        bump(&self.verdicts, code.to_string());
        self.infer_latency.observe(elapsed);
    }

    /// A monitor alarm (`extraction`, `drift`, `volume`...).
    pub(crate) fn alarm(&self, kind: &str) {
        bump(&self.alarms, kind.to_string());
    }

    /// A refused peer or request (`tls_handshake`, `unknown_client`, `overloaded`...).
    pub(crate) fn refusal(&self, code: &'static str) {
        bump(&self.refusals, code);
    }

    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.open_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.open_connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn in_flight(&self, delta: i64) {
        if delta >= 0 {
            self.in_flight
                .fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
        } else {
            self.in_flight
                .fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    /// One push of the ledger to the collector ended.
    pub fn collector_push(&self, outcome: CollectorPush) {
        if let Some(c) = self.collector.get(outcome.slot()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Pushes to the collector that ended with `outcome` so far.
    pub fn collector_push_count(&self, outcome: CollectorPush) -> u64 {
        self.collector
            .get(outcome.slot())
            .map(|c| c.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Count of one verdict code so far (for tests and the demo).
    pub fn verdict_count(&self, code: &str) -> u64 {
        self.verdicts
            .lock()
            .ok()
            .and_then(|m| m.get(code).copied())
            .unwrap_or(0)
    }

    /// Count of one alarm kind so far (`extraction`, `drift`, `volume`...).
    pub fn alarm_count(&self, kind: &str) -> u64 {
        self.alarms
            .lock()
            .ok()
            .and_then(|m| m.get(kind).copied())
            .unwrap_or(0)
    }

    /// Count of one refusal code so far.
    pub fn refusal_count(&self, code: &str) -> u64 {
        self.refusals
            .lock()
            .ok()
            .and_then(|m| m.get(code).copied())
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, model: &str) -> String {
        let mut s = String::with_capacity(4096);
        let model = escape(model);
        let _ = writeln!(
            s,
            "# HELP vigil_requests_total HTTP requests answered, by route and status."
        );
        let _ = writeln!(s, "# TYPE vigil_requests_total counter");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    s,
                    "vigil_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(s, "# HELP vigil_verdicts_total Inference verdicts: accept, or the abstention reason code.");
        let _ = writeln!(s, "# TYPE vigil_verdicts_total counter");
        if let Ok(m) = self.verdicts.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(
                    s,
                    "vigil_verdicts_total{{model=\"{model}\",verdict=\"{}\"}} {n}",
                    escape(code)
                );
            }
        }
        let alarms = self.alarms.lock().map(|m| m.clone()).unwrap_or_default();
        for (name, kind, help) in [
            (
                "vigil_extraction_alarms_total",
                "extraction",
                "Model-extraction monitor alarms (PRADA and the OOD-share signal).",
            ),
            ("vigil_drift_alarms_total", "drift", "Input drift alarms."),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} counter");
            let _ = writeln!(
                s,
                "{name}{{model=\"{model}\"}} {}",
                alarms.get(kind).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(s, "# HELP vigil_alarms_total Monitor alarms, by kind.");
        let _ = writeln!(s, "# TYPE vigil_alarms_total counter");
        for (kind, n) in &alarms {
            let _ = writeln!(
                s,
                "vigil_alarms_total{{model=\"{model}\",kind=\"{}\"}} {n}",
                escape(kind)
            );
        }
        let _ = writeln!(s, "# HELP vigil_refusals_total Peers and requests refused before the guard: TLS handshakes, unauthorised clients, overload, timeouts.");
        let _ = writeln!(s, "# TYPE vigil_refusals_total counter");
        if let Ok(m) = self.refusals.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(s, "vigil_refusals_total{{reason=\"{code}\"}} {n}");
            }
        }
        for (name, help, h) in [
            (
                "vigil_request_duration_seconds",
                "Time from request headers to response, all routes.",
                &self.latency,
            ),
            (
                "vigil_inference_duration_seconds",
                "Time in the guard per inference request.",
                &self.infer_latency,
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} histogram");
            for (b, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    s,
                    "{name}_bucket{{le=\"{b}\"}} {}",
                    c.load(Ordering::Relaxed)
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
            let _ = writeln!(
                s,
                "{name}_sum {}",
                h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(s, "{name}_count {count}");
        }
        let pushes = |o: CollectorPush| self.collector_push_count(o);
        let _ = writeln!(s, "# HELP vigil_collector_pushes_total Pushes of the ledger to the collector (--collector), by outcome: ok, refused (forks too), failed.");
        let _ = writeln!(s, "# TYPE vigil_collector_pushes_total counter");
        for (outcome, n) in [
            ("ok", pushes(CollectorPush::Ok)),
            (
                "refused",
                pushes(CollectorPush::Refused) + pushes(CollectorPush::Fork),
            ),
            ("failed", pushes(CollectorPush::Failed)),
        ] {
            let _ = writeln!(
                s,
                "vigil_collector_pushes_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(s, "# HELP vigil_collector_forks_total Pushes the collector refused as a fork of the history it accepted (409).");
        let _ = writeln!(s, "# TYPE vigil_collector_forks_total counter");
        let _ = writeln!(
            s,
            "vigil_collector_forks_total {}",
            pushes(CollectorPush::Fork)
        );
        for (name, kind, help, v) in [
            (
                "vigil_connections_total",
                "counter",
                "TLS connections accepted.",
                &self.connections,
            ),
            (
                "vigil_open_connections",
                "gauge",
                "TLS connections open now.",
                &self.open_connections,
            ),
            (
                "vigil_in_flight_requests",
                "gauge",
                "Requests being worked on now.",
                &self.in_flight,
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} {kind}");
            let _ = writeln!(s, "{name} {}", v.load(Ordering::Relaxed));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family() {
        let m = Metrics::default();
        m.request("infer", 200, Duration::from_micros(300));
        m.verdict("accept", Duration::from_micros(40));
        m.verdict("out_of_range", Duration::from_micros(40));
        m.alarm("extraction");
        m.refusal("unknown_client");
        m.collector_push(CollectorPush::Ok);
        m.collector_push(CollectorPush::Fork);
        m.collector_push(CollectorPush::Refused);
        let text = m.render("breast-cancer");
        for want in [
            "vigil_requests_total{route=\"infer\",status=\"200\"} 1",
            "vigil_verdicts_total{model=\"breast-cancer\",verdict=\"out_of_range\"} 1",
            "vigil_extraction_alarms_total{model=\"breast-cancer\"} 1",
            "vigil_drift_alarms_total{model=\"breast-cancer\"} 0",
            "vigil_refusals_total{reason=\"unknown_client\"} 1",
            "vigil_request_duration_seconds_bucket{le=\"0.0005\"} 1",
            "vigil_request_duration_seconds_bucket{le=\"0.00025\"} 0",
            "vigil_inference_duration_seconds_count 2",
            "vigil_collector_pushes_total{outcome=\"ok\"} 1",
            "vigil_collector_pushes_total{outcome=\"refused\"} 2",
            "vigil_collector_pushes_total{outcome=\"failed\"} 0",
            "vigil_collector_forks_total 1",
        ] {
            assert!(text.contains(want), "missing {want}\n{text}");
        }
    }
}

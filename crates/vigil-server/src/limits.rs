//! Every bound the gateway holds outside input to.

use std::time::Duration;

/// Bounds on connections, requests and the parser. The defaults suit one device on a hospital
/// network; each is a field so a deployment can state its own. Deserialized from the serve
/// configuration's `[limits]` table: the same names, durations as `<name>_ms` in milliseconds,
/// every key optional.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(from = "crate::config::LimitsFile")]
pub struct Limits {
    /// Largest request body (JSON header plus binary tensors), in bytes (default 1 MiB).
    /// Larger: `413` with `{"error":"request body is larger than N bytes"}`.
    pub max_body_bytes: usize,
    /// Time to complete the TLS handshake (default 10 s); then the socket is closed.
    pub tls_handshake_timeout: Duration,
    /// Time a client has to send a request's complete headers (HTTP/1), counted from the first
    /// byte (default 10 s): a slow client (slowloris) is cut off.
    pub header_read_timeout: Duration,
    /// Time to receive a request's body once headers are in (default 10 s): `408`.
    pub body_read_timeout: Duration,
    /// A connection with no traffic for this long is closed (default 60 s); HTTP/1 keep-alive
    /// connections idle between requests and HTTP/2 connections alike.
    pub idle_timeout: Duration,
    /// Connections open at once (default 1024); further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Requests being worked on at once (default 256); one more is answered at once with
    /// `503` and `{"error":"overloaded: ..."}`, never queued without bound.
    pub max_in_flight: usize,
    /// Concurrent HTTP/2 streams per connection (default 64).
    pub max_h2_streams: u32,
    /// Time in-flight requests get to finish on shutdown (default 10 s).
    pub shutdown_grace: Duration,
    /// Input tensors in one request (default 16).
    pub max_inputs: usize,
    /// Dimensions of one tensor (default 8).
    pub max_dims: usize,
    /// Elements in one request, all inputs together (default 1,048,576).
    pub max_elements: usize,
    /// Longest tensor name or request id, in bytes (default 256).
    pub max_name_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_in_flight: 256,
            max_h2_streams: 64,
            shutdown_grace: Duration::from_secs(10),
            max_inputs: 16,
            max_dims: 8,
            max_elements: 1 << 20,
            max_name_bytes: 256,
        }
    }
}

impl Limits {
    /// The bounds the accept loop holds (handshake, headers, idle, connections, streams,
    /// shutdown).
    pub fn accept(&self) -> vigil_net::AcceptLimits {
        vigil_net::AcceptLimits {
            tls_handshake_timeout: self.tls_handshake_timeout,
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            max_h2_streams: self.max_h2_streams,
            shutdown_grace: self.shutdown_grace,
            ..vigil_net::AcceptLimits::default()
        }
    }
}

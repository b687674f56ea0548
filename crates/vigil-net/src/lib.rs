//! Mutual TLS for Vigil's servers and their clients: the gateway in front of a device's model
//! today, a fleet collector next.
//!
//! - **Configurations** ([`server_config`], [`client_config`]): TLS 1.3 only (RFC 8446), the
//!   `ring` provider, a client certificate required by the server and verified against the
//!   client CA (rustls `WebPkiClientVerifier`); ALPN `h2` and `http/1.1`.
//! - **Who is calling** ([`PeerIdentity`]): the client certificate's subject CN (exactly one,
//!   UTF-8 or printable) and the SHA-256 of its DER, and the [`Role`] a server grants the names
//!   it knows.
//! - **The accept loop** ([`serve`]): a handshake deadline, a bound on open connections,
//!   HTTP/1.0, 1.1 (keep-alive) and HTTP/2 on each connection, a header deadline against slow
//!   clients, idle connections closed, request bodies kept until their answer is sent (so an
//!   early HTTP/2 answer such as `413` is not lost to a stream reset), and graceful shutdown.
//!   Per-connection outcomes come back as [`ConnectionEvent`]s, never as errors.
//! - **A demo PKI** (feature `demo-pki`, off by default): [`DemoCa`] issues server and client
//!   certificates for trying things on loopback. Demo material only.
//!
//! Not offered: TLS 1.2, certificate revocation lists or OCSP (a server revokes by name or
//! fingerprint in its own clients file), client certificates without a CA.
//!
//! # Example
//! A server that greets each verified peer by its certificate name, and a client that calls it
//! (run with `cargo test -p vigil-net --features demo-pki --doc`):
//! ```
//! # #[cfg(feature = "demo-pki")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use vigil_net::{client_config_from, server_config_from, AcceptLimits, DemoCa};
//!
//! let ca = DemoCa::new("example CA")?;
//! let (server, client) = (ca.issue_server()?, ca.issue_client("ward-7")?);
//! let tls = server_config_from(server.certs()?, server.key()?, ca.issued().certs()?)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(vigil_net::serve(
//!     listener,
//!     tls,
//!     AcceptLimits::default(),
//!     |c: &vigil_net::Connection| {
//!         let name = c.peer.common_name.clone().unwrap_or_default();
//!         tower::service_fn(move |_req: hyper::Request<vigil_net::RequestBody>| {
//!             let body = http_body_util::Full::new(hyper::body::Bytes::from(format!("hello {name}")));
//!             async move { Ok::<_, std::convert::Infallible>(hyper::Response::new(body)) }
//!         })
//!     },
//!     |event: vigil_net::ConnectionEvent<'_>| println!("{}", event.code()),
//!     async { let _ = stopped.await; },
//! ));
//!
//! let config = client_config_from(
//!     ca.issued().certs()?,
//!     Some((client.certs()?, client.key()?)),
//!     &[&rustls::version::TLS13],
//! )?;
//! let tcp = tokio::net::TcpStream::connect(addr).await?;
//! let tls = tokio_rustls::TlsConnector::from(config)
//!     .connect(rustls_pki_types::ServerName::try_from("localhost")?, tcp)
//!     .await?;
//! let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
//! tokio::spawn(conn);
//! let req = hyper::Request::get("/").header("host", "localhost")
//!     .body(http_body_util::Empty::<hyper::body::Bytes>::new())?;
//! let resp = send.send_request(req).await?;
//! use http_body_util::BodyExt;
//! assert_eq!(resp.into_body().collect().await?.to_bytes(), "hello ward-7");
//! let _ = stop.send(());
//! server.await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "demo-pki"))]
//! # fn main() {}
//! ```

#![deny(missing_docs)]

mod accept;
mod body;
mod config;
mod error;
mod identity;
mod pem;
#[cfg(feature = "demo-pki")]
mod pki;

// The public interface:
// - TLS configurations and the PEM files they are read from;
pub use config::{
    client_config, client_config_from, server_config, server_config_from, TlsFiles, ALPN,
};
pub use pem::{read_certs, read_key, MAX_PEM_BYTES};
// - who the peer is, and what a server lets it do;
pub use identity::{PeerIdentity, Role};
// - the accept loop, what it reports, and the request bodies its services read;
pub use accept::{serve, shutdown_signal, AcceptLimits, Connection, ConnectionEvent};
pub use body::RequestBody;
// - errors;
pub use error::NetError;
// - the demo PKI (feature `demo-pki`).
#[cfg(feature = "demo-pki")]
pub use pki::{DemoCa, Issued, DEMO_ORGANISATION};

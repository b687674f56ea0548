//! The hardened accept loop: a TLS handshake with a deadline, HTTP/1.0, 1.1 and 2 on each
//! connection, header and idle timeouts, a bound on open connections, request bodies that
//! outlive their answers, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::body::{Holding, RequestBody};
use crate::identity::PeerIdentity;

/// Largest HTTP/1 read buffer and HTTP/2 header list, in bytes.
const MAX_HEADER_BYTES: usize = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Bounds of the accept loop. The defaults suit one device on a hospital network.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptLimits {
    /// Time to complete the TLS handshake (default 10 s); then the socket is closed.
    pub tls_handshake_timeout: Duration,
    /// Time a client has to send a request's complete headers (HTTP/1), counted from the first
    /// byte (default 10 s): a slow client (slowloris) is cut off.
    pub header_read_timeout: Duration,
    /// A connection with no traffic for this long is closed (default 60 s); HTTP/1 keep-alive
    /// connections idle between requests and HTTP/2 connections alike.
    pub idle_timeout: Duration,
    /// Connections open at once (default 1024); further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams per connection (default 64).
    pub max_h2_streams: u32,
    /// Time open connections get to finish their requests on shutdown (default 10 s).
    pub shutdown_grace: Duration,
    /// After an HTTP/2 answer sent before its request's body was read (such as `413`), at most
    /// this many more bytes of the body are read and discarded (default 16 MiB), so the
    /// client's upload ends cleanly instead of being reset.
    pub drain_bytes: u64,
    /// ... and for at most this long (default 10 s).
    pub drain_timeout: Duration,
}

impl Default for AcceptLimits {
    fn default() -> Self {
        AcceptLimits {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_h2_streams: 64,
            shutdown_grace: Duration::from_secs(10),
            drain_bytes: 16 * 1024 * 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A connection whose peer presented a certificate that chains to the client CA.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer's address.
    pub remote: SocketAddr,
    /// The peer's certificate identity.
    pub peer: PeerIdentity,
}

/// What happened to a connection, as the accept loop reports it to its owner (for metrics).
/// Every event is also logged with `tracing`.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionEvent<'a> {
    /// The TLS handshake failed: no client certificate, another CA, TLS 1.2, not TLS at all.
    HandshakeRefused {
        /// The peer's address.
        remote: SocketAddr,
        /// Why.
        error: &'a std::io::Error,
    },
    /// The TLS handshake did not finish within [`AcceptLimits::tls_handshake_timeout`].
    HandshakeTimedOut {
        /// The peer's address.
        remote: SocketAddr,
    },
    /// The handshake succeeded without a client certificate (the verifier requires one, so
    /// this cannot happen; the connection is closed all the same).
    NoClientCertificate {
        /// The peer's address.
        remote: SocketAddr,
    },
    /// A verified connection is open.
    Opened(&'a Connection),
    /// A connection was idle for [`AcceptLimits::idle_timeout`] and is being closed.
    IdleClosed {
        /// The peer's address.
        remote: SocketAddr,
    },
    /// A verified connection closed.
    Closed {
        /// The peer's address.
        remote: SocketAddr,
    },
}

impl ConnectionEvent<'_> {
    /// A stable code for the event (a metrics label): `tls_handshake`,
    /// `tls_handshake_timeout`, `no_client_certificate`, `opened`, `idle_timeout`, `closed`.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionEvent::HandshakeRefused { .. } => "tls_handshake",
            ConnectionEvent::HandshakeTimedOut { .. } => "tls_handshake_timeout",
            ConnectionEvent::NoClientCertificate { .. } => "no_client_certificate",
            ConnectionEvent::Opened(_) => "opened",
            ConnectionEvent::IdleClosed { .. } => "idle_timeout",
            ConnectionEvent::Closed { .. } => "closed",
        }
    }
}

/// An I/O stream that notes the time of its last read or write.
struct Activity<T> {
    inner: T,
    epoch: Instant,
    last: Arc<AtomicU64>,
}

impl<T> Activity<T> {
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serve HTTPS on `listener` with `tls` (see [`crate::server_config`]) until `shutdown`
/// completes; then stop accepting, let open connections finish their requests (at most
/// [`AcceptLimits::shutdown_grace`]) and return.
///
/// Each verified connection gets its own service from `make_service`, which sees the peer's
/// [`Connection`] (a server puts the identity into each request's extensions, or refuses the
/// peer). `observe` hears every [`ConnectionEvent`]. At most
/// [`AcceptLimits::max_connections`] connections are open at once; a handshake that does not
/// finish in time, headers that trickle in, and connections that sit idle are cut off.
pub async fn serve<M, S, B, O, F>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    limits: AcceptLimits,
    make_service: M,
    observe: O,
    shutdown: F,
) where
    M: Fn(&Connection) -> S + Send + Sync + 'static,
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    O: Fn(ConnectionEvent<'_>) + Send + Sync + 'static,
    F: Future<Output = ()> + Send,
{
    let acceptor = TlsAcceptor::from(tls);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let observe = Arc::new(observe);
    let make_service = Arc::new(make_service);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let limits = limits.clone();
        let observe = observe.clone();
        let make_service = make_service.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::warn!(%remote, error = %e, "TLS handshake refused");
                    observe(ConnectionEvent::HandshakeRefused { remote, error: &e });
                    return;
                }
                Err(_) => {
                    tracing::warn!(%remote, "TLS handshake timed out");
                    observe(ConnectionEvent::HandshakeTimedOut { remote });
                    return;
                }
            };
            let Some(peer) = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(PeerIdentity::from_certificate)
            else {
                // The verifier requires a certificate; this cannot happen, but fail closed.
                observe(ConnectionEvent::NoClientCertificate { remote });
                return;
            };
            let connection = Connection { remote, peer };
            observe(ConnectionEvent::Opened(&connection));
            let service = make_service(&connection);
            serve_connection(tls, service, &limits, stop, remote, &*observe).await;
            observe(ConnectionEvent::Closed { remote });
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, connections.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over: closing remaining connections");
    }
}

/// One verified connection: HTTP/1 or 2 until the peer leaves, it idles out, or shutdown.
async fn serve_connection<S, B, O>(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    service: S,
    limits: &AcceptLimits,
    mut stop: watch::Receiver<bool>,
    remote: SocketAddr,
    observe: &O,
) where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    O: Fn(ConnectionEvent<'_>) + Send + Sync + 'static,
{
    // Each request's body is shared with its response (see `body.rs`): an early answer, such
    // as 413 for a body over the limit, reaches HTTP/2 clients instead of a stream reset.
    // HTTP/1 needs none of it: an unread body closes the connection after the answer.
    let (drain_bytes, drain_time) = (limits.drain_bytes, limits.drain_timeout);
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let service = service.clone();
        async move {
            let (parts, body) = req.into_parts();
            let h2 = parts.version == hyper::Version::HTTP_2;
            let (body, hold) = RequestBody::new(body);
            let resp = service.oneshot(Request::from_parts(parts, body)).await?;
            Ok::<_, S::Error>(resp.map(|body| Holding {
                body,
                request: h2.then_some(hold),
                drain_bytes,
                drain_time,
            }))
        }
    });
    let epoch = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let io = Activity {
        inner: tls,
        epoch,
        last: last.clone(),
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_h2_streams)
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX));
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    let mut conn = std::pin::pin!(conn);
    let idle = limits.idle_timeout;
    let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut closing = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                break;
            }
            changed = stop.changed(), if !closing => {
                let _ = changed;
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick), if !closing => {
                let since = epoch
                    .elapsed()
                    .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                if since >= idle {
                    tracing::debug!(%remote, "idle connection closed");
                    observe(ConnectionEvent::IdleClosed { remote });
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A future that completes on SIGTERM or ctrl-c (SIGINT): the usual `shutdown` of [`serve`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

//! The connection loop: TLS accept with a deadline, HTTP/1.0, 1.1 and 2 on each connection,
//! header and idle timeouts, bounded connections, and graceful shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::error::ServerError;
use crate::gateway::{ConnectionFacts, Gateway};

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

impl Gateway {
    /// Serve on `listener` with `tls` (see [`crate::server_config`]) until `shutdown`
    /// completes; then stop accepting, let in-flight requests finish (at most
    /// [`crate::Limits::shutdown_grace`]), sign a last checkpoint if a ledger key is set, and
    /// return.
    pub async fn serve<F>(
        self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        shutdown: F,
    ) -> Result<(), ServerError>
    where
        F: Future<Output = ()> + Send,
    {
        let limits = self.shared.limits.clone();
        let acceptor = TlsAcceptor::from(tls);
        let connections = Arc::new(Semaphore::new(limits.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let router = self.router();
        let mut shutdown = std::pin::pin!(shutdown);
        let checkpoints = self.shared.audit.clone().map(|audit| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(10));
                loop {
                    tick.tick().await;
                    if let Err(e) = audit.checkpoint_if_grown().await {
                        tracing::error!(error = %e, "checkpoint failed");
                    }
                }
            })
        });
        tracing::info!(
            addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            model = %self.shared.backend.model().name,
            "gateway listening (TLS 1.3, client certificates required)"
        );
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
            let router = router.clone();
            let shared = self.shared.clone();
            let limits = limits.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let tls =
                    match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            shared.metrics.refusal("tls_handshake");
                            tracing::warn!(%remote, error = %e, "TLS handshake refused");
                            return;
                        }
                        Err(_) => {
                            shared.metrics.refusal("tls_handshake_timeout");
                            tracing::warn!(%remote, "TLS handshake timed out");
                            return;
                        }
                    };
                let Some(peer) = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(crate::tls::peer_identity)
                else {
                    // The verifier requires a certificate; this cannot happen, but fail closed.
                    shared.metrics.refusal("no_client_certificate");
                    return;
                };
                shared.metrics.connection_opened();
                let facts = ConnectionFacts {
                    remote,
                    denial_recorded: Arc::new(AtomicBool::new(false)),
                };
                let svc = router.map_request(
                    move |mut req: axum::http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(peer.clone());
                        req.extensions_mut().insert(facts.clone());
                        req
                    },
                );
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
                    .max_buf_size(64 * 1024);
                builder
                    .http2()
                    .timer(TokioTimer::new())
                    .max_concurrent_streams(limits.max_h2_streams)
                    .max_header_list_size(64 * 1024);
                let conn =
                    builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(svc));
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
                            let since = epoch.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                            if since >= idle {
                                shared.metrics.refusal("idle_timeout");
                                tracing::debug!(%remote, "idle connection closed");
                                closing = true;
                                conn.as_mut().graceful_shutdown();
                            }
                        }
                    }
                }
                shared.metrics.connection_closed();
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
        if let Some(task) = checkpoints {
            task.abort();
        }
        if let Some(audit) = &self.shared.audit {
            match audit.checkpoint_if_grown().await {
                Ok(Some(_)) => {
                    tracing::info!(size = audit.ledger().size(), "final checkpoint signed")
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "final checkpoint failed"),
            }
        }
        Ok(())
    }
}

/// A future that completes on SIGTERM or ctrl-c (SIGINT).
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

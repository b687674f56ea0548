//! Serving over the network: vigil-net's accept loop in front of the router, with the peer's
//! identity in each request, connection metrics, and the ledger's checkpoints signed while
//! serving and at shutdown.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tower::ServiceExt;
use vigil_net::{ConnectionEvent, RequestBody};

use crate::error::ServerError;
use crate::gateway::{ConnectionFacts, Gateway};

impl Gateway {
    /// Serve on `listener` with `tls` (see [`vigil_net::server_config`]) until `shutdown`
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
        let router = self.router();
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
        let shared = self.shared.clone();
        let observe = move |event: ConnectionEvent<'_>| match event {
            ConnectionEvent::Opened(_) => shared.metrics.connection_opened(),
            ConnectionEvent::Closed { .. } => shared.metrics.connection_closed(),
            other => shared.metrics.refusal(other.code()),
        };
        let make_service = move |c: &vigil_net::Connection| {
            let peer = c.peer.clone();
            let facts = ConnectionFacts {
                remote: c.remote,
                denial_recorded: Arc::new(AtomicBool::new(false)),
            };
            router
                .clone()
                .map_request(move |mut req: axum::http::Request<RequestBody>| {
                    req.extensions_mut().insert(peer.clone());
                    req.extensions_mut().insert(facts.clone());
                    req
                })
        };
        let limits = self.shared.limits.accept();
        vigil_net::serve(listener, tls, limits, make_service, observe, shutdown).await;
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

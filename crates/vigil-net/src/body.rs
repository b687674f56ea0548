//! Request bodies that live until the answer is sent.
//!
//! An HTTP/2 server that drops a request's body before its response is out resets the stream
//! (`RST_STREAM(CANCEL)`), and the client sees the reset instead of the answer: a body over
//! the size limit got a reset rather than `413`. The accept loop hands each request a
//! [`RequestBody`] that shares the connection's body with the response, so the body is
//! released only after the response's last frame. What the client still sends after an early
//! answer is then read and discarded, within a budget ([`crate::AcceptLimits::drain_bytes`],
//! [`crate::AcceptLimits::drain_timeout`]), so the stream ends cleanly; past the budget it ends
//! with `RST_STREAM(NO_ERROR)` after the answer, as RFC 9113 section 8.1 allows. (Some clients,
//! such as curl 7.88, drop an answer that is followed by a reset while they upload.)

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

/// A request's body as the accept loop's services receive it: the connection's body, shared
/// with the response so that it outlives the answer. Reading it is reading the body.
#[derive(Debug)]
pub struct RequestBody {
    inner: Arc<Mutex<Incoming>>,
}

impl RequestBody {
    pub(crate) fn new(body: Incoming) -> (RequestBody, Arc<Mutex<Incoming>>) {
        let inner = Arc::new(Mutex::new(body));
        (
            RequestBody {
                inner: inner.clone(),
            },
            inner,
        )
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        // Polling a body does not panic while the lock is held, so the lock is never poisoned;
        // if it were, the body inside is still whole.
        let mut body = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .lock()
            .map(|b| b.is_end_stream())
            .unwrap_or(false)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.lock().map(|b| b.size_hint()).unwrap_or_default()
    }
}

/// A response body that keeps its request's body alive until the response is sent, then
/// reads what the client still sends (at most `drain_bytes`, for at most `drain_time`) so the
/// stream ends cleanly.
pub(crate) struct Holding<B> {
    pub(crate) body: B,
    pub(crate) request: Option<Arc<Mutex<Incoming>>>,
    pub(crate) drain_bytes: u64,
    pub(crate) drain_time: std::time::Duration,
}

impl<B: Body + Unpin> Body for Holding<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<B> Drop for Holding<B> {
    fn drop(&mut self) {
        let Some(request) = self.request.take() else {
            return;
        };
        // Still read by the service (a task it spawned): that reader decides.
        let Ok(body) = Arc::try_unwrap(request) else {
            return;
        };
        let mut body = body.into_inner().unwrap_or_else(|e| e.into_inner());
        if body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (max, time) = (self.drain_bytes, self.drain_time);
        runtime.spawn(async move {
            use http_body_util::BodyExt;
            let drain = async {
                let mut read = 0u64;
                while let Some(Ok(frame)) = body.frame().await {
                    if let Some(data) = frame.data_ref() {
                        read = read.saturating_add(data.len() as u64);
                        if read > max {
                            break;
                        }
                    }
                }
            };
            // Past the budget the body is dropped: the stream is reset with NO_ERROR.
            let _ = tokio::time::timeout(time, drain).await;
        });
    }
}

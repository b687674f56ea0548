//! How the updater reaches a repository: a local directory (`file://`, removable media) or
//! HTTP(S), streamed in large chunks, with timeouts. TLS is defence in depth here: TUF's signatures, lengths
//! and hashes decide what is trusted, so a plain-HTTP mirror is as safe as an HTTPS one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::SinkExt;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tough::{Transport, TransportError, TransportErrorKind, TransportStream};
use url::Url;

/// The updater's [`Transport`]: `file://` through tough's filesystem transport, `http://` and
/// `https://` through hyper (HTTP/1.1, one connection per file).
#[derive(Debug, Clone)]
pub struct RepoTransport {
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

impl RepoTransport {
    /// A transport; `tls` (the CA to trust for `https://` repositories) is required only for
    /// HTTPS.
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>) -> RepoTransport {
        RepoTransport {
            tls,
            connect_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

fn other(url: &Url, why: impl std::fmt::Display) -> TransportError {
    TransportError::new_with_cause(TransportErrorKind::Other, url.as_str(), why.to_string())
}

#[async_trait::async_trait]
impl Transport for RepoTransport {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        match url.scheme() {
            "file" => fetch_file(url),
            "http" | "https" => self.fetch_http(url).await,
            _ => Err(TransportError::new(
                TransportErrorKind::UnsupportedUrlScheme,
                url.as_str(),
            )),
        }
    }
}

/// A local file in 1 MiB chunks (tough's filesystem transport reads 4 KiB at a time, which
/// costs more in system calls than the hashing of a large target).
fn fetch_file(url: Url) -> Result<TransportStream, TransportError> {
    use std::io::Read;
    let path = url
        .to_file_path()
        .map_err(|()| other(&url, "not a local path"))?;
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TransportError::new(
                TransportErrorKind::FileNotFound,
                url.as_str(),
            ))
        }
        Err(e) => return Err(other(&url, e)),
    };
    let stream = futures::stream::unfold(Some((file, url)), |state| async move {
        let (mut file, url) = state?;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some((file, url))))
            }
            Err(e) => Some((Err(other(&url, e)), None)),
        }
    });
    Ok(Box::pin(stream))
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl RepoTransport {
    async fn fetch_http(&self, url: Url) -> Result<TransportStream, TransportError> {
        let host = url
            .host_str()
            .ok_or_else(|| other(&url, "no host"))?
            .to_string();
        let https = url.scheme() == "https";
        let port = url
            .port_or_known_default()
            .ok_or_else(|| other(&url, "no port"))?;
        let connect = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port));
        let tcp = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| other(&url, "connection timed out"))?
            .map_err(|e| other(&url, e))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = if https {
            let tls = self.tls.clone().ok_or_else(|| {
                other(&url, "an https repository needs a CA to trust (--repo-ca)")
            })?;
            let name = rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
                .map_err(|e| other(&url, e))?
                .to_owned();
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| other(&url, format!("TLS: {e}")))?;
            Box::new(stream)
        } else {
            Box::new(tcp)
        };
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| other(&url, e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "vigil-update")
            .body(http_body_util::Empty::<Bytes>::new())
            .map_err(|e| other(&url, e))?;
        let response = tokio::time::timeout(self.idle_timeout, send.send_request(request))
            .await
            .map_err(|_| other(&url, "no answer"))?
            .map_err(|e| other(&url, e))?;
        let status = response.status();
        if status == hyper::StatusCode::NOT_FOUND || status == hyper::StatusCode::GONE {
            return Err(TransportError::new(
                TransportErrorKind::FileNotFound,
                url.as_str(),
            ));
        }
        if !status.is_success() {
            return Err(other(&url, format!("HTTP {status}")));
        }
        // The body is pumped by a task into a channel: the stream tough reads is then Send and
        // Sync whatever hyper's body is, and a stalled server ends it with an error.
        let (mut tx, rx) = mpsc::channel::<Result<Bytes, TransportError>>(8);
        let idle = self.idle_timeout;
        let mut body = response.into_body();
        tokio::spawn(async move {
            loop {
                let frame = match tokio::time::timeout(idle, body.frame()).await {
                    Err(_) => Err(other(&url, "the server stalled")),
                    Ok(None) => break,
                    Ok(Some(Err(e))) => Err(other(&url, e)),
                    Ok(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                };
                let stop = frame.is_err();
                if tx.send(frame).await.is_err() || stop {
                    break;
                }
            }
        });
        Ok(Box::pin(rx))
    }
}

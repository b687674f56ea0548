//! A small mutual-TLS HTTP/1.1 client for the gateway: what `vigil demo`, the load generator
//! of `bench/serve` and the tests use. It keeps one connection alive across requests.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;

// The TLS configurations are vigil-net's; they are named here too for the gateway's clients.
pub use vigil_net::{client_config, client_config_from};

/// A response: status, headers, body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: axum::http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One kept-alive HTTP/1.1 connection over mutual TLS.
#[derive(Debug)]
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    /// Connect to `addr`, verifying the server as `server_name` (for example `localhost`).
    pub async fn connect(
        addr: SocketAddr,
        server_name: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Connection> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection {
            sender,
            host: server_name.to_string(),
        })
    }

    /// Send one request and read the whole answer.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> std::io::Result<Reply> {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.host.as_str());
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(std::io::Error::other)?;
        self.sender.ready().await.map_err(std::io::Error::other)?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(std::io::Error::other)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> std::io::Result<Reply> {
        self.send("GET", path, &[], Vec::new()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &mut self,
        path: &str,
        body: &serde_json::Value,
    ) -> std::io::Result<Reply> {
        let bytes = serde_json::to_vec(body).map_err(std::io::Error::other)?;
        self.send(
            "POST",
            path,
            &[("content-type", "application/json".to_string())],
            bytes,
        )
        .await
    }
}

//! The gateway on a real loopback socket with mutual TLS: who is refused and how, timeouts,
//! keep-alive, HTTP/2, and graceful shutdown. The server stays up through all of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_server::client::{client_config_from, Connection};
use vigil_server::{
    server_config_from, Clients, DemoCa, Gateway, GatewayOptions, Issued, Limits, ToyBackend,
};

struct Pki {
    ca: Issued,
    demo: Issued,
    revoked: Issued,
    unlisted: Issued,
    foreign: Issued,
}

fn certs(i: &Issued) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(i.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key(i: &Issued) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(i.key_pem.as_bytes()).unwrap()
}

struct Server {
    addr: SocketAddr,
    pki: Pki,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    gateway: Gateway,
}

async fn start(limits: Limits) -> Server {
    let ca = DemoCa::new("test CA").unwrap();
    let other = DemoCa::new("other CA").unwrap();
    let server = ca.issue_server().unwrap();
    let pki = Pki {
        ca: ca.issued(),
        demo: ca.issue_client("demo-client").unwrap(),
        revoked: ca.issue_client("revoked-client").unwrap(),
        unlisted: ca.issue_client("unlisted-client").unwrap(),
        foreign: other.issue_client("demo-client").unwrap(),
    };
    let tls = server_config_from(certs(&server), key(&server), certs(&pki.ca)).unwrap();
    let clients = Clients::parse(vigil_server::DEMO_CLIENTS_TOML).unwrap();
    let gateway = Gateway::new(
        Arc::new(ToyBackend::new()),
        clients,
        GatewayOptions {
            limits,
            audit: None,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let g = gateway.clone();
    let task = tokio::spawn(async move {
        g.serve(listener, tls, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Server {
        addr,
        pki,
        stop: Some(tx),
        task,
        gateway,
    }
}

fn config(
    s: &Server,
    who: Option<&Issued>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    client_config_from(certs(&s.pki.ca), who.map(|i| (certs(i), key(i))), versions).unwrap()
}

async fn connect(s: &Server, who: Option<&Issued>) -> std::io::Result<Connection> {
    Connection::connect(
        s.addr,
        "localhost",
        config(s, who, &[&rustls::version::TLS13]),
    )
    .await
}

fn infer_body() -> serde_json::Value {
    json!({"id": "a", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 0, 0, 0]}]})
}

async fn assert_still_serving(s: &Server) {
    let mut c = connect(s, Some(&s.pki.demo)).await.unwrap();
    let r = c
        .post_json("/v2/models/toy/infer", &infer_body())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_client_keeps_its_connection_alive() {
    let s = start(Limits::default()).await;
    let mut c = connect(&s, Some(&s.pki.demo)).await.unwrap();
    assert_eq!(c.get("/v2/health/live").await.unwrap().status, 200);
    assert_eq!(c.get("/v2/models/toy").await.unwrap().status, 200);
    for _ in 0..3 {
        let r = c
            .post_json("/v2/models/toy/infer", &infer_body())
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["id"], "a");
    }
    let m = c.get("/metrics").await.unwrap();
    let text = String::from_utf8(m.body.to_vec()).unwrap();
    assert!(text.contains("vigil_connections_total 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_peers_and_the_server_stays_up() {
    let s = start(Limits::default()).await;
    // No certificate, or one from another CA: the handshake is refused (TLS 1.3 clients
    // learn it on their first read).
    for who in [None, Some(&s.pki.foreign)] {
        let outcome = async {
            let mut c = connect(&s, who).await?;
            c.get("/v2/health/live").await
        }
        .await;
        assert!(
            outcome.is_err(),
            "{:?} got {:?}",
            who.map(|_| "foreign"),
            outcome
        );
    }
    // A TLS 1.2 offer: no common protocol version.
    let tls12 = config(&s, Some(&s.pki.demo), &[&rustls::version::TLS12]);
    let err = Connection::connect(s.addr, "localhost", tls12)
        .await
        .unwrap_err();
    assert!(err.to_string().to_lowercase().contains("protocol"), "{err}");
    // Certificates of the CA whose CN is unlisted or revoked: 403 with the reason.
    let mut c = connect(&s, Some(&s.pki.unlisted)).await.unwrap();
    let r = c
        .post_json("/v2/models/toy/infer", &infer_body())
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error": "client not authorised: \"unlisted-client\" is not in the clients file"})
    );
    let mut c = connect(&s, Some(&s.pki.revoked)).await.unwrap();
    let r = c.get("/v2/health/ready").await.unwrap();
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].as_str().unwrap().contains("revoked"));
    assert!(s.gateway.metrics().refusal_count("tls_handshake") >= 3);
    assert_still_serving(&s).await;
}

async fn raw_tls(s: &Server) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tokio_rustls::TlsConnector::from(config(s, Some(&s.pki.demo), &[&rustls::version::TLS13]))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_off() {
    let s = start(Limits {
        header_read_timeout: Duration::from_millis(800),
        ..Limits::default()
    })
    .await;
    let mut tls = raw_tls(&s).await;
    let start = Instant::now();
    tls.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // One header byte every 200 ms: never finishing.
    let mut closed = false;
    for _ in 0..40 {
        if tls.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(200), tls.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
    }
    assert!(closed, "slow client was not cut off");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_still_serving(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_http10_keeps_alive() {
    let s = start(Limits {
        idle_timeout: Duration::from_millis(600),
        ..Limits::default()
    })
    .await;
    let mut tls = raw_tls(&s).await;
    for _ in 0..2 {
        tls.write_all(b"GET /v2/health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = tls.read(&mut buf).await.unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    }
    // Then silence: the server closes the connection.
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    assert_still_serving(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_alpn() {
    let s = start(Limits::default()).await;
    let mut cfg = (*config(&s, Some(&s.pki.demo), &[&rustls::version::TLS13])).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = axum::http::Request::get("https://localhost/v2/health/ready")
        .body(http_body_util::Empty::<axum::body::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), axum::http::Version::HTTP_2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests() {
    let mut s = start(Limits::default()).await;
    let body = serde_json::to_vec(&infer_body()).unwrap();
    let mut tls = raw_tls(&s).await;
    let head = format!(
        "POST /v2/models/toy/infer HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Shutdown begins while the request is in flight...
    s.stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...no new connection is accepted...
    assert!(
        connect(&s, Some(&s.pki.demo)).await.is_err() || {
            let mut c = connect(&s, Some(&s.pki.demo)).await.unwrap();
            c.get("/v2/health/live").await.is_err()
        }
    );
    // ...and the request in flight still gets its answer.
    tls.write_all(&body[10..]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tls.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    tokio::time::timeout(Duration::from_secs(5), s.task)
        .await
        .unwrap()
        .unwrap();
}

/// An HTTP/2 connection of the demo client.
async fn h2<B>(s: &Server) -> hyper::client::conn::http2::SendRequest<B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut cfg = (*config(s, Some(&s.pki.demo), &[&rustls::version::TLS13])).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    send
}

/// Issue 20 item 10: an HTTP/2 body over the limit got a stream reset where HTTP/1.1 gets
/// `413`: the gateway dropped the body before its answer was out (`RST_STREAM(CANCEL)`), and
/// clients that were still uploading (curl) lost the answer. Now the answer is `413` with the
/// protocol's error body, the rest of the upload is read and discarded, the stream ends
/// without a reset, and the connection serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_10_http2_body_over_the_limit_gets_413_not_a_reset() {
    use http_body_util::BodyExt;
    let s = start(Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    })
    .await;
    let mut send = h2::<http_body_util::channel::Channel<axum::body::Bytes>>(&s).await;
    for declared in [true, false] {
        let (mut tx, body) = http_body_util::channel::Channel::<axum::body::Bytes>::new(1);
        let mut req = axum::http::Request::post("https://localhost/v2/models/toy/infer");
        let chunk = axum::body::Bytes::from(vec![b' '; 8192]);
        let chunks = 64;
        if declared {
            req = req.header("content-length", (chunk.len() * chunks).to_string());
        }
        send.ready().await.unwrap();
        let answer = send.send_request(req.body(body).unwrap());
        let upload = async {
            for i in 0..chunks {
                if tx.send_data(chunk.clone()).await.is_err() {
                    return Err(i);
                }
            }
            drop(tx);
            Ok(())
        };
        let (resp, uploaded) = tokio::join!(answer, upload);
        let resp = resp.unwrap_or_else(|e| panic!("declared {declared}: no answer: {e:?}"));
        assert_eq!(resp.status(), 413, "declared {declared}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"error": "request body is larger than 4096 bytes"}),
            "declared {declared}"
        );
        assert_eq!(
            uploaded,
            Ok(()),
            "declared {declared}: the stream was reset during the upload (chunk index)"
        );
    }
    // The same connection still answers.
    let body = serde_json::to_vec(&infer_body()).unwrap();
    let (mut tx, chan) = http_body_util::channel::Channel::<axum::body::Bytes>::new(1);
    send.ready().await.unwrap();
    let answer = send.send_request(
        axum::http::Request::post("https://localhost/v2/models/toy/infer")
            .body(chan)
            .unwrap(),
    );
    tx.send_data(body.into()).await.unwrap();
    drop(tx);
    assert_eq!(answer.await.unwrap().status(), 200);
    assert_eq!(s.gateway.metrics().refusal_count("body_too_large"), 2);
}

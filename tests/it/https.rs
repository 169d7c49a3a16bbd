//! HTTPS (#16): the certificate devserve makes and keeps, HTTP/2 and HTTP/1.1 by ALPN, `wss:`,
//! plain HTTP on the HTTPS port, a stalled handshake, and proxying over HTTPS.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use devserve::ServerMessage;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{next_message, token_in, Backend, TestServer, WAIT};

fn cert_file(s: &TestServer) -> PathBuf {
    s.dir.path().join("certs/localhost.pem")
}

fn url(s: &TestServer, path: &str) -> String {
    format!("https://localhost:{}{path}", s.addr.port())
}

/// A client that trusts the server's certificate and nothing else.
fn client(s: &TestServer, http1_only: bool) -> reqwest::Client {
    let pem = std::fs::read(cert_file(s)).unwrap();
    let builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve("localhost", s.addr);
    let builder = if http1_only { builder.http1_only() } else { builder };
    builder.build().unwrap()
}

fn tls_config(s: &TestServer) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(cert_file(s)).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn pages_come_over_http2_and_http11_with_the_client_in_them() {
    let s = TestServer::start_https(&[], |root| {
        std::fs::write(
            root.join("index.html"),
            "<html><head></head><body>secure</body></html>",
        )
        .unwrap();
    })
    .await;
    for (http1_only, want) in [
        (false, reqwest::Version::HTTP_2),
        (true, reqwest::Version::HTTP_11),
    ] {
        let r = client(&s, http1_only)
            .get(url(&s, "/"))
            .header("sec-fetch-dest", "document")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), want);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("secure") && body.contains("/__devserve/client.js"),
            "{body}"
        );
    }
    // The Host check holds over HTTP/2 too, where the name travels as :authority.
    let rebinding = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .resolve("evil.example", s.addr)
        .build()
        .unwrap();
    let r = rebinding
        .get(format!("https://evil.example:{}/", s.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn the_certificate_is_kept_outside_root_and_reused() {
    let s = TestServer::start_https(&[], |_| {}).await;
    let first = std::fs::read(cert_file(&s)).unwrap();
    assert!(client(&s, false).get(url(&s, "/")).send().await.is_ok());
    let s = s.restart().await;
    s.wait_for_certificate().await;
    assert_eq!(
        std::fs::read(cert_file(&s)).unwrap(),
        first,
        "the same certificate"
    );
    let r = client(&s, false).get(url(&s, "/nothing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let in_root: Vec<_> = walk(&s.root);
    assert!(in_root.is_empty(), "nothing written into ROOT: {in_root:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A WebSocket opened over `wss:` to `path` on `s`, trusting its certificate.
async fn wss(
    s: &TestServer,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(tls_config(s));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let url = format!("wss://localhost:{}{path}", s.addr.port());
    tokio_tungstenite::client_async(url, tls).await.unwrap().0
}

#[tokio::test]
async fn the_reload_socket_works_over_wss() {
    let s = TestServer::start_https(&[], |root| std::fs::write(root.join("a.css"), "p{}").unwrap()).await;
    let page = client(&s, false)
        .get(url(&s, "/missing"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = token_in(&page).unwrap();
    let mut ws = wss(&s, &format!("/__devserve/ws?token={token}")).await;
    assert!(matches!(
        next_message(&mut ws, WAIT).await.expect("a message in time"),
        ServerMessage::Connected { .. }
    ));
    s.write("a.css", "p{color:red}");
    match next_message(&mut ws, WAIT).await.expect("a message in time") {
        ServerMessage::Updated { paths, reload, .. } => {
            assert_eq!(paths, ["/a.css"]);
            assert!(!reload, "a stylesheet is swapped");
        }
        other => panic!("expected updated, got {other:?}"),
    }
}

#[tokio::test]
async fn plain_http_on_the_https_port_is_sent_to_https() {
    let s = TestServer::start_https(&[], |_| {}).await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let port = s.addr.port();
    tcp.write_all(format!("GET /a?b=1 HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    assert!(
        answer.contains(&format!("location: https://localhost:{port}/a?b=1")),
        "{answer}"
    );
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "no redirect for a foreign Host: {answer}"
    );
}

/// A peer that starts a handshake and stops is dropped, as a request head that never ends is.
#[tokio::test]
async fn a_stalled_handshake_is_dropped() {
    let s = TestServer::start_https(&[], |_| {}).await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server closed the connection");
}

/// A peer that completes the TLS handshake and then stays silent is dropped: one that sends
/// nothing at all (over h2 or http/1.1), and an HTTP/2 peer that sends its preface and then
/// answers no PING. A connection slot is not held forever once TLS is done.
#[tokio::test]
async fn a_silent_peer_after_the_handshake_is_dropped() {
    let s = TestServer::start_https(&[], |_| {}).await;
    let preface: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    for (alpn, sent) in [
        (&b"h2"[..], &b""[..]),
        (&b"http/1.1"[..], &b""[..]),
        (&b"h2"[..], preface),
    ] {
        let mut config = (*tls_config(&s)).clone();
        config.alpn_protocols = vec![alpn.to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
        tls.write_all(sent).await.unwrap();
        tls.flush().await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "the server closed the connection ({:?}, {} bytes sent)",
            String::from_utf8_lossy(alpn),
            sent.len()
        );
    }
}

/// Proxied over HTTPS: the backend is spoken to in HTTP/1.1 and told the request was HTTPS.
#[tokio::test]
async fn proxied_requests_over_http2_reach_the_backend() {
    let backend = Backend::start(axum::Router::new().route(
        "/api/proto",
        get(|headers: axum::http::HeaderMap| async move {
            headers["x-forwarded-proto"].to_str().unwrap().to_string()
        }),
    ))
    .await;
    let rule = format!("/api=http://{}", backend.addr);
    let s = TestServer::start_https(&["--proxy", &rule], |_| {}).await;
    let r = client(&s, false).get(url(&s, "/api/proto")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "https");
}

/// A backend whose `/ws` answers each text message with `echo ` and the text.
fn echoing() -> axum::Router {
    use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
    axum::Router::new().route(
        "/ws",
        get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(WsMessage::Text(text))) = socket.recv().await {
                    let _ = socket.send(WsMessage::Text(format!("echo {text}").into())).await;
                }
            })
        }),
    )
}

/// A WebSocket to a plain backend, opened over `wss:` to devserve's HTTPS, is tunnelled (the
/// client's side stays TLS: only a plain socket is copied from directly).
#[tokio::test]
async fn a_proxied_websocket_works_over_wss() {
    let backend = Backend::start(echoing()).await;
    let rule = format!("/ws=http://{}", backend.addr);
    let s = TestServer::start_https(&["--proxy", &rule], |_| {}).await;
    let mut ws = wss(&s, "/ws").await;
    for text in ["one", "two"] {
        futures_util::SinkExt::send(&mut ws, Message::Text(text.into()))
            .await
            .unwrap();
        let echoed = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echoed, Message::Text(format!("echo {text}").into()));
    }
}

/// An axum app served over TLS with a self-signed certificate, as a backend run with its own
/// HTTPS would be.
struct TlsBackend {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_backend(app: axum::Router) -> TlsBackend {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    TlsBackend { addr, task }
}

/// `https://` and `wss://` backends on this machine, with certificates of their own making, are
/// forwarded to (HTTP and WebSocket alike).
#[tokio::test]
async fn https_and_wss_backends_on_this_machine_are_forwarded_to() {
    let backend = tls_backend(echoing().route("/api/hello", get(|| async { "hello over TLS" }))).await;
    let port = backend.addr.port();
    let api = format!("/api=https://localhost:{port}");
    let ws = format!("/ws=wss://127.0.0.1:{port}");
    let s = TestServer::start(&["--proxy", &api, "--proxy", &ws]).await;
    let r = s.get("/api/hello").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello over TLS");
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", s.addr))
        .await
        .unwrap();
    futures_util::SinkExt::send(&mut socket, Message::Text("hi".into()))
        .await
        .unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echoed, Message::Text("echo hi".into()));
}

//! Forwarding to real backends on port 0: WebSocket tunnels, streamed bodies, headers, injection,
//! failures, and the chat example through devserve.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message as AxMessage, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{client, Backend, TestServer, WAIT};

use crate::chat;

/// devserve with `--proxy /api=` the backend.
async fn proxy_api(backend: &Backend) -> TestServer {
    TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{}", backend.addr.port()),
    ])
    .await
}

pub fn test_backend() -> Router {
    Router::new()
        .route("/ws", get(echo))
        .route("/ws/echo", get(echo))
        .route(
            "/ws/proto",
            get(|ws: WebSocketUpgrade| async move {
                ws.protocols(["v2.chat"]).on_upgrade(|mut s| async move {
                    let proto = s
                        .protocol()
                        .and_then(|p| p.to_str().ok())
                        .unwrap_or("none")
                        .to_string();
                    let _ = s.send(AxMessage::Text(proto.into())).await;
                })
            }),
        )
        .route(
            "/ws/close",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut s| async move {
                    let _ = s.recv().await;
                    let frame = CloseFrame {
                        code: 4001,
                        reason: "bye".into(),
                    };
                    let _ = s.send(AxMessage::Close(Some(frame))).await;
                })
            }),
        )
        .route(
            "/ws/deny",
            get(|| async { (StatusCode::FORBIDDEN, "no sockets for you") }),
        )
        .route(
            "/api/upload",
            post(|body: Bytes| async move { format!("{} {:x}", body.len(), checksum(&body)) }),
        )
        .route(
            "/api/headers",
            get(|headers: HeaderMap| async move {
                let mut lines: Vec<String> = headers
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap_or("?")))
                    .collect();
                lines.sort();
                lines.join("\n")
            }),
        )
        .route(
            "/api/page",
            get(|| async {
                use std::io::Write;
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(b"<html><head><title>from the backend</title></head><body>hi</body></html>")
                    .unwrap();
                (
                    [
                        ("content-type", "text/html; charset=utf-8"),
                        ("content-encoding", "gzip"),
                        ("content-security-policy", "script-src 'nonce-r4nd0m'"),
                        ("etag", "\"backend\""),
                    ],
                    gz.finish().unwrap(),
                )
            }),
        )
        .route(
            "/api/data.json",
            get(|| async { ([("content-type", "application/json")], "{\"a\":1}") }),
        )
        .route(
            "/api/slow",
            get(|| async {
                std::future::pending::<()>().await;
                "never"
            }),
        )
        .route("/v1/users", get(|| async { "users from v1" }))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
}

async fn echo(ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.max_message_size(8 << 20).on_upgrade(|mut s| async move {
        while let Some(Ok(msg)) = s.recv().await {
            if matches!(msg, AxMessage::Close(_)) || s.send(msg).await.is_err() {
                break;
            }
        }
    })
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

async fn ws_connect(
    s: &TestServer,
    path: &str,
    protocols: Option<&str>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://{}{}", s.addr, path).into_client_request().unwrap();
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .unwrap()
        .unwrap();
    ws
}

async fn next_msg(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> Option<Message> {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a frame in time")?
        .ok()
}

#[tokio::test]
async fn websocket_echo_through_proxy_ws() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&["--proxy-ws", &format!("localhost:{}", backend.addr.port())]).await;
    let mut ws = ws_connect(&s, "/ws", None).await;
    ws.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Some(Message::Text("hello".into())));
    // The reload socket is still devserve's own.
    let _tab = s.tab().await;
}

/// What either side sends in the same write as the upgrade (a client's first frame right behind
/// its request, a backend's right behind its `101`) passes first, whole, before anything else.
#[tokio::test]
async fn bytes_sent_together_with_the_upgrade_pass_both_ways() {
    use std::io::{Read, Write};
    /// Reads until `got` holds a head and `more` bytes after it; returns what follows the head.
    fn read_past_head(c: &mut std::net::TcpStream, more: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                if got.len() >= end + 4 + more {
                    return got.split_off(end + 4);
                }
            }
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = listener.local_addr().unwrap();
    let heard = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let early = read_past_head(&mut c, 0);
        c.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nbackend-first",
        )
        .unwrap();
        let mut rest = early;
        let mut buf = [0u8; 64];
        while rest.len() < b"client-first, client-next".len() {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&rest));
            rest.extend_from_slice(&buf[..n]);
        }
        c.write_all(b", backend-next").unwrap();
        rest
    });
    let s = TestServer::start(&["--proxy", &format!("/ws=http://{backend}")]).await;
    let addr = s.addr;
    let seen = tokio::task::spawn_blocking(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(
            b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nclient-first",
        )
        .unwrap();
        let mut seen = read_past_head(&mut c, b"backend-first".len());
        c.write_all(b", client-next").unwrap();
        let mut buf = [0u8; 64];
        while seen.len() < b"backend-first, backend-next".len() {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&seen), "backend-first, backend-next");
    let heard = heard.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&heard), "client-first, client-next");
}

#[tokio::test]
async fn subprotocol_chosen_by_the_backend_passes_through() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&["--proxy", &format!("/ws=ws://127.0.0.1:{}", backend.addr.port())]).await;
    let mut req = format!("ws://{}/ws/proto", s.addr).into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "v1.chat, v2.chat".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "v2.chat");
    assert_eq!(next_msg(&mut ws).await, Some(Message::Text("v2.chat".into())));
}

#[tokio::test]
async fn one_mebibyte_binary_message_arrives_intact() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&["--proxy-ws", &backend.addr.to_string()]).await;
    let mut ws = ws_connect(&s, "/ws/echo", None).await;
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    ws.send(Message::Binary(payload.clone().into())).await.unwrap();
    match next_msg(&mut ws).await {
        Some(Message::Binary(got)) => assert!(got.as_ref() == payload.as_slice(), "payload differs"),
        other => panic!("expected the binary echo, got {:?}", other.map(|m| m.len())),
    }
}

#[tokio::test]
async fn application_close_code_reaches_the_client() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&["--proxy-ws", &backend.addr.to_string()]).await;
    let mut ws = ws_connect(&s, "/ws/close", None).await;
    ws.send(Message::Text("please close".into())).await.unwrap();
    match next_msg(&mut ws).await {
        Some(Message::Close(Some(frame))) => {
            assert_eq!(frame.code, CloseCode::from(4001));
            assert_eq!(frame.reason.as_str(), "bye");
        }
        other => panic!("expected close 4001, got {other:?}"),
    }
}

#[tokio::test]
async fn backend_refusing_the_upgrade_gets_its_status_back() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&["--proxy-ws", &backend.addr.to_string()]).await;
    let status = crate::support::ws_status(s.addr, "/ws/deny", &[]).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn five_mebibyte_post_arrives_intact() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://localhost:{}", backend.addr.port()),
    ])
    .await;
    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i * 31 % 253) as u8).collect();
    let want = format!("{} {:x}", body.len(), checksum(&body));
    // Streamed from the client too: no Content-Length, chunked all the way.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let r = client()
        .post(s.url("/api/upload"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), want);
    let r = client()
        .post(s.url("/api/upload"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), want);
}

#[tokio::test]
async fn hop_by_hop_headers_do_not_reach_the_backend() {
    let backend = Backend::start(test_backend()).await;
    let s = proxy_api(&backend).await;
    let r = client()
        .get(s.url("/api/headers"))
        .header("connection", "keep-alive, x-private")
        .header("x-private", "secret")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic eA==")
        .header("x-app", "kept")
        .send()
        .await
        .unwrap();
    let seen = r.text().await.unwrap();
    for gone in [
        "x-private",
        "keep-alive",
        "te:",
        "proxy-authorization",
        "transfer-encoding",
    ] {
        assert!(!seen.contains(gone), "{gone} reached the backend:\n{seen}");
    }
    assert!(seen.contains("x-app: kept"), "{seen}");
    assert!(
        seen.contains(&format!("host: 127.0.0.1:{}", backend.addr.port())),
        "{seen}"
    );
    assert!(seen.contains("x-forwarded-for: 127.0.0.1"), "{seen}");
    assert!(seen.contains(&format!("x-forwarded-host: {}", s.addr)), "{seen}");
    assert!(seen.contains("x-forwarded-proto: http"), "{seen}");
}

#[tokio::test]
async fn gzip_html_from_the_backend_is_injected_with_its_nonce() {
    let backend = Backend::start(test_backend()).await;
    let s = proxy_api(&backend).await;
    let r = client()
        .get(s.url("/api/page"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-encoding").is_none());
    assert!(
        r.headers().get("etag").is_none(),
        "the backend's validator no longer describes the body"
    );
    let len: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let body = r.text().await.unwrap();
    assert_eq!(body.len(), len);
    assert!(
        body.starts_with("<html><head><title>from the backend</title><script src=\"/__devserve/client.js\""),
        "{body}"
    );
    assert!(body.contains("nonce=\"r4nd0m\""), "{body}");
    assert_eq!(body.matches("<script").count(), 1);
    // Fetched by script, and non-HTML: untouched.
    let json = s.get("/api/data.json").await.text().await.unwrap();
    assert_eq!(json, "{\"a\":1}");
}

#[tokio::test]
async fn prefix_is_replaced_by_the_target_path() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{}/v1", backend.addr.port()),
    ])
    .await;
    assert_eq!(s.get("/api/users").await.text().await.unwrap(), "users from v1");
    // Whole segments only: /apix is a file path, not the proxy's.
    assert_eq!(s.get("/apix").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dead_backend_gives_502_quickly_for_http_and_upgrades() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://localhost:{port}"),
        "--proxy-ws",
        &format!("localhost:{port}"),
    ])
    .await;
    let r = client()
        .get(s.url("/api/x"))
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let body = r.text().await.unwrap();
    assert!(body.contains(&format!("localhost:{port}")), "{body}");
    assert!(
        body.contains("/__devserve/client.js"),
        "the 502 page reloads itself when the backend is back"
    );
    assert_eq!(crate::support::ws_status(s.addr, "/ws", &[]).await, 502);
    assert_eq!(
        s.get("/").await.status(),
        StatusCode::OK,
        "devserve itself is still up"
    );
}

#[tokio::test]
async fn silent_backend_gives_504_after_the_timeout() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{}", backend.addr.port()),
        "--proxy-timeout",
        "0.3",
    ])
    .await;
    let r = client().get(s.url("/api/slow")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
    // A tab navigating there gets devserve's page: what happened, the flag that bounds it, and
    // that it tries again by itself.
    let r = client()
        .get(s.url("/api/slow"))
        .header("Sec-Fetch-Mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
    let body = r.text().await.unwrap();
    assert!(body.contains("504 — backend did not answer"), "{body}");
    assert!(
        body.contains("sent nothing for 0.3 s (<code>--proxy-timeout</code>)"),
        "{body}"
    );
    assert!(body.contains("tries again by itself"), "{body}");
    assert!(body.contains("/__devserve/client.js"), "{body}");
}

#[tokio::test]
async fn backend_killed_and_restarted_while_devserve_keeps_serving() {
    let mut backend = Backend::start(test_backend()).await;
    let port = backend.addr.port();
    let s = TestServer::start_with(&["--proxy-ws", &format!("localhost:{port}")], |root| {
        std::fs::write(root.join("index.html"), "<p>front end</p>").unwrap();
    })
    .await;
    let mut ws = ws_connect(&s, "/ws", None).await;
    ws.send(Message::Text("one".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Some(Message::Text("one".into())));

    backend.kill();
    // The tunnel closes with the backend.
    loop {
        match next_msg(&mut ws).await {
            None | Some(Message::Close(_)) => break,
            Some(_) => continue,
        }
    }
    assert_eq!(s.get("/").await.status(), StatusCode::OK);
    assert_eq!(crate::support::ws_status(s.addr, "/ws", &[]).await, 502);

    let _again = Backend::start_on(test_backend(), port).await;
    let mut ws = ws_connect(&s, "/ws", None).await;
    ws.send(Message::Text("two".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Some(Message::Text("two".into())));
}

#[tokio::test]
async fn idle_tunnel_is_not_cut_by_the_proxy_timeout() {
    let backend = Backend::start(test_backend()).await;
    let s = TestServer::start(&["--proxy-ws", &backend.addr.to_string(), "--proxy-timeout", "0.2"]).await;
    let mut ws = ws_connect(&s, "/ws", None).await;
    // Idle for longer than the timeout, measured by a message the backend must answer after it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ws.send(Message::Text("still here".into())).await.unwrap();
    assert_eq!(next_msg(&mut ws).await, Some(Message::Text("still here".into())));
}

#[tokio::test]
async fn chat_example_exchanges_messages_between_two_clients_through_devserve() {
    let backend = Backend::start(chat::app()).await;
    let s = TestServer::start(&["--proxy-ws", &format!("localhost:{}", backend.addr.port())]).await;
    let mut ann = ws_connect(&s, "/ws/room1", None).await;
    ann.send(Message::Text(r#"{"type":"join","name":"ann"}"#.into()))
        .await
        .unwrap();
    assert_eq!(
        json(&mut ann).await,
        serde_json::json!({"type":"note","text":"ann joined \"room1\"."})
    );
    let mut bob = ws_connect(&s, "/ws/room1", None).await;
    bob.send(Message::Text(r#"{"type":"join","name":"bob"}"#.into()))
        .await
        .unwrap();
    assert_eq!(json(&mut ann).await["text"], "bob joined \"room1\".");
    assert_eq!(json(&mut bob).await["text"], "bob joined \"room1\".");

    ann.send(Message::Text(r#"{"type":"chat","text":"<b>hi</b> bob"}"#.into()))
        .await
        .unwrap();
    let want = serde_json::json!({"type":"chat","name":"ann","text":"<b>hi</b> bob"});
    assert_eq!(json(&mut bob).await, want);
    assert_eq!(json(&mut ann).await, want);

    // Bad JSON closes that one socket; the room goes on.
    bob.send(Message::Text("not json".into())).await.unwrap();
    loop {
        match next_msg(&mut bob).await {
            Some(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::Unsupported);
                break;
            }
            None => break,
            Some(_) => continue,
        }
    }
    assert_eq!(json(&mut ann).await["text"], "bob left \"room1\".");
    // A bare /ws is the lobby, a room of its own.
    let mut cy = ws_connect(&s, "/ws", None).await;
    cy.send(Message::Text(r#"{"type":"join","name":"cy"}"#.into()))
        .await
        .unwrap();
    assert_eq!(json(&mut cy).await["text"], "cy joined \"lobby\".");
}

async fn json(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> serde_json::Value {
    match next_msg(ws).await {
        Some(Message::Text(t)) => serde_json::from_str(&t).unwrap(),
        other => panic!("expected a JSON text frame, got {other:?}"),
    }
}

/// Regression: graceful shutdown waited for every open connection, and a proxied event stream
/// never ends, so Ctrl-C hung.
#[tokio::test]
async fn shutdown_does_not_wait_forever_for_an_endless_proxied_stream() {
    let app = Router::new().route(
        "/api/events",
        get(|| async {
            let ticks = futures_util::stream::unfold(0u64, |n| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Ok::<_, std::io::Error>(format!("data: {n}\n\n")), n + 1))
            });
            (
                [("content-type", "text/event-stream")],
                axum::body::Body::from_stream(ticks),
            )
        }),
    );
    let backend = Backend::start(app).await;
    let mut s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{}", backend.addr.port()),
    ])
    .await;
    let mut events = client().get(s.url("/api/events")).send().await.unwrap();
    assert!(events.chunk().await.unwrap().is_some(), "the stream flows");
    s.stop().await; // fails after WAIT if shutdown waits for the stream
}

/// The vote example through devserve: a vote from one client moves the counts in every client.
#[tokio::test]
async fn vote_example_counts_a_vote_in_every_client_through_devserve() {
    let backend = Backend::start(crate::vote::app()).await;
    let s = TestServer::start(&["--proxy-ws", &format!("127.0.0.1:{}", backend.addr.port())]).await;
    let mut ann = ws_connect(&s, "/ws", None).await;
    let mut bob = ws_connect(&s, "/ws", None).await;
    let votes_for = |msg: &serde_json::Value, name: &str| {
        msg["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["votes"]
            .as_u64()
            .unwrap()
    };
    let first = json(&mut ann).await;
    assert_eq!(first["type"], "counts");
    assert_eq!(votes_for(&first, "Rust"), 0);
    let _ = json(&mut bob).await;
    ann.send(Message::Text(r#"{"type":"vote","name":"Rust"}"#.into()))
        .await
        .unwrap();
    ann.send(Message::Text(r#"{"type":"vote","name":"nobody"}"#.into()))
        .await
        .unwrap();
    let seen = json(&mut bob).await;
    assert_eq!(votes_for(&seen, "Rust"), 1, "{seen}");
    assert_eq!(votes_for(&json(&mut ann).await, "Rust"), 1);
}

/// A backend spoken to byte for byte: answers GET with `hello`, HEAD with the same head and no
/// body, `/api/none` with 204; counts the connections it accepts; with `close_each`, closes every
/// connection after one answer without saying so (as a backend whose idle timeout is short does).
async fn counting_backend(
    close_each: bool,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&got[..end]).to_string();
                    got.drain(..end + 4);
                    let answer = if head.starts_with("GET /api/none ") {
                        "HTTP/1.1 204 No Content\r\n\r\n".to_string()
                    } else if head.starts_with("HEAD ") {
                        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".to_string()
                    } else {
                        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".to_string()
                    };
                    if tcp.write_all(answer.as_bytes()).await.is_err() || close_each {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn backend_connections_are_kept_alive_and_reused_after_every_kind_of_answer() {
    let (addr, accepted) = counting_backend(false).await;
    let s = TestServer::start(&["--proxy", &format!("/api=http://{addr}")]).await;
    let c = client();
    for _ in 0..5 {
        let r = c.get(s.url("/api/x")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await.unwrap(), "hello");
        let r = c.head(s.url("/api/x")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = c.get(s.url("/api/none")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fifteen requests one after the other, one connection to the backend"
    );
}

#[tokio::test]
async fn a_backend_that_closes_idle_connections_does_not_fail_the_next_request() {
    let (addr, accepted) = counting_backend(true).await;
    let s = TestServer::start(&["--proxy", &format!("/api=http://{addr}")]).await;
    for i in 0..5 {
        let r = s.get("/api/x").await;
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
        assert_eq!(r.text().await.unwrap(), "hello");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 5);
}

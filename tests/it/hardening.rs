//! Hostile input, through a real socket with raw bytes: request heads that never finish, too many
//! connections, requests that break HTTP/1.1's rules, cross-site reads, a symlink swapped during
//! requests, UTF-16 pages, what the proxy must not pass on, and malformed header values.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use devserve::Config;

use crate::support::{client, raw_request, Backend, TestServer};

/// devserve over a fresh ROOT made by `prepare`, with `tune` applied to its configuration.
async fn server_with(prepare: impl FnOnce(&std::path::Path), tune: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir(&root).unwrap();
    prepare(&root);
    let mut config = Config::from_args(["devserve", root.to_str().unwrap()]).unwrap();
    tune(&mut config);
    TestServer::run(config, dir, root).await
}

/// Waits (bounded) for the server to close `stream`: true when it did.
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a 408 or similar before the close is fine
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn get_ok(addr: SocketAddr, path: &str) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200")
}

/// A peer that sends half a request head and stops is dropped after the head timeout; a normal
/// client is served meanwhile, and a slow download that outlasts the timeout is not cut.
#[tokio::test]
async fn a_request_head_that_never_finishes_is_dropped_but_a_slow_download_is_not() {
    let s = server_with(
        |root| std::fs::write(root.join("big.bin"), vec![7u8; 4 << 20]).unwrap(),
        |c| c.head_timeout = Duration::from_secs(1),
    )
    .await;
    let addr = s.addr;
    let (half, slow) = tokio::task::spawn_blocking(move || {
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: loc").unwrap();
        assert!(get_ok(addr, "/big.bin"), "others are served meanwhile");
        let started = Instant::now();
        let dropped = closed_by_server(&mut half, Duration::from_secs(5));
        let took = started.elapsed();
        // A download read slowly, for longer than the head timeout.
        let mut slow = TcpStream::connect(addr).unwrap();
        write!(
            slow,
            "GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let begun = Instant::now();
        loop {
            match slow.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => panic!("the slow download was cut after {got} bytes: {e}"),
            }
            if begun.elapsed() < Duration::from_millis(2500) {
                std::thread::sleep(Duration::from_millis(40));
            }
        }
        ((dropped, took), (got, begun.elapsed()))
    })
    .await
    .unwrap();
    assert!(half.0, "the half head was dropped");
    assert!(
        half.1 < Duration::from_secs(4),
        "within about the timeout: {:?}",
        half.1
    );
    assert!(
        slow.0 > 4 << 20,
        "the whole body and its head arrived: {}",
        slow.0
    );
    assert!(slow.1 > Duration::from_secs(1), "it outlasted the head timeout");
}

/// A reload socket is no request head: it stays open past the head timeout.
#[tokio::test]
async fn a_reload_socket_outlives_the_head_timeout() {
    let s = server_with(|_| {}, |c| c.head_timeout = Duration::from_secs(1)).await;
    let mut tab = s.tab().await;
    assert!(
        tab.next_within(Duration::from_millis(1500)).await.is_none(),
        "quiet, and open"
    );
    s.write("a.html", "x");
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/a.html"]);
}

/// Past the cap, a new connection is closed at once; the open ones are unharmed, and a slot that
/// frees up is used again.
#[tokio::test]
async fn connections_past_the_cap_are_closed_and_the_rest_go_on() {
    let s = server_with(
        |root| std::fs::write(root.join("a.txt"), "a").unwrap(),
        |c| c.max_connections = Some(4),
    )
    .await;
    let addr = s.addr;
    tokio::task::spawn_blocking(move || {
        let mut open: Vec<TcpStream> = (0..4)
            .map(|_| {
                let mut c = TcpStream::connect(addr).unwrap();
                c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .unwrap();
                let mut buf = [0u8; 512];
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                assert!(c.read(&mut buf).unwrap() > 0, "served");
                c
            })
            .collect();
        let mut fifth = TcpStream::connect(addr).unwrap();
        let _ = fifth.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(
            closed_by_server(&mut fifth, Duration::from_secs(5)),
            "the fifth is closed"
        );
        // The four still answer on their kept-alive connections.
        for c in &mut open {
            c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 512];
            assert!(c.read(&mut buf).unwrap() > 0);
        }
        drop(open.pop());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !get_ok(addr, "/a.txt") {
            assert!(Instant::now() < deadline, "a freed slot is used again");
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn http11_without_host_is_a_400_and_http10_is_served() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("a.txt"), "a").unwrap()).await;
    let r = raw_request(s.addr, "GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("needs a Host header"), "{r}");
    let r = raw_request(s.addr, "GET /a.txt HTTP/1.0\r\n\r\n").await;
    assert!(r.contains(" 200 "), "{r}");
}

/// devserve over a folder whose `app.js` holds a secret.
async fn secret_app() -> TestServer {
    TestServer::start_with(&[], |root| {
        std::fs::write(root.join("app.js"), "let secret = 1;").unwrap()
    })
    .await
}

/// Another site's `<script src>` (or image, or fetch) gets nothing; a navigation from another
/// site, and any load from the same site (another port of localhost), are served.
#[tokio::test]
async fn cross_site_loads_of_the_served_files_are_refused() {
    let s = secret_app().await;
    let get = |site: &'static str, mode: &'static str, path: &'static str| {
        let url = s.url(path);
        async move {
            client()
                .get(url)
                .header("sec-fetch-site", site)
                .header("sec-fetch-mode", mode)
                .send()
                .await
                .unwrap()
        }
    };
    for path in ["/app.js", "/__devserve/client.js"] {
        for mode in ["no-cors", "cors"] {
            let r = get("cross-site", mode, path).await;
            assert_eq!(r.status(), 403, "{path} {mode}");
            assert!(!r.text().await.unwrap().contains("secret"));
        }
        let r = get("same-site", "no-cors", path).await;
        assert_eq!(r.status(), 200, "{path} from another port of localhost");
        assert_eq!(r.headers()["cross-origin-resource-policy"], "same-site");
    }
    assert_eq!(
        get("cross-site", "navigate", "/app.js").await.status(),
        200,
        "a link from elsewhere"
    );
    assert_eq!(
        get("none", "navigate", "/app.js").await.status(),
        200,
        "typed in the address bar"
    );
}

/// `GET path` for `localhost`, the connection closed after the answer: the raw answer.
async fn raw_get(addr: SocketAddr, path: &str) -> String {
    raw_request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
    .await
}

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "a FIFO at {}",
        path.display()
    );
}

/// A FIFO — inside ROOT, or outside it behind a symlink — is not a file: a 404 at once, never a
/// request (and a blocking thread) left waiting for a writer that never comes.
#[tokio::test]
async fn a_fifo_is_answered_at_once_and_never_waited_on() {
    let outside = tempfile::tempdir().unwrap();
    let out = outside.path().join("pipe");
    mkfifo(&out);
    let s = TestServer::start_with(&[], move |root| {
        mkfifo(&root.join("pipe"));
        std::os::unix::fs::symlink(&out, root.join("out")).unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
    })
    .await;
    for path in ["/pipe", "/out"] {
        let r = raw_get(s.addr, path).await;
        assert!(r.starts_with("HTTP/1.1 404"), "{path}: {r}");
    }
    let r = raw_get(s.addr, "/a.txt").await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}

/// Browsers send no `Sec-Fetch-*` towards plain http on a LAN address: the file is served, and
/// `Cross-Origin-Resource-Policy: same-site` is what keeps another site's page from reading it
/// back. And the refusal, with the headers as a browser's `<script src>` sends them.
#[tokio::test]
async fn without_sec_fetch_headers_the_answer_says_same_site_only() {
    let s = secret_app().await;
    // A phone on the LAN asking by the machine's address (served with --host 0.0.0.0).
    let r = raw_request(
        s.addr,
        "GET /app.js HTTP/1.1\r\nHost: 192.168.1.20:8080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(
        r.to_ascii_lowercase()
            .contains("\r\ncross-origin-resource-policy: same-site\r\n"),
        "{r}"
    );
    let r = raw_request(
        s.addr,
        "GET /app.js HTTP/1.1\r\nHost: localhost\r\nSec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\n\
         Sec-Fetch-Dest: script\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(!r.contains("secret"), "{r}");
}

/// A folder on the path swapped for a symlink out of ROOT while requests come in (the folder and
/// the symlink exchanged atomically, as an attacker racing the server would): no answer ever
/// carries the file outside. A check of the path before the open cannot see the swap that comes
/// after it; the check on the file opened does.
#[tokio::test]
async fn a_folder_swapped_for_a_symlink_during_requests_never_leaks_the_file_outside() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/file.txt"), "inside").unwrap();
    })
    .await;
    let outside = s.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("file.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(&outside, s.root.join("swap")).unwrap();
    let (root, stop) = (
        s.root.clone(),
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
    let flipper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::os::unix::ffi::OsStrExt;
            let c = |p: std::path::PathBuf| std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
            let (a, b) = (c(root.join("sub")), c(root.join("swap")));
            let mut flips = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && flips < 1_000_000 {
                // SAFETY: renameat2 on two paths of this test's own folder.
                let done = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(done, 0, "the folder and the symlink exchanged");
                flips += 1;
            }
        })
    };
    let mut inside = 0;
    for _ in 0..1000 {
        let body = s.get("/sub/file.txt").await.text().await.unwrap();
        assert!(!body.contains("TOP-SECRET"), "the file outside leaked");
        inside += usize::from(body == "inside");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(inside > 0, "the folder inside is still served");
}

#[tokio::test]
async fn a_utf16_page_gets_the_tag_in_utf16() {
    let page = "<html><head><title>t</title></head><body>é</body></html>";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(page.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("u.html"), &bytes).unwrap()).await;
    let body = s.get("/u.html").await.bytes().await.unwrap();
    let units: Vec<u16> = body[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).expect("still UTF-16");
    assert!(text.contains("<script src=\"/__devserve/client.js\""), "{text}");
    assert!(text.contains("defer></script></head><body>é</body>"), "{text}");
}

/// A backend that answers every request with the raw bytes `answer`.
fn raw_backend(answer: &'static [u8]) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(20) {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(answer);
                std::thread::sleep(Duration::from_millis(300));
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_backend_status_no_client_knows_or_an_unasked_switch_is_a_502() {
    for answer in [
        &b"HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\nhi"[..],
        &b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"[..],
    ] {
        let backend = raw_backend(answer);
        let s = TestServer::start(&["--proxy", &format!("/api=http://{backend}")]).await;
        let r = raw_get(s.addr, "/api/x").await;
        assert!(r.starts_with("HTTP/1.1 502"), "{r}");
    }
}

/// An upgrade to anything but WebSocket (h2c) is no upgrade: the backend sees a plain request.
/// A client's `Forwarded` and `X-Real-IP` never reach it.
#[tokio::test]
async fn the_proxy_passes_no_other_upgrade_and_no_claims_about_the_client() {
    let (_backend, s) = api_behind_devserve().await;
    let r = raw_request(
        s.addr,
        "GET /api/headers HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n\
         HTTP2-Settings: AAMAAABkAAQAAP__\r\nForwarded: for=10.9.9.9\r\nX-Real-IP: 10.9.9.9\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let seen = r.to_ascii_lowercase();
    for gone in [
        "upgrade:",
        "http2-settings",
        "forwarded: for",
        "x-real-ip",
        "10.9.9.9",
    ] {
        assert!(!seen.contains(gone), "{gone} reached the backend: {r}");
    }
}

/// A client's own `X-Forwarded-For` lines are kept, in order, and the peer devserve saw is
/// appended last: what the backend trusts (the last hop) is devserve's word, not the client's.
#[tokio::test]
async fn a_clients_forwarded_for_is_kept_and_the_real_peer_appended() {
    let (_backend, s) = api_behind_devserve().await;
    let r = raw_request(
        s.addr,
        "GET /api/headers HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 10.0.0.9\r\n\
         X-Forwarded-For: 10.0.0.10, 10.0.0.11\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let seen = r.to_ascii_lowercase();
    assert!(
        seen.contains("x-forwarded-for: 10.0.0.9, 10.0.0.10, 10.0.0.11, 127.0.0.1"),
        "{r}"
    );
    assert_eq!(seen.matches("x-forwarded-for:").count(), 1, "one line: {r}");
}

/// A backend's page declared UTF-16 by its `Content-Type` — no byte-order mark, text that does
/// not begin in ASCII — gets the tag in UTF-16; one declared UTF-32 is passed on byte for byte.
#[tokio::test]
async fn a_backends_page_in_its_declared_encoding_is_never_corrupted() {
    use axum::routing::get;
    let page = "日本語のページ、長いタイトルがここにあります。<html><head></head><body>本文</body></html>";
    let utf16: Vec<u8> = page.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf32: Vec<u8> = page.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
    let answer = |charset: &'static str, bytes: Vec<u8>| {
        get(move || {
            let bytes = bytes.clone();
            async move { ([("content-type", format!("text/html; charset={charset}"))], bytes) }
        })
    };
    let backend = Backend::start(
        axum::Router::new()
            .route("/api/p16", answer("utf-16le", utf16))
            .route("/api/p32", answer("utf-32", utf32.clone())),
    )
    .await;
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{}", backend.addr.port()),
    ])
    .await;
    let fetch = |path: &'static str| {
        let url = s.url(path);
        async move {
            let r = client()
                .get(url)
                .header("sec-fetch-dest", "document")
                .send()
                .await
                .unwrap();
            r.bytes().await.unwrap().to_vec()
        }
    };
    let body = fetch("/api/p16").await;
    let units: Vec<u16> = body.chunks(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
    let text = String::from_utf16(&units).expect("still UTF-16");
    assert!(text.starts_with("日本語のページ"), "{text}");
    assert!(
        text.contains("/__devserve/client.js"),
        "the client, in UTF-16: {text}"
    );
    assert_eq!(fetch("/api/p32").await, utf32, "left as it came");
}

/// A backend's `101` passes on the switch and nothing else of its connection's headers.
#[tokio::test]
async fn hop_by_hop_headers_of_a_backends_switch_do_not_reach_the_client() {
    let backend = raw_backend(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\nX-Hop: 1\r\n\
          Keep-Alive: timeout=5\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    let s = TestServer::start(&["--proxy", &format!("/ws=http://{backend}")]).await;
    let addr = s.addr;
    let head = tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(
            b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; 2048];
        let n = c.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase()
    })
    .await
    .unwrap();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("sec-websocket-accept"), "{head}");
    assert!(!head.contains("x-hop") && !head.contains("keep-alive"), "{head}");
}

/// A client whose chunked body is malformed is told so (400), and the backend is not blamed.
#[tokio::test]
async fn a_malformed_chunked_body_is_the_clients_fault() {
    let (_backend, s) = api_behind_devserve().await;
    let r = raw_request(
        s.addr,
        "POST /api/upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         5\r\nhello\r\nZZZ\r\nnot a chunk\r\n0\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(!r.contains("502"), "{r}");
}

/// Any bytes in the headers devserve reads give an answer, never a crash: the server goes on.
#[tokio::test]
async fn malformed_header_values_never_take_the_server_down() {
    let backend = Backend::start(crate::proxy::test_backend()).await;
    let s = TestServer::start_with(
        &[
            "--proxy",
            &format!("/api=http://127.0.0.1:{}", backend.addr.port()),
        ],
        |root| std::fs::write(root.join("a.txt"), "a").unwrap(),
    )
    .await;
    let nasty: [&[u8]; 5] = [
        b"\xff\xfe\x80",
        b"\x7f",
        b"\"\\",
        b"bytes=9999999999999999999-",
        b"W/\"\xc3\x28\"",
    ];
    let headers = [
        "Host",
        "Origin",
        "Sec-Fetch-Dest",
        "Sec-Fetch-Mode",
        "Sec-Fetch-Site",
        "Accept-Encoding",
        "Range",
        "If-None-Match",
        "If-Modified-Since",
        "If-Range",
        "Cookie",
        "Connection",
        "Upgrade",
        "X-Forwarded-For",
        "Content-Length",
    ];
    for path in [
        "/a.txt",
        "/api/headers",
        "/__devserve/ws?token=x",
        "/__devserve/client.js",
        "/missing",
    ] {
        for name in headers {
            for value in nasty {
                let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n").into_bytes();
                if name != "Host" {
                    req.extend_from_slice(b"Host: localhost\r\n");
                }
                req.extend_from_slice(format!("{name}: ").as_bytes());
                req.extend_from_slice(value);
                req.extend_from_slice(b"\r\n\r\n");
                let addr = s.addr;
                let answer = tokio::task::spawn_blocking(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    c.write_all(&req).unwrap();
                    let mut out = Vec::new();
                    let _ = c.read_to_end(&mut out);
                    String::from_utf8_lossy(&out).into_owned()
                })
                .await
                .unwrap();
                assert!(answer.starts_with("HTTP/1.1 "), "{name} on {path}: {answer:?}");
                assert!(!answer.starts_with("HTTP/1.1 500"), "{name} on {path}: {answer}");
            }
        }
    }
    assert_eq!(s.get("/a.txt").await.text().await.unwrap(), "a", "still serving");
}

/// The test backend, and devserve in front of it with `--proxy /api=…`. Both are kept running
/// while the pair is held.
async fn api_behind_devserve() -> (Backend, TestServer) {
    let backend = Backend::start(crate::proxy::test_backend()).await;
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{}", backend.addr.port()),
    ])
    .await;
    (backend, s)
}

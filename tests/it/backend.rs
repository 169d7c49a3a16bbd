//! The backend command (`--run`): restarted on a change under `--run-watch`, tabs reloaded once
//! it answers again, requests that wait during the restart, WebSockets closed with 1012.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{client, TestServer, WAIT};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Python backend: writes a fresh id, then serves `data/` over HTTP on `port`.
fn http_backend(data: &std::path::Path, port: u16) -> String {
    format!(
        "date +%s%N > {d}/id.txt && exec python3 -m http.server {port} --bind 127.0.0.1 -d {d}",
        d = data.display()
    )
}

/// devserve running [`http_backend`] on `data` behind `/api/`, restarted by changes to `watch`.
async fn serve_http_backend(data: &std::path::Path, watch: &std::path::Path) -> TestServer {
    let port = free_port();
    TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{port}/"),
        "--run",
        &http_backend(data, port),
        "--run-watch",
        watch.to_str().unwrap(),
    ])
    .await
}

async fn get_id(s: &TestServer) -> String {
    let r = client().get(s.url("/api/id.txt")).send().await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "a request during a (re)start waits for the backend; never a 502"
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_change_restarts_the_backend_once_and_the_tabs_reload_once_it_answers() {
    let work = tempfile::tempdir().unwrap();
    let (data, src) = (work.path().join("data"), work.path().join("src"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("app.py"), "v1").unwrap();
    let s = serve_http_backend(&data, &src).await;
    let first = get_id(&s).await;
    let mut tab = s.tab().await;
    // A save, and an editor's extra writes right after it: one restart.
    std::fs::write(src.join("app.py"), "v2").unwrap();
    std::fs::write(src.join("util.py"), "x").unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert!(
        paths.is_empty() && reload,
        "every tab reloads once the backend is back"
    );
    let second = get_id(&s).await;
    assert_ne!(first, second, "the tab's reload reaches the new process");
    assert!(
        tab.next_within(Duration::from_millis(1500)).await.is_none(),
        "one restart, one reload"
    );
}

/// A WebSocket backend in Python (the handshake by hand): it accepts, and holds the connection.
const WS_BACKEND: &str = r#"
import base64, hashlib, socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
def serve(c):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d: return
        head += d
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    while c.recv(4096): pass
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

#[tokio::test]
async fn an_open_proxied_websocket_is_closed_with_1012_on_restart() {
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("ws.py");
    std::fs::write(&script, WS_BACKEND).unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let port = free_port();
    let s = TestServer::start(&[
        "--proxy-ws",
        &format!("127.0.0.1:{port}"),
        "--run",
        &format!("exec python3 {} {port}", script.display()),
        "--run-watch",
        src.to_str().unwrap(),
    ])
    .await;
    let url = format!("ws://{}/ws", s.addr);
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("in time")
        .expect("the tunnel opens once the backend is ready");
    std::fs::write(src.join("server.py"), "changed").unwrap();
    let frame = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("closed in time");
    match frame {
        Some(Ok(Message::Close(Some(close)))) => assert_eq!(close.code, CloseCode::Restart),
        other => panic!("expected a close frame with 1012, got {other:?}"),
    }
}

/// Without `--run` too: a script a page loads from the backend got a 502 while it was down; once
/// the backend accepts connections again, the tabs that asked for it are told to reload. The
/// path is socket.io's client script; the backend is an axum stand-in (no npm package needed).
#[tokio::test]
async fn a_path_that_got_a_502_reloads_its_tabs_once_the_backend_is_back() {
    let port = free_port();
    let s = TestServer::start(&["--proxy", &format!("/socket.io=http://127.0.0.1:{port}")]).await;
    let mut tab = s.tab().await;
    let r = client()
        .get(s.url("/socket.io/socket.io.js"))
        .header("sec-fetch-dest", "script")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let app = axum::Router::new().route(
        "/socket.io/socket.io.js",
        axum::routing::get(|| async { "// the client" }),
    );
    let _backend = crate::support::Backend::start_on(app, port).await;
    let (_, paths, reload) = tab.updated().await;
    assert_eq!(paths, vec!["/socket.io/socket.io.js"]);
    assert!(reload);
    assert_eq!(s.get("/socket.io/socket.io.js").await.status(), 200);
}

/// A command that exits is shown over every tab (source `run`, its status and last lines), and
/// cleared once it is ready again.
#[tokio::test]
async fn a_crash_is_shown_to_the_tabs_and_cleared_once_the_backend_is_ready() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let port = free_port();
    let flag = work.path().join("crashed-once");
    let cmd = format!(
        "if [ -f {f} ]; then {serve}; else touch {f}; echo 'Error: cannot bind'; exit 3; fi",
        f = flag.display(),
        serve = http_backend(&data, port)
    );
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{port}/"),
        "--run",
        &cmd,
    ])
    .await;
    let mut tab = s.tab().await;
    let mut saw_error = false;
    loop {
        match tab.next().await {
            devserve::ServerMessage::Error { source, title, text } => {
                assert_eq!(source, "run");
                assert!(title.contains("exited with status 3"), "{title}");
                assert!(text.contains("Error: cannot bind"), "{text}");
                saw_error = true;
            }
            devserve::ServerMessage::Clear { source } => {
                assert_eq!(source, "run");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw_error);
    assert!(!get_id(&s).await.is_empty());
}

/// While the backend is down after a crash (waiting out its backoff), a proxied request is not
/// held for the proxy timeout: it gets a 502 at once, so a page's script tag does not hang it.
#[tokio::test]
async fn a_request_while_the_backend_is_down_gets_a_502_at_once() {
    let port = free_port();
    let s = TestServer::start(&[
        "--proxy",
        &format!("/api=http://127.0.0.1:{port}"),
        "--run",
        "echo crashing; exit 3",
    ])
    .await;
    let mut tab = s.tab().await;
    loop {
        if let devserve::ServerMessage::Error { source, .. } = tab.next().await {
            assert_eq!(source, "run");
            break;
        }
    }
    let answer = tokio::time::timeout(WAIT, client().get(s.url("/api/lib.js")).send())
        .await
        .expect("answered at once, not after --proxy-timeout (60 s)")
        .unwrap();
    assert_eq!(answer.status(), 502);
}

/// `--run-watch` on a file: that file restarts the backend, and nothing else in its folder does
/// (a log written beside it, the front end's files).
#[tokio::test]
async fn a_watched_file_restarts_the_backend_and_its_neighbours_do_not() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let app = work.path().join("app.py");
    std::fs::write(&app, "v1").unwrap();
    let s = serve_http_backend(&data, &app).await;
    let first = get_id(&s).await;
    let mut tab = s.tab().await;
    std::fs::write(work.path().join("backend.log"), "a line").unwrap();
    std::fs::write(work.path().join("notes.txt"), "notes").unwrap();
    assert!(
        tab.next_within(Duration::from_millis(1500)).await.is_none(),
        "no restart for its neighbours"
    );
    assert_eq!(get_id(&s).await, first);
    std::fs::write(&app, "v2").unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert!(paths.is_empty() && reload);
    assert_ne!(get_id(&s).await, first);
}

/// devserve (the binary, its log read) serving an empty site, running a Python backend behind
/// `/api/` that is restarted by changes to `work/src`. Each start of the backend counts itself
/// in `work/count`, says `backend run N starting`, writes N where `/api/id.txt` serves it, and
/// listens half a second later. `before` runs in the backend's shell first.
fn counting_backend(work: &std::path::Path, before: &str) -> crate::support::Logged {
    let (data, src) = (work.join("data"), work.join("src"));
    for dir in [&data, &src, &work.join("site")] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(src.join("app.py"), "v1").unwrap();
    let port = free_port();
    let run = format!(
        "{before} n=$(( $(cat {w}/count 2>/dev/null || echo 0) + 1 )); echo $n > {w}/count; echo $n > {d}/id.txt; \
         echo backend run $n starting; sleep 0.5; exec python3 -m http.server {port} --bind 127.0.0.1 -d {d}",
        w = work.display(),
        d = data.display()
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_devserve"));
    cmd.env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .arg(work.join("site"))
        .args([
            "--port",
            "0",
            "--proxy",
            &format!("/api=http://127.0.0.1:{port}/"),
        ])
        .args(["--run", &run, "--run-watch", src.to_str().unwrap()]);
    let server = crate::support::Logged::spawn(cmd);
    assert!(server.wait_for("backend ready in"), "{}", server.log());
    server
}

/// `GET /api/id.txt` through `server`: (status, body).
fn get_id_of(server: &crate::support::Logged) -> (reqwest::StatusCode, String) {
    let url = format!("http://{}/api/id.txt", server.addr);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = client().get(url).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    })
}

/// A request made while the backend restarts — the old process stopped, the new one started but
/// not yet listening (it takes half a second to) — waits for the new process and gets its answer.
#[test]
fn a_request_during_a_restart_waits_for_the_new_process() {
    let work = tempfile::tempdir().unwrap();
    let server = counting_backend(work.path(), "");
    assert_eq!(get_id_of(&server), (reqwest::StatusCode::OK, "1\n".to_string()));
    std::fs::write(work.path().join("src/app.py"), "v2").unwrap();
    assert!(server.wait_for("backend run 2 starting"), "{}", server.log());
    // The old process is gone and the new one sleeps before it listens: this request waits.
    assert_eq!(
        get_id_of(&server),
        (reqwest::StatusCode::OK, "2\n".to_string()),
        "the request waited for the new process; never a 502: {}",
        server.log()
    );
}

/// A backend that ignores SIGTERM is killed 5 s after it, and the new one starts.
#[test]
fn a_backend_that_ignores_sigterm_is_killed_and_started_again() {
    let work = tempfile::tempdir().unwrap();
    let server = counting_backend(work.path(), "trap '' TERM;");
    std::fs::write(work.path().join("src/app.py"), "v2").unwrap();
    assert!(
        server.wait_for("did not stop within 5s of SIGTERM: killing it"),
        "{}",
        server.log()
    );
    assert!(server.wait_for("backend run 2 starting"), "{}", server.log());
    assert_eq!(get_id_of(&server), (reqwest::StatusCode::OK, "2\n".to_string()));
}

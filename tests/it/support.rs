//! Test support: a real devserve on 127.0.0.1:0 over a temp dir, real HTTP and WebSocket clients,
//! and waits that are always bounded by a timeout.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use devserve::{Config, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A backend in a runtime of its own: dropping it kills every connection at once, as a crashed
/// process would.
pub struct Backend {
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Backend {
    pub async fn start(app: axum::Router) -> Self {
        Self::start_on(app, 0).await
    }

    pub async fn start_on(app: axum::Router, port: u16) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket.bind(([127, 0, 0, 1], port).into()).unwrap();
            let listener = socket.listen(128).unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await
        });
        let addr = rx.await.expect("backend bound");
        Backend {
            addr,
            runtime: Some(runtime),
        }
    }

    pub fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A devserve running in this process, stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The temp dir; ROOT is `dir/site` so that ROOT itself can be removed and re-created.
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub shutdown: CancellationToken,
    pub handle: Option<JoinHandle<Result<(), devserve::StartError>>>,
    config: Config,
}

impl TestServer {
    /// Serves a new empty ROOT with these extra command-line flags.
    pub async fn start(args: &[&str]) -> Self {
        Self::start_with(args, |_| {}).await
    }

    /// Like [`start`](Self::start), with files put in ROOT by `prepare` before the server starts.
    pub async fn start_with(args: &[&str], prepare: impl FnOnce(&Path)) -> Self {
        let (config, dir, root) = Self::configured(args, prepare);
        Self::run(config, dir, root).await
    }

    /// A new ROOT (`dir/site`), filled by `prepare`, and the config of these flags over it.
    fn configured(args: &[&str], prepare: impl FnOnce(&Path)) -> (Config, tempfile::TempDir, PathBuf) {
        init_logging();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir(&root).unwrap();
        prepare(&root);
        let mut argv = vec!["devserve".to_string(), root.display().to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        (Config::from_args(argv).unwrap(), dir, root)
    }

    /// Like [`start_with`](Self::start_with), over HTTPS with a certificate devserve makes and
    /// keeps in `dir/certs`; returns once the certificate is made.
    pub async fn start_https(args: &[&str], prepare: impl FnOnce(&Path)) -> Self {
        let (mut config, dir, root) = Self::configured(args, prepare);
        config.tls = Some(devserve::Tls::Made {
            dir: dir.path().join("certs"),
        });
        config.head_timeout = Duration::from_millis(500);
        let s = Self::run(config, dir, root).await;
        s.wait_for_certificate().await;
        s
    }

    /// Waits until an HTTPS server has its certificate: it answers only once it has, and a plain
    /// request on the HTTPS port gets an answer without a handshake.
    pub async fn wait_for_certificate(&self) {
        let answer = raw_request(self.addr, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    }

    /// Serves `dir/site`, made by the caller, with these extra flags.
    pub async fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Self {
        init_logging();
        let root = dir.path().join("site");
        let mut argv = vec!["devserve".to_string(), root.display().to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let config = Config::from_args(argv).unwrap();
        Self::run(config, dir, root).await
    }

    pub async fn run(config: Config, dir: tempfile::TempDir, root: PathBuf) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(config, dir, root, listener)
    }

    fn serve(
        config: Config,
        dir: tempfile::TempDir,
        root: PathBuf,
        listener: tokio::net::TcpListener,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(devserve::run(config.clone(), listener, shutdown.clone()));
        TestServer {
            addr,
            dir,
            root,
            shutdown,
            handle: Some(handle),
            config,
        }
    }

    /// Stops this server and starts a new one (a new token) on the same port over the same ROOT,
    /// as a developer restarting devserve would.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("the same port again");
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::serve(self.config.clone(), dir, self.root.clone(), listener)
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{}", self.addr, path)
    }

    /// A path inside ROOT.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, contents).unwrap();
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        client().get(self.url(path)).send().await.unwrap()
    }

    /// The token a browser would read from the injected tag (the 404 page always carries it).
    pub async fn token(&self) -> String {
        let body = self.get("/__no_such_page__").await.text().await.unwrap();
        token_in(&body).expect("the 404 page carries the client tag")
    }

    /// A reload socket that has received `connected` (so the watcher is ready).
    pub async fn tab(&self) -> Tab {
        Tab::connect(self.addr).await
    }

    /// Stops the server and waits for `run` to return.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(WAIT, handle)
                .await
                .expect("run returns after shutdown")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Logs from devserve go to the test's output (shown on failure); `RUST_LOG` sets the level.
pub fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| "devserve=debug".parse().unwrap());
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_test_writer())
        .with(filter)
        .try_init();
}

/// Extracts `data-token="…"` from a page.
pub fn token_in(page: &str) -> Option<String> {
    let start = page.find("data-token=\"")? + "data-token=\"".len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// An HTTP client that neither follows redirects nor pools in surprising ways.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// The next server message on any reload socket (plain or over TLS) within `limit`, or `None`
/// when it closes or nothing comes.
pub async fn next_message<S>(ws: &mut S, limit: Duration) -> Option<ServerMessage>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(limit, ws.next()).await.ok()??;
        match frame.ok()? {
            Message::Text(text) => return Some(serde_json::from_str(&text).expect("valid JSON message")),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// A connected reload socket, as a tab holds one.
pub struct Tab {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Tab {
    /// Connects to any devserve, with the token a browser would read from its 404 page.
    pub async fn connect(addr: SocketAddr) -> Tab {
        let page = client()
            .get(format!("http://{addr}/__no_such_page__"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = token_in(&page).expect("the 404 page carries the client tag");
        let url = format!("ws://{addr}/__devserve/ws?token={token}");
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("reload socket accepted");
        let mut tab = Tab { ws };
        match tab.next().await {
            ServerMessage::Connected { protocol, server, .. } => {
                assert_eq!(protocol, 1);
                assert!(server.starts_with("devserve "), "{server}");
            }
            other => panic!("first frame must be connected, got {other:?}"),
        }
        tab
    }

    /// The next server message, or a test failure after [`WAIT`].
    pub async fn next(&mut self) -> ServerMessage {
        self.next_within(WAIT).await.expect("a message in time")
    }

    /// The next server message within `limit`, or `None`.
    pub async fn next_within(&mut self, limit: Duration) -> Option<ServerMessage> {
        next_message(&mut self.ws, limit).await
    }

    /// The next `updated`: (seq, paths, reload).
    pub async fn updated(&mut self) -> (u64, Vec<String>, bool) {
        match self.next().await {
            ServerMessage::Updated {
                seq, paths, reload, ..
            } => (seq, paths, reload),
            other => panic!("expected updated, got {other:?}"),
        }
    }

    /// Collects every `updated` up to and including the one that names `marker`, which the test
    /// writes after the operation under test: whatever the operation caused has arrived by then.
    pub async fn updates_until(&mut self, server: &TestServer, marker: &str) -> Vec<(Vec<String>, bool)> {
        server.write(marker.trim_start_matches('/'), "marker");
        let mut seen = Vec::new();
        loop {
            let (_, paths, reload) = self.updated().await;
            let done = paths.iter().any(|p| p == marker);
            seen.push((paths, reload));
            if done {
                return seen;
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }
}

/// Opens the reload socket with chosen headers; returns the HTTP status of a refusal, or 101.
pub async fn ws_status(addr: SocketAddr, path_and_query: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = format!("ws://{addr}{path_and_query}")
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("answer in time")
    {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

/// Sends raw bytes as an HTTP request and returns the raw response head and body as text.
pub async fn raw_request(addr: SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("response in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// devserve as a child process whose log lines are collected.
pub struct Logged {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Logged {
    pub fn spawn(mut cmd: std::process::Command) -> Logged {
        let mut child = cmd
            .env("RUST_LOG", "devserve=debug")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let port = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no URL: {}", log.lock().unwrap()));
            if let Some(rest) = line.split("http://localhost:").nth(1) {
                break rest.split('/').next().unwrap().parse::<u16>().unwrap();
            }
        };
        Logged {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            log,
            lines: rx,
        }
    }

    /// Waits (up to 10 s) for a log line containing `needle`; true once seen.
    pub fn wait_for(&self, needle: &str) -> bool {
        if self.log().contains(needle) {
            return true;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

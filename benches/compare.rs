//! devserve against the tools people use instead, one server loaded at a time, each with its defaults,
//! on this machine in this run: Vite's dev server, live-server and browser-sync from npm, and
//! nginx as the ceiling for plain files. Writes a Markdown report.
//!
//! Run it with `bench/run` (which installs the peers outside the repository), or directly:
//!
//!     DEVSERVE_BENCH_PEERS=/path/with/node_modules cargo bench --bench compare -- --out BENCHMARKS.md
//!
//! What it measures, per server:
//! 1. save → reloaded: from the write to the new document's `load` in headless Chromium, next to
//!    the browser's own `location.reload()` on the same server (the floor);
//! 2. stylesheet save → new style computed, and whether the page navigated;
//! 3. 300 pages written at once, and 300 rewrites of one page → how many reloads;
//! 4. static throughput (wrk) on a 1 KiB file, a 1 MiB file and an HTML page (injected where the
//!    server injects), with the ratio to nginx;
//! 5. resident memory at rest, and start-up time and memory on a 25,000-file tree;
//! 6. fan-out: 1,000 reload sockets, time until the last one hears of a save, and memory with them open;
//! 7. build tools and new pages (devserve, Vite, live-server): a new page, and a save through
//!    `vite build --watch` and `esbuild --watch` → the tab showing the result, and the bad loads
//!    on the way ([`builds`]);
//! 8. a page of 500 ES modules loaded cold: devserve over HTTP/1.1 and over HTTPS (HTTP/2), and
//!    Vite's dev server over HTTPS ([`modules`]);
//! 9. the proxy: requests and WebSocket messages through devserve, nginx and Vite's proxy,
//!    against the backend asked directly ([`proxy`]).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

#[path = "compare/builds.rs"]
mod builds;
#[path = "compare/modules.rs"]
mod modules;
#[path = "compare/proxy.rs"]
mod proxy;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chromiumoxide::cdp::browser_protocol::page::EventLoadEventFired;
use chromiumoxide::listeners::EventStream;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Saves per server, each next to one `location.reload()` of the same page (interleaved, so a
/// browser that gets slower or faster during the run moves both alike).
const SAVES: usize = 15;
const SOCKETS: usize = 1000;
/// Stylesheet saves per server.
const CSS_SAVES: usize = 15;
/// Saves told to the 1,000 sockets; the row is their median.
const FANOUT_ROUNDS: usize = 5;
/// Throughput rounds (one wrk run per file and server each).
const WRK_RUNS: usize = 5;
/// Starts on the 25,000-file tree.
const TREE_STARTS: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Devserve,
    /// An earlier devserve binary (`DEVSERVE_BENCH_BASELINE`), measured beside this one.
    Baseline,
    Vite,
    LiveServer,
    BrowserSync,
    RustLiveServer,
    Trunk,
    StaticWebServer,
    Nginx,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Devserve => "devserve",
            Tool::Baseline => {
                static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                NAME.get_or_init(|| {
                    format!(
                        "devserve, {}",
                        proxy::baseline().map_or(String::new(), |(_, n)| n)
                    )
                })
            }
            Tool::Vite => "Vite dev server",
            Tool::LiveServer => "live-server (npm)",
            Tool::BrowserSync => "browser-sync",
            Tool::RustLiveServer => "live-server (Rust crate)",
            Tool::Trunk => "trunk serve",
            Tool::StaticWebServer => "static-web-server (no reload)",
            Tool::Nginx => "nginx (no reload)",
        }
    }

    /// Serves files only: no watching, no reload.
    fn static_only(self) -> bool {
        matches!(self, Tool::Nginx | Tool::StaticWebServer)
    }

    /// Shows a change by swapping the page's head and body in place (the Rust live-server
    /// crate's default "hot" reload) rather than by navigating.
    fn swaps_in_place(self) -> bool {
        self == Tool::RustLiveServer
    }
}

/// A server under test, stopped on drop.
struct Running {
    child: Child,
    port: u16,
    _conf: Option<tempfile::TempDir>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM first, so nginx's master takes its workers along.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx in the foreground with `http` holding these directives (besides the temporary paths
/// and no access log), and the folder its configuration and files are in.
fn nginx(http: &str) -> (Command, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nginx.conf");
    std::fs::write(
        &file,
        format!(
            "user root; daemon off; worker_processes auto; pid {pid}; error_log {err};\n\
             worker_rlimit_nofile 16384;\n\
             events {{ worker_connections 8192; }}\n\
             http {{ access_log off;\n\
               client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};\n\
               uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n{http} }}\n",
            pid = dir.path().join("nginx.pid").display(),
            err = dir.path().join("error.log").display(),
            tmp = dir.path().display(),
        ),
    )
    .unwrap();
    let mut c = Command::new("nginx");
    c.args([
        "-c",
        &file.display().to_string(),
        "-p",
        &dir.path().display().to_string(),
    ]);
    (c, dir)
}

/// Vite's dev server on `root` with the configuration file `config`, on `port` of 127.0.0.1.
fn vite(root: &Path, config: &Path, port: u16) -> Command {
    let mut c = Command::new("node");
    c.arg(peers_dir().join("node_modules/vite/bin/vite.js"));
    c.arg(root);
    c.args([
        "--config",
        &config.display().to_string(),
        "--port",
        &port.to_string(),
    ]);
    c.args([
        "--strictPort",
        "--host",
        "127.0.0.1",
        "--clearScreen",
        "false",
        "--logLevel",
        "silent",
    ]);
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn peers_dir() -> PathBuf {
    PathBuf::from(std::env::var("DEVSERVE_BENCH_PEERS").expect("DEVSERVE_BENCH_PEERS: run bench/run"))
}

/// A peer installed with `cargo install --root $DEVSERVE_BENCH_PEERS/cargo`.
fn cargo_peer(bin: &str) -> PathBuf {
    peers_dir().join("cargo/bin").join(bin)
}

/// Starts `tool` over `root` and waits until it answers `/`. devserve runs with `--reload-all`:
/// every tab reloads on every change, as with the peers, since the burst rows count batches (a
/// burst of pages the tab does not use would otherwise reload it 0 times).
async fn start(tool: Tool, root: &Path) -> Running {
    start_with(tool, root, true).await
}

/// [`start`], with devserve's `--reload-all` or without.
async fn start_with(tool: Tool, root: &Path, reload_all: bool) -> Running {
    let port = free_port();
    let node = |script: &str| {
        let mut c = Command::new("node");
        c.arg(peers_dir().join("node_modules").join(script));
        c
    };
    let root_s = root.display().to_string();
    let mut conf = None;
    let cmd = match tool {
        Tool::Devserve => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_devserve"));
            c.args([&root_s, "--port", &port.to_string(), "-q"]);
            if reload_all {
                c.arg("--reload-all");
            }
            c
        }
        Tool::Baseline => {
            let path = proxy::baseline()
                .map(|(path, _)| path)
                .expect("DEVSERVE_BENCH_BASELINE");
            let mut c = Command::new(&path);
            c.args([&root_s, "--port", &port.to_string(), "-q"]);
            // Builds from before per-tab reload have no --reload-all: they always reload every tab.
            if reload_all && knows_flag(&path, "--reload-all") {
                c.arg("--reload-all");
            }
            c
        }
        Tool::Vite => {
            let mut c = node("vite/bin/vite.js");
            c.args([
                &root_s,
                "--port",
                &port.to_string(),
                "--strictPort",
                "--host",
                "127.0.0.1",
            ]);
            c.args(["--clearScreen", "false", "--logLevel", "silent"]);
            c
        }
        Tool::LiveServer => {
            let mut c = node("live-server/live-server.js");
            c.args([
                &root_s,
                &format!("--port={port}"),
                "--host=127.0.0.1",
                "--no-browser",
                "--quiet",
            ]);
            c
        }
        Tool::BrowserSync => {
            let mut c = node("browser-sync/dist/bin.js");
            c.args([
                "start",
                "--server",
                &root_s,
                "--files",
                &root_s,
                "--port",
                &port.to_string(),
            ]);
            c.args(["--no-open", "--no-notify", "--no-ui", "--logLevel", "silent"]);
            c
        }
        Tool::RustLiveServer => {
            let mut c = Command::new(cargo_peer("live-server"));
            c.args([&root_s, "--port", &port.to_string(), "--host", "127.0.0.1"]);
            c
        }
        Tool::StaticWebServer => {
            let mut c = Command::new(cargo_peer("static-web-server"));
            c.args([
                "--root",
                &root_s,
                "--port",
                &port.to_string(),
                "--host",
                "127.0.0.1",
            ]);
            c.env("SERVER_LOG_LEVEL", "error");
            c
        }
        Tool::Trunk => {
            // trunk builds the folder it runs in into `dist/` and serves that.
            let mut c = Command::new(cargo_peer("trunk"));
            c.args(["serve", "--port", &port.to_string(), "--address", "127.0.0.1"]);
            c.current_dir(root).env("TRUNK_SKIP_VERSION_CHECK", "true");
            c
        }
        Tool::Nginx => {
            let (c, dir) = nginx(&format!(
                "include /etc/nginx/mime.types; sendfile on; tcp_nopush on;\n\
                 server {{ listen 127.0.0.1:{port}; root {root_s}; }}"
            ));
            conf = Some(dir);
            c
        }
    };
    start_command(cmd, port, conf, tool.name()).await
}

/// Whether the program at `path` lists `flag` in its `--help`.
fn knows_flag(path: &str, flag: &str) -> bool {
    Command::new(path)
        .arg("--help")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(flag))
}

/// Starts `cmd`, a server on `port` whose configuration (if any) lives in `conf`, and returns it
/// once it answers.
async fn start_command(
    mut cmd: Command,
    port: u16,
    conf: Option<tempfile::TempDir>,
    name: &'static str,
) -> Running {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running {
        child,
        port,
        _conf: conf,
    };
    tokio::task::spawn_blocking(move || {
        assert!(
            first_answer(port, Duration::from_secs(60)),
            "{name} did not answer within 60 s"
        );
    })
    .await
    .unwrap();
    running
}

/// Asks for `/` every quarter of a millisecond (a plain blocking socket, so the time is the
/// server's, not a client library's) until an answer other than a 5xx comes; false after `limit`.
fn first_answer(port: u16, limit: Duration) -> bool {
    use std::io::{Read, Write};
    let deadline = Instant::now() + limit;
    let request = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    while Instant::now() < deadline {
        if let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = [0u8; 12];
            if tcp.write_all(request.as_bytes()).is_ok() && tcp.read_exact(&mut head).is_ok() {
                let status = std::str::from_utf8(&head[9..12]).unwrap_or("500");
                if !status.starts_with('5') {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_micros(250));
    }
    false
}

/// The time of a write about to happen, on the page's clock (`performance.timeOrigin +
/// performance.now()`), against which times taken in the page are compared. That clock and this
/// process's wall clock can disagree: in one full run, by about 20 ms (a stylesheet applied
/// "before" its write). So the wall clock is moved into the page's by an offset measured just
/// before: the best of three round trips, off by at most half of one. NaN when the page cannot be
/// asked; [`median`] drops that sample.
async fn write_time_in_page(tab: &Tab) -> f64 {
    page_clock_offset(tab)
        .await
        .map_or(f64::NAN, |offset| epoch_ms() + offset)
}

/// The page's clock minus [`epoch_ms`]; see [`write_time_in_page`].
async fn page_clock_offset(tab: &Tab) -> Option<f64> {
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..3 {
        let before = epoch_ms();
        let Some(page) = tab
            .eval::<f64>("() => performance.timeOrigin + performance.now()")
            .await
        else {
            continue;
        };
        let after = epoch_ms();
        if best.is_none_or(|(rtt, _)| after - before < rtt) {
            best = Some((after - before, page - (before + after) / 2.0));
        }
    }
    best.map(|(_, offset)| offset)
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// The median of the samples that are numbers (a sample without its start time is NaN).
fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn page_html(body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>bench</title>\
         <link rel=\"stylesheet\" href=\"/style.css\"></head><body><h1>bench</h1><p>{body}</p></body></html>"
    )
}

/// The site's `index.html`. trunk builds its pages into `dist/` and serves only what its
/// `data-trunk` links name: the stylesheet and the other files are declared for it.
fn index_html(tool: Tool, body: &str) -> String {
    if tool != Tool::Trunk {
        return page_html(body);
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>bench</title>\
         <link data-trunk rel=\"css\" href=\"style.css\">\
         <link data-trunk rel=\"copy-file\" href=\"page.html\">\
         <link data-trunk rel=\"copy-file\" href=\"1k.txt\">\
         <link data-trunk rel=\"copy-file\" href=\"1m.bin\"></head><body><h1>bench</h1><p>{body}</p></body></html>"
    )
}

/// A fresh site for one server: a page, a stylesheet, and the files the throughput runs fetch.
/// A temp folder whose path has no dot-named part: live-server ignores every path containing
/// `/.`, so the usual `/tmp/.tmpXXXX` would hide all changes from it.
fn plain_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("devserve-bench-")
        .tempdir()
        .unwrap()
}

fn site(tool: Tool) -> tempfile::TempDir {
    let dir = plain_tempdir();
    let root = dir.path();
    std::fs::write(root.join("index.html"), index_html(tool, "0")).unwrap();
    std::fs::write(root.join("page.html"), page_html(&"lorem ipsum ".repeat(150))).unwrap();
    std::fs::write(root.join("style.css"), "h1 { color: rgb(1, 0, 0); }").unwrap();
    std::fs::write(root.join("1k.txt"), "x".repeat(1024)).unwrap();
    std::fs::write(root.join("1m.bin"), vec![7u8; 1024 * 1024]).unwrap();
    if tool == Tool::Trunk {
        std::fs::write(root.join("Trunk.toml"), "").unwrap(); // trunk wants a configuration
    }
    dir
}

struct Tab {
    page: Page,
    loads: EventStream<EventLoadEventFired>,
}

impl Tab {
    async fn open(browser: &Browser, url: &str) -> Tab {
        // A window of its own: a tab behind others is hidden, and devserve holds a hidden tab's
        // reload until it is shown.
        let mut target = chromiumoxide::cdp::browser_protocol::target::CreateTargetParams::new("about:blank");
        target.new_window = Some(true);
        let page = browser.new_page(target).await.unwrap();
        let loads = page.event_listener::<EventLoadEventFired>().await.unwrap();
        let mut tab = Tab { page, loads };
        tab.page.goto(url).await.unwrap();
        tab.next_load(Duration::from_secs(10)).await;
        // Let the tool's client connect (each has its own handshake).
        tokio::time::sleep(Duration::from_millis(1000)).await;
        tab
    }

    async fn next_load(&mut self, limit: Duration) -> bool {
        matches!(tokio::time::timeout(limit, self.loads.next()).await, Ok(Some(_)))
    }

    async fn eval<T: serde::de::DeserializeOwned>(&self, js: &str) -> Option<T> {
        let res = tokio::time::timeout(Duration::from_secs(10), self.page.evaluate_function(js))
            .await
            .ok()?
            .ok()?;
        res.into_value().ok()
    }

    /// Epoch milliseconds at which the current document's load event started.
    async fn load_started(&self) -> Option<f64> {
        self.eval(
            "() => performance.timeOrigin + performance.getEntriesByType('navigation')[0].loadEventStart",
        )
        .await
    }

    /// Counts loads until none has come for `quiet`.
    async fn count_loads(&mut self, first_within: Duration, quiet: Duration) -> usize {
        let mut n = 0;
        let mut limit = first_within;
        while self.next_load(limit).await {
            n += 1;
            limit = quiet;
        }
        n
    }
}

struct Row {
    tool: Tool,
    floor_ms: f64,
    reload_ms: f64,
    css_ms: f64,
    css_navigated: bool,
    burst_reloads: usize,
    rewrite_reloads: usize,
    rps: [f64; 3],
    idle_mib: f64,
    tree_start_ms: f64,
    tree_mib: f64,
    /// With 1,000 reload sockets open: ms from a save until the last hears, and resident MiB.
    fanout: Option<(f64, f64)>,
}

/// Arms `window.__swapped`: resolves with the time at which a body showing `text` arrived in
/// the page (the Rust live-server crate's in-place reload), or null after 8 s.
fn arm_swap(text: &str) -> String {
    format!(
        "() => {{ window.__swapped = new Promise(r => {{ \
         const mo = new MutationObserver(() => {{ if (document.body && document.body.textContent.includes('{text}')) \
         {{ mo.disconnect(); r(performance.timeOrigin + performance.now()); }} }}); \
         mo.observe(document.documentElement, {{ childList: true }}); \
         setTimeout(() => {{ mo.disconnect(); r(null); }}, 8000); }}); return true; }}"
    )
}

/// Counts the bodies swapped in since the page loaded, in `window.__swaps`.
const COUNT_SWAPS: &str = "() => { window.__swaps = 0; new MutationObserver(rs => { for (const r of rs) \
    for (const n of r.addedNodes) if (n.nodeName === 'BODY') window.__swaps++; })\
    .observe(document.documentElement, { childList: true }); return true; }";

async fn measure_reload(browser: &Browser, tool: Tool, run: &Running, root: &Path) -> (f64, f64) {
    let mut tab = Tab::open(browser, &run.url("/")).await;
    let mut floor = Vec::new();
    let mut saves = Vec::new();
    for i in 0..SAVES {
        // The browser's own reload of the same page.
        let _: Option<bool> = tab
            .eval("() => { sessionStorage.t0 = String(performance.timeOrigin + performance.now()); setTimeout(() => location.reload()); return true; }")
            .await;
        if tab.next_load(Duration::from_secs(10)).await {
            let t0: Option<String> = tab.eval("() => sessionStorage.t0").await;
            if let (Some(t0), Some(loaded)) =
                (t0.and_then(|t| t.parse::<f64>().ok()), tab.load_started().await)
            {
                floor.push(loaded - t0);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A save.
        let text = format!("save {i}");
        if tool.swaps_in_place() {
            let _: Option<bool> = tab.eval(&arm_swap(&text)).await;
            let t0 = write_time_in_page(&tab).await;
            std::fs::write(root.join("index.html"), index_html(tool, &text)).unwrap();
            let swapped: Option<f64> = tab.eval("async () => await window.__swapped").await;
            if let Some(t) = swapped {
                saves.push(t - t0);
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        } else {
            let t0 = write_time_in_page(&tab).await;
            std::fs::write(root.join("index.html"), index_html(tool, &text)).unwrap();
            if tab.next_load(Duration::from_secs(10)).await {
                if let Some(loaded) = tab.load_started().await {
                    saves.push(loaded - t0);
                }
                // Drain a second reload, if the tool sends one, before going on.
                tab.count_loads(Duration::from_millis(700), Duration::from_millis(700))
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = tab.page.close().await;
    (median(floor), median(saves))
}

async fn measure_css(browser: &Browser, run: &Running, root: &Path) -> (f64, bool) {
    let mut tab = Tab::open(browser, &run.url("/")).await;
    let _: Option<bool> = tab.eval("() => { window.__mark = 1; return true; }").await;
    let mut times = Vec::new();
    let mut navigated = false;
    for i in 0..CSS_SAVES {
        let target = format!("rgb({}, 0, 0)", i + 2);
        // Checks the computed style on every turn of a MessageChannel: no timer clamping. The h1
        // is looked up each time: a tool may swap the whole body.
        let arm = format!(
            "() => {{ window.__changed = new Promise(r => {{ \
             const ch = new MessageChannel(); const stop = Date.now() + 8000; \
             ch.port1.onmessage = () => {{ const h1 = document.querySelector('h1'); \
             if (h1 && getComputedStyle(h1).color === '{target}') r(performance.timeOrigin + performance.now()); \
             else if (Date.now() > stop) r(null); else ch.port2.postMessage(0); }}; ch.port2.postMessage(0); }}); return true; }}"
        );
        let _: Option<bool> = tab.eval(&arm).await;
        let t0 = write_time_in_page(&tab).await;
        std::fs::write(root.join("style.css"), format!("h1 {{ color: {target}; }}")).unwrap();
        let changed: Option<f64> = tab.eval("async () => await window.__changed").await;
        match changed {
            Some(t) => {
                times.push(t - t0);
                let mark: Option<i32> = tab.eval("() => window.__mark").await;
                if mark != Some(1) {
                    navigated = true;
                }
            }
            None => {
                // The document went away: the tool reloaded the page. The new style is there by the
                // new document's load.
                if tab.next_load(Duration::from_secs(3)).await {
                    navigated = true;
                    let check =
                        format!("() => getComputedStyle(document.querySelector('h1')).color === '{target}'");
                    if let (Some(loaded), Some(true)) =
                        (tab.load_started().await, tab.eval::<bool>(&check).await)
                    {
                        times.push(loaded - t0);
                    }
                    tab.count_loads(Duration::from_millis(700), Duration::from_millis(700))
                        .await;
                }
                let _: Option<bool> = tab.eval("() => { window.__mark = 1; return true; }").await;
            }
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let _ = tab.page.close().await;
    eprintln!(
        "   css saves (ms): {}",
        times
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    (median(times), navigated)
}

/// How many reloads `write` causes: page loads, or swapped bodies for a tool that swaps in place.
async fn reloads_after(tab: &mut Tab, tool: Tool, write: impl FnOnce()) -> usize {
    if !tool.swaps_in_place() {
        write();
        return tab
            .count_loads(Duration::from_secs(5), Duration::from_millis(1500))
            .await;
    }
    let _: Option<bool> = tab.eval(COUNT_SWAPS).await;
    write();
    // Until the count has not moved for 1.5 s (or nothing came within 5 s).
    let mut seen = 0;
    let mut still_since = Instant::now();
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n: usize = tab.eval("() => window.__swaps").await.unwrap_or(seen);
        if n != seen {
            seen = n;
            still_since = Instant::now();
        }
        let quiet = if seen == 0 {
            started.elapsed() > Duration::from_secs(5)
        } else {
            still_since.elapsed() > Duration::from_millis(1500)
        };
        if quiet {
            return seen;
        }
    }
}

async fn measure_bursts(browser: &Browser, tool: Tool, run: &Running, root: &Path) -> (usize, usize) {
    let mut tab = Tab::open(browser, &run.url("/")).await;
    let gen = root.join("gen");
    std::fs::create_dir_all(&gen).unwrap();
    let burst = reloads_after(&mut tab, tool, || {
        for i in 0..300 {
            std::fs::write(gen.join(format!("p{i}.html")), page_html(&i.to_string())).unwrap();
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let rewrites = reloads_after(&mut tab, tool, || {
        for i in 0..300 {
            std::fs::write(root.join("index.html"), index_html(tool, &format!("rewrite {i}"))).unwrap();
        }
    })
    .await;
    let _ = tab.page.close().await;
    (burst, rewrites)
}

/// Requests per second from one run of `wrk -t2 -c32 -d3s`.
fn wrk(url: &str) -> f64 {
    wrk_with(url, &[])
}

/// [`wrk`] with extra arguments (`-H 'Connection: keep-alive'`).
fn wrk_with(url: &str, extra: &[&str]) -> f64 {
    let out = Command::new("wrk")
        .args(["-t2", "-c32", "-d3s"])
        .args(extra)
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(errors) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        eprintln!("   wrk {url}: {}", errors.trim());
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// The throughput files, in the order of the report's columns.
const STATIC_FILES: [&str; 3] = ["/1k.txt", "/1m.bin", "/page.html"];

/// The indices `0..n`, starting at `round`'s: each round begins with another server, so none
/// always follows the same neighbour.
fn in_turn(n: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (k + round) % n)
}

/// Requests per second on each of [`STATIC_FILES`], for every tool: the median of [`WRK_RUNS`]
/// rounds. All the servers are started first, each over its own copy of the site, and each round
/// loads them one after the other while the rest sit idle, so that a machine that slows down or
/// speeds up during the run moves every server alike. (Measured one server after the other, nginx
/// read 126k req/s in one run and 87k in the next, and the ratios moved by as much.)
async fn measure_static(tools: &[Tool]) -> Vec<[f64; 3]> {
    let mut running = Vec::new();
    for &tool in tools {
        let dir = site(tool);
        let run = start(tool, dir.path()).await;
        let _ = reqwest::get(run.url("/")).await;
        running.push((dir, run));
    }
    let mut samples = vec![[Vec::new(), Vec::new(), Vec::new()]; tools.len()];
    for round in 0..WRK_RUNS {
        for (f, file) in STATIC_FILES.iter().enumerate() {
            for i in in_turn(running.len(), round) {
                let rps = wrk(&running[i].1.url(file));
                samples[i][f].push(rps);
            }
        }
        eprintln!("   throughput round {} of {WRK_RUNS} done", round + 1);
    }
    for (tool, s) in tools.iter().zip(&samples) {
        eprintln!("   {}: req/s {s:.0?}", tool.name());
    }
    samples.into_iter().map(|s| s.map(median)).collect()
}

/// 1,000 reload sockets in the tool's own protocol: time from a save until the last one hears,
/// and the server's resident memory with them open.
async fn measure_fanout(tool: Tool, run: &Running, root: &Path) -> Option<(f64, f64)> {
    // (socket address, subprotocol, what the server says on connecting if anything, what it says
    // on a change: "" for any message).
    let (url, protocol, hello, hears): (String, Option<&str>, Option<&str>, &str) = match tool {
        Tool::Devserve | Tool::Baseline => {
            let page = reqwest::get(run.url("/")).await.ok()?.text().await.ok()?;
            let start = page.find("data-token=\"")? + 12;
            let token = &page[start..start + 32];
            (
                format!("ws://127.0.0.1:{}/__devserve/ws?token={token}", run.port),
                None,
                Some("connected"),
                "updated",
            )
        }
        Tool::LiveServer => (
            format!("ws://127.0.0.1:{}/ws", run.port),
            None,
            Some("connected"),
            "reload",
        ),
        Tool::RustLiveServer => (
            format!("ws://127.0.0.1:{}/live-server-ws", run.port),
            None,
            None,
            "",
        ),
        Tool::Vite => {
            let client = reqwest::get(run.url("/@vite/client"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let start = client.find("const wsToken = \"")? + 17;
            let token = &client[start..start + client[start..].find('"')?];
            (
                format!("ws://127.0.0.1:{}/?token={token}", run.port),
                Some("vite-hmr"),
                Some("connected"),
                "full-reload",
            )
        }
        Tool::Trunk => (
            format!("ws://127.0.0.1:{}/.well-known/trunk/ws", run.port),
            None,
            None,
            "reload",
        ),
        Tool::BrowserSync | Tool::StaticWebServer | Tool::Nginx => return None,
    };
    let addr = url.strip_prefix("ws://")?.split('/').next()?.to_string();
    let mut sockets = Vec::with_capacity(SOCKETS);
    for _ in 0..SOCKETS {
        let mut req = url.as_str().into_client_request().ok()?;
        if let Some(p) = protocol {
            req.headers_mut()
                .insert("sec-websocket-protocol", p.parse().ok()?);
        }
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.ok()?;
        // The handshake and the greeting through tungstenite, on a borrowed stream: what the
        // server says afterwards is read off the socket itself (below).
        let (mut ws, _) = tokio_tungstenite::client_async(req, &mut tcp).await.ok()?;
        while let Some(hello) = hello {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .ok()??
                .ok()?;
            if msg.to_text().is_ok_and(|t| t.contains(hello)) {
                break;
            }
        }
        drop(ws);
        sockets.push(tcp.into_std().ok()?);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mib = common::rss_tree_kib(run.child.id()) as f64 / 1024.0;
    let root = root.to_path_buf();
    let rounds = tokio::task::spawn_blocking(move || fanout_rounds(tool, &sockets, hears, &root))
        .await
        .ok()??;
    // The first socket's time is the tool's own save → message latency; the rest is the fan-out.
    eprintln!(
        "   fan-out rounds, first → last heard: {}",
        rounds
            .iter()
            .map(|(f, l)| format!("{f:.1} → {l:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Some((median(rounds.into_iter().map(|(_, last)| last).collect()), mib))
}

/// Saves `index.html` [`FANOUT_ROUNDS`] times; for each, the times (ms) from the write until the
/// first and the last of `sockets` has a message containing `hears`.
///
/// One thread waits on every socket through epoll and reads the bytes as they come: a frame a
/// server sends is a few dozen bytes, and `hears` is found in them as sent. A client this cheap
/// (a `read` per message) leaves the two cores to the server, so the row measures the server's
/// fan-out rather than the benchmark's own WebSocket stack.
fn fanout_rounds(
    tool: Tool,
    sockets: &[std::net::TcpStream],
    hears: &str,
    root: &Path,
) -> Option<Vec<(f64, f64)>> {
    use std::io::Read as _;
    use std::os::fd::{AsRawFd as _, FromRawFd as _};

    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a descriptor just created and owned by nothing else.
    let epoll = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    for (i, s) in sockets.iter().enumerate() {
        s.set_nonblocking(true).ok()?;
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) } != 0 {
            return None;
        }
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; SOCKETS];
    let mut buf = [0u8; 4096];
    // Reads what socket `i` has; true if it carried `hears`. None when the server closed it.
    let mut read_from = |i: usize| -> Option<bool> {
        let mut stream = &sockets[i];
        let mut heard = false;
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => {
                    heard |= hears.is_empty() || buf[..n].windows(hears.len()).any(|w| w == hears.as_bytes());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(heard),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    };
    let mut rounds = Vec::new();
    for round in 0..FANOUT_ROUNDS {
        let mut heard = vec![false; SOCKETS];
        let (mut count, mut first, mut last) = (0, None, None);
        let t0 = Instant::now();
        std::fs::write(
            root.join("index.html"),
            index_html(tool, &format!("fan-out {round}")),
        )
        .ok()?;
        while count < SOCKETS {
            let n =
                unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), SOCKETS as i32, 10_000) };
            if n <= 0 {
                return None; // ten quiet seconds: some sockets were never told
            }
            let now = Instant::now();
            for ev in &events[..n as usize] {
                let i = ev.u64 as usize;
                if read_from(i)? && !heard[i] {
                    heard[i] = true;
                    count += 1;
                    first.get_or_insert(now);
                    last = Some(now);
                }
            }
        }
        let ms = |t: Instant| (t - t0).as_secs_f64() * 1000.0;
        rounds.push((ms(first?), ms(last?)));
        // A second message for the same save, if the tool sends one, is not the next round's.
        std::thread::sleep(Duration::from_millis(700));
        for i in 0..SOCKETS {
            read_from(i)?;
        }
    }
    Some(rounds)
}

/// Start-up on the 25,000-file tree for every tool, interleaved like the throughput: each tool has
/// its own copy of the tree (some write into it: trunk's `dist/`, Vite's cache), and each of
/// [`TREE_STARTS`] rounds starts every tool once in turn (see [`in_turn`]). Medians of the time to
/// the first 200 and of the resident memory two seconds later.
async fn measure_trees(tools: &[Tool]) -> Vec<(f64, f64)> {
    let dirs: Vec<_> = tools
        .iter()
        .map(|&tool| {
            let dir = plain_tempdir();
            common::generate_tree(dir.path());
            if tool == Tool::Trunk {
                std::fs::write(dir.path().join("Trunk.toml"), "").unwrap();
            }
            dir
        })
        .collect();
    let mut samples = vec![(Vec::new(), Vec::new()); tools.len()];
    for round in 0..TREE_STARTS {
        for i in in_turn(tools.len(), round) {
            let (tool, dir) = (tools[i], &dirs[i]);
            let t0 = Instant::now();
            let run = start(tool, dir.path()).await;
            samples[i].0.push(t0.elapsed().as_secs_f64() * 1000.0);
            // Whatever the tool does in the background (watchers, pre-bundling) gets two seconds.
            tokio::time::sleep(Duration::from_secs(2)).await;
            samples[i]
                .1
                .push(common::rss_tree_kib(run.child.id()) as f64 / 1024.0);
        }
    }
    for (tool, (times, _)) in tools.iter().zip(&samples) {
        eprintln!("   {}: 25k tree starts (ms) {times:.1?}", tool.name());
    }
    samples
        .into_iter()
        .map(|(times, mibs)| (median(times), median(mibs)))
        .collect()
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Chromium: `$CHROME`, else Debian's.
fn chrome() -> PathBuf {
    std::env::var_os("CHROME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

async fn launch_browser() -> Browser {
    let chrome = chrome();
    let profile = tempfile::tempdir().unwrap().keep();
    let config = BrowserConfig::builder()
        .chrome_executable(chrome)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(profile)
        .args([
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .args(["--no-first-run", "--disable-quic", "--disable-dev-shm-usage"])
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.expect("Chromium starts");
    tokio::spawn(async move { while handler.next().await.is_some() {} });
    browser
}

fn version(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}

/// "name 1.2.3" for a peer installed with cargo, whatever its `--version` prints around it.
fn cargo_version(bin: &str) -> String {
    let out = Command::new(cargo_peer(bin)).arg("--version").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let number = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("?");
    format!("{bin} {number}")
}

fn npm_version(pkg: &str) -> String {
    let json = std::fs::read_to_string(peers_dir().join("node_modules").join(pkg).join("package.json"))
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    v["version"].as_str().unwrap_or("?").to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The value after `flag`, if given.
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let list = |flag: &str| -> Vec<String> {
        value(flag).map_or_else(Vec::new, |v| v.split(',').map(String::from).collect())
    };
    let out = value("--out");
    let only = list("--only");
    // `--rows fanout,css` measures only those (for working on one row; the report shows — for the rest).
    let rows_wanted = list("--rows");
    let want = |row: &str| rows_wanted.is_empty() || rows_wanted.iter().any(|r| r == row);
    raise_fd_limit();
    let browser = launch_browser().await;
    // A browser that has just started is slower for a while (its first pages, its own start-up
    // work); the first server measured would pay for it. Warm it up on nginx first.
    {
        let dir = site(Tool::Nginx);
        let run = start(Tool::Nginx, dir.path()).await;
        let mut tab = Tab::open(&browser, &run.url("/")).await;
        for _ in 0..20 {
            let _: Option<bool> = tab
                .eval("() => { setTimeout(() => location.reload()); return true; }")
                .await;
            tab.next_load(Duration::from_secs(10)).await;
        }
        let _ = tab.page.close().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let baseline = proxy::baseline().is_some().then_some(Tool::Baseline);
    let tools = [
        Some(Tool::Nginx),
        Some(Tool::Devserve),
        baseline,
        Some(Tool::Vite),
        Some(Tool::LiveServer),
        Some(Tool::BrowserSync),
        Some(Tool::RustLiveServer),
        Some(Tool::Trunk),
        Some(Tool::StaticWebServer),
    ];
    let tools: Vec<Tool> = tools
        .into_iter()
        .flatten()
        .filter(|&tool| {
            only.is_empty()
                || tool == Tool::Nginx
                || only
                    .iter()
                    .any(|o| tool.name().to_lowercase().starts_with(&o.to_lowercase()))
        })
        .collect();
    let mut rows = Vec::new();
    let mut nginx_rps = [f64::NAN; 3];
    for &tool in &tools {
        eprintln!("== {}", tool.name());
        let dir = site(tool);
        let root = dir.path();
        let run = start(tool, root).await;
        let _ = reqwest::get(run.url("/")).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut row = Row {
            tool,
            floor_ms: f64::NAN,
            reload_ms: f64::NAN,
            css_ms: f64::NAN,
            css_navigated: false,
            burst_reloads: 0,
            rewrite_reloads: 0,
            rps: [f64::NAN; 3],
            idle_mib: common::rss_tree_kib(run.child.id()) as f64 / 1024.0,
            tree_start_ms: f64::NAN,
            tree_mib: f64::NAN,
            fanout: None,
        };
        eprintln!("   idle {:.1} MiB", row.idle_mib);
        if !tool.static_only() {
            if want("reload") {
                (row.floor_ms, row.reload_ms) = measure_reload(&browser, tool, &run, root).await;
                eprintln!("   reload {:.1} ms (floor {:.1} ms)", row.reload_ms, row.floor_ms);
            }
            if want("css") {
                (row.css_ms, row.css_navigated) = measure_css(&browser, &run, root).await;
                eprintln!("   css {:.1} ms, navigated: {}", row.css_ms, row.css_navigated);
            }
            if want("bursts") {
                (row.burst_reloads, row.rewrite_reloads) = measure_bursts(&browser, tool, &run, root).await;
                eprintln!(
                    "   bursts: {} / {} reloads",
                    row.burst_reloads, row.rewrite_reloads
                );
            }
            if want("fanout") {
                row.fanout = measure_fanout(tool, &run, root).await;
                eprintln!("   fan-out (ms, MiB): {:?}", row.fanout);
            }
        }
        drop(run);
        rows.push(row);
    }
    if want("static") {
        eprintln!("== static throughput, every server in turn");
        for (row, rps) in rows.iter_mut().zip(measure_static(&tools).await) {
            row.rps = rps;
            if row.tool == Tool::Nginx {
                nginx_rps = rps;
            }
        }
    }
    if want("tree") {
        eprintln!("== 25k-file tree, every server in turn");
        for (row, (ms, mib)) in rows.iter_mut().zip(measure_trees(&tools).await) {
            (row.tree_start_ms, row.tree_mib) = (ms, mib);
        }
    }

    let mut build_rows = Vec::new();
    if want("builds") {
        for &tool in tools.iter().filter(|&&t| builds::measured(t)) {
            eprintln!("== build tools and new pages: {}", tool.name());
            build_rows.push(builds::measure(&browser, tool).await);
        }
    }

    let mut module_rows = Vec::new();
    if want("modules") && tools.contains(&Tool::Devserve) {
        eprintln!("== a page of 500 ES modules, over HTTP/1.1 and HTTPS");
        module_rows = modules::measure(tools.contains(&Tool::Vite)).await;
    }

    let mut proxy_rows = Vec::new();
    if want("proxy") && tools.contains(&Tool::Devserve) {
        eprintln!("== the proxy: devserve, nginx and Vite in front of one backend");
        proxy_rows = proxy::measure(tools.contains(&Tool::Vite)).await;
    }

    let mut report = render(&rows, nginx_rps);
    if !build_rows.is_empty() {
        report.push_str(&builds::render(&build_rows));
    }
    if !module_rows.is_empty() {
        report.push_str(&modules::render(&module_rows));
    }
    if !proxy_rows.is_empty() {
        report.push_str(&proxy::render(&proxy_rows));
    }
    report.push_str(include_str!("../bench/measurements.md"));
    println!("{report}");
    if let Some(out) = out {
        std::fs::write(&out, report).unwrap();
        eprintln!("wrote {out}");
    }
}

fn render(rows: &[Row], nginx: [f64; 3]) -> String {
    let mut md = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let date = version("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(md, "Measured by `bench/run` ([benches/compare.rs](benches/compare.rs)) on {date}, one server loaded at a time, \
        each with its default settings, on the same machine in the same run.\n");
    let _ = writeln!(
        md,
        "- machine: {cores} cores ({cpu}), {}",
        version("uname", &["-sr"])
    );
    let _ = writeln!(
        md,
        "- devserve {} (release build); Vite {}, live-server {}, browser-sync {} on Node {}; {}, {}, {} \
         (`cargo install`, release builds); {}; {}; {}\n",
        env!("CARGO_PKG_VERSION"),
        npm_version("vite"),
        npm_version("live-server"),
        npm_version("browser-sync"),
        version("node", &["--version"]),
        cargo_version("live-server").replace("live-server", "live-server crate"),
        cargo_version("trunk"),
        cargo_version("static-web-server"),
        version("nginx", &["-v"]),
        version("wrk", &["--version"]).split(" [").next().unwrap_or(""),
        version("chromium", &["--version"])
    );
    let ms = |v: f64| {
        if v.is_nan() {
            "—".to_string()
        } else {
            format!("{v:.0} ms")
        }
    };
    let ratio = |v: f64, base: f64| {
        if v.is_nan() || base.is_nan() || base == 0.0 {
            "—".to_string()
        } else {
            format!("{:.2}×", v / base)
        }
    };
    let _ = writeln!(md, "## Live reload\n");
    let _ = writeln!(md, "| server | save → page reloaded | ÷ browser's own reload | stylesheet save → new style | navigated? | 300 pages written at once | 300 rewrites of one page | 1,000 sockets told | memory with 1,000 sockets |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for r in rows.iter().filter(|r| !r.tool.static_only()) {
        let (fan, fan_mib) = r.fanout.map_or(("—".to_string(), "—".to_string()), |(ms, mib)| {
            (format!("{ms:.1} ms"), format!("{mib:.1} MiB"))
        });
        let _ = writeln!(
            md,
            "| {} | {} (floor {}) | {} | {} | {} | {} reload(s) | {} reload(s) | {} | {} |",
            r.tool.name(),
            ms(r.reload_ms),
            ms(r.floor_ms),
            ratio(r.reload_ms, r.floor_ms),
            if r.css_ms.is_nan() {
                "—".to_string()
            } else {
                format!("{:.1} ms", r.css_ms)
            },
            if r.css_navigated { "yes" } else { "no" },
            r.burst_reloads,
            r.rewrite_reloads,
            fan,
            fan_mib
        );
    }
    let _ = writeln!(md, "\n## Static files and memory\n");
    let _ = writeln!(md, "| server | 1 KiB file req/s | 1 MiB file req/s | HTML page req/s | memory at rest | 25k-file tree: start → first 200 | 25k-file tree: memory |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for r in rows {
        let cell = |i: usize| format!("{:.0} ({})", r.rps[i], ratio(r.rps[i], nginx[i]));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.1} MiB | {:.1} ms | {:.1} MiB |",
            r.tool.name(),
            cell(0),
            cell(1),
            cell(2),
            r.idle_mib,
            r.tree_start_ms,
            r.tree_mib
        );
    }
    let _ = writeln!(md, "\nNotes:\n\
        - Reload times run from the file write to the new document's `load` event in headless Chromium; the floor is \
        `location.reload()` on the same server and page, one next to each save. Median of {SAVES}. The Rust \
        live-server crate does not navigate by default: it loads the page again in a hidden frame and swaps the head \
        and body in; its time runs to the moment the new body is in the document.\n\
        - The stylesheet time runs from the write until `getComputedStyle` shows the new value, checked on every turn of \
        the event loop; for a tool that reloads the page instead, until the new document's `load`. Median of {CSS_SAVES}.\n\
        - Throughput: `wrk -t2 -c32 -d3s`, on the same 2 cores as the server; ratios are to nginx in this run. All the servers \
        are started, and each of {WRK_RUNS} rounds loads them one after the other while the rest sit idle; the median \
        of the rounds. The HTML page \
        is served with each tool's client injected, where it injects one (trunk injects its client into the page it \
        builds, `index.html`; the HTML page here is a file it copies).\n\
        - Memory is resident memory of the server and its child processes. The 25k-file tree has 22,500 files in \
        `node_modules`; memory is read 2 s after the first 200 (asked for every 0.25 ms); medians of {TREE_STARTS} starts, \
        taken in rounds that start every server once in turn, each on its own copy of the tree.\n\
        - Fan-out speaks each tool's own reload protocol (browser-sync's is socket.io: not measured); the time runs from \
        the write until the last of the 1,000 sockets has the message. Median of {FANOUT_ROUNDS} saves. The sockets are \
        opened with tokio-tungstenite; then one thread waits on all of them with epoll and reads the frames as they \
        come, so the client costs one `read` per message and the time is the server's. Memory is read with the 1,000 \
        sockets open, before the first save.");
    md
}

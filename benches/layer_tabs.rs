//! The layer against tower-livereload: memory per open tab, with 100 tabs open on an axum app.
//!
//!     cargo bench --bench layer_tabs
//!
//! Each app runs in a process of its own (this binary, started again with `--serve`); a tab is
//! what a browser holds open: devserve's reload WebSocket, or tower-livereload's event stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TABS: usize = 100;
const PAGE: &str = "<!doctype html><html><head><title>app</title></head><body>app</body></html>";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    println!("| layer | at rest | with {TABS} tabs | per tab |\n|---|---|---|---|");
    for which in ["devserve", "tower-livereload"] {
        let mut samples = Vec::new();
        for _ in 0..3 {
            samples.push(measure(which));
        }
        samples.sort_by(|a, b| a.2.total_cmp(&b.2));
        let (rest, open, per_tab) = samples[1];
        println!(
            "| {which} | {:.1} MiB | {:.1} MiB | {per_tab:.1} KiB |",
            rest / 1024.0,
            open / 1024.0
        );
    }
}

/// (KiB at rest, KiB with the tabs open, KiB per tab) for one start of `which`.
fn measure(which: &str) -> (f64, f64, f64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", which, &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let page = wait_for_page(port);
    std::thread::sleep(Duration::from_millis(500));
    let rest = common::rss_kib(child.id()) as f64;
    let mut tabs = Vec::new();
    for _ in 0..TABS {
        tabs.push(open_tab(which, port, &page));
    }
    std::thread::sleep(Duration::from_millis(500));
    let open = common::rss_kib(child.id()) as f64;
    drop(tabs);
    let _ = child.kill();
    let _ = child.wait();
    (rest, open, (open - rest) / TABS as f64)
}

fn get(port: u16, path: &str, extra: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nSec-Fetch-Dest: document\r\n{extra}\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    (tcp, String::from_utf8_lossy(&got).into_owned())
}

fn wait_for_page(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let (mut tcp, mut text) = get(port, "/", "Connection: close\r\n");
            let mut rest = String::new();
            let _ = tcp.read_to_string(&mut rest);
            text.push_str(&rest);
            return text;
        }
        assert!(Instant::now() < deadline, "the app answers");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One tab's connection, held open.
fn open_tab(which: &str, port: u16, page: &str) -> TcpStream {
    if which == "devserve" {
        let token = page
            .split("data-token=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let (tcp, head) = get(
            port,
            &format!("/__devserve/ws?token={token}"),
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        );
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        tcp
    } else {
        let (tcp, head) = get(port, "/_tower-livereload/event-stream", "");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        tcp
    }
}

fn serve(which: &str, port: u16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { axum::response::Html(PAGE) }));
        let app = if which == "devserve" {
            app.layer(devserve::layer::LiveReloadLayer::new())
        } else {
            app.layer(tower_livereload::LiveReloadLayer::new())
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

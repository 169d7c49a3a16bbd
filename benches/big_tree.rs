//! devserve on a real-sized project tree: ~25,000 files in ~1,700 folders, most of them in a
//! `node_modules`, as a front-end project has.
//!
//! Runs the release binary as its own process and reports: time from start to the first `200`,
//! time to the watcher being ready (the reload socket's `connected` is sent only then), resident
//! memory, the number of inotify watches it holds (from /proc/PID/fdinfo), and save → `updated`
//! latency for a file seven folders deep.
//!
//!     cargo bench --bench big_tree

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

mod common;
use common::{generate_tree as generate, inotify_watches, rss_kib, DEPS};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    std::fs::create_dir(&root).unwrap();
    let (files, folders) = generate(&root);
    println!(
        "tree: {files} files in {folders} folders ({} in node_modules)",
        DEPS.0 * DEPS.1
    );

    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_devserve"))
        .arg(&root)
        .args(["--port", "0"])
        .env("RUST_LOG", "devserve=info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "devserve exited");
    }
    std::thread::spawn(move || for _ in stderr.lines() {});
    let port: u16 = line
        .split("http://localhost:")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/");
    let page = loop {
        // Bounded: the server printed its URL, so it answers within a few tries.
        if let Ok(r) = http.get(&url).send().await {
            if r.status().is_success() {
                break r.text().await.unwrap();
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no 200 within 30 s");
    };
    let first_200 = t0.elapsed();
    let start = page.find("data-token=\"").unwrap() + 12;
    let token = &page[start..start + 32];
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/__devserve/ws?token={token}"))
            .await
            .unwrap();
    ws.next().await.unwrap().unwrap();
    let ready = t0.elapsed();
    let rss = rss_kib(pid);
    let watches = inotify_watches(pid);

    let deep = root.join("src/a/b/c/d/e/f/deep.html");
    let mut times = Vec::new();
    for i in 0..30 {
        // Saves a person's pace apart: back-to-back rewrites of one file look like a build loop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = Instant::now();
        std::fs::write(&deep, format!("<p>{i}</p>")).unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if matches!(&frame, Message::Text(t) if t.contains("\"updated\"")) {
                break;
            }
        }
        times.push(t.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("start → first 200:        {:.1} ms", ms(first_200));
    println!("start → watcher ready:    {:.1} ms", ms(ready));
    println!("resident memory:          {:.1} MiB", rss as f64 / 1024.0);
    println!("inotify watches:          {watches} (of {folders} folders; node_modules is not watched)");
    println!(
        "deep save → updated:      median {:.2} ms, p90 {:.2} ms over {} saves",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        times.len()
    );
    let _ = child.kill();
    let _ = child.wait();
}

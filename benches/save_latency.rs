//! Save → `updated` latency: how long after a file write a connected tab hears about it.
//!
//! Starts devserve in-process with its default settings over a temp dir, connects one reload
//! socket, then saves a page and a stylesheet N times each (waiting for each `updated` before the
//! next save) and prints the median, p90 and worst latencies.
//!
//! Saves are 300 ms apart, as a person's are (rewriting one file the moment the last batch went
//! out, again and again, is what devserve's loop guard takes for a build writing in a loop).
//!
//!     cargo bench --bench save_latency            # N = 50
//!     cargo bench --bench save_latency -- 200     # N = 200

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let saves: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("site");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(root.join("index.html"), "<p>0</p>").expect("page");
    std::fs::write(root.join("site.css"), "p{}").expect("css");
    let config = devserve::Config::new(&root).expect("config");
    let debounce = config.debounce;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(devserve::run(config, listener, shutdown.clone()));

    let page = reqwest::get(format!("http://{addr}/"))
        .await
        .expect("GET /")
        .text()
        .await
        .expect("body");
    let start = page.find("data-token=\"").expect("tag") + 12;
    let token = &page[start..start + 32];
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/__devserve/ws?token={token}"))
        .await
        .expect("reload socket");
    ws.next().await.expect("connected").expect("frame");

    for (file, label) in [("index.html", "page (reload)"), ("site.css", "stylesheet (swap)")] {
        let mut times = Vec::with_capacity(saves);
        for i in 0..saves {
            let body = if file.ends_with(".css") {
                format!("p{{z-index:{i}}}")
            } else {
                format!("<p>{i}</p>")
            };
            // Saves a person's pace apart: back-to-back rewrites of one file look like a build loop.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let t0 = Instant::now();
            std::fs::write(root.join(file), body).expect("write");
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
                    .await
                    .expect("updated within 5 s")
                    .expect("socket open")
                    .expect("frame");
                if let Message::Text(text) = frame {
                    if text.contains("\"updated\"") {
                        break;
                    }
                }
            }
            times.push(t0.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{label:<18} {saves} saves: median {:.2} ms, p90 {:.2} ms, max {:.2} ms (debounce {} ms)",
            ms(times[saves / 2]),
            ms(times[saves * 9 / 10]),
            ms(times[saves - 1]),
            debounce.as_millis()
        );
    }
    shutdown.cancel();
}

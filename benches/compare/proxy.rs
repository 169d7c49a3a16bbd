//! The proxy (#20): what a request or a chat message pays for passing through devserve, Vite's
//! `server.proxy` (http-proxy-3 on Node) or an nginx reverse proxy with upstream keep-alive, to
//! a fast backend written for the benchmark, against the backend asked directly.
//!
//! 1. HTTP requests per second (`wrk -t2 -c32 -d3s`, keep-alive): a small JSON answer and 1 MiB.
//! 2. Latency added per request, p50 and p99, at a fixed moderate rate, one keep-alive connection.
//! 3. WebSocket: round trip of a small message, p50 and p99; messages per second through one tunnel.
//! 4. Resident memory with 1,000 idle proxied WebSockets open.
//!
//! Every figure is the median of [`ROUNDS`] rounds that take the targets in turn, with the
//! spread (min–max) beside it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::{common, free_port, in_turn, median, plain_tempdir, wrk_with, Running};

/// As browsers send it (Vite's proxy closes a connection whose request does not say so).
const KEEP_ALIVE: &[&str] = &["-H", "Connection: keep-alive"];

const ROUNDS: usize = 5;
/// Requests per latency sample set, sent one after the other at [`RATE`] a second.
const LATENCY_REQUESTS: usize = 600;
const RATE: f64 = 300.0;
/// WebSocket round trips per sample set, and messages through one tunnel.
const ROUND_TRIPS: usize = 1000;
/// About 60 ms of streaming. 300,000 (a second) was tried: every tool's rate rose to ~780k/s,
/// but the rounds' other rows swung several times wider (direct p99 0.2 → 2–4 ms) afterwards.
const STREAMED: usize = 20_000;
const IDLE_SOCKETS: usize = 1000;
/// Requests, and WebSocket round trips, counted instruction by instruction (see [`instructions`]).
const COUNTED_REQUESTS: usize = 2000;
const COUNTED_ROUND_TRIPS: usize = 4000;

/// What a request goes through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Direct,
    Devserve,
    /// An earlier devserve binary (`DEVSERVE_BENCH_BASELINE`), for before/after in one run.
    Baseline,
    Vite,
    Nginx,
}

/// `DEVSERVE_BENCH_BASELINE=/path/to/devserve`: an earlier build measured beside this one,
/// named by `DEVSERVE_BENCH_BASELINE_NAME` (default: its path).
pub(crate) fn baseline() -> Option<(String, String)> {
    let path = std::env::var("DEVSERVE_BENCH_BASELINE").ok()?;
    let name = std::env::var("DEVSERVE_BENCH_BASELINE_NAME").unwrap_or_else(|_| path.clone());
    Some((path, name))
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Direct => "backend, asked directly",
            Via::Devserve => "devserve --proxy",
            Via::Baseline => {
                static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                NAME.get_or_init(|| {
                    let name = baseline().map_or(String::new(), |(_, name)| name);
                    format!("devserve --proxy, {name}")
                })
            }
            Via::Vite => "Vite dev server (server.proxy)",
            Via::Nginx => "nginx (proxy_pass, upstream keep-alive)",
        }
    }
}

/// (median, min, max).
type Spread = (f64, f64, f64);

fn spread(v: &[f64]) -> Spread {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(v), min, max)
}

pub struct ProxyRow {
    name: &'static str,
    small_rps: Spread,
    big_rps: Spread,
    p50_ms: Spread,
    p99_ms: Spread,
    ws_p50_ms: Spread,
    ws_p99_ms: Spread,
    ws_msgs: Spread,
    /// Context switches of the proxy's threads per small request under `wrk`.
    switches: Spread,
    idle_mib: Option<f64>,
    /// Instructions per small request, counted by callgrind.
    instructions: Option<f64>,
    /// Instructions per WebSocket round trip, counted by callgrind.
    ws_instructions: Option<f64>,
}

/// What [`instructions`] counts.
#[derive(Clone, Copy)]
enum Counted {
    /// Small requests on one keep-alive connection.
    Requests,
    /// Round trips of a small message through one WebSocket.
    RoundTrips,
}

/// The backend: a small JSON answer, 1 MiB, and a WebSocket that echoes; on a runtime of its own
/// (two worker threads, as many as the machine's cores), so that it is not the bottleneck.
fn backend() -> SocketAddr {
    use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
    use axum::routing::get;
    let big = bytes::Bytes::from(vec![b'x'; 1024 * 1024]);
    let app = axum::Router::new()
        .route(
            "/api/small",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"ok":true,"n":42,"msg":"hello"}"#,
                )
            }),
        )
        .route("/api/big", get(move || std::future::ready(big.clone())))
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket| async move {
                    while let Some(Ok(msg)) = socket.recv().await {
                        if matches!(msg, WsMessage::Text(_) | WsMessage::Binary(_))
                            && socket.send(msg).await.is_err()
                        {
                            return;
                        }
                    }
                })
            }),
        );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

async fn start(via: Via, backend: SocketAddr, dir: &Path) -> Option<Running> {
    let port = free_port();
    let (cmd, conf) = command(via, backend, dir, port)?;
    Some(super::start_command(cmd, port, conf, via.name()).await)
}

/// How `via` is started on `port`, as its docs say to set it up; `None` for the backend itself.
fn command(
    via: Via,
    backend: SocketAddr,
    dir: &Path,
    port: u16,
) -> Option<(Command, Option<tempfile::TempDir>)> {
    let b = backend.port();
    let mut conf = None;
    let cmd = match via {
        Via::Direct => return None,
        Via::Devserve | Via::Baseline => {
            let mut c = match (via, baseline()) {
                (Via::Baseline, Some((path, _))) => Command::new(path),
                _ => Command::new(env!("CARGO_BIN_EXE_devserve")),
            };
            c.arg(dir.join("site")).args(["--port", &port.to_string(), "-q"]);
            c.args(["--proxy", &format!("/api=http://127.0.0.1:{b}")]);
            c.args(["--proxy", &format!("/ws=http://127.0.0.1:{b}")]);
            c
        }
        Via::Vite => {
            let config = dir.join("vite.config.mjs");
            std::fs::write(
                &config,
                format!(
                    "export default {{ server: {{ proxy: {{ '/api': 'http://127.0.0.1:{b}', \
                     '/ws': {{ target: 'ws://127.0.0.1:{b}', ws: true }} }} }} }};\n"
                ),
            )
            .unwrap();
            super::vite(&dir.join("site"), &config, port)
        }
        Via::Nginx => {
            let (c, d) = super::nginx(&format!(
                "upstream backend {{ server 127.0.0.1:{b}; keepalive 64; }}\n\
                 server {{ listen 127.0.0.1:{port};\n\
                   location /api/ {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n\
                   location /ws {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n\
                     proxy_set_header Connection \"upgrade\"; proxy_read_timeout 3600s; }} }}"
            ));
            conf = Some(d);
            c
        }
    };
    Some((cmd, conf))
}

/// Milliseconds for each of [`LATENCY_REQUESTS`] requests for `/api/small`, sent one after the
/// other at [`RATE`] a second on a keep-alive connection — a new one, as a browser would open it,
/// when the server closed the last (Vite's proxy does, when the backend answers Node's
/// `Connection: close` with its own). Blocking: the time is the servers'.
fn latencies(addr: SocketAddr) -> Vec<f64> {
    requests(addr, LATENCY_REQUESTS, Some(RATE))
}

/// `n` requests for `/api/small` one after the other on a keep-alive connection, at `rate` a
/// second or as fast as they are answered; the milliseconds each took.
fn requests(addr: SocketAddr, n: usize, rate: Option<f64>) -> Vec<f64> {
    let request = format!("GET /api/small HTTP/1.1\r\nHost: {addr}\r\nConnection: keep-alive\r\n\r\n");
    let gap = rate.map_or(Duration::ZERO, |rate| Duration::from_secs_f64(1.0 / rate));
    let mut times = Vec::with_capacity(n);
    let mut buf = vec![0u8; 64 * 1024];
    let mut conn: Option<TcpStream> = None;
    let start = Instant::now();
    for i in 0..n {
        let due = start + gap * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = Instant::now();
        let tcp = conn.get_or_insert_with(|| {
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_nodelay(true).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tcp
        });
        tcp.write_all(request.as_bytes()).unwrap();
        // The head, then as much body as Content-Length says.
        let mut got = Vec::new();
        let (head_end, length, close) = loop {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "{addr}: closed in the middle of answer {i}");
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("a Content-Length");
                break (end + 4, length, head.contains("connection: close"));
            }
        };
        while got.len() < head_end + length {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "the whole body");
            got.extend_from_slice(&buf[..n]);
        }
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
        if close {
            conn = None;
        }
    }
    times
}

/// Instructions the proxy runs per small request, counted by callgrind (`valgrind`): the proxy is
/// started under it twice, asked for `/api/small` [`COUNTED_REQUESTS`] times on one keep-alive
/// connection in the second run and not at all in the first, and the difference is divided by
/// the requests. A count, not a time: it does not move with the machine's load. nginx runs as one
/// process for it (`master_process off`); Vite is not counted (Node's JIT compiles as it goes,
/// and under valgrind runs too slowly to be representative).
async fn instructions(via: Via, backend: SocketAddr, dir: &Path, counted: Counted) -> Option<f64> {
    if !matches!(via, Via::Devserve | Via::Baseline | Via::Nginx) {
        return None;
    }
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|out| out.status.success()) {
        eprintln!("   valgrind is not installed: no instruction counts (apt-get install valgrind)");
        return None;
    }
    let units = match counted {
        Counted::Requests => COUNTED_REQUESTS,
        Counted::RoundTrips => COUNTED_ROUND_TRIPS,
    };
    let mut totals = Vec::new();
    for n in [0, units] {
        let port = free_port();
        let (cmd, conf) = command(via, backend, dir, port)?;
        if let Some(conf) = &conf {
            let file = conf.path().join("nginx.conf");
            let text = std::fs::read_to_string(&file).unwrap();
            std::fs::write(
                &file,
                text.replace(
                    "worker_processes auto;",
                    "worker_processes 1; master_process off;",
                ),
            )
            .unwrap();
        }
        let out = dir.join(format!("callgrind.{}.{n}.out", units));
        // A run that writes no profile must not be read as one left by an earlier run.
        let _ = std::fs::remove_file(&out);
        let mut under = Command::new("valgrind");
        under.args([
            "--tool=callgrind",
            &format!("--callgrind-out-file={}", out.display()),
        ]);
        under.arg(cmd.get_program()).args(cmd.get_args());
        let mut run = super::start_command(under, port, conf, via.name()).await;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        match counted {
            Counted::Requests => {
                tokio::task::spawn_blocking(move || requests(addr, n, None))
                    .await
                    .unwrap();
            }
            // One round trip in both runs, so that the difference holds no handshake.
            Counted::RoundTrips => {
                round_trips(addr, n + 1).await;
            }
        }
        unsafe { libc::kill(run.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while run.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(run);
        let text = std::fs::read_to_string(&out).ok()?;
        let total: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))?
            .trim()
            .parse()
            .ok()?;
        totals.push(total);
    }
    Some((totals[1] - totals[0]) / units as f64)
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A WebSocket through `addr` to the backend's echo.
async fn ws_connect(
    addr: SocketAddr,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
    )
    .await
    .expect("connect in time")
    .expect("upgraded");
    ws
}

const CHAT_MESSAGE: &str = "a chat message: {\"room\":\"lobby\"}";

/// Sends a message and waits for its echo, `n` times, timing each (ms).
async fn timed_round_trips<S, R>(tx: &mut S, rx: &mut R, n: usize) -> Vec<f64>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Debug,
    R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut rtts = Vec::with_capacity(n);
    for _ in 0..n {
        let sent = Instant::now();
        tx.send(Message::Text(CHAT_MESSAGE.into())).await.unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), rx.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => break,
                Ok(Some(Ok(_))) => continue,
                other => panic!("no echo: {other:?}"),
            }
        }
        rtts.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    rtts
}

/// `n` round trips through one WebSocket through `addr`.
async fn round_trips(addr: SocketAddr, n: usize) {
    let (mut tx, mut rx) = ws_connect(addr).await.split();
    timed_round_trips(&mut tx, &mut rx, n).await;
}

/// WebSocket round trips (ms each), then messages a second streamed through one connection.
async fn websocket(addr: SocketAddr) -> (Vec<f64>, f64) {
    let (mut tx, mut rx) = ws_connect(addr).await.split();
    let message = CHAT_MESSAGE;
    let rtts = timed_round_trips(&mut tx, &mut rx, ROUND_TRIPS).await;
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..STREAMED {
            if tx.feed(Message::Text(message.into())).await.is_err() {
                return;
            }
        }
        let _ = tx.flush().await;
    });
    let mut echoed = 0;
    while echoed < STREAMED {
        match tokio::time::timeout(Duration::from_secs(20), rx.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => echoed += 1,
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    let rate = echoed as f64 / started.elapsed().as_secs_f64();
    writer.abort();
    (rtts, rate)
}

/// Resident memory (MiB) of `run` and its children with [`IDLE_SOCKETS`] WebSockets open through it.
async fn idle_sockets(run: &Running) -> f64 {
    let addr: SocketAddr = format!("127.0.0.1:{}", run.port).parse().unwrap();
    let mut open = Vec::with_capacity(IDLE_SOCKETS);
    for _ in 0..IDLE_SOCKETS {
        let connected = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
        )
        .await;
        match connected {
            Ok(Ok((ws, _))) => open.push(ws),
            _ => break,
        }
    }
    assert_eq!(open.len(), IDLE_SOCKETS, "every socket opened");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kib = common::rss_tree_kib(run.child.id());
    drop(open);
    kib as f64 / 1024.0
}

pub async fn measure(with_vite: bool) -> Vec<ProxyRow> {
    let backend = backend();
    let dir = plain_tempdir();
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    let mut vias = vec![Via::Direct, Via::Devserve];
    if baseline().is_some() {
        vias.push(Via::Baseline);
    }
    vias.push(Via::Nginx);
    if with_vite {
        vias.push(Via::Vite);
    }
    let mut running: Vec<Option<Running>> = Vec::new();
    for &via in &vias {
        running.push(start(via, backend, dir.path()).await);
    }
    let addr = |i: usize| -> SocketAddr {
        match &running[i] {
            Some(run) => format!("127.0.0.1:{}", run.port).parse().unwrap(),
            None => backend,
        }
    };
    let n = vias.len();
    let (mut small, mut big) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let (mut p50, mut p99) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let (mut ws50, mut ws99, mut msgs) = (vec![Vec::new(); n], vec![Vec::new(); n], vec![Vec::new(); n]);
    let mut switches = vec![Vec::new(); n];
    for round in 0..ROUNDS {
        for i in in_turn(n, round) {
            let a = addr(i);
            let pid = running[i].as_ref().map(|run| run.child.id());
            let before = pid.map(common::context_switches_tree);
            let rps = wrk_with(&format!("http://{a}/api/small"), KEEP_ALIVE);
            if let (Some(pid), Some(before)) = (pid, before) {
                // wrk runs for 3 s.
                switches[i].push((common::context_switches_tree(pid) - before) as f64 / (rps * 3.0));
            }
            small[i].push(rps);
            big[i].push(wrk_with(&format!("http://{a}/api/big"), KEEP_ALIVE));
            let times = tokio::task::spawn_blocking(move || latencies(a)).await.unwrap();
            p50[i].push(percentile(&times, 0.5));
            p99[i].push(percentile(&times, 0.99));
            let (rtts, rate) = websocket(a).await;
            ws50[i].push(percentile(&rtts, 0.5));
            ws99[i].push(percentile(&rtts, 0.99));
            msgs[i].push(rate);
        }
        eprintln!("   proxy round {} of {ROUNDS} done", round + 1);
    }
    let mut rows = Vec::new();
    for (i, &via) in vias.iter().enumerate() {
        let idle_mib = match &running[i] {
            Some(run) => Some(idle_sockets(run).await),
            None => None,
        };
        let ws_instructions = instructions(via, backend, dir.path(), Counted::RoundTrips).await;
        let instructions = instructions(via, backend, dir.path(), Counted::Requests).await;
        let row = ProxyRow {
            name: via.name(),
            small_rps: spread(&small[i]),
            big_rps: spread(&big[i]),
            p50_ms: spread(&p50[i]),
            p99_ms: spread(&p99[i]),
            ws_p50_ms: spread(&ws50[i]),
            ws_p99_ms: spread(&ws99[i]),
            ws_msgs: spread(&msgs[i]),
            switches: spread(&switches[i]),
            idle_mib,
            instructions,
            ws_instructions,
        };
        eprintln!(
            "   {}: {:.0} / {:.0} req/s, p50 {:.3} ms p99 {:.3} ms, ws p50 {:.3} ms p99 {:.3} ms, {:.0} msg/s, idle {:?} MiB",
            row.name, row.small_rps.0, row.big_rps.0, row.p50_ms.0, row.p99_ms.0, row.ws_p50_ms.0, row.ws_p99_ms.0,
            row.ws_msgs.0, row.idle_mib
        );
        rows.push(row);
    }
    drop(running);
    rows
}

pub fn render(rows: &[ProxyRow]) -> String {
    let Some(direct) = rows.first() else {
        return String::new();
    };
    let ratio = |x: Spread, base: Spread| x.0 / base.0;
    let fmt_rps = |x: Spread| format!("{:.0} ({:.0}–{:.0})", x.0, x.1, x.2);
    let fmt_ms = |x: Spread| format!("{:.3} ({:.3}–{:.3})", x.0, x.1, x.2);
    let mut md = String::from(
        "\n## The proxy: what a request and a message pay for passing through\n\n\
         | through | small JSON req/s | ÷ direct | 1 MiB req/s | ÷ direct | added latency p50 / p99 (ms) | \
         WebSocket round trip p50 / p99 (ms) | ÷ direct (p50) | messages/s through one tunnel | ÷ direct | \
         memory with 1,000 idle WebSockets | context switches per small request | instructions per small request | \
         instructions per WebSocket round trip |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let added = if r.idle_mib.is_none() {
            format!("({} / {} ms as is)", fmt_ms(r.p50_ms), fmt_ms(r.p99_ms))
        } else {
            format!(
                "+{:.3} / +{:.3}",
                r.p50_ms.0 - direct.p50_ms.0,
                r.p99_ms.0 - direct.p99_ms.0
            )
        };
        md.push_str(&format!(
            "| {} | {} | {:.2}× | {} | {:.2}× | {} | {} / {} | {:.2}× | {} | {:.2}× | {} | {} | {} | {} |\n",
            r.name,
            fmt_rps(r.small_rps),
            ratio(r.small_rps, direct.small_rps),
            fmt_rps(r.big_rps),
            ratio(r.big_rps, direct.big_rps),
            added,
            fmt_ms(r.ws_p50_ms),
            fmt_ms(r.ws_p99_ms),
            ratio(r.ws_p50_ms, direct.ws_p50_ms),
            fmt_rps(r.ws_msgs),
            ratio(r.ws_msgs, direct.ws_msgs),
            r.idle_mib.map_or("—".to_string(), |m| format!("{m:.1} MiB")),
            if r.switches.0.is_finite() {
                format!("{:.2} ({:.2}–{:.2})", r.switches.0, r.switches.1, r.switches.2)
            } else {
                "—".to_string()
            },
            r.instructions
                .map_or("—".to_string(), |n| format!("{:.0}k", n / 1000.0)),
            r.ws_instructions
                .map_or("—".to_string(), |n| format!("{:.1}k", n / 1000.0)),
        ));
    }
    md.push_str(&format!(
        "\nA backend written for the benchmark (axum on two threads, in the benchmark's process): \
         `/api/small` answers 33 bytes of JSON, `/api/big` 1 MiB, `/ws` echoes. Throughput: \
         `wrk -t2 -c32 -d3s -H 'Connection: keep-alive'` (as browsers send it: Vite's proxy closes \
         a connection whose request does not ask to keep it). Latency: {LATENCY_REQUESTS} requests for `/api/small` \
         one after the other on one keep-alive connection, {RATE:.0} a second; \"added\" is the \
         percentile through the proxy minus the backend's own. WebSocket: {ROUND_TRIPS} round trips \
         of a 33-byte text message, then {STREAMED} messages streamed through the same tunnel and \
         echoed back. Each figure is the median of {ROUNDS} rounds that take the targets in turn \
         (min–max beside it); everything shares the machine's two cores. Memory: resident memory \
         of the proxy and its child processes with {IDLE_SOCKETS} WebSockets open through it. Context \
         switches: those of the proxy's threads (and child processes) during the small-request \
         `wrk` run, over the requests it made: a count that does not move with the machine's \
         speed, where the timings here swing between runs. Instructions: counted by callgrind over \
         {COUNTED_REQUESTS} small requests on one keep-alive connection, less a run without them, and over \
         {COUNTED_ROUND_TRIPS} round trips through one WebSocket, less a run with one; \
         nginx as one process (`master_process off`), Vite not counted (a JIT under valgrind). \
         Settings as each tool's docs give them: devserve `--proxy /api=… --proxy /ws=…`, Vite's \
         `server.proxy` with `ws: true` for `/ws`, nginx `proxy_pass` to an `upstream` with \
         `keepalive 64`, `proxy_http_version 1.1` and the Upgrade headers for `/ws`.\n"
    ));
    md
}

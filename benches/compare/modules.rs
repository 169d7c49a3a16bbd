//! A page of 500 small ES modules (an unbundled app in development), loaded cold in Chromium:
//! devserve over HTTP/1.1 (six connections), devserve over HTTPS with HTTP/2 (one connection),
//! and Vite's dev server over HTTPS, all three with the same certificate.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{first_answer, free_port, median, plain_tempdir, Running};

/// Modules the page imports.
const MODULES: usize = 500;
/// Rounds, each loading the page this many times from every server in turn.
const ROUNDS: usize = 3;
const LOADS: usize = 5;

pub struct ModulesRow {
    pub name: &'static str,
    /// What the browser said it spoke (`http/1.1`, `h2`).
    pub protocol: String,
    /// Milliseconds from navigation start to `load`: median, min, max.
    pub ms: (f64, f64, f64),
}

/// The project: `index.html` → `main.js` → `m/0.js` … `m/499.js`.
fn project(dir: &Path) {
    std::fs::create_dir_all(dir.join("m")).unwrap();
    let mut main = String::new();
    for i in 0..MODULES {
        main.push_str(&format!("import {{ v as v{i} }} from './m/{i}.js';\n"));
        std::fs::write(
            dir.join(format!("m/{i}.js")),
            format!("// module {i}\nexport const v = {i};\nexport function f{i}(x) {{ return x + v; }}\n"),
        )
        .unwrap();
    }
    let sum: Vec<String> = (0..MODULES).map(|i| format!("v{i}")).collect();
    main.push_str(&format!("window.__sum = {};\n", sum.join(" + ")));
    std::fs::write(dir.join("main.js"), main).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>loading</title>\
         <script type=\"module\" src=\"/main.js\"></script>\
         <script>addEventListener('load', () => { const n = performance.getEntriesByType('navigation')[0]; \
         document.title = 't=' + n.loadEventStart + ' ' + n.nextHopProtocol + ' ' + window.__sum; });</script>\
         </head><body>modules</body></html>",
    )
    .unwrap();
}

/// A certificate for localhost and 127.0.0.1, as PEM files in `dir`.
fn certificate(dir: &Path) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c.display().to_string(), k.display().to_string())
}

async fn start(which: usize, root: &Path, cert: &str, key: &str, conf: &Path) -> (Running, String) {
    let port = free_port();
    let root_s = root.display().to_string();
    let mut cmd = match which {
        0 | 1 => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_devserve"));
            c.args([&root_s, "--port", &port.to_string(), "-q"]);
            if which == 1 {
                c.args(["--cert", cert, "--key", key]);
            }
            c
        }
        _ => {
            let config = conf.join("vite.config.mjs");
            std::fs::write(
                &config,
                format!(
                    "import fs from 'node:fs';\nexport default {{ server: {{ https: {{ cert: fs.readFileSync({cert:?}), key: fs.readFileSync({key:?}) }} }} }};\n"
                ),
            )
            .unwrap();
            super::vite(root, &config, port)
        }
    };
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    if which == 2 {
        // Node's HTTPS server does not answer plain HTTP: ask over TLS.
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let mut ready = false;
        for _ in 0..300 {
            if client
                .get(format!("https://127.0.0.1:{port}/"))
                .send()
                .await
                .is_ok()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "Vite starts over HTTPS");
    } else {
        assert!(first_answer(port, Duration::from_secs(30)), "devserve starts");
    }
    let scheme = if which == 0 { "http" } else { "https" };
    let url = format!("{scheme}://localhost:{port}/");
    (
        Running {
            child,
            port,
            _conf: None,
        },
        url,
    )
}

/// Loads `url` once in a Chromium of its own (a new profile: nothing cached, no connection
/// open, and no DevTools session reporting every request), which prints the page when it has
/// loaded; the page's `load` handler put the time and protocol in its title.
fn load_once(url: &str) -> Option<(f64, String)> {
    let profile = tempfile::tempdir().ok()?;
    let out = Command::new(super::chrome())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--ignore-certificate-errors",
        ])
        .args([
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let title = dom.split("<title>").nth(1)?.split("</title>").next()?;
    let mut parts = title.strip_prefix("t=")?.split(' ');
    let ms: f64 = parts.next()?.parse().ok()?;
    let protocol = parts.next()?.to_string();
    let sum: usize = parts.next()?.parse().ok()?;
    (sum == MODULES * (MODULES - 1) / 2).then_some((ms, protocol))
}

pub async fn measure(with_vite: bool) -> Vec<ModulesRow> {
    let dir = plain_tempdir();
    let root = dir.path().join("app");
    project(&root);
    let (cert, key) = certificate(dir.path());
    let names = [
        "devserve (HTTP/1.1)",
        "devserve --https (HTTP/2)",
        "Vite dev server --https",
    ];
    let count = if with_vite { 3 } else { 2 };
    let mut servers: Vec<(Running, String)> = Vec::new();
    for which in 0..count {
        servers.push(start(which, &root, &cert, &key, dir.path()).await);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); count];
    let mut protocols = vec![String::new(); count];
    // One load each first: Vite transforms every module on its first request.
    for (_, url) in &servers {
        let _ = load_once(url);
    }
    for round in 0..ROUNDS {
        for i in 0..count {
            let i = (i + round) % count;
            for _ in 0..LOADS {
                if let Some((ms, protocol)) = load_once(&servers[i].1) {
                    times[i].push(ms);
                    protocols[i] = protocol;
                }
            }
        }
    }
    drop(servers);
    (0..count)
        .map(|i| {
            let t = &times[i];
            let min = t.iter().copied().fold(f64::INFINITY, f64::min);
            let max = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            eprintln!(
                "   {}: {:.0} ms ({}), {} loads",
                names[i],
                median(t.clone()),
                protocols[i],
                t.len()
            );
            ModulesRow {
                name: names[i],
                protocol: protocols[i].clone(),
                ms: (median(t.clone()), min, max),
            }
        })
        .collect()
}

pub fn render(rows: &[ModulesRow]) -> String {
    let mut md = String::from(
        "\n## HTTPS and HTTP/2: a page of 500 ES modules\n\n\
         | server | protocol | navigation → `load` (median, min–max) | ÷ devserve over HTTP/1.1 |\n|---|---|---|---|\n",
    );
    let base = rows.first().map_or(f64::NAN, |r| r.ms.0);
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {:.0} ms ({:.0}–{:.0}) | {:.2}× |\n",
            r.name,
            r.protocol,
            r.ms.0,
            r.ms.1,
            r.ms.2,
            r.ms.0 / base
        ));
    }
    md.push_str(&format!(
        "\nAn unbundled app in development: `index.html` loads `main.js`, which imports 500 small \
         modules. Each load is a headless Chromium of its own with a new profile (nothing cached, no \
         connection open, no DevTools session: `chromium --headless --dump-dom URL`), timed by the \
         page from navigation start to `load`; {ROUNDS} rounds of {LOADS} loads, the servers in turn, \
         after one warm-up load each (Vite transforms a module on its first request). The three \
         serve the same files with the same certificate (devserve's `--cert`/`--key`, Vite's \
         `server.https`).\n"
    ));
    md
}

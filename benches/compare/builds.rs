//! Build tools and new pages: from a save to the tab showing the result, for devserve, Vite's
//! dev server and live-server on the same project, and how many bad loads (a 404, an empty
//! folder, the previous build) the tab went through on the way.
//!
//! - new page: the tab is on `/new-N.html` before the file exists; the file is written.
//! - `vite build --watch`: devserve and live-server serve its `dist/`; Vite's own dev server
//!   serves the project itself (what a Vite user runs instead).
//! - `esbuild --watch`: a root `index.html` loads `dist/bundle.js`, which `.gitignore` lists;
//!   every server serves the project root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chromiumoxide::Browser;

use super::{free_port, median, peers_dir, plain_tempdir, start_with, write_time_in_page, Tab, Tool};

/// Saves per scenario and server.
pub const BUILD_SAVES: usize = 8;
/// A save whose result is not shown within this is counted as never shown.
const SHOWN_WITHIN: Duration = Duration::from_secs(6);

/// One server's figures: median ms from the save to the result shown (NaN: never), and the bad
/// loads on the way, all saves together.
#[derive(Clone, Copy)]
pub struct Shown {
    pub ms: f64,
    pub bad_loads: usize,
    pub never: usize,
}

pub struct BuildRow {
    pub tool: Tool,
    /// Ten tabs on ten pages: tabs reloaded when one page is saved, and when a file no page uses
    /// (NOTES.md) is.
    pub tabs: (usize, usize),
    pub new_page: Shown,
    pub vite: Shown,
    pub esbuild: Shown,
    /// devserve `--run`, or live-server with nodemon beside it; none for Vite.
    pub backend: Option<Shown>,
}

/// A build tool's watch process, killed with its children when dropped.
struct Watcher(Child);

impl Watcher {
    fn start(program: &Path, args: &[&str], cwd: &Path) -> Watcher {
        use std::os::unix::process::CommandExt;
        let child = Command::new(program)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped()) // esbuild's --watch ends when its stdin closes
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        Watcher(child)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn node_bin(name: &str) -> PathBuf {
    peers_dir().join("node_modules/.bin").join(name)
}

fn wait_for_file(path: &Path) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} never appeared", path.display());
}

/// A script that shows `text` in `#app`.
fn app_js(text: &str) -> String {
    format!("document.getElementById('app').textContent = {text:?};\n")
}

const APP_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>b</title></head>\
    <body><div id=\"app\"></div>SCRIPT</body></html>";

/// Writes with `write`, then waits for a document load that shows `want`; every load that shows
/// something else is a bad load. The time runs to that load's `load` event.
async fn shown_after(tab: &mut Tab, want: &str, write: impl FnOnce(), totals: &mut (Vec<f64>, usize, usize)) {
    let t0 = write_time_in_page(tab).await;
    write();
    loop {
        if !tab.next_load(SHOWN_WITHIN).await {
            totals.2 += 1;
            return;
        }
        let text: String = tab
            .eval("() => document.body ? document.body.innerText : ''")
            .await
            .unwrap_or_default();
        if text.contains(want) {
            if let Some(loaded) = tab.load_started().await {
                totals.0.push(loaded - t0);
            }
            // Let a second reload, if one comes, be counted as bad with the next save.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        totals.1 += 1;
    }
}

fn shown(totals: (Vec<f64>, usize, usize)) -> Shown {
    Shown {
        ms: median(totals.0),
        bad_loads: totals.1,
        never: totals.2,
    }
}

async fn new_page(browser: &Browser, tool: Tool) -> Shown {
    let dir = plain_tempdir();
    std::fs::write(dir.path().join("index.html"), APP_PAGE.replace("SCRIPT", "")).unwrap();
    let run = start_with(tool, dir.path(), false).await;
    let mut totals = (Vec::new(), 0, 0);
    for i in 0..BUILD_SAVES {
        let name = format!("new-{i}.html");
        let mut tab = Tab::open(browser, &run.url(&format!("/{name}"))).await;
        let text = format!("new page {i}");
        let path = dir.path().join(&name);
        shown_after(
            &mut tab,
            &text,
            || std::fs::write(path, format!("<p>{text}</p>")).unwrap(),
            &mut totals,
        )
        .await;
        let _ = tab.page.close().await;
    }
    shown(totals)
}

async fn vite_build(browser: &Browser, tool: Tool) -> Shown {
    let dir = plain_tempdir();
    let p = dir.path();
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::write(
        p.join("index.html"),
        APP_PAGE.replace("SCRIPT", "<script type=\"module\" src=\"/src/main.js\"></script>"),
    )
    .unwrap();
    std::fs::write(p.join("src/main.js"), app_js("build 0")).unwrap();
    // Vite's own dev server serves the project; the others serve what `vite build --watch` writes.
    let (_build, run) = if tool == Tool::Vite {
        (None, start_with(tool, p, false).await)
    } else {
        let build = Watcher::start(
            &node_bin("vite"),
            &["build", "--watch", "--logLevel", "silent"],
            p,
        );
        wait_for_file(&p.join("dist/index.html"));
        (Some(build), start_with(tool, &p.join("dist"), false).await)
    };
    let mut tab = Tab::open(browser, &run.url("/")).await;
    let mut totals = (Vec::new(), 0, 0);
    for i in 1..=BUILD_SAVES {
        let text = format!("build {i}");
        let main = p.join("src/main.js");
        shown_after(
            &mut tab,
            &text,
            || std::fs::write(main, app_js(&text)).unwrap(),
            &mut totals,
        )
        .await;
    }
    let _ = tab.page.close().await;
    shown(totals)
}

async fn esbuild(browser: &Browser, tool: Tool) -> Shown {
    let dir = plain_tempdir();
    let p = dir.path();
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::write(p.join(".gitignore"), "dist/\n").unwrap();
    std::fs::write(
        p.join("index.html"),
        APP_PAGE.replace("SCRIPT", "<script src=\"dist/bundle.js\"></script>"),
    )
    .unwrap();
    std::fs::write(p.join("src/app.js"), app_js("bundle 0")).unwrap();
    let _build = Watcher::start(
        &node_bin("esbuild"),
        &[
            "src/app.js",
            "--bundle",
            "--outfile=dist/bundle.js",
            "--watch",
            "--log-level=error",
        ],
        p,
    );
    wait_for_file(&p.join("dist/bundle.js"));
    let run = start_with(tool, p, false).await;
    let mut tab = Tab::open(browser, &run.url("/")).await;
    let mut totals = (Vec::new(), 0, 0);
    for i in 1..=BUILD_SAVES {
        let text = format!("bundle {i}");
        let app = p.join("src/app.js");
        shown_after(
            &mut tab,
            &text,
            || std::fs::write(app, app_js(&text)).unwrap(),
            &mut totals,
        )
        .await;
    }
    let _ = tab.page.close().await;
    shown(totals)
}

/// A Node backend answering `GET /api/answer` with `answer`.
fn backend_js(port: u16, answer: &str) -> String {
    format!(
        "require('http').createServer((req, res) => {{ res.end({answer:?}); }}).listen({port}, '127.0.0.1');\n"
    )
}

/// A page that asks the backend for its answer while it loads (a synchronous request, so the
/// `load` event comes after the answer is shown).
const ANSWER_PAGE: &str =
    "<!doctype html><html><head><title>a</title></head><body><div id=\"app\"></div><script>\
    var x = new XMLHttpRequest(); x.open('GET', '/api/answer', false); try { x.send(); } catch (e) {}\
    document.getElementById('app').textContent = x.status === 200 ? x.responseText : 'error ' + x.status;\
    </script></body></html>";

/// A backend file saved → the tab showing the restarted backend's answer: devserve `--run`
/// against nodemon restarting the backend beside live-server (which reloads on the same save).
async fn backend_restart(browser: &Browser, tool: Tool) -> Option<Shown> {
    let dir = plain_tempdir();
    let (site, backend) = (dir.path().join("site"), dir.path().join("backend"));
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(&backend).unwrap();
    std::fs::write(site.join("index.html"), ANSWER_PAGE).unwrap();
    let api = free_port();
    let server_js = backend.join("server.js");
    std::fs::write(&server_js, backend_js(api, "answer 0")).unwrap();
    let port = free_port();
    let (_nodemon, run) = match tool {
        Tool::Devserve => {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_devserve"));
            cmd.arg(&site).args(["--port", &port.to_string(), "-q"]);
            cmd.args(["--proxy", &format!("/api=http://127.0.0.1:{api}")]);
            cmd.args(["--run", &format!("exec node {}", server_js.display())]);
            cmd.args(["--run-watch", &backend.display().to_string()]);
            (None, super::start_command(cmd, port, None, "the server").await)
        }
        Tool::LiveServer => {
            let nodemon = Watcher::start(
                &node_bin("nodemon"),
                &[
                    "--quiet",
                    "--watch",
                    &backend.display().to_string(),
                    &server_js.display().to_string(),
                ],
                dir.path(),
            );
            let mut cmd = Command::new("node");
            cmd.arg(peers_dir().join("node_modules/live-server/live-server.js"));
            cmd.args([
                site.display().to_string(),
                format!("--port={port}"),
                "--host=127.0.0.1".to_string(),
                "--no-browser".to_string(),
                "--quiet".to_string(),
                format!("--proxy=/api:http://127.0.0.1:{api}/api"),
                // live-server joins each --watch path onto its root, absolute ones too.
                "--watch=.,../backend".to_string(),
            ]);
            (
                Some(nodemon),
                super::start_command(cmd, port, None, "the server").await,
            )
        }
        _ => return None,
    };
    let mut tab = Tab::open(browser, &run.url("/")).await;
    let mut totals = (Vec::new(), 0, 0);
    for i in 1..=BUILD_SAVES {
        let text = format!("answer {i}");
        let js = backend_js(api, &text);
        let path = server_js.clone();
        shown_after(&mut tab, &text, || std::fs::write(path, js).unwrap(), &mut totals).await;
    }
    let _ = tab.page.close().await;
    Some(shown(totals))
}

/// Ten tabs on ten pages: how many reload when page 3 is saved, and when NOTES.md is.
async fn tabs_per_save(browser: &Browser, tool: Tool) -> (usize, usize) {
    let dir = plain_tempdir();
    for i in 0..10 {
        let page = APP_PAGE.replace("SCRIPT", &format!("<script src=\"/p{i}.js\"></script>"));
        std::fs::write(dir.path().join(format!("p{i}.html")), page).unwrap();
        std::fs::write(dir.path().join(format!("p{i}.js")), app_js(&format!("page {i}"))).unwrap();
    }
    std::fs::write(dir.path().join("index.html"), APP_PAGE.replace("SCRIPT", "")).unwrap();
    std::fs::write(dir.path().join("NOTES.md"), "notes").unwrap();
    let run = start_with(tool, dir.path(), false).await;
    let mut tabs = Vec::new();
    for i in 0..10 {
        tabs.push(Tab::open(browser, &run.url(&format!("/p{i}.html"))).await);
    }
    std::fs::write(
        dir.path().join("p3.html"),
        APP_PAGE.replace("SCRIPT", "<script src=\"/p3.js\"></script><!-- saved -->"),
    )
    .unwrap();
    let page = loads_in(&mut tabs).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::write(dir.path().join("NOTES.md"), "more notes").unwrap();
    let notes = loads_in(&mut tabs).await;
    for tab in tabs {
        let _ = tab.page.close().await;
    }
    (page, notes)
}

/// How many of `tabs` load a document, counted until each has been quiet for a while.
async fn loads_in(tabs: &mut [Tab]) -> usize {
    let mut n = 0;
    for tab in tabs {
        n += tab
            .count_loads(Duration::from_millis(1500), Duration::from_millis(700))
            .await;
    }
    n
}

/// The scenarios for one server.
pub async fn measure(browser: &Browser, tool: Tool) -> BuildRow {
    let row = BuildRow {
        tool,
        tabs: tabs_per_save(browser, tool).await,
        new_page: new_page(browser, tool).await,
        vite: vite_build(browser, tool).await,
        esbuild: esbuild(browser, tool).await,
        backend: backend_restart(browser, tool).await,
    };
    let scenarios = [
        ("new page", Some(row.new_page)),
        ("vite build --watch", Some(row.vite)),
        ("esbuild --watch", Some(row.esbuild)),
        ("backend restart", row.backend),
    ];
    eprintln!(
        "   ten tabs: {} reloaded for one page saved, {} for NOTES.md",
        row.tabs.0, row.tabs.1
    );
    for (name, s) in scenarios {
        if let Some(s) = s {
            eprintln!(
                "   {name}: {:.0} ms, {} bad load(s), {} never shown",
                s.ms, s.bad_loads, s.never
            );
        }
    }
    row
}

/// Whether `tool` takes part in these rows.
pub fn measured(tool: Tool) -> bool {
    matches!(tool, Tool::Devserve | Tool::Vite | Tool::LiveServer)
}

/// The report's section.
pub fn render(rows: &[BuildRow]) -> String {
    let cell = |s: Shown| {
        let time = if s.ms.is_nan() {
            "never".to_string()
        } else {
            format!("{:.0} ms", s.ms)
        };
        let never = if s.never > 0 && !s.ms.is_nan() {
            format!(", {} never", s.never)
        } else {
            String::new()
        };
        format!("{time} ({} bad load(s){never})", s.bad_loads)
    };
    let mut md = String::from(
        "\n## Build tools and new pages\n\n\
         | server | ten tabs on ten pages: tabs reloaded when one page is saved / when NOTES.md is | new page → shown | `vite build --watch`: save → shown | `esbuild --watch` into a gitignored `dist/`: save → shown | backend file saved → its new answer shown |\n\
         |---|---|---|---|---|---|\n",
    );
    for r in rows {
        md.push_str(&format!(
            "| {} | {} / {} | {} | {} | {} | {} |\n",
            r.tool.name(),
            r.tabs.0,
            r.tabs.1,
            cell(r.new_page),
            cell(r.vite),
            cell(r.esbuild),
            r.backend.map_or_else(|| "—".to_string(), cell)
        ));
    }
    md.push_str(&format!(
        "\nFrom the write (of the new page, or of the source file) to the `load` of the first document that \
         shows the result, median of {BUILD_SAVES}; a bad load is a document shown on the way that does not \
         (a 404, an empty folder, the previous build); never: not shown within {} s. Vite's dev server serves \
         the Vite project itself, as a Vite user runs it, and the esbuild project's root like the others; \
         devserve runs with its defaults here (a tab reloads for the files it uses). The backend column: a Node \
         backend whose answer the page asks for while it loads; devserve restarts it with `--run` and \
         `--run-watch`, live-server with nodemon beside it (`nodemon --watch backend`, live-server `--watch` \
         on the site and the backend: the usual pair).\n",
        SHOWN_WITHIN.as_secs()
    ));
    md
}

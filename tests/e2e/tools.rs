//! The build tools people run, from npm, writing into the folder devserve serves: each scenario
//! is repeated ten times, and every document load the tab makes is counted — exactly one per
//! build (or a stylesheet swap and none), showing the final content, never a 404 or a listing.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::TestServer;
use crate::tab::Tab;

/// Rounds per scenario.
const ROUNDS: usize = 10;
/// How long a tool may take to write its first output.
const FIRST_BUILD: Duration = Duration::from_secs(60);

/// Where the npm tools are installed: `$DEVSERVE_TOOLS`, else `~/.cache/devserve-tools`.
pub fn dir() -> PathBuf {
    std::env::var_os("DEVSERVE_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/devserve-tools")
        })
}

fn bin(name: &str) -> PathBuf {
    dir().join("node_modules/.bin").join(name)
}

/// True when every tool the scenarios run is there.
pub fn installed() -> bool {
    ["vite", "esbuild", "sass"].iter().all(|b| bin(b).exists())
}

/// A tool running in a process group of its own, killed with its children on drop.
struct Running {
    child: Child,
}

impl Running {
    fn start(program: &Path, args: &[&str], cwd: &Path) -> Running {
        Running::start_to(program, args, cwd, Stdio::null())
    }

    /// Starts the tool with its standard output sent to `stdout`.
    fn start_to(program: &Path, args: &[&str], cwd: &Path, stdout: Stdio) -> Running {
        let child = Command::new(program)
            .args(args)
            .current_dir(cwd)
            // esbuild's --watch ends when its stdin closes: keep it open.
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", program.display()));
        Running { child }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the tool's own process group.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Waits, bounded, until `done` holds: a tool's first output appearing.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + FIRST_BUILD;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {FIRST_BUILD:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Saves `path` as an editor that writes a new file and renames it over the old one.
fn save(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A script that counts the page's loads and shows `text`.
fn counting_script(text: &str) -> String {
    format!(
        "sessionStorage.loads = String((+sessionStorage.loads || 0) + 1);\n\
         document.getElementById('app').textContent = {text:?};\n"
    )
}

/// Waits for one document load and checks it shows `want`; a 404 or a listing shows otherwise.
async fn one_load_showing(tab: &mut Tab, want: &str, round: usize) {
    tab.next_load().await;
    let text = tab.text().await;
    assert_eq!(
        text.trim(),
        want,
        "round {round}: the first load after the build shows it"
    );
}

/// After the last round: a file no page uses is written into `root`, and once the tab has heard
/// of it (and left it alone) every batch before it has reached the tab — no late reload of the
/// last build is still on its way.
async fn nothing_more(tab: &mut Tab, root: &Path) {
    tab.arm("devserve:ignored").await;
    std::fs::write(root.join("NOTES.md"), "after the last round").unwrap();
    tab.armed().await;
    assert!(!tab.loaded_since(), "no load after the last build's");
}

async fn loads(tab: &Tab) -> usize {
    let loads: String = tab.eval("() => sessionStorage.loads || '0'").await;
    loads.parse().unwrap()
}

/// `vite build --watch` empties `dist/` and writes it anew on every build.
pub async fn vite_build_watch_reloads_once_per_build_without_a_404() {
    let proj = tempfile::tempdir().unwrap();
    let p = proj.path();
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::write(
        p.join("index.html"),
        "<!doctype html><html><head><title>v</title></head><body><div id=\"app\"></div>\
         <script type=\"module\" src=\"/src/main.js\"></script></body></html>",
    )
    .unwrap();
    std::fs::write(p.join("src/main.js"), counting_script("v0")).unwrap();
    let _vite = Running::start(&bin("vite"), &["build", "--watch", "--logLevel", "warn"], p);
    wait_until("vite's first build", || p.join("dist/index.html").exists());
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(p.join("dist"), dir.path().join("site")).unwrap();
    let s = TestServer::start_in(dir, &["--spa"]).await;
    let Some(mut home) = Tab::open(&s, "/").await else {
        return;
    };
    let Some(mut about) = Tab::open(&s, "/about").await else {
        return;
    };
    for round in 1..=ROUNDS {
        let text = format!("v{round}");
        std::fs::write(p.join("src/main.js"), counting_script(&text)).unwrap();
        one_load_showing(&mut home, &text, round).await;
        one_load_showing(&mut about, &text, round).await;
        home.connected().await;
        about.connected().await;
    }
    nothing_more(&mut home, &s.root).await;
    nothing_more(&mut about, &s.root).await;
    assert_eq!(loads(&home).await, ROUNDS + 1, "one load per build on /");
    assert_eq!(
        loads(&about).await,
        ROUNDS + 1,
        "one load per build on a client route"
    );
    home.close().await;
    about.close().await;
}

/// esbuild's `--watch` writing `dist/bundle.js`, which `.gitignore` lists, loaded by a root
/// `index.html`: the source save itself reloads nothing (the tab does not use it), the bundle
/// reloads the tab once, and the tab shows the new bundle.
pub async fn esbuild_watch_into_gitignored_dist_reloads_once_with_the_new_bundle() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join(".gitignore"), "dist/\n").unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(
            root.join("index.html"),
            "<!doctype html><html><head><title>e</title></head><body><div id=\"app\"></div>\
             <script src=\"dist/bundle.js\"></script></body></html>",
        )
        .unwrap();
        std::fs::write(root.join("src/app.js"), counting_script("v0")).unwrap();
    })
    .await;
    let root = s.root.clone();
    let _esbuild = Running::start(
        &bin("esbuild"),
        &[
            "src/app.js",
            "--bundle",
            "--outfile=dist/bundle.js",
            "--watch",
            "--log-level=warning",
        ],
        &root,
    );
    wait_until("esbuild's first build", || root.join("dist/bundle.js").exists());
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    assert_eq!(tab.text().await.trim(), "v0");
    for round in 1..=ROUNDS {
        let text = format!("v{round}");
        // Saved whole, by a rename: esbuild polls its inputs, and under load it can read a file
        // that `fs::write` has truncated and not yet written, and build twice.
        save(&root.join("src/app.js"), &counting_script(&text));
        one_load_showing(&mut tab, &text, round).await;
        tab.connected().await;
    }
    nothing_more(&mut tab, &root).await;
    assert_eq!(loads(&tab).await, ROUNDS + 1, "one load per build");
    tab.close().await;
}

/// The Sass CLI's `--watch` writing a stylesheet: swapped in place once per build, no reload.
pub async fn sass_watch_swaps_the_stylesheet_without_a_reload() {
    let scss = |n: usize| format!("$c: rgb({n}, 2, 3);\np {{ color: $c; }}\n");
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir_all(root.join("scss")).unwrap();
        std::fs::create_dir_all(root.join("css")).unwrap();
        std::fs::write(
            root.join("index.html"),
            "<!doctype html><html><head><link rel=\"stylesheet\" href=\"css/style.css\"></head>\
             <body><p>styled</p></body></html>",
        )
        .unwrap();
        std::fs::write(root.join("scss/style.scss"), scss(0)).unwrap();
    })
    .await;
    let root = s.root.clone();
    let mut socket = s.tab().await;
    // sass prints a line per compile: its log, outside the watched folder, says how many builds
    // there were (under load it sometimes compiles twice for one save, and writes twice at start).
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("sass.log");
    let _sass = Running::start_to(
        &bin("sass"),
        &["--watch", "--no-source-map", "scss/style.scss:css/style.css"],
        &root,
        std::fs::File::create(&log).unwrap().into(),
    );
    let builds = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .matches("Compiled scss/style.scss")
            .count()
    };
    // As with esbuild: the tab opens once devserve has seen the first build.
    while !socket.updated().await.1.iter().any(|p| p == "/css/style.css") {}
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    // Swaps are counted from a point every earlier batch has reached the tab (a file no page
    // uses, heard and left alone), and so are builds.
    tab.arm("devserve:ignored").await;
    std::fs::write(root.join("NOTES.md"), "before the first round").unwrap();
    tab.armed().await;
    let _: bool = tab
        .eval("() => { window.__swaps = 0; addEventListener('devserve:swapped', () => window.__swaps++); return true; }")
        .await;
    let builds_before = builds();
    for round in 1..=ROUNDS {
        tab.arm("devserve:swapped").await;
        // Saved whole, by a rename, as an editor does: sass compiles once per save.
        save(&root.join("scss/style.scss"), &scss(round));
        tab.armed().await;
        let want = format!("rgb({round}, 2, 3)");
        let color: String = tab
            .eval(&format!(
                "async () => {{ const c = () => getComputedStyle(document.querySelector('p')).color; \
                 for (let i = 0; i < 500 && c() !== {want:?}; i++) await new Promise(r => setTimeout(r, 20)); return c(); }}"
            ))
            .await;
        assert_eq!(color, want, "round {round}");
        assert!(!tab.loaded_since(), "round {round}: swapped, not reloaded");
    }
    nothing_more(&mut tab, &root).await;
    let swaps: usize = tab.eval("() => window.__swaps").await;
    let builds = builds() - builds_before;
    assert!(
        builds >= ROUNDS,
        "sass compiled {builds} times for {ROUNDS} saves"
    );
    assert_eq!(swaps, builds, "one swap per build");
    tab.close().await;
}

/// Runs a Node script to completion.
fn node(script: &str, cwd: &Path) {
    let status = Command::new("node")
        .args(["-e", script])
        .current_dir(cwd)
        .status()
        .expect("node runs");
    assert!(status.success(), "node script: {script}");
}

/// 300 rewrites of the page from a loop that pauses 2–20 ms at random: one reload, showing the
/// last rewrite.
pub async fn rewrites_from_a_pausing_loop_reload_once() {
    let page = |text: &str| {
        format!(
            "<!doctype html><html><head></head><body><div id=\"app\"></div><script>{}</script></body></html>",
            counting_script(text)
        )
    };
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("index.html"), page("v0")).unwrap()
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    for round in 1..=ROUNDS {
        let last = format!("r{round}-299");
        let script = format!(
            "const fs = require('fs'); const page = t => {:?}.replace('TEXT', t);\n\
             (async () => {{ for (let i = 0; i < 300; i++) {{ fs.writeFileSync('index.html', page('r{round}-' + i));\n\
             await new Promise(r => setTimeout(r, 2 + Math.random() * 18)); }} }})();",
            page("TEXT")
        );
        node(&script, &s.root);
        tab.next_load().await;
        let text = tab.text().await;
        tab.connected().await;
        assert_eq!(text.trim(), last, "round {round}: the tab shows the last rewrite");
        assert_eq!(
            loads(&tab).await,
            round + 1,
            "round {round}: one reload for 300 rewrites"
        );
    }
    nothing_more(&mut tab, &s.root).await;
    tab.close().await;
}

/// 300 new files written by another process, one of which the page uses: one reload.
pub async fn files_from_a_separate_process_reload_once() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir_all(root.join("gen")).unwrap();
        std::fs::write(root.join("gen/f7.js"), "// 0").unwrap();
        std::fs::write(
            root.join("index.html"),
            format!(
                "<!doctype html><html><head><script src=\"gen/f7.js\"></script></head><body><div id=\"app\"></div>\
                 <script>{}</script></body></html>",
                counting_script("page")
            ),
        )
        .unwrap();
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    for round in 1..=ROUNDS {
        let script = format!(
            "const fs = require('fs'); for (let i = 0; i < 300; i++) fs.writeFileSync('gen/f' + i + '.js', '// {round}');"
        );
        node(&script, &s.root);
        tab.next_load().await;
        tab.connected().await;
        let seven: String = tab
            .eval("async () => (await (await fetch('gen/f7.js')).text())")
            .await;
        assert_eq!(seven, format!("// {round}"));
        assert_eq!(
            loads(&tab).await,
            round + 1,
            "round {round}: one reload for 300 files"
        );
    }
    nothing_more(&mut tab, &s.root).await;
    tab.close().await;
}

//! The binary itself: start-up errors and their exit status, signals, the printed URL.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::Logged;

fn devserve() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_devserve"));
    cmd.env_remove("RUST_LOG").stdin(Stdio::null());
    cmd
}

/// devserve on a temp folder with `args` and `env` refuses to start (exit 1): its stderr.
fn start_error(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = devserve();
    cmd.arg(dir.path());
    refused(cmd, args, env)
}

/// `cmd` with `args` and `env` refuses to start (exit 1): its stderr.
fn refused(mut cmd: Command, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = cmd.args(args).envs(env.iter().copied()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_root_exits_1_with_one_clear_line() {
    let out = devserve().arg("/definitely/not/here").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("/definitely/not/here") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn busy_explicit_port_exits_1_with_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let err = start_error(&["--port", &port], &[]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&port) && err.contains("--port"), "{err}");
}

#[test]
fn malformed_proxy_exits_1() {
    let err = start_error(&["--proxy", "api=localhost"], &[]);
    assert!(
        err.contains("--proxy `api=localhost`") && err.contains("e.g. /api=http://"),
        "{err}"
    );
}

/// A bad value names where it was written: the variable the person set, not a flag they never
/// typed.
#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let err = start_error(&[], &[("DEVSERVE_PROXY", "api")]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("DEVSERVE_PROXY `api`: expected PREFIX=URL"), "{err}");
    assert!(!err.contains("--proxy"), "{err}");
}

/// Ignore globs are checked before the port is bound: a bad one is an error even when the port
/// is busy too, and it is the one reported.
#[test]
fn a_bad_ignore_glob_is_reported_before_the_port_is_bound() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let err = start_error(&["--port", &port, "--ignore", "src/{a,b"], &[]);
    assert!(err.contains("--ignore `src/{a,b`"), "{err}");
}

#[test]
fn unknown_flag_is_a_start_up_error_and_help_is_not() {
    let out = devserve().arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = devserve().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--host",
        "--proxy",
        "--proxy-ws",
        "--watch",
        "--ignore",
        "--no-reload",
        "--spa",
        "--open",
    ] {
        assert!(help.contains(flag), "{flag} in --help");
    }
    let out = devserve().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("devserve "));
}

#[test]
fn sigterm_stops_gracefully_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = devserve();
    cmd.arg(dir.path()).args(["--port", "0"]);
    let mut server = Logged::spawn(cmd);
    assert!(std::net::TcpStream::connect(server.addr).is_ok());
    let kill = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let mut child = std::mem::replace(&mut server.child, Command::new("true").spawn().unwrap());
    std::thread::spawn(move || tx.send(child.wait()));
    let status = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("devserve stops within 10 s of SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn exposed_host_prints_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = devserve();
    cmd.arg(dir.path()).args(["--port", "0", "--host", "0.0.0.0"]);
    let server = Logged::spawn(cmd);
    assert!(
        server.wait_for("exposes this folder to your network"),
        "{}",
        server.log()
    );
}

/// Node ≥ 17 servers listen on ::1; a browser may open `localhost` there. A port busy on ::1 is
/// busy, and the message names where the port was asked for.
#[test]
fn a_port_busy_on_ipv6_loopback_is_busy() {
    let taken = std::net::TcpListener::bind("[::1]:0").expect("this machine has ::1");
    let port = taken.local_addr().unwrap().port().to_string();
    let err = start_error(&["--port", &port], &[]);
    assert!(
        err.contains(&format!("port {port} is already in use on ::1")),
        "{err}"
    );
    assert!(err.contains("pick another with --port"), "{err}");
    // The message says where the port was asked for: here, a variable.
    let err = start_error(&[], &[("DEVSERVE_PORT", &port)]);
    assert!(err.contains("pick another in DEVSERVE_PORT"), "{err}");
}

/// `-v` logs every request — method, path, status, size, time, and the backend of a proxied
/// one — each line with its time; a proxy warning names the path.
#[test]
fn verbose_logs_every_request_with_a_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
    let mut cmd = devserve();
    cmd.arg(dir.path())
        .args(["--port", "0", "-v", "--proxy", "/api=http://127.0.0.1:9"]);
    let server = Logged::spawn(cmd);
    let get = |path: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(get("/a.txt").starts_with("HTTP/1.1 200"));
    assert!(server.wait_for("GET /a.txt → 200, 5 B, "), "{}", server.log());
    assert!(get("/api/users").starts_with("HTTP/1.1 502"));
    assert!(
        server.wait_for("GET /api/users → 502 via 127.0.0.1:9"),
        "{}",
        server.log()
    );
    assert!(
        server.wait_for("proxy: /api/users: cannot reach"),
        "{}",
        server.log()
    );
    let line = server
        .log()
        .lines()
        .find(|l| l.contains("GET /a.txt"))
        .unwrap()
        .to_string();
    assert!(
        line.starts_with("20") && line.contains('T'),
        "a timestamp first: {line}"
    );
}

/// A boolean variable takes what people write (1, yes, on), and a bad one names the variable,
/// not a flag nobody typed.
#[test]
fn boolean_variables_take_yes_and_no_and_a_bad_one_names_itself() {
    let err = start_error(&[], &[("DEVSERVE_SPA", "maybe")]);
    assert!(err.contains("DEVSERVE_SPA `maybe`"), "{err}");
    assert!(!err.contains("--spa"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    for yes in ["1", "yes", "on", "TRUE"] {
        let mut cmd = devserve();
        cmd.arg(dir.path()).args(["--port", "0"]).env("DEVSERVE_SPA", yes);
        let server = Logged::spawn(cmd);
        assert!(
            std::net::TcpStream::connect(server.addr).is_ok(),
            "DEVSERVE_SPA={yes}"
        );
    }
}

#[test]
fn the_usage_line_shows_root_as_optional() {
    let out = devserve().arg("--bogus").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[ROOT]"), "{err}");
}

/// Shortcuts at a terminal: `r` + Enter reloads every tab, `c` clears the screen, `h` lists the
/// shortcuts, `o` opens the browser on the server's URL, `q` + Enter quits with status 0.
#[tokio::test]
async fn shortcuts_at_a_terminal_reload_every_tab_and_quit() {
    use std::io::Write;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, slave) = unsafe {
        let (mut m, mut s) = (0, 0);
        assert_eq!(
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null()
            ),
            0,
            "a pseudo-terminal"
        );
        (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s))
    };
    let dir = tempfile::tempdir().unwrap();
    // A browser launcher of the test's own, found first on PATH: it writes down what it opens.
    let bin = tempfile::tempdir().unwrap();
    // A FIFO: reading it waits for the launcher to write.
    let opened = bin.path().join("opened");
    let fifo = std::ffi::CString::new(opened.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "a FIFO");
    let (tx, read_opened) = std::sync::mpsc::channel();
    let reading = opened.clone();
    std::thread::spawn(move || tx.send(std::fs::read_to_string(reading)));
    let launcher = bin.path().join("xdg-open");
    std::fs::write(
        &launcher,
        format!("#!/bin/sh\necho \"$1\" > {}\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(&launcher, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = devserve();
    cmd.arg(dir.path())
        .args(["--port", "0"])
        .env("PATH", path)
        .stdin(Stdio::from(slave));
    let mut server = Logged::spawn(cmd);
    assert!(
        server.wait_for("press h + enter for shortcuts"),
        "{}",
        server.log()
    );
    let mut tab = crate::support::Tab::connect(server.addr).await;
    master.write_all(b"r\n").unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert!(paths.is_empty() && reload, "every tab reloads");
    // The screen is cleared (an escape sequence, which the next line carries), then the help.
    master.write_all(b"c\nh\n").unwrap();
    assert!(server.wait_for("\x1b[2J\x1b[3J\x1b[H"), "{}", server.log());
    assert!(
        server.wait_for("shortcuts: o + enter opens the browser"),
        "{}",
        server.log()
    );
    master.write_all(b"o\n").unwrap();
    let url = read_opened
        .recv_timeout(Duration::from_secs(10))
        .expect("a browser opened")
        .unwrap();
    assert_eq!(url.trim(), format!("http://localhost:{}/", server.addr.port()));
    master.write_all(b"q\n").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut child = std::mem::replace(&mut server.child, Command::new("true").spawn().unwrap());
    std::thread::spawn(move || tx.send(child.wait()));
    let status = rx.recv_timeout(Duration::from_secs(10)).expect("quits").unwrap();
    assert_eq!(status.code(), Some(0));
}

/// The binary says once which folders the ignore rules keep unwatched, and how to watch one.
#[test]
fn folders_skipped_by_ignore_rules_are_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitignore"), "dist/\n").unwrap();
    std::fs::create_dir(dir.path().join("dist")).unwrap();
    let mut cmd = devserve();
    cmd.arg(dir.path()).args(["--port", "0"]);
    let server = Logged::spawn(cmd);
    assert!(
        server.wait_for("not watching dist/ (ignore rules)"),
        "{}",
        server.log()
    );
    assert!(server.wait_for("--watch dist"), "{}", server.log());
}

/// A browser that cannot be opened is one plain line with the URL to open by hand — the path
/// asked for included — never Rust's debug output.
#[test]
fn a_browser_that_cannot_be_opened_is_one_plain_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = devserve();
    // No launcher (xdg-open and the like) can be found on an empty PATH.
    cmd.arg(dir.path())
        .args(["--port", "0", "--open", "/about"])
        .env("PATH", "");
    let server = Logged::spawn(cmd);
    assert!(server.wait_for("could not open a browser: "), "{}", server.log());
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("could not open a browser"))
        .unwrap();
    assert!(line.contains("/about yourself"), "{line}");
    assert!(!line.contains("Os {") && !line.contains("kind:"), "{line}");
}

/// A command that exits by itself is reported — its status and last lines — and started again
/// after a backoff that doubles; its output is relayed with a prefix.
#[test]
fn a_crashing_backend_is_reported_and_restarted_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = devserve();
    cmd.arg(dir.path()).args([
        "--port",
        "0",
        "--run",
        "echo boom from the backend; exit 3",
        "--ready",
        "tcp:127.0.0.1:9",
    ]);
    let server = Logged::spawn(cmd);
    assert!(server.wait_for("[run] boom from the backend"), "{}", server.log());
    assert!(
        server.wait_for("exited with status 3; starting it again in 1 s"),
        "{}",
        server.log()
    );
    assert!(
        server.wait_for("exited with status 3; starting it again in 2 s"),
        "{}",
        server.log()
    );
}

/// The process group of a started command, read from devserve's log.
fn group_of(server: &Logged) -> i32 {
    assert!(server.wait_for("(process group "), "{}", server.log());
    let log = server.log();
    let at = log.find("(process group ").unwrap() + "(process group ".len();
    log[at..].split(')').next().unwrap().parse().unwrap()
}

fn group_alive(group: i32) -> bool {
    // SAFETY: signal 0 only asks whether the group has a process.
    unsafe { libc::kill(-group, 0) == 0 }
}

/// SIGTERM (as Ctrl-C) stops the whole group, grandchildren included, before devserve exits;
/// and if devserve is killed outright, its watchdog takes the group with it.
#[test]
fn stopping_or_killing_devserve_leaves_nothing_of_the_backend_alive() {
    for signal in ["-TERM", "-KILL"] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = devserve();
        cmd.arg(dir.path()).args([
            "--port",
            "0",
            "--run",
            "sleep 300 & sleep 300 & wait",
            "--ready",
            "tcp:127.0.0.1:9",
        ]);
        let mut server = Logged::spawn(cmd);
        let group = group_of(&server);
        assert!(group_alive(group));
        let kill = Command::new("kill")
            .args([signal, &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let _ = server.child.wait();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while group_alive(group) {
            assert!(
                std::time::Instant::now() < deadline,
                "the group outlived devserve ({signal})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_missing_command_or_a_malformed_ready_fails_at_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--run", "definitely-not-a-program --serve", "--proxy-ws", "3000"][..],
        &["--run", "sh -c true", "--ready", "localhost:3000"][..],
    ] {
        let out = devserve().arg(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("--run `definitely") || err.contains("--ready `localhost:3000`"),
            "{err}"
        );
    }
}

/// `-v` asks the pages for their uncaught errors (in `connected`) and prints them with the page.
#[tokio::test]
async fn verbose_prints_the_errors_pages_report() {
    use futures_util::SinkExt;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = devserve();
    cmd.arg(dir.path()).args(["--port", "0", "-v"]);
    let server = Logged::spawn(cmd);
    let page = crate::support::client()
        .get(format!("http://{}/nothing", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::support::token_in(&page).unwrap();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/__devserve/ws?token={token}", server.addr))
            .await
            .unwrap();
    let hello = futures_util::StreamExt::next(&mut ws).await.unwrap().unwrap();
    let hello: serde_json::Value = serde_json::from_str(hello.to_text().unwrap()).unwrap();
    assert_eq!(hello["report_errors"], true, "{hello}");
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        r#"{"type":"page-error","url":"http://localhost/app","message":"TypeError: x is undefined","at":"app.js:3:9"}"#.into(),
    ))
    .await
    .unwrap();
    assert!(
        server.wait_for("error in the page http://localhost/app: TypeError: x is undefined (app.js:3:9)"),
        "{}",
        server.log()
    );
}

/// `./devserve.toml` is read from the folder devserve starts in; a `DEVSERVE_*` variable beats
/// it, a flag beats both, and what is wrong in it names its line.
#[test]
fn the_settings_file_is_read_and_variables_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("site")).unwrap();
    std::fs::write(
        dir.path().join("devserve.toml"),
        "root = \"site\"\nproxy-timeout = 0\nheader = [\"X-Test\"]\nport = \"x\"\n",
    )
    .unwrap();
    let error = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = devserve();
        cmd.current_dir(dir.path());
        refused(cmd, args, env).trim().to_string()
    };
    assert_eq!(
        error(&[], &[]),
        "devserve: devserve.toml:4: port = `x`: invalid digit found in string"
    );
    let err = error(&["--port", "0"], &[]);
    assert!(
        err.starts_with("devserve: devserve.toml:2: proxy-timeout = `0`: a backend needs some time"),
        "{err}"
    );
    let err = error(&["--port", "0"], &[("DEVSERVE_PROXY_TIMEOUT", "5")]);
    assert!(
        err.starts_with("devserve: devserve.toml:3: header = `X-Test`:"),
        "{err}"
    );
    std::fs::write(dir.path().join("devserve.toml"), "port = 3001\nprot = 3\n").unwrap();
    assert_eq!(
        error(&[], &[]),
        "devserve: devserve.toml:2: unknown setting `prot`: did you mean `port`?"
    );
}

/// `--cert` needs `--key`; files that hold no certificate are named, and devserve exits 1.
#[test]
fn bad_certificate_files_are_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let err = start_error(&["--port", "0", "--cert", cert.to_str().unwrap()], &[]);
    assert!(err.contains("--key <PEM>"), "{err}");
    let err = start_error(
        &[
            "--port",
            "0",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(err.trim_end().ends_with("c.pem: holds no certificate"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// Completion scripts and the manual page come from the same clap definition as `--help`.
#[test]
fn completions_and_the_man_page_are_generated() {
    let run = |args: &[&str]| {
        let out = devserve().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = run(&["--completions", "bash"]);
    assert!(
        bash.contains("_devserve()") && bash.contains("--proxy-ws"),
        "{bash}"
    );
    let zsh = run(&["--completions", "zsh"]);
    assert!(
        zsh.starts_with("#compdef devserve") && zsh.contains("--https"),
        "{zsh}"
    );
    let fish = run(&["--completions", "fish"]);
    assert!(
        fish.contains("complete -c devserve") && fish.contains("run-watch"),
        "{fish}"
    );
    let man = run(&["--man"]);
    assert!(
        man.contains(".TH devserve 1") && man.contains("\\-\\-proxy\\-ws"),
        "{man}"
    );
    let err = start_error(&["--completions", "tcsh"], &[]);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

/// The hint about folders the ignore rules skip is for the served folder: the `--run-watch`
/// watcher, which leaves out everything beside `server.js` on purpose, does not give it.
#[test]
fn only_the_served_folder_names_what_its_rules_skip() {
    let dir = tempfile::tempdir().unwrap();
    let (site, backend) = (dir.path().join("site"), dir.path().join("backend"));
    std::fs::create_dir_all(&site).unwrap();
    std::fs::create_dir_all(backend.join("data")).unwrap();
    let server_js = backend.join("server.js");
    std::fs::write(&server_js, "1").unwrap();
    let mut cmd = devserve();
    cmd.arg(&site)
        .args(["--port", "0", "--run", "sleep 60", "--ready", "tcp:127.0.0.1:9"]);
    cmd.args(["--run-watch", server_js.to_str().unwrap()]);
    let server = Logged::spawn(cmd);
    // Saved until the save restarts the command: the --run-watch watcher is then set up.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let saver = {
        let (stop, server_js) = (stop.clone(), server_js.clone());
        std::thread::spawn(move || {
            for n in 0..100 {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::fs::write(&server_js, n.to_string()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let restarted = server.wait_for("restarting `sleep 60`");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    saver.join().unwrap();
    assert!(restarted, "{}", server.log());
    assert!(!server.log().contains("not watching"), "{}", server.log());
}

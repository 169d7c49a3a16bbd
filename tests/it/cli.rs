//! The binary itself: start-up errors and their exit status, signals, the printed URL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn devserve() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_devserve"));
    cmd.env_remove("RUST_LOG").stdin(Stdio::null());
    cmd
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
    let dir = tempfile::tempdir().unwrap();
    let out = devserve()
        .arg(dir.path())
        .args(["--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&port) && err.contains("--port"), "{err}");
}

#[test]
fn malformed_proxy_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = devserve()
        .arg(dir.path())
        .args(["--proxy", "api=localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--proxy `api=localhost`") && err.contains("e.g. --proxy /api=http://"),
        "{err}"
    );
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
    let mut child = devserve()
        .arg(dir.path())
        .args(["--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the URL line: the server is up.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !line.contains("http://") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "devserve exited early");
        assert!(Instant::now() < deadline);
    }
    let port: u16 = line
        .split("http://localhost:")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (tx, rx) = std::sync::mpsc::channel();
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
    let mut child = devserve()
        .arg(dir.path())
        .args(["--port", "0", "--host", "0.0.0.0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !seen.contains("exposes") {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.contains("exposes this folder to your network"), "{seen}");
}

//! One run of the backend command: `sh -c CMD` in a process group of its own, its output relayed
//! line by line with a prefix, and stopping the whole group (SIGTERM, then SIGKILL after 5 s).
//!
//! A watchdog — a shell that reads the current group from a pipe — kills the group if devserve
//! itself is killed (SIGKILL runs no handler): the pipe closes with devserve, whatever killed it.
//! A parent-death signal would reach only the direct child, not what it started.

use std::collections::VecDeque;
use std::io::Write as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a stopped group has to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// A line longer than this is cut (the rest of it is dropped).
const MAX_LINE: usize = 8 * 1024;
/// Lines kept for the report of an exit.
const LAST_LINES: usize = 20;

/// How a run ended.
#[derive(Debug)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
    Unknown(String),
}

impl Exit {
    pub(crate) fn describe(&self) -> String {
        match self {
            Exit::Code(0) => "exited (status 0)".to_string(),
            Exit::Code(127) => "exited with status 127: command not found".to_string(),
            Exit::Code(code) => format!("exited with status {code}"),
            Exit::Signal(sig) => format!("was killed by signal {sig}"),
            Exit::Unknown(e) => format!("ended ({e})"),
        }
    }
}

/// The command, running.
pub(crate) struct Run {
    child: Child,
    group: i32,
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Set once the child has been reaped.
    exit: Option<String>,
}

impl Run {
    pub(crate) fn start(command: &str) -> std::io::Result<Run> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            // Its output is a pipe, but ends on a terminal: colours are welcome.
            cmd.env("FORCE_COLOR", "1").env("CLICOLOR_FORCE", "1");
        }
        let mut child = cmd.spawn()?;
        let group = child.id().map_or(0, |id| id as i32);
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(out) = child.stdout.take() {
            tokio::spawn(relay(BufReader::new(out), lines.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(relay(BufReader::new(err), lines.clone()));
        }
        watchdog_guard(group);
        Ok(Run {
            child,
            group,
            lines,
            exit: None,
        })
    }

    pub(crate) fn group(&self) -> i32 {
        self.group
    }

    /// Waits for the command itself (the shell) to exit. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        let exit = match self.child.wait().await {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(sig)) => Exit::Signal(sig),
                _ => Exit::Unknown(status.to_string()),
            },
            Err(e) => Exit::Unknown(e.to_string()),
        };
        self.exit = Some(exit.describe());
        exit
    }

    /// Stops every process of the group: SIGTERM, up to [`STOP_GRACE`] for them to go, SIGKILL.
    pub(crate) async fn stop(&mut self) {
        let Some(group) = Pid::from_raw(self.group) else {
            return;
        };
        if kill_process_group(group, Signal::TERM).is_ok() {
            let deadline = Instant::now() + STOP_GRACE;
            while group_alive(self.group) && Instant::now() < deadline {
                // Reap the shell as soon as it exits, or the group never looks empty.
                let _ = tokio::time::timeout(Duration::from_millis(10), self.child.wait()).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if group_alive(self.group) {
                tracing::warn!("the backend did not stop within {STOP_GRACE:?} of SIGTERM: killing it");
                let _ = kill_process_group(group, Signal::KILL);
            }
        }
        let _ = self.child.wait().await;
        watchdog_guard(0);
    }

    /// The last lines it printed, for the report of its exit.
    pub(crate) fn last_lines(&self) -> String {
        self.lines
            .lock()
            .map(|lines| lines.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

/// True while a process of `group` is alive. A zombie is not: the shell's children, orphaned when
/// it exits, stay zombies until init gets round to them (a second, in some containers), and
/// waiting for them made every restart a second late.
fn group_alive(group: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        if let Ok(procs) = std::fs::read_dir("/proc") {
            return procs.flatten().any(|entry| {
                let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                    return false;
                };
                // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
                let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                    return false;
                };
                let mut fields = rest.split_whitespace();
                let state = fields.next();
                let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
                pgrp == Some(group) && state != Some("Z")
            });
        }
    }
    Pid::from_raw(group).is_some_and(|g| test_kill_process_group(g).is_ok())
}

/// Relays one output of the command to devserve's stderr, line by line, with a prefix; keeps
/// the last lines. Never blocks the command for long: a line is cut at [`MAX_LINE`] bytes, and
/// invalid UTF-8 is replaced.
async fn relay(mut from: impl AsyncBufRead + Unpin, lines: Arc<Mutex<VecDeque<String>>>) {
    let prefix = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        "\x1b[2m[run]\x1b[0m "
    } else {
        "[run] "
    };
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line_bounded(&mut from, &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{prefix}{text}");
        }
        if let Ok(mut last) = lines.lock() {
            if last.len() == LAST_LINES {
                last.pop_front();
            }
            last.push_back(text.to_string());
        }
    }
}

/// Reads one line into `line`, keeping at most [`MAX_LINE`] bytes of it; returns how many bytes
/// were consumed (0 at the end).
async fn read_line_bounded(
    from: &mut (impl AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let buf = from.fill_buf().await?;
        if buf.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        from.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

/// The watchdog's pipe: it kills the last group written to it when the pipe closes.
static WATCHDOG: OnceLock<Option<Mutex<std::process::ChildStdin>>> = OnceLock::new();

/// Tells the watchdog which group to kill if devserve dies now (`0`: none).
fn watchdog_guard(group: i32) {
    let watchdog = WATCHDOG.get_or_init(|| {
        let script = "last=0; while read g; do last=$g; done; \
                      [ \"$last\" != 0 ] && kill -KILL \"-$last\" 2>/dev/null; exit 0";
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: Ctrl-C at the terminal does not take it before devserve is done.
            .process_group(0);
        match cmd.spawn() {
            Ok(mut child) => child.stdin.take().map(Mutex::new),
            Err(e) => {
                tracing::warn!(
                    "no watchdog for the backend ({e}): if devserve is killed, its command may outlive it"
                );
                None
            }
        }
    });
    if let Some(stdin) = watchdog {
        if let Ok(mut stdin) = stdin.lock() {
            // A line this short never fills the pipe: the watchdog reads each at once.
            let _ = writeln!(stdin, "{group}");
        }
    }
}

//! The backend command (`--run`, DESIGN §12): started through the shell in a process group of
//! its own beside the server, its output relayed with a prefix, restarted when a `--run-watch`
//! path changes or when it exits, and watched until it is ready (a TCP connect to the ready
//! address, or a 2xx/3xx from an `http://` one).
//!
//! The supervisor says what it sees on a [`BackendState`] channel — the proxy waits on it while
//! the backend restarts, the root reloads the tabs once a restart caused by a change is ready —
//! and knows none of its consumers.
//!
//! - [`process`]: one run of the command: its group, its output, stopping it.
//! - [`ready`]: the ready address and polling it.

pub(crate) mod process;
pub(crate) mod ready;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use process::{Exit, Run};
pub(crate) use ready::Ready;

/// A command that exits by itself waits this long before its next start, doubling up to
/// [`MAX_BACKOFF`]; it is reset after [`STABLE`] of running.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const STABLE: Duration = Duration::from_secs(10);

/// What the backend is doing, for the proxy and the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BackendState {
    /// Starting, or restarting: proxied requests wait.
    Starting,
    /// Ready. `restarted` counts the restarts caused by a change that became ready, so that the
    /// root reloads the tabs once per such restart.
    Ready { restarted: u64 },
    /// Exited and waiting to start again; the text is its status and its last lines.
    Exited { title: String, text: String },
}

/// The running supervisor: ask it to restart, and read what the backend is doing.
#[derive(Clone)]
pub(crate) struct Supervisor {
    restart: mpsc::Sender<()>,
    state: watch::Receiver<BackendState>,
}

impl Supervisor {
    /// A change under `--run-watch`: restart (changes while one restart is under way fold into it).
    pub(crate) fn restart(&self) {
        let _ = self.restart.try_send(());
    }

    pub(crate) fn state(&self) -> watch::Receiver<BackendState> {
        self.state.clone()
    }
}

/// Starts `command` and supervises it until `shutdown`; the returned task ends once the command's
/// group is stopped.
pub(crate) fn spawn(
    command: String,
    ready: Ready,
    shutdown: CancellationToken,
) -> (Supervisor, tokio::task::JoinHandle<()>) {
    // One pending restart is enough: any number of changes meanwhile is one restart.
    let (restart_tx, restart_rx) = mpsc::channel(1);
    let (state_tx, state_rx) = watch::channel(BackendState::Starting);
    let task = tokio::spawn(supervise(command, ready, restart_rx, state_tx, shutdown));
    (
        Supervisor {
            restart: restart_tx,
            state: state_rx,
        },
        task,
    )
}

/// Why one run of the command ended.
enum Ended {
    Restart,
    Exited(Exit),
    Shutdown,
}

async fn supervise(
    command: String,
    ready: Ready,
    mut restart: mpsc::Receiver<()>,
    state: watch::Sender<BackendState>,
    shutdown: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut restarted = 0u64;
    let mut by_change = false;
    loop {
        state.send_replace(BackendState::Starting);
        let started = Instant::now();
        let mut run = match Run::start(&command) {
            Ok(run) => run,
            Err(e) => {
                tracing::error!("cannot start `{command}`: {e}");
                return;
            }
        };
        tracing::info!("started `{command}` (process group {})", run.group());
        let ended = tokio::select! {
            ended = until_ready_then_exit(&mut run, &ready, &state, &mut restarted, by_change, started) => ended,
            // Without --run-watch there is no sender: that branch is off, not a restart.
            Some(()) = restart.recv() => Ended::Restart,
            _ = shutdown.cancelled() => Ended::Shutdown,
        };
        match ended {
            Ended::Shutdown => {
                run.stop().await;
                return;
            }
            Ended::Restart => {
                tracing::info!("a watched file changed: restarting `{command}`");
                // Said before the old process goes: its tunnels close with 1012 first, and
                // requests from now on wait for the new one.
                state.send_replace(BackendState::Starting);
                tokio::task::yield_now().await;
                run.stop().await;
                // Changes that came while it stopped fold into this restart.
                while restart.try_recv().is_ok() {}
                by_change = true;
                backoff = FIRST_BACKOFF;
            }
            Ended::Exited(exit) => {
                // The rest of its group goes with it: nothing it left behind holds the port.
                run.stop().await;
                if started.elapsed() >= STABLE {
                    backoff = FIRST_BACKOFF;
                }
                let title = format!("`{command}` {}", exit.describe());
                tracing::warn!("{title}; starting it again in {} s", backoff.as_secs());
                state.send_replace(BackendState::Exited {
                    title,
                    text: run.last_lines(),
                });
                by_change = false;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    // A change during the wait is worth trying at once.
                    Some(()) = restart.recv() => { by_change = true; }
                    _ = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Waits for the backend to be ready (and says so), then for it to exit.
async fn until_ready_then_exit(
    run: &mut Run,
    ready: &Ready,
    state: &watch::Sender<BackendState>,
    restarted: &mut u64,
    by_change: bool,
    started: Instant,
) -> Ended {
    tokio::select! {
        exit = run.wait() => return Ended::Exited(exit),
        () = ready.wait() => {}
    }
    if by_change {
        *restarted += 1;
    }
    tracing::info!(
        "backend ready in {} ms ({})",
        started.elapsed().as_millis(),
        ready
    );
    state.send_replace(BackendState::Ready {
        restarted: *restarted,
    });
    Ended::Exited(run.wait().await)
}

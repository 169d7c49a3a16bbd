//! Watching files: notify (or polling) → typed [`WatchEvent`]s, sent to a sink.
//!
//! The watcher knows none of its consumers: [`spawn`] takes a [`Sink`], and the composition root
//! decides what each event means (the file cache forgets on [`WatchEvent::LayoutChanged`], the
//! hub tells the tabs of each [`WatchEvent::Batch`]).
//!
//! Folders are walked with the `ignore` crate and watched one by one (non-recursively), so an
//! ignored folder — `node_modules`, `target`, anything in a `.gitignore` or `--ignore` — costs no
//! watch at all. Events cross from notify's thread to the batcher's over a bounded queue (past its
//! bound, the batch is a full reload); the batcher waits until the files have been quiet for the
//! debounce window (or a cap has passed), then turns what is left into one [`Batch`]: temporaries
//! that came and went are dropped, an editor's rename-over save is one change of the real file,
//! and new folders get their watches.
//!
//! The batcher runs on a thread of its own rather than as a tokio task: its quiet window is a
//! couple of milliseconds, and tokio's timer counts in whole milliseconds (a 2 ms sleep takes
//! 2–3), while a channel's `recv_timeout` wakes within microseconds of its deadline.
//!
//! - [`source`]: the OS watcher or the poller ([`poll`]), and which events count.
//! - [`queue`]: the bounded way from their thread to the batcher.
//! - [`batch`]: gathering events into batches; [`tree`]: the watches and settling a batch;
//!   [`aftermath`]: the attribute change a writer makes after its close, not a second save;
//!   [`guard`]: a build that writes on every reload, held to two batches a second.
//! - [`ignore`]: which paths are noise; [`mounts`]: which file systems send no events.

mod aftermath;
mod batch;
mod guard;
mod ignore;
mod mounts;
mod poll;
mod queue;
mod source;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::ignore::Ignorer;

/// What to watch and how.
#[derive(Debug, Clone)]
pub(crate) struct WatchOptions {
    /// The served folder, canonical; changes here are named by URL path.
    pub(crate) root: PathBuf,
    /// Extra paths (`--watch`), canonical; a change there names no path and reloads every tab.
    pub(crate) extra: Vec<PathBuf>,
    /// Extra ignore rules, gitignore syntax, already checked.
    pub(crate) ignore: Vec<String>,
    /// The quiet window after a change.
    pub(crate) debounce: Duration,
    /// `Some(interval)` forces polling.
    pub(crate) poll: Option<Duration>,
    /// ROOT is the served folder: the folders its ignore rules skip are named at start, with
    /// how to watch one. Not so for the `--run-watch` paths or the layer's folders, where the
    /// hint (about pages and `--watch`) would mislead.
    pub(crate) served: bool,
}

/// What the watcher says.
pub(crate) enum WatchEvent {
    /// Every watch is in place (or watching failed and never will be). `coverage` tells which
    /// files' changes are reported as they happen: `None` when polling or not watching at all.
    Ready { coverage: Option<Coverage> },
    /// Something was created, removed or renamed, or events were lost: what a URL resolves to
    /// may have changed. Sent at once, before the batch it belongs to settles.
    LayoutChanged,
    /// Files started changing: a batch is being gathered.
    Settling,
    /// The files are quiet again (the batch, if any, has been sent). A batch sent at the cap
    /// while a writer went on is not the end: `Settled` comes when the files are quiet.
    Settled,
    /// One settled batch of changes.
    Batch(Batch),
}

/// A batch of changes, settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Batch {
    /// URL paths of changed files inside ROOT.
    pub(crate) paths: Vec<String>,
    /// True when the tabs must reload: anything but modified stylesheets changed, a path outside
    /// ROOT, or events were lost.
    pub(crate) reload: bool,
    /// `paths` does not name every change (events were lost, a path outside ROOT changed, more
    /// paths than are listed): every tab reloads, whatever it uses.
    pub(crate) all: bool,
}

/// Where the watcher's events go; called from the watcher's own threads.
pub(crate) type Sink = Arc<dyn Fn(WatchEvent) + Send + Sync>;

/// Which files OS events cover: under ROOT and not ignored.
pub(crate) struct Coverage {
    root: PathBuf,
    ignorer: Arc<Ignorer>,
}

impl Coverage {
    /// True when a change to `path` is reported as soon as it happens.
    pub(crate) fn sees(&self, path: &Path) -> bool {
        path.starts_with(&self.root) && !self.ignorer.ignored(&self.root, path, false)
    }
}

/// Checks one `--ignore` rule; the error says what is wrong with it.
pub(crate) fn check_ignore_rule(rule: &str) -> Result<(), String> {
    Ignorer::new(Path::new("/"), &[rule.to_string()]).map(drop)
}

/// A running watcher, to be told of folders pages load from.
#[derive(Clone)]
pub(crate) struct WatchHandle {
    tx: queue::Sender,
}

impl WatchHandle {
    /// A page loaded something from `dir` (or listed it): from now on its entries are watched,
    /// even when ignore rules (build output in `.gitignore`) would skip them. Cheap: the watcher's
    /// own thread does the rest, once per folder.
    pub(crate) fn served_from(&self, dir: &Path) {
        self.tx.served(dir.to_path_buf());
    }
}

/// Starts watching; events go to `sink` until `shutdown`. Returns at once: the walk and the
/// watches are set up on a thread of their own, and [`WatchEvent::Ready`] says when they are in
/// place.
pub(crate) fn spawn(
    options: WatchOptions,
    sink: Sink,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> WatchHandle {
    let WatchOptions {
        root,
        extra,
        ignore,
        debounce,
        poll,
        served,
    } = options;
    let (tx, rx) = queue::queue();
    let handle = WatchHandle { tx: tx.clone() };
    tracker.spawn(async move {
        // Dropped with this task — on shutdown, or with a runtime that goes away without one (an
        // app embedding the layer, a test's runtime): the batcher's thread stops, and with it
        // the OS watch it holds (an inotify instance: 128 per user by default).
        let _stop = StopOnDrop(tx.clone());
        let not_watching = |why: String| {
            tracing::error!("{why}; serving without live reload");
            sink(WatchEvent::Ready { coverage: None });
        };
        // `--watch` folders inside ROOT are watched whole, whatever the rules say.
        let kept = extra
            .iter()
            .filter(|p| p.starts_with(&root) && p.is_dir())
            .cloned();
        let ignorer = match Ignorer::new(&root, &ignore) {
            Ok(ignorer) => Arc::new(ignorer.keeping(kept.collect::<Vec<_>>())),
            Err(e) => return not_watching(format!("bad ignore rule ({e})")),
        };
        let extra: Vec<(PathBuf, bool)> = extra
            .into_iter()
            .map(|p| {
                let is_dir = p.is_dir();
                (p, is_dir)
            })
            .collect();
        let overflow = Arc::new(AtomicBool::new(false));
        // A thread of its own rather than the blocking pool: the walk takes a while, and the
        // pool's idle thread is left for the first request.
        let (done, setup) = tokio::sync::oneshot::channel();
        let walker = {
            let (root, ignorer, overflow, tx) = (root.clone(), ignorer.clone(), overflow.clone(), tx.clone());
            std::thread::Builder::new()
                .name("devserve-walk".into())
                .spawn(move || {
                    let _ = done.send(tree::start_watching(root, extra, ignorer, tx, overflow, poll));
                })
        };
        if let Err(e) = walker {
            return not_watching(format!("cannot start the thread that sets up watching: {e}"));
        }
        let watching = match setup.await {
            Ok(Ok(w)) if served => {
                w.tell_skipped();
                w
            }
            Ok(Ok(w)) => w,
            Ok(Err(e)) => return not_watching(format!("cannot watch {}: {e}", root.display())),
            Err(_) => return not_watching("the watcher's thread stopped before it was watching".into()),
        };
        // OS events report a change at once; polling only on its next round.
        let coverage = (!watching.polling()).then(|| Coverage {
            root: watching.root.clone(),
            ignorer: watching.ignorer.clone(),
        });
        sink(WatchEvent::Ready { coverage });
        let (done_tx, mut done) = tokio::sync::oneshot::channel::<()>();
        let batcher = std::thread::Builder::new()
            .name("devserve-batch".into())
            .spawn(move || {
                batch::batch_loop(&watching, &rx, &sink, debounce);
                drop(done_tx);
            });
        if let Err(e) = batcher {
            tracing::error!("cannot start the watcher's thread: {e}; serving without live reload");
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                tx.stop();
                let _ = done.await;
            }
            _ = &mut done => {}
        }
    });
    handle
}

/// Tells the batcher to stop when dropped.
struct StopOnDrop(queue::Sender);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// The runtime running the watcher goes away without a shutdown, as a test's or an embedding
    /// app's does: the batcher's thread ends and lets go of the sink (and of the OS watch).
    #[test]
    fn a_runtime_dropped_without_shutdown_stops_the_watcher() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel();
        let sink: Sink = Arc::new(move |event| {
            if let WatchEvent::Ready { coverage } = event {
                let _ = tx.send(coverage.is_some());
            }
        });
        let options = WatchOptions {
            root: dir.path().canonicalize().unwrap(),
            extra: Vec::new(),
            ignore: Vec::new(),
            debounce: Duration::from_millis(2),
            poll: None,
            served: false,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tracker = TaskTracker::new();
        let rx = runtime.block_on(async {
            spawn(options, sink, CancellationToken::new(), &tracker);
            let (ready, rx) =
                tokio::task::spawn_blocking(move || (rx.recv_timeout(Duration::from_secs(10)), rx))
                    .await
                    .unwrap();
            assert_eq!(ready, Ok(true), "watching with OS events");
            rx
        });
        drop(runtime);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Err(mpsc::RecvTimeoutError::Disconnected),
            "every copy of the sink dropped: the batcher's thread has ended"
        );
    }
}

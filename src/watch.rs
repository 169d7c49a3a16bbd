//! notify → batches of changes.
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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use notify::event::{
    AccessKind, AccessMode, CreateKind, EventKind, MetadataKind, ModifyKind, RemoveKind, RenameMode,
};
use notify::{RecursiveMode, Watcher as _};
use tokio_util::sync::CancellationToken;

use crate::cache::FileCache;
use crate::config::Config;
use crate::error::StartError;
use crate::files::path_to_url;
use crate::poll::Poller;
use crate::reload::{Batch, Hub};

/// A continuous writer still gets a batch out this long after its first write.
const BATCH_CAP: Duration = Duration::from_secs(1);
/// Quiet needed while some file is still open for writing (written to, not yet closed): vim
/// fsyncs between its write and its close, and the save is one change, not two.
const WRITER_QUIET: Duration = Duration::from_millis(100);
/// A batch this big, or one in which a folder arrived, is a burst (a checkout, a build, a copy)
/// that may stall between files: it waits for [`BURST_QUIET`] of quiet, so that it stays one
/// batch and one reload.
const BURST_PATHS: usize = 8;
const BURST_EVENTS: usize = 32;
const BURST_QUIET: Duration = Duration::from_millis(50);
/// Raw events in flight between notify's thread and the batcher; past this, the batch is a
/// full reload (as after an inotify queue overflow).
const QUEUE: usize = 8192;
/// A batch whose first change comes this soon after the previous batch went out, naming a file
/// that batch named too, looks like a build writing into the served folder on every reload.
const LOOP_GAP: Duration = Duration::from_millis(250);
/// That many such batches in a row and the loop guard steps in.
const LOOP_STREAK: u32 = 10;
/// While it does, batches go out at most this often.
const LOOP_INTERVAL: Duration = Duration::from_millis(500);
/// File systems that give no inotify events for changes made elsewhere (the host, the network).
const EVENTLESS_FS: &[&str] = &[
    "9p", "drvfs", "nfs", "nfs4", "cifs", "smb3", "smbfs", "vboxsf", "fuse", "fuseblk",
];
/// How often to poll when devserve chooses polling by itself.
const AUTO_POLL: Duration = Duration::from_millis(300);

/// An `updated` names at most this many paths; past it, tabs simply reload.
const MAX_PATHS: usize = 1000;

/// Folder names never watched, wherever they are.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "__pycache__"];

/// What happened to a path within one batch.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// Created in this batch: gone again at the end means it was a temporary.
    created: bool,
    /// Created or moved in: a folder that arrived needs watches.
    arrived: bool,
    /// A folder already walked and watched when its event came in.
    walked: bool,
    /// The event said this is a folder (a deleted one has nothing left to ask).
    folder: bool,
}

/// Decides which paths are noise: hidden and default-skipped names, editor temporaries,
/// `.gitignore` files at every level, and `--ignore` rules.
pub struct Ignorer {
    root: PathBuf,
    extra: Gitignore,
    per_dir: RwLock<HashMap<PathBuf, Gitignore>>,
}

impl Ignorer {
    pub fn new(root: &Path, rules: &[String]) -> Result<Self, StartError> {
        let mut builder = GitignoreBuilder::new(root);
        for rule in rules {
            builder.add_line(None, rule).map_err(|e| StartError::BadIgnore {
                glob: rule.clone(),
                why: e.to_string(),
            })?;
        }
        let extra = builder.build().map_err(|e| StartError::BadIgnore {
            glob: rules.join(","),
            why: e.to_string(),
        })?;
        Ok(Ignorer {
            root: root.to_path_buf(),
            extra,
            per_dir: RwLock::new(HashMap::new()),
        })
    }

    /// Reads `dir/.gitignore`, if there is one, so its rules apply below `dir`.
    fn learn_dir(&self, dir: &Path) {
        let file = dir.join(".gitignore");
        if !file.is_file() {
            return;
        }
        let mut builder = GitignoreBuilder::new(dir);
        // A bad line is reported and skipped; the lines that parse still count.
        if let Some(e) = builder.add(&file) {
            tracing::warn!("{}: {e}", file.display());
        }
        if let Ok(gi) = builder.build() {
            if let Ok(mut map) = self.per_dir.write() {
                map.insert(dir.to_path_buf(), gi);
            }
        }
    }

    /// True when a change at `path` (below `base`, the watched folder it belongs to) is noise.
    pub fn ignored(&self, base: &Path, path: &Path, is_dir: bool) -> bool {
        let Ok(rest) = path.strip_prefix(base) else {
            return false;
        };
        let mut components = rest.components().peekable();
        while let Some(c) = components.next() {
            let name = c.as_os_str().to_string_lossy();
            if name.starts_with('.') {
                return true;
            }
            let last = components.peek().is_none();
            if (!last || is_dir) && SKIPPED_DIRS.contains(&name.as_ref()) {
                return true;
            }
            if last && is_editor_temporary(&name) {
                return true;
            }
        }
        if !path.starts_with(&self.root) {
            return false;
        }
        if self.extra.matched_path_or_any_parents(path, is_dir).is_ignore() {
            return true;
        }
        let Ok(map) = self.per_dir.read() else {
            return false;
        };
        // The deepest .gitignore that has a say wins, as in git.
        for dir in path.ancestors().skip(1) {
            if let Some(gi) = map.get(dir) {
                match gi.matched_path_or_any_parents(path, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            if dir == self.root {
                break;
            }
        }
        false
    }
}

/// vim's `4913` and `file~`, swap files, emacs `#autosave#`, JetBrains' safe-write files.
fn is_editor_temporary(name: &str) -> bool {
    name == "4913"
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".swo")
        || (name.starts_with('#') && name.ends_with('#'))
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".crswap")
}

/// OS events, or polling.
enum Backend {
    Os(notify::RecommendedWatcher),
    Poll(Poller),
}

impl Backend {
    fn watch(&mut self, dir: &Path) -> Result<(), notify::Error> {
        match self {
            Backend::Os(w) => w.watch(dir, RecursiveMode::NonRecursive),
            Backend::Poll(p) => p.watch(dir).map_err(notify::Error::io),
        }
    }

    fn unwatch(&mut self, dir: &Path) {
        match self {
            Backend::Os(w) => {
                let _ = w.unwatch(dir);
            }
            Backend::Poll(p) => p.unwatch(dir),
        }
    }
}

type SharedWatcher = Arc<Mutex<Backend>>;

/// The watcher and what it needs to interpret its events.
struct Watching {
    root: PathBuf,
    /// `--watch` paths: (path, is_dir).
    extra: Vec<(PathBuf, bool)>,
    ignorer: Arc<Ignorer>,
    /// Kept alive here: dropping it stops the events.
    watcher: SharedWatcher,
    overflow: Arc<AtomicBool>,
    /// Makes the polling backend, for when OS events run out.
    poller: Box<dyn Fn(Duration) -> Result<Backend, notify::Error> + Send + Sync>,
    /// Set when inotify said ENOSPC.
    out_of_watches: AtomicBool,
}

/// What reaches the batcher: an event on a path (an empty path marks lost events), or the word
/// to stop.
enum Msg {
    Event(EventKind, PathBuf),
    Stop,
}

/// The way from notify's thread to the batcher: a channel that allocates as it fills (a
/// `sync_channel` allocates its whole bound up front: 320 KiB held all day for [`QUEUE`] events),
/// bounded by a count of the events in flight.
#[derive(Clone)]
struct Sender {
    tx: mpsc::Sender<Msg>,
    in_flight: Arc<AtomicUsize>,
}

struct Receiver {
    rx: mpsc::Receiver<Msg>,
    in_flight: Arc<AtomicUsize>,
}

fn queue() -> (Sender, Receiver) {
    let (tx, rx) = mpsc::channel();
    let in_flight = Arc::new(AtomicUsize::new(0));
    (
        Sender {
            tx,
            in_flight: in_flight.clone(),
        },
        Receiver { rx, in_flight },
    )
}

impl Sender {
    /// Queues an event; false when [`QUEUE`] events are waiting already.
    fn event(&self, kind: EventKind, path: PathBuf) -> bool {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) >= QUEUE {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let _ = self.tx.send(Msg::Event(kind, path)); // fails only once the batcher has stopped
        true
    }

    fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

impl Receiver {
    /// The next message, waiting at most `wait` (`None`: as long as it takes).
    fn next(&self, wait: Option<Duration>) -> Result<Msg, RecvTimeoutError> {
        let msg = match wait {
            Some(wait) => self.rx.recv_timeout(wait)?,
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected)?,
        };
        Ok(self.counted(msg))
    }

    fn try_next(&self) -> Option<Msg> {
        self.rx.try_recv().ok().map(|msg| self.counted(msg))
    }

    fn counted(&self, msg: Msg) -> Msg {
        if let Msg::Event(..) = msg {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        msg
    }
}

/// Starts watching ROOT and the `--watch` paths; batches are published to `hub` until `shutdown`.
/// Returns once the task is spawned; `hub` is marked ready when every watch is in place.
pub fn spawn(
    config: &Config,
    hub: Arc<Hub>,
    cache: Arc<FileCache>,
    shutdown: CancellationToken,
    tracker: &tokio_util::task::TaskTracker,
) -> Result<(), StartError> {
    let ignorer = Arc::new(Ignorer::new(&config.root, &config.ignore)?);
    let root = config.root.clone();
    let extra: Vec<(PathBuf, bool)> = config.watch.iter().map(|p| (p.clone(), p.is_dir())).collect();
    let poll = config.poll;
    let debounce = config.debounce;
    tracker.spawn(async move {
        let (tx, rx) = queue();
        let overflow = Arc::new(AtomicBool::new(false));
        let setup = {
            let (root, extra, ignorer, overflow, tx) = (
                root.clone(),
                extra.clone(),
                ignorer.clone(),
                overflow.clone(),
                tx.clone(),
            );
            // A thread of its own rather than the blocking pool: the walk takes a while, and the
            // pool's idle thread is left for the first request.
            let (done, setup) = tokio::sync::oneshot::channel();
            let walker = std::thread::Builder::new()
                .name("devserve-walk".into())
                .spawn(move || {
                    let _ = done.send(start_watching(root, extra, ignorer, tx, overflow, poll));
                });
            if let Err(e) = walker {
                tracing::error!(
                    "cannot start the thread that sets up watching: {e}; serving without live reload"
                );
                hub.set_ready();
                return;
            }
            setup
        };
        let watching = match setup.await {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                tracing::error!(
                    "cannot watch {}: {e}; serving without live reload",
                    root.display()
                );
                hub.set_ready();
                return;
            }
            Err(_) => {
                tracing::error!(
                    "the watcher's thread stopped before it was watching; serving without live reload"
                );
                hub.set_ready();
                return;
            }
        };
        if !watching.polling() {
            // Served from memory only what OS events will report changed, at once.
            let (root, ignorer) = (watching.root.clone(), watching.ignorer.clone());
            cache.enable(move |path| path.starts_with(&root) && !ignorer.ignored(&root, path, false));
        }
        hub.set_ready();
        let (done_tx, mut done) = tokio::sync::oneshot::channel::<()>();
        let batcher = std::thread::Builder::new()
            .name("devserve-batch".into())
            .spawn(move || {
                batch_loop(&watching, &rx, &hub, &cache, debounce);
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
    Ok(())
}

fn start_watching(
    root: PathBuf,
    extra: Vec<(PathBuf, bool)>,
    ignorer: Arc<Ignorer>,
    tx: Sender,
    overflow: Arc<AtomicBool>,
    poll: Option<Duration>,
) -> Result<Watching, notify::Error> {
    let handler = {
        let overflow = overflow.clone();
        let tx = tx.clone();
        let (root, extra) = (root.clone(), extra.clone());
        move |res: notify::Result<notify::Event>| match res {
            Ok(event) => {
                if event.need_rescan() {
                    overflow.store(true, Ordering::Relaxed);
                    tx.event(EventKind::Other, PathBuf::new());
                    return;
                }
                if !counts(&event.kind) {
                    return;
                }
                for path in event.paths {
                    // ROOT's parent is watched to see ROOT itself replaced; its other entries
                    // (a busy /tmp, a log being appended) are none of devserve's business.
                    if path != root && base_for(&root, &extra, &path).is_none() {
                        continue;
                    }
                    if !tx.event(event.kind, path) {
                        overflow.store(true, Ordering::Relaxed);
                    }
                }
            }
            Err(e) => tracing::debug!("watch error: {e}"),
        }
    };
    let poller = {
        let handler = handler.clone();
        move |interval: Duration| {
            let handler = handler.clone();
            Poller::new(interval, move |kind, path| {
                handler(Ok(notify::Event::new(kind).add_path(path)))
            })
            .map(Backend::Poll)
            .map_err(notify::Error::io)
        }
    };
    let mut poll = poll;
    if poll.is_none() {
        if let Some(fs) = eventless_fs_of(&root) {
            tracing::info!(
                "{} is on a {fs} file system, which sends no change events: polling every {} ms (--poll MS to change)",
                root.display(),
                AUTO_POLL.as_millis()
            );
            poll = Some(AUTO_POLL);
        }
    }
    let backend = match poll {
        Some(interval) => poller(interval)?,
        None => Backend::Os(notify::recommended_watcher(handler.clone())?),
    };
    let watching = Watching {
        root: root.clone(),
        extra,
        ignorer,
        watcher: Arc::new(Mutex::new(backend)),
        poller: Box::new(poller),
        overflow,
        out_of_watches: AtomicBool::new(false),
    };
    let mut count = watching.watch_all();
    if watching.out_of_watches.swap(false, Ordering::Relaxed) {
        count = watching.fall_back_to_polling();
        poll = Some(AUTO_POLL);
    }
    let mode = match poll {
        Some(interval) => format!("polling every {} ms", interval.as_millis()),
        None => "OS events".to_string(),
    };
    let folders = if count == 1 { "folder" } else { "folders" };
    tracing::debug!("watching {count} {folders} ({mode})");
    Ok(watching)
}

/// The watched folder a path belongs to: ROOT, or one of the `--watch` paths (a file counts only
/// for itself).
fn base_for<'a>(root: &'a Path, extra: &'a [(PathBuf, bool)], path: &Path) -> Option<&'a Path> {
    if path.starts_with(root) {
        return Some(root);
    }
    extra.iter().find_map(|(p, is_dir)| {
        let hit = if *is_dir { path.starts_with(p) } else { path == p };
        hit.then_some(p.as_path())
    })
}

/// Whether an event can change what a URL resolves to (a new `index.html`, a file replaced by a
/// rename, a lost event): then the file cache is cleared. A change of content needs nothing: each
/// cache hit checks its file's stat.
fn changes_layout(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Other
    )
}

/// Whether an event can mean a change of content (opening or reading a file cannot).
fn counts(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Modify(_) | EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Any | EventKind::Other => false,
    }
}

impl Watching {
    fn polling(&self) -> bool {
        self.watcher
            .lock()
            .map(|w| matches!(*w, Backend::Poll(_)))
            .unwrap_or(true)
    }

    /// Replaces OS events with polling (the OS ran out of inotify watches) and watches everything
    /// again; returns how many folders.
    fn fall_back_to_polling(&self) -> usize {
        match (self.poller)(AUTO_POLL) {
            Ok(backend) => {
                tracing::warn!(
                    "the OS ran out of file watches (inotify): polling every {} ms instead. \
                     To raise the limit: sudo sysctl fs.inotify.max_user_watches=524288",
                    AUTO_POLL.as_millis()
                );
                if let Ok(mut w) = self.watcher.lock() {
                    *w = backend;
                }
                self.watch_all()
            }
            Err(e) => {
                tracing::error!("cannot poll either ({e}): changes in new folders will be missed");
                0
            }
        }
    }

    /// Watches ROOT, its parent (to see ROOT itself replaced) and the `--watch` paths.
    fn watch_all(&self) -> usize {
        let mut count = self.watch_tree(&self.root, None);
        if let Some(parent) = self.root.parent() {
            self.watch_one(parent);
        }
        for (path, is_dir) in &self.extra {
            if *is_dir {
                count += self.watch_tree(path, None);
            } else if let Some(parent) = path.parent() {
                self.watch_one(parent);
            }
        }
        count
    }

    /// Watches `dir` and every folder below it that is not ignored; returns how many. With
    /// `found`, also collects the files below it (a folder that just arrived: its files were
    /// written before its watch existed, so no event will name them).
    fn watch_tree(&self, dir: &Path, mut found: Option<&mut Vec<PathBuf>>) -> usize {
        let base = self.base_of(dir).unwrap_or(dir).to_path_buf();
        let ignorer = self.ignorer.clone();
        let collect = found.is_some();
        let walk = ignore::WalkBuilder::new(dir)
            .standard_filters(false)
            .follow_links(false)
            .filter_entry(move |e| {
                let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                (is_dir || collect) && (e.depth() == 0 || !ignorer.ignored(&base, e.path(), is_dir))
            })
            .build();
        let mut count = 0;
        for entry in walk {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!("cannot read a folder, changes there will be missed: {e}");
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_dir()) {
                if let Some(found) = found.as_deref_mut() {
                    found.push(entry.into_path());
                }
                continue;
            }
            self.ignorer.learn_dir(entry.path());
            if self.watch_one(entry.path()) {
                count += 1;
            }
        }
        count
    }

    fn watch_one(&self, dir: &Path) -> bool {
        let Ok(mut watcher) = self.watcher.lock() else {
            return false;
        };
        match watcher.watch(dir) {
            Ok(()) => true,
            Err(e) => {
                if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    self.out_of_watches.store(true, Ordering::Relaxed);
                    self.overflow.store(true, Ordering::Relaxed);
                    tracing::warn!(
                        "out of inotify watches at {}: raise the limit with \
                         `sudo sysctl fs.inotify.max_user_watches=524288`, or run with --poll",
                        dir.display()
                    );
                } else {
                    tracing::debug!("cannot watch {}: {e}", dir.display());
                }
                false
            }
        }
    }

    /// The watched folder a path belongs to: ROOT, or one of the `--watch` paths.
    fn base_of<'a>(&'a self, path: &Path) -> Option<&'a Path> {
        base_for(&self.root, &self.extra, path)
    }

    /// Turns the paths seen in one batch into what the tabs are told, or nothing.
    fn settle(&self, pending: BTreeMap<PathBuf, Seen>) -> Option<Batch> {
        if self.out_of_watches.swap(false, Ordering::Relaxed) {
            self.fall_back_to_polling();
        }
        let overflowed = self.overflow.swap(false, Ordering::Relaxed);
        if overflowed {
            // Events were lost, folders created meanwhile among them: watch everything again.
            self.watch_all();
        }
        let mut changed: Vec<(PathBuf, Option<std::fs::Metadata>)> = Vec::new();
        let mut reload = overflowed;
        for (path, seen) in pending {
            let meta = std::fs::symlink_metadata(&path).ok();
            if seen.created && meta.is_none() {
                continue; // a temporary that came and went: an editor's or a build's
            }
            if path == self.root {
                if meta.is_some() && seen.arrived {
                    tracing::info!("{} is back; watching it again", self.root.display());
                    if let Ok(mut w) = self.watcher.lock() {
                        w.unwatch(&self.root); // notify may still hold the old folder's watch
                    }
                    let mut found = Vec::new();
                    self.watch_tree(&self.root, Some(&mut found));
                    changed.extend(found.into_iter().map(|f| (f, None)));
                    reload = true;
                }
                continue;
            }
            let is_dir = meta.as_ref().map_or(seen.folder, |m| m.is_dir());
            let Some(base) = self.base_of(&path) else { continue };
            if self.ignorer.ignored(base, &path, is_dir) {
                continue;
            }
            if is_dir {
                // A folder that merely had entries change speaks through those entries; one that
                // arrived is watched, and its files count as changed.
                if seen.arrived && !seen.walked {
                    let mut found = Vec::new();
                    self.watch_tree(&path, Some(&mut found));
                    changed.extend(found.into_iter().map(|f| {
                        let m = std::fs::symlink_metadata(&f).ok();
                        (f, m)
                    }));
                }
                continue;
            }
            changed.push((path, meta));
        }
        changed.sort_by(|a, b| a.0.cmp(&b.0));
        changed.dedup_by(|a, b| a.0 == b.0);
        let mut paths = Vec::new();
        let mut all_css = !reload;
        for (path, meta) in changed {
            if path.starts_with(&self.root) {
                let Some(url) = path_to_url(&self.root, &path) else {
                    continue;
                };
                let css = url.to_ascii_lowercase().ends_with(".css") && meta.is_some_and(|m| m.is_file());
                all_css &= css;
                paths.push(url);
            } else {
                all_css = false; // a --watch path outside ROOT: reload every tab
                reload = true;
            }
        }
        if paths.len() > MAX_PATHS {
            paths.truncate(MAX_PATHS);
            reload = true;
        }
        if paths.is_empty() && !reload {
            return None;
        }
        if !self.root.is_dir() {
            tracing::info!("{} is gone; waiting for it to come back", self.root.display());
            return None;
        }
        Some(Batch {
            paths,
            reload: reload || !all_css,
        })
    }
}

/// Gathers events into batches until told to stop; runs on its own thread.
fn batch_loop(watching: &Watching, rx: &Receiver, hub: &Hub, cache: &FileCache, debounce: Duration) {
    let mut pending: BTreeMap<PathBuf, Seen> = BTreeMap::new();
    let mut first = Instant::now();
    let mut last = Instant::now();
    let mut guard = LoopGuard::default();
    let mut writing = Writers::default();
    loop {
        let due = (!pending.is_empty()).then(|| {
            let quiet = writing.quiet(pending.len(), debounce);
            let settled = (last + quiet).min(first + BATCH_CAP);
            guard.earliest().map_or(settled, |earliest| settled.max(earliest))
        });
        let msg = match due {
            // Due already (a writer that never pauses): the batch goes before anything new.
            Some(due) if due <= Instant::now() => Err(RecvTimeoutError::Timeout),
            Some(due) => rx.next(Some(due.saturating_duration_since(Instant::now()))),
            None => rx.next(None),
        };
        let (kind, path) = match msg {
            Ok(Msg::Event(kind, path)) => (kind, path),
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                let batch = std::mem::take(&mut pending);
                writing.events = 0;
                writing.burst = false;
                let Some(batch) = watching.settle(batch) else {
                    continue;
                };
                if let Some(culprit) = guard.sent(&batch.paths, first, Instant::now()) {
                    tracing::warn!(
                        "{culprit} changes again right after every reload — is a build writing into the served \
                         folder? Reloading at most twice a second until it stops (--ignore it if it is generated)"
                    );
                }
                announce(hub, batch);
                continue;
            }
        };
        if pending.is_empty() {
            first = Instant::now();
        }
        let mut arrived = Vec::new();
        let mut next = Some((kind, path));
        while let Some((kind, path)) = next.take() {
            if changes_layout(&kind) {
                cache.invalidate();
            }
            writing.note(kind, &path);
            arrived.extend(record(&mut pending, watching, kind, path));
            match rx.try_next() {
                Some(Msg::Event(kind, path)) => next = Some((kind, path)),
                Some(Msg::Stop) => return,
                None => {}
            }
        }
        if !arrived.is_empty() {
            // A folder arriving is how checkouts, builds and copies begin: more follows.
            writing.burst = true;
            let (walked, found) = walk_arrivals(watching, arrived);
            for dir in walked {
                pending.entry(dir).or_default().walked = true;
            }
            for file in found {
                let seen = pending.entry(file).or_default();
                seen.created = true;
                seen.arrived = true;
            }
        }
        last = Instant::now();
    }
}

/// Which files are being written right now: written to (or created) and not yet closed, as
/// inotify tells. A batch is not sent while a writer is mid-file unless it stays quiet for long.
#[derive(Debug, Default)]
struct Writers {
    open: std::collections::HashSet<PathBuf>,
    /// Events in the current batch.
    events: usize,
    /// The current batch saw a folder arrive: it waits as a burst does.
    burst: bool,
    /// The last event was a writer closing its file.
    closed_last: bool,
}

impl Writers {
    /// How long a batch of `paths` files must stay quiet before it is sent.
    fn quiet(&self, paths: usize, debounce: Duration) -> Duration {
        if self.burst || paths >= BURST_PATHS || self.events >= BURST_EVENTS {
            BURST_QUIET.max(debounce)
        } else if !self.open.is_empty() {
            WRITER_QUIET.max(debounce)
        } else if self.closed_last && paths == 1 {
            // One file, and its writer has closed it: the save is complete, and the window only
            // waits for another file of the same save. Those follow within microseconds.
            debounce / 2
        } else {
            debounce
        }
    }

    fn note(&mut self, kind: EventKind, path: &Path) {
        self.events += 1;
        self.closed_last = kind == EventKind::Access(AccessKind::Close(AccessMode::Write));
        match kind {
            // Bounded: a writer that never closes only costs the longer window.
            EventKind::Create(CreateKind::File) | EventKind::Modify(ModifyKind::Data(_))
                if self.open.len() < 1024 =>
            {
                self.open.insert(path.to_path_buf());
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_)) => {
                self.open.remove(path);
            }
            _ => {}
        }
    }
}

/// Notices a file that changes again right after every batch, as when a build writes into the
/// served folder on every reload, and holds batches to one per [`LOOP_INTERVAL`] while it lasts.
#[derive(Debug, Default)]
struct LoopGuard {
    last_paths: Vec<String>,
    last_sent: Option<Instant>,
    streak: u32,
    limiting: bool,
}

impl LoopGuard {
    /// The earliest a batch may go out now.
    fn earliest(&self) -> Option<Instant> {
        self.last_sent
            .filter(|_| self.limiting)
            .map(|t| t + LOOP_INTERVAL)
    }

    /// Records a batch sent at `now` whose first change came at `first`; returns the culprit the
    /// first time the guard steps in.
    fn sent(&mut self, paths: &[String], first: Instant, now: Instant) -> Option<String> {
        let quick = self
            .last_sent
            .is_some_and(|t| first.saturating_duration_since(t) < LOOP_GAP);
        let again = paths.iter().find(|p| self.last_paths.contains(p)).cloned();
        let mut culprit = None;
        match again {
            Some(path) if quick => {
                self.streak += 1;
                if self.streak >= LOOP_STREAK && !self.limiting {
                    self.limiting = true;
                    culprit = Some(path);
                }
            }
            _ => {
                if self.limiting {
                    tracing::info!("the repeated changes stopped; reloading at full speed again");
                }
                self.streak = 0;
                self.limiting = false;
            }
        }
        self.last_paths = paths.to_vec();
        self.last_sent = Some(now);
        culprit
    }
}

/// The file system type of the mount that holds `path`, when it is one that gives no events.
fn eventless_fs_of(path: &Path) -> Option<String> {
    eventless_fs_in(&std::fs::read_to_string("/proc/self/mountinfo").ok()?, path)
}

/// [`eventless_fs_of`] for a given mountinfo text.
fn eventless_fs_in(mountinfo: &str, path: &Path) -> Option<String> {
    fs_type_of(mountinfo, path).filter(|fs| EVENTLESS_FS.contains(&fs.as_str()) || fs.starts_with("fuse."))
}

/// The file system type of the longest mount point in `mountinfo` (proc(5) format) holding `path`.
fn fs_type_of(mountinfo: &str, path: &Path) -> Option<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = unescape_mount(left.split(' ').nth(4)?);
            let fs = right.split(' ').next()?;
            path.starts_with(&mount_point)
                .then(|| (mount_point.as_os_str().len(), fs.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\ooo`.
fn unescape_mount(field: &str) -> PathBuf {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    PathBuf::from(out)
}

/// Notes one event in the pending batch. Returns a folder that arrived and must be walked and
/// watched at once — before the batch settles, so that files written into it from now on raise
/// events of their own and a burst into a new folder does not look quiet and split in two.
fn record(
    pending: &mut BTreeMap<PathBuf, Seen>,
    watching: &Watching,
    kind: EventKind,
    path: PathBuf,
) -> Option<PathBuf> {
    if path.as_os_str().is_empty() {
        // An overflow marker: make sure a batch happens.
        pending
            .entry(watching.root.join(".devserve-overflow"))
            .or_default()
            .created = true;
        return None;
    }
    let arrived = matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
    );
    let seen = pending.entry(path.clone()).or_default();
    seen.created |= matches!(kind, EventKind::Create(_));
    seen.arrived |= arrived;
    seen.folder |= matches!(
        kind,
        EventKind::Create(CreateKind::Folder) | EventKind::Remove(RemoveKind::Folder)
    );
    (arrived && !seen.walked && path != watching.root).then_some(path)
}

/// Walks and watches the folders among `arrived`; returns them and the files found inside.
fn walk_arrivals(watching: &Watching, arrived: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut walked = Vec::new();
    let mut found = Vec::new();
    for path in arrived {
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        let ignored = watching
            .base_of(&path)
            .is_some_and(|base| watching.ignorer.ignored(base, &path, true));
        if is_dir && !ignored {
            watching.watch_tree(&path, Some(&mut found));
            walked.push(path);
        }
    }
    (walked, found)
}

fn announce(hub: &Hub, batch: Batch) {
    let tabs = hub.publish(batch.clone());
    let what = if batch.reload { "reload" } else { "css swap" };
    let shown = match batch.paths.len() {
        0 => "files outside the root".to_string(),
        1..=3 => batch.paths.join(", "),
        n => format!("{}, … ({n} files)", batch.paths[..2].join(", ")),
    };
    let tabs_word = if tabs == 1 { "tab" } else { "tabs" };
    tracing::info!("{shown} changed → {what}, told {tabs} {tabs_word}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lone_closed_file_waits_half_the_window_and_nothing_else_does() {
        let debounce = Duration::from_millis(2);
        let (css, other) = (Path::new("/r/a.css"), Path::new("/r/b.html"));
        let data = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Content));
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let mut w = Writers::default();
        w.note(data, css);
        assert_eq!(w.quiet(1, debounce), WRITER_QUIET, "still being written");
        w.note(closed, css);
        assert_eq!(w.quiet(1, debounce), debounce / 2, "saved and closed");
        assert_eq!(w.quiet(2, debounce), debounce, "a second file is in the batch");
        w.note(EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)), css);
        assert_eq!(w.quiet(1, debounce), debounce, "something came after the close");
        w.note(data, other);
        w.note(closed, other);
        w.burst = true;
        assert_eq!(w.quiet(1, debounce), BURST_QUIET, "a burst waits as bursts do");
    }

    use super::*;

    #[test]
    fn editor_temporaries_are_recognised() {
        for name in [
            "4913",
            "index.html~",
            ".index.html.swp",
            "#index.html#",
            "index.html___jb_tmp___",
            "index.html___jb_old___",
            "x.swx",
        ] {
            assert!(is_editor_temporary(name), "{name}");
        }
        for name in ["index.html", "site.css", "4914", "a#b"] {
            assert!(!is_editor_temporary(name), "{name}");
        }
    }

    #[test]
    fn default_ignores_and_rules() {
        let root = Path::new("/r");
        let ig = Ignorer::new(root, &["dist/".to_string(), "*.log".to_string()]).unwrap();
        assert!(ig.ignored(root, Path::new("/r/node_modules/x/y.js"), false));
        assert!(ig.ignored(root, Path::new("/r/a/target"), true));
        assert!(!ig.ignored(root, Path::new("/r/a/target"), false));
        assert!(ig.ignored(root, Path::new("/r/.git/index"), false));
        assert!(ig.ignored(root, Path::new("/r/dist"), true));
        assert!(ig.ignored(root, Path::new("/r/dist/a.js"), false));
        assert!(ig.ignored(root, Path::new("/r/debug.log"), false));
        assert!(!ig.ignored(root, Path::new("/r/index.html"), false));
    }

    #[test]
    fn mount_of_a_path_is_the_longest_prefix() {
        let info = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                    40 22 0:50 / /mnt/c rw,noatime - 9p drvfs rw\n\
                    41 22 0:51 / /home/me/net\\040share rw - cifs //srv/share rw\n\
                    42 22 0:52 / /mnt/cache rw - ext4 /dev/sdb1 rw\n";
        assert_eq!(
            fs_type_of(info, Path::new("/mnt/c/Users/me/site")).as_deref(),
            Some("9p")
        );
        assert_eq!(
            fs_type_of(info, Path::new("/home/me/net share/site")).as_deref(),
            Some("cifs")
        );
        assert_eq!(
            fs_type_of(info, Path::new("/mnt/cache/site")).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            fs_type_of(info, Path::new("/mnt/cx")).as_deref(),
            Some("ext4"),
            "whole components only"
        );
        assert_eq!(fs_type_of(info, Path::new("/srv/site")).as_deref(), Some("ext4"));
    }

    #[test]
    fn folders_without_events_are_polled() {
        let line = |fs: &str, at: &str| format!("50 22 0:60 / {at} rw,relatime - {fs} src rw\n");
        let mut info = line("ext4", "/");
        for (fs, at) in [
            ("9p", "/mnt/c"),
            ("drvfs", "/mnt/d"),
            ("nfs4", "/net"),
            ("cifs", "/smb"),
            ("vboxsf", "/media/sf"),
            ("fuse.sshfs", "/remote"),
            ("overlay", "/app"),
            ("tmpfs", "/run"),
        ] {
            info.push_str(&line(fs, at));
        }
        for (at, polled) in [
            ("/mnt/c/site", true),
            ("/mnt/d/x", true),
            ("/net/home/site", true),
            ("/smb/site", true),
            ("/media/sf/site", true),
            ("/remote/site", true),
            ("/app/site", false),
            ("/run/x", false),
            ("/home/me/site", false),
        ] {
            assert_eq!(eventless_fs_in(&info, Path::new(at)).is_some(), polled, "{at}");
        }
    }

    /// An inotify queue overflow loses events, maybe a new folder's: the batch reloads, and every
    /// tree is walked again so that the new folder is watched.
    #[test]
    fn overflow_reloads_and_watches_new_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir(&root).unwrap();
        let (tx, rx) = queue();
        let overflow = Arc::new(AtomicBool::new(false));
        let ignorer = Arc::new(Ignorer::new(&root, &[]).unwrap());
        let watching = start_watching(root.clone(), Vec::new(), ignorer, tx, overflow.clone(), None).unwrap();
        // A folder whose creation event is treated as lost.
        std::fs::create_dir(root.join("new")).unwrap();
        while rx.try_next().is_some() {}
        overflow.store(true, Ordering::Relaxed);
        let batch = watching
            .settle(BTreeMap::new())
            .expect("a batch after an overflow");
        assert!(batch.reload);
        std::fs::write(root.join("new/page.html"), "x").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = false;
        while let Ok(msg) = rx.next(Some(deadline.saturating_duration_since(Instant::now()))) {
            if matches!(msg, Msg::Event(_, path) if path == root.join("new/page.html")) {
                seen = true;
                break;
            }
        }
        assert!(seen, "the new folder is watched after the overflow");
    }

    #[test]
    fn loop_guard_steps_in_after_a_streak_and_steps_out_after_a_pause() {
        let mut guard = LoopGuard::default();
        let t0 = Instant::now();
        let paths = vec!["/out.js".to_string()];
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut culprit = None;
        for i in 0..=LOOP_STREAK as u64 {
            // Each batch's first change comes 50 ms after the previous batch went out.
            culprit = culprit.or(guard.sent(&paths, ms(i * 100 + 50), ms(i * 100 + 60)));
        }
        assert_eq!(culprit.as_deref(), Some("/out.js"));
        assert!(guard.earliest().is_some());
        // A change long after: a person saving, not a loop.
        assert_eq!(guard.sent(&paths, ms(60_000), ms(60_010)), None);
        assert!(guard.earliest().is_none());
    }

    #[test]
    fn loop_guard_leaves_a_person_saving_often_alone() {
        let mut guard = LoopGuard::default();
        let t0 = Instant::now();
        let paths = vec!["/index.html".to_string()];
        for i in 0..20u64 {
            let at = t0 + Duration::from_millis(i * 1500);
            assert_eq!(guard.sent(&paths, at, at + Duration::from_millis(12)), None);
        }
        assert!(guard.earliest().is_none());
    }

    #[test]
    fn reading_a_file_is_not_a_change() {
        assert!(!counts(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!counts(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(counts(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(counts(&EventKind::Modify(ModifyKind::Any)));
    }
}

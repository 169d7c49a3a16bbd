//! Gathering events into batches: one batch per save, per burst, per build — after the files
//! have been quiet for the right window (a lone closed file, a writer still writing, a burst).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RemoveKind, RenameMode};

use super::aftermath::Aftermath;
use super::guard::LoopGuard;
use super::queue::{Msg, Receiver};
use super::source::changes_layout;
use super::tree::{Seen, Watching};
use super::{Sink, WatchEvent};

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
/// Quiet needed while the batch holds a file removed and not written again.
const REMOVAL_QUIET: Duration = Duration::from_millis(300);

/// The batch being gathered.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Every path an event named, and what happened to it.
    pub(super) paths: BTreeMap<PathBuf, Seen>,
    /// Events were lost on the way: the batch reloads every tab.
    pub(super) lost: bool,
    /// How many paths were removed and not (yet) written again.
    removals: usize,
    /// How many of those are pages (`.html`): what a tab shows.
    removed_pages: usize,
    /// Something arrived after a removal: the build that emptied a folder is writing it anew.
    refilled: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.lost
    }

    /// True while the batch waits for removed files to be replaced: a page that is gone and not
    /// back, or a removal that nothing has followed yet. Hashed assets a build removed for good
    /// do not hold the batch once the build writes again.
    fn awaits_replacements(&self) -> bool {
        self.removed_pages > 0 || (self.removals > 0 && !self.refilled)
    }

    /// How many things the batch holds, for the size of its quiet window.
    fn len(&self) -> usize {
        self.paths.len() + usize::from(self.lost)
    }
}

/// Gathers events into batches until told to stop; runs on its own thread. Every event that can
/// change what a URL resolves to is passed on at once as [`WatchEvent::LayoutChanged`]; each
/// settled batch as [`WatchEvent::Batch`]; and [`WatchEvent::Settling`] / [`WatchEvent::Settled`]
/// bracket the time files are changing, so that a page asked for meanwhile can wait for the end.
pub(super) fn batch_loop(watching: &Watching, rx: &Receiver, sink: &Sink, debounce: Duration) {
    let mut pending = Pending::default();
    let mut first = Instant::now();
    let mut last = Instant::now();
    let mut guard = LoopGuard::default();
    let mut writing = Writers::default();
    // A batch went out at the cap while the files were still being written: the burst goes on,
    // and it has not settled until the files are quiet.
    let mut outran = false;
    // When the last batch went out: a change right after it is a writer that paused, not a new
    // save, and the batch it starts waits as a burst does.
    let mut last_sent: Option<Instant> = None;
    let mut aftermath = Aftermath::default();
    // Files the last batch dropped as temporaries: created, and gone by the time it settled.
    // A writer that paused between writing one and renaming it over its target sends the
    // rename in the next batch, and the file that was never announced is not announced gone.
    let mut temporaries: Vec<PathBuf> = Vec::new();
    loop {
        let quiet = writing.quiet(pending.len(), pending.awaits_replacements(), debounce);
        let due = if !pending.is_empty() {
            let settled = (last + quiet).min(first + BATCH_CAP);
            Some(guard.earliest().map_or(settled, |earliest| settled.max(earliest)))
        } else {
            outran.then_some(last + quiet)
        };
        let msg = match due {
            // Due already (a writer that never pauses): the batch goes before anything new.
            Some(due) if due <= Instant::now() => Err(RecvTimeoutError::Timeout),
            Some(due) => rx.next(Some(due.saturating_duration_since(Instant::now()))),
            None => rx.next(None),
        };
        let msg = match msg {
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Msg::Served(dir)) => {
                watching.keep_served(&dir);
                continue;
            }
            Ok(Msg::Event(kind, path)) if aftermath.covers(&kind, &path, Instant::now()) => continue,
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) if pending.is_empty() => {
                // The burst that outran the cap has ended.
                outran = false;
                sink(WatchEvent::Settled);
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {
                let capped = first + BATCH_CAP < last + quiet;
                let batch = std::mem::take(&mut pending);
                let named: Vec<PathBuf> = batch.paths.keys().cloned().collect();
                writing.events = 0;
                // A batch sent at the cap is the middle of a burst, which goes on as one.
                writing.burst = capped;
                temporaries.clear();
                if let Some(batch) = watching.settle(batch.paths, batch.lost, &mut temporaries) {
                    if let Some(culprit) = guard.sent(&batch.paths, first, Instant::now()) {
                        tracing::warn!(
                            "{culprit} changes again right after every reload — is a build writing into the served \
                             folder? Reloading at most twice a second until it stops (--ignore it if it is generated)"
                        );
                    }
                    sink(WatchEvent::Batch(batch));
                    last_sent = Some(Instant::now());
                    aftermath.sent(named, Instant::now());
                }
                outran = capped;
                if !outran {
                    sink(WatchEvent::Settled);
                }
                continue;
            }
        };
        if pending.is_empty() {
            first = Instant::now();
            if !outran {
                sink(WatchEvent::Settling);
            }
            if last_sent.is_some_and(|sent| first.duration_since(sent) < BURST_QUIET) {
                writing.burst = true;
            }
        }
        let mut arrived = Vec::new();
        let mut next = Some(msg);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Event(kind, path) if aftermath.covers(&kind, &path, Instant::now()) => {}
                Msg::Event(kind, path) => {
                    if changes_layout(&kind) {
                        sink(WatchEvent::LayoutChanged);
                    }
                    if temporaries.contains(&path) {
                        pending.paths.entry(path.clone()).or_default().created = true;
                    }
                    writing.note(kind, &path);
                    arrived.extend(record(&mut pending, watching, kind, path));
                }
                Msg::Lost => {
                    // Anything may have changed, a new folder among it: the batch reloads and
                    // every tree is walked again when it settles.
                    sink(WatchEvent::LayoutChanged);
                    writing.note_lost();
                    pending.lost = true;
                }
                Msg::Served(dir) => watching.keep_served(&dir),
                Msg::Stop => return,
            }
            next = rx.try_next();
        }
        if !arrived.is_empty() {
            let (walked, found) = walk_arrivals(watching, arrived);
            if !walked.is_empty() {
                // A folder arriving is how checkouts, builds and copies begin: more follows. A
                // new file alone is a save like any other.
                writing.burst = true;
            }
            for dir in walked {
                pending.paths.entry(dir).or_default().walked = true;
            }
            for file in found {
                let seen = pending.paths.entry(file).or_default();
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
    fn quiet(&self, paths: usize, removals: bool, debounce: Duration) -> Duration {
        let quiet = self.quiet_for_writes(paths, debounce);
        if removals {
            // Files removed and not written again: a build emptying its output folder writes
            // the new files a moment later (Vite: ~200 ms). Wait for them rather than show an
            // empty folder or a 404 in between; a plain `rm` is shown after this.
            quiet.max(REMOVAL_QUIET)
        } else {
            quiet
        }
    }

    fn quiet_for_writes(&self, paths: usize, debounce: Duration) -> Duration {
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

    /// Lost events count as one event that closed nothing.
    fn note_lost(&mut self) {
        self.events += 1;
        self.closed_last = false;
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

/// Notes one event in the pending batch. Returns a folder that arrived and must be walked and
/// watched at once — before the batch settles, so that files written into it from now on raise
/// events of their own and a burst into a new folder does not look quiet and split in two.
fn record(pending: &mut Pending, watching: &Watching, kind: EventKind, path: PathBuf) -> Option<PathBuf> {
    let arrived = matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
    );
    let seen = pending.paths.entry(path.clone()).or_default();
    let was_removed = seen.removed;
    if matches!(
        kind,
        EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From))
    ) {
        // A temporary that came and went (vim's `4913`, `file~`) is no removal to wait on.
        let is_dir = matches!(kind, EventKind::Remove(RemoveKind::Folder));
        let noise = watching
            .base_of(&path)
            .is_some_and(|base| watching.ignorer.ignored(base, &path, is_dir));
        seen.removed = !seen.created && !noise;
    } else if arrived {
        seen.removed = false;
    }
    let now_removed = seen.removed;
    seen.created |= matches!(kind, EventKind::Create(_));
    seen.arrived |= arrived;
    seen.folder |= matches!(
        kind,
        EventKind::Create(CreateKind::Folder) | EventKind::Remove(RemoveKind::Folder)
    );
    let walk = arrived && !seen.walked && path != watching.root;
    let page = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    match (was_removed, now_removed) {
        (false, true) => {
            pending.removals += 1;
            pending.removed_pages += usize::from(page);
        }
        (true, false) => {
            pending.removals -= 1;
            pending.removed_pages -= usize::from(page);
        }
        _ => {}
    }
    if arrived && pending.removals > 0 {
        pending.refilled = true;
    }
    walk.then_some(path)
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

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::MetadataKind;

    #[test]
    fn a_lone_closed_file_waits_half_the_window_and_nothing_else_does() {
        let debounce = Duration::from_millis(2);
        let (css, other) = (Path::new("/r/a.css"), Path::new("/r/b.html"));
        let data = EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Content));
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let mut w = Writers::default();
        w.note(data, css);
        assert_eq!(w.quiet(1, false, debounce), WRITER_QUIET, "still being written");
        w.note(closed, css);
        assert_eq!(w.quiet(1, false, debounce), debounce / 2, "saved and closed");
        assert_eq!(
            w.quiet(2, false, debounce),
            debounce,
            "a second file is in the batch"
        );
        w.note(EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)), css);
        assert_eq!(
            w.quiet(1, false, debounce),
            debounce,
            "something came after the close"
        );
        w.note(data, other);
        w.note(closed, other);
        w.burst = true;
        assert_eq!(
            w.quiet(1, false, debounce),
            BURST_QUIET,
            "a burst waits as bursts do"
        );
        assert_eq!(
            w.quiet(1, true, debounce),
            REMOVAL_QUIET,
            "a removal waits for its replacement"
        );
    }

    /// A writer pauses between closing its temporary and renaming it over the page, long enough
    /// for the batch to be taken, and the rename lands before that batch settles: the temporary
    /// is dropped, and in the next batch its rename away is not announced as a removal.
    #[test]
    fn a_temporary_renamed_after_its_batch_is_never_announced() {
        use super::super::ignore::Ignorer;
        use super::super::queue::queue;
        use super::super::tree::start_watching;
        use std::sync::{mpsc, Arc};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (page, tmp) = (root.join("index.html"), root.join("index.html.tmp.0"));
        std::fs::write(&page, "v1").unwrap();
        // The watches' own events go nowhere: this test sends the batcher its events itself.
        let (watch_tx, _watch_rx) = queue();
        let ignorer = Arc::new(Ignorer::new(&root, &[]).unwrap());
        let overflow = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watching = start_watching(root.clone(), Vec::new(), ignorer, watch_tx, overflow, None).unwrap();
        let (tx, rx) = queue();
        let (out_tx, out_rx) = mpsc::channel();
        let sink: Sink = Arc::new(move |event| {
            let _ = out_tx.send(match event {
                WatchEvent::Batch(batch) => Some(batch.paths),
                WatchEvent::Settled => None,
                _ => return,
            });
        });
        let batcher = std::thread::spawn(move || batch_loop(&watching, &rx, &sink, Duration::from_millis(2)));
        let wait = || {
            out_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the batcher answers")
        };
        // Written, closed — and already renamed over the page when the batch settles.
        std::fs::write(&page, "v2").unwrap();
        tx.event(EventKind::Create(CreateKind::File), tmp.clone());
        tx.event(
            EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any)),
            tmp.clone(),
        );
        tx.event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            tmp.clone(),
        );
        assert_eq!(wait(), None, "the temporary alone: nothing to announce");
        for (mode, path) in [
            (RenameMode::From, &tmp),
            (RenameMode::To, &page),
            (RenameMode::Both, &tmp),
            (RenameMode::Both, &page),
        ] {
            tx.event(EventKind::Modify(ModifyKind::Name(mode)), path.clone());
        }
        assert_eq!(
            wait(),
            Some(vec!["/index.html".to_string()]),
            "the page, and only the page"
        );
        tx.stop();
        batcher.join().unwrap();
    }
}

//! Gathering events into batches: one batch per save, per burst, per build — after the files
//! have been quiet for the right window (a lone closed file, a writer still writing, a burst).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RemoveKind, RenameMode};

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
/// A batch whose first change comes this soon after the previous batch went out, naming a file
/// that batch named too, looks like a build writing into the served folder on every reload.
const LOOP_GAP: Duration = Duration::from_millis(250);
/// That many such batches in a row and the loop guard steps in.
const LOOP_STREAK: u32 = 10;
/// While it does, batches go out at most this often.
const LOOP_INTERVAL: Duration = Duration::from_millis(500);

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
                writing.events = 0;
                // A batch sent at the cap is the middle of a burst, which goes on as one.
                writing.burst = capped;
                if let Some(batch) = watching.settle(batch.paths, batch.lost) {
                    if let Some(culprit) = guard.sent(&batch.paths, first, Instant::now()) {
                        tracing::warn!(
                            "{culprit} changes again right after every reload — is a build writing into the served \
                             folder? Reloading at most twice a second until it stops (--ignore it if it is generated)"
                        );
                    }
                    sink(WatchEvent::Batch(batch));
                    last_sent = Some(Instant::now());
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
                Msg::Event(kind, path) => {
                    if changes_layout(&kind) {
                        sink(WatchEvent::LayoutChanged);
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
}

//! The watches themselves: walking a tree to watch each folder that is not ignored, falling
//! back to polling, and settling a batch's paths into what the tabs are told.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ignore::{Ignorer, Why};
use super::queue::Sender;
use super::source::{base_for, start_backend, Backend, SharedWatcher, AUTO_POLL};
use super::Batch;
use crate::paths::path_to_url;

/// An `updated` names at most this many paths; past it, tabs simply reload.
const MAX_PATHS: usize = 1000;

/// What happened to a path within one batch.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Seen {
    /// Created in this batch: gone again at the end means it was a temporary.
    pub(super) created: bool,
    /// Created or moved in: a folder that arrived needs watches.
    pub(super) arrived: bool,
    /// A folder already walked and watched when its event came in.
    pub(super) walked: bool,
    /// The event said this is a folder (a deleted one has nothing left to ask).
    pub(super) folder: bool,
    /// The last event removed it (or moved it away).
    pub(super) removed: bool,
}

/// Starts watching ROOT and the `--watch` paths (`extra`: path, is_dir), feeding `tx`: the event
/// source, then every folder the ignore rules let through, walked and watched.
pub(super) fn start_watching(
    root: PathBuf,
    extra: Vec<(PathBuf, bool)>,
    ignorer: Arc<Ignorer>,
    tx: Sender,
    overflow: Arc<AtomicBool>,
    poll: Option<Duration>,
) -> Result<Watching, notify::Error> {
    let (backend, poller, mut poll) = start_backend(&root, &extra, tx, overflow.clone(), poll)?;
    let watching = Watching {
        root: root.clone(),
        extra,
        ignorer,
        watcher: Arc::new(Mutex::new(backend)),
        poller,
        overflow,
        out_of_watches: AtomicBool::new(false),
        skipped: Arc::default(),
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

/// The watcher and what it needs to interpret its events.
pub(super) struct Watching {
    pub(super) root: PathBuf,
    /// `--watch` paths: (path, is_dir).
    pub(super) extra: Vec<(PathBuf, bool)>,
    pub(super) ignorer: Arc<Ignorer>,
    /// Kept alive here: dropping it stops the events.
    pub(super) watcher: SharedWatcher,
    pub(super) overflow: Arc<AtomicBool>,
    /// Makes the polling backend, for when OS events run out.
    pub(super) poller: super::source::MakePoller,
    /// Set when inotify said ENOSPC.
    pub(super) out_of_watches: AtomicBool,
    /// Folders under ROOT that ignore rules kept out of a walk (a few, for the start-up notice).
    pub(super) skipped: Arc<Mutex<Vec<PathBuf>>>,
}

/// At most this many skipped folders are remembered for the notice.
const SKIPPED_SHOWN: usize = 5;

impl Watching {
    pub(super) fn polling(&self) -> bool {
        self.watcher
            .lock()
            .map(|w| matches!(*w, Backend::Poll(_)))
            .unwrap_or(true)
    }

    /// Replaces OS events with polling (the OS ran out of inotify watches) and watches everything
    /// again; returns how many folders.
    pub(super) fn fall_back_to_polling(&self) -> usize {
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
    pub(super) fn watch_all(&self) -> usize {
        // A ROOT that does not exist yet is watched from its parent, and walked when it appears.
        let mut count = if self.root.is_dir() {
            self.watch_tree(&self.root, None)
        } else {
            0
        };
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
    pub(super) fn watch_tree(&self, dir: &Path, mut found: Option<&mut Vec<PathBuf>>) -> usize {
        let base = self.base_of(dir).unwrap_or(dir).to_path_buf();
        let (ignorer, skipped) = (self.ignorer.clone(), self.skipped.clone());
        let collect = found.is_some();
        let walk = ::ignore::WalkBuilder::new(dir)
            .standard_filters(false)
            .follow_links(false)
            .filter_entry(move |e| {
                let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                if !is_dir && !collect {
                    return false;
                }
                if e.depth() == 0 {
                    return true;
                }
                match ignorer.why_ignored(&base, e.path(), is_dir) {
                    None => true,
                    Some(why) => {
                        if why == Why::Rule && is_dir {
                            if let Ok(mut skipped) = skipped.lock() {
                                if skipped.len() < SKIPPED_SHOWN {
                                    skipped.push(e.path().to_path_buf());
                                }
                            }
                        }
                        false
                    }
                }
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

    /// Says once which folders of ROOT the ignore rules keep unwatched, and what to do about it.
    pub(super) fn tell_skipped(&self) {
        let skipped = match self.skipped.lock() {
            Ok(mut skipped) => std::mem::take(&mut *skipped),
            Err(_) => return,
        };
        let shown: Vec<String> = skipped
            .iter()
            .filter_map(|dir| dir.strip_prefix(&self.root).ok())
            .map(|rel| format!("{}/", rel.display()))
            .collect();
        if let Some(example) = shown.first() {
            tracing::info!(
                "not watching {} (ignore rules); a folder a page loads files from is watched from then on, \
                 and --watch {} watches one whole",
                shown.join(", "),
                example.trim_end_matches('/')
            );
        }
    }

    /// A page loaded something from `dir` (or listed it): its entries are watched from now on,
    /// whatever the ignore rules say. Build output is often in `.gitignore`, and it is what the
    /// tab shows. Does nothing for a folder watched already.
    pub(super) fn keep_served(&self, dir: &Path) {
        let Some(base) = self.base_of(dir) else { return };
        if !matches!(
            self.ignorer.why_ignored(base, dir, true),
            Some(Why::Rule | Why::Skipped)
        ) {
            return;
        }
        if self.watch_one(dir) {
            self.ignorer.keep_dir(dir);
            let shown = path_to_url(&self.root, dir).unwrap_or_default();
            tracing::info!("watching {shown}/ too: a page loaded a file from it (ignore rules skip it)");
        }
    }

    /// The watched folder a path belongs to: ROOT, or one of the `--watch` paths.
    pub(super) fn base_of<'a>(&'a self, path: &Path) -> Option<&'a Path> {
        base_for(&self.root, &self.extra, path)
    }

    /// Turns the paths seen in one batch into what the tabs are told, or nothing. Files created
    /// in the batch and gone again are dropped, and added to `temporaries`: their last events
    /// (an atomic save renaming one over its target) may come in the next batch.
    pub(super) fn settle(
        &self,
        paths: BTreeMap<PathBuf, Seen>,
        lost: bool,
        temporaries: &mut Vec<PathBuf>,
    ) -> Option<Batch> {
        if self.out_of_watches.swap(false, Ordering::Relaxed) {
            self.fall_back_to_polling();
        }
        let overflowed = self.overflow.swap(false, Ordering::Relaxed) | lost;
        if overflowed {
            // Events were lost, folders created meanwhile among them: watch everything again.
            self.watch_all();
        }
        let mut changed: Vec<(PathBuf, Option<std::fs::Metadata>)> = Vec::new();
        let mut reload = overflowed;
        let mut all = overflowed;
        for (path, seen) in paths {
            let meta = std::fs::symlink_metadata(&path).ok();
            if seen.created && meta.is_none() {
                temporaries.push(path); // a temporary that came and went: an editor's or a build's
                continue;
            }
            if path == self.root {
                if meta.is_some() && seen.arrived {
                    tracing::info!("{} is there (again); watching it", self.root.display());
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
                // `app.js.br` is sent for `app.js`: a change to it is a change to `app.js` too.
                let inner = precompressed_of(&url).map(str::to_string);
                let named = inner.as_deref().unwrap_or(&url);
                let css = named.to_ascii_lowercase().ends_with(".css") && meta.is_some_and(|m| m.is_file());
                all_css &= css;
                paths.push(url);
                paths.extend(inner);
            } else {
                all_css = false; // a --watch path outside ROOT: reload every tab
                reload = true;
                all = true;
            }
        }
        paths.sort_unstable();
        paths.dedup();
        if paths.len() > MAX_PATHS {
            paths.truncate(MAX_PATHS);
            reload = true;
            all = true;
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
            all,
        })
    }
}

/// The URL a precompressed file is sent for: `/app.js` for `/app.js.br` or `/app.js.gz`.
fn precompressed_of(url: &str) -> Option<&str> {
    let inner = url.strip_suffix(".br").or_else(|| url.strip_suffix(".gz"))?;
    let name = &inner[inner.rfind('/').map_or(0, |i| i + 1)..];
    (name.contains('.') && !name.ends_with(".tar")).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::super::queue::{queue, Msg};
    use super::*;
    use std::time::Instant;

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
            .settle(BTreeMap::new(), false, &mut Vec::new())
            .expect("a batch after an overflow");
        assert!(batch.reload);
        assert!(batch.all, "no tab can tell what the lost events named");
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

    /// A page inside ROOT and a `--watch` file outside it change in one batch: the page is named,
    /// and the batch says that it does not name everything, so every tab reloads.
    #[test]
    fn a_batch_with_a_change_outside_root_reloads_every_tab() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        let outside = dir.path().join("templates");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(root.join("b.html"), "b").unwrap();
        std::fs::write(outside.join("base.tpl"), "t").unwrap();
        let (tx, _rx) = queue();
        let ignorer = Arc::new(Ignorer::new(&root, &[]).unwrap());
        let overflow = Arc::new(AtomicBool::new(false));
        let extra = vec![(outside.clone(), true)];
        let watching = start_watching(root.clone(), extra, ignorer, tx, overflow, None).unwrap();
        let mut paths = BTreeMap::new();
        paths.insert(root.join("b.html"), Seen::default());
        let batch = watching.settle(paths, false, &mut Vec::new()).expect("a batch");
        assert_eq!(batch.paths, ["/b.html"]);
        assert!(
            batch.reload && !batch.all,
            "a page alone is named: the tabs decide"
        );
        let mut paths = BTreeMap::new();
        paths.insert(root.join("b.html"), Seen::default());
        paths.insert(outside.join("base.tpl"), Seen::default());
        let batch = watching.settle(paths, false, &mut Vec::new()).expect("a batch");
        assert_eq!(batch.paths, ["/b.html"]);
        assert!(
            batch.reload && batch.all,
            "with a change no tab can place, every tab reloads"
        );
    }
}

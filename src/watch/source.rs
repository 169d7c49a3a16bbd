//! The source of events: notify's OS watcher or the poller, set up over ROOT and the `--watch`
//! paths, feeding the queue.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, MetadataKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};

use super::mounts::eventless_fs_of;
use super::poll::Poller;
use super::queue::Sender;

/// How often to poll when devserve chooses polling by itself.
pub(super) const AUTO_POLL: Duration = Duration::from_millis(300);

/// OS events, or polling.
pub(super) enum Backend {
    Os(notify::RecommendedWatcher),
    Poll(Poller),
}

impl Backend {
    pub(super) fn watch(&mut self, dir: &Path) -> Result<(), notify::Error> {
        match self {
            Backend::Os(w) => w.watch(dir, RecursiveMode::NonRecursive),
            Backend::Poll(p) => p.watch(dir).map_err(notify::Error::io),
        }
    }

    pub(super) fn unwatch(&mut self, dir: &Path) {
        match self {
            Backend::Os(w) => {
                let _ = w.unwatch(dir);
            }
            Backend::Poll(p) => p.unwatch(dir),
        }
    }
}

pub(super) type SharedWatcher = Arc<Mutex<Backend>>;

/// Makes the polling backend at a given interval.
pub(super) type MakePoller = Box<dyn Fn(Duration) -> Result<Backend, notify::Error> + Send + Sync>;

/// The event source over ROOT and the `--watch` paths (not yet watching anything): notify's OS
/// watcher, or the poller when asked for or when ROOT's file system sends no events; with the
/// maker of a poller (for when OS events run out) and the polling interval, if polling.
pub(super) fn start_backend(
    root: &Path,
    extra: &[(PathBuf, bool)],
    tx: Sender,
    overflow: Arc<AtomicBool>,
    poll: Option<Duration>,
) -> Result<(Backend, MakePoller, Option<Duration>), notify::Error> {
    let handler = {
        let overflow = overflow.clone();
        let tx = tx.clone();
        let (root, extra) = (root.to_path_buf(), extra.to_vec());
        move |res: notify::Result<notify::Event>| match res {
            Ok(event) => {
                if event.need_rescan() {
                    overflow.store(true, Ordering::Relaxed);
                    tx.lost();
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
        if let Some(fs) = eventless_fs_of(root) {
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
    Ok((backend, Box::new(poller), poll))
}

/// The watched folder a path belongs to: ROOT, or one of the `--watch` paths (a file counts only
/// for itself).
pub(super) fn base_for<'a>(root: &'a Path, extra: &'a [(PathBuf, bool)], path: &Path) -> Option<&'a Path> {
    if path.starts_with(root) {
        return Some(root);
    }
    extra.iter().find_map(|(p, is_dir)| {
        let hit = if *is_dir { path.starts_with(p) } else { path == p };
        hit.then_some(p.as_path())
    })
}

/// Whether an event can change what a URL resolves to (a new `index.html`, a file replaced by a
/// rename): then the file cache is cleared. A change of content needs nothing: each
/// cache hit checks its file's stat.
pub(super) fn changes_layout(kind: &EventKind) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_file_is_not_a_change() {
        assert!(!counts(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!counts(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(counts(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(counts(&EventKind::Modify(ModifyKind::Any)));
    }
}

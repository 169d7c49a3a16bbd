//! A polling watcher for folders that give no OS events (network drives, WSL's /mnt, Docker bind
//! mounts) or when the OS runs out of inotify watches.
//!
//! Written by hand because notify's `PollWatcher` compares modification times in whole seconds and
//! ignores sizes, so a file saved twice within a second is missed. This one compares each entry's
//! mtime to the nanosecond, its size and its inode, folder by folder, like the OS watcher it stands
//! in for (one non-recursive watch per folder).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::event::{CreateKind, EventKind, ModifyKind, RemoveKind};

/// What identifies one version of a folder entry.
#[derive(Debug, Clone)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    is_dir: bool,
    /// The content's hash, for files modified in the last [`RECENT`] only: a rewrite within one
    /// timestamp tick leaves mtime, size and inode alike, so only the bytes can tell.
    hash: Option<u64>,
}

/// Files modified this recently have their content hashed (up to [`HASH_MAX`] bytes).
const RECENT: Duration = Duration::from_secs(2);
const HASH_MAX: u64 = 1024 * 1024;

impl Stamp {
    /// The same version of the entry. Hashes count only when both sides have one: a file stops
    /// being hashed once it is no longer recent, and that is not a change.
    fn same(&self, other: &Stamp) -> bool {
        self.modified == other.modified
            && self.len == other.len
            && self.inode == other.inode
            && self.is_dir == other.is_dir
            && match (self.hash, other.hash) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

type Snapshot = HashMap<OsString, Stamp>;

/// Polls the watched folders every `interval` on a thread of its own, until dropped.
pub(super) struct Poller {
    dirs: Arc<Mutex<HashMap<PathBuf, Snapshot>>>,
    /// Dropping this ends the polling thread.
    _stop: mpsc::Sender<()>,
}

impl Poller {
    /// Starts polling; `sink` gets each change as (kind, path).
    pub(super) fn new(
        interval: Duration,
        sink: impl Fn(EventKind, PathBuf) + Send + 'static,
    ) -> std::io::Result<Self> {
        let dirs: Arc<Mutex<HashMap<PathBuf, Snapshot>>> = Arc::default();
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = dirs.clone();
        std::thread::Builder::new()
            .name("devserve-poll".into())
            .spawn(move || loop {
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let Ok(mut dirs) = shared.lock() else { return };
                for (dir, snapshot) in dirs.iter_mut() {
                    let now = scan(dir).unwrap_or_default();
                    diff(dir, snapshot, &now, &sink);
                    *snapshot = now;
                }
            })?;
        Ok(Poller { dirs, _stop: stop })
    }

    /// Starts polling one folder's entries (not its subfolders').
    pub(super) fn watch(&self, dir: &Path) -> std::io::Result<()> {
        let snapshot = scan(dir)?;
        if let Ok(mut dirs) = self.dirs.lock() {
            dirs.insert(dir.to_path_buf(), snapshot);
        }
        Ok(())
    }

    pub(super) fn unwatch(&self, dir: &Path) {
        if let Ok(mut dirs) = self.dirs.lock() {
            dirs.remove(dir);
        }
    }
}

fn scan(dir: &Path) -> std::io::Result<Snapshot> {
    use std::os::unix::fs::MetadataExt;
    let mut out = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().ok();
        let recent = modified
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_none_or(|age| age < RECENT);
        let hash = (recent && meta.is_file() && meta.len() <= HASH_MAX)
            .then(|| std::fs::read(entry.path()).ok())
            .flatten()
            .map(|bytes| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                h.finish()
            });
        out.insert(
            entry.file_name(),
            Stamp {
                modified,
                len: meta.len(),
                inode: meta.ino(),
                is_dir: meta.is_dir(),
                hash,
            },
        );
    }
    Ok(out)
}

fn diff(dir: &Path, before: &Snapshot, now: &Snapshot, sink: &impl Fn(EventKind, PathBuf)) {
    for (name, stamp) in now {
        match before.get(name) {
            None => sink(EventKind::Create(CreateKind::Any), dir.join(name)),
            // A folder's own stamp changes when its entries do; those entries speak for it.
            Some(old) if !(old.same(stamp) || old.is_dir && stamp.is_dir) => sink(
                // Not `Data`: that kind means a writer with the file open, which polling cannot see.
                EventKind::Modify(ModifyKind::Any),
                dir.join(name),
            ),
            Some(_) => {}
        }
    }
    for (name, old) in before {
        if !now.contains_key(name) {
            let kind = if old.is_dir {
                RemoveKind::Folder
            } else {
                RemoveKind::File
            };
            sink(EventKind::Remove(kind), dir.join(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_second_save_within_the_same_second_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.css");
        std::fs::write(&file, "a{}").unwrap();
        let before = scan(dir.path()).unwrap();
        std::fs::write(&file, "b{}").unwrap(); // same size, same second
        let now = scan(dir.path()).unwrap();
        let (tx, rx) = channel();
        diff(dir.path(), &before, &now, &|kind, path| {
            tx.send((kind, path)).unwrap()
        });
        let (kind, path) = rx.try_recv().expect("a change");
        assert!(matches!(kind, EventKind::Modify(_)));
        assert_eq!(path, file);
    }

    /// Regression: a file's hash is kept only while it is recent, and its going away made every
    /// save look like two in polling mode.
    #[test]
    fn a_file_ageing_out_of_hashing_is_not_a_change() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.css"), "a{}").unwrap();
        let before = scan(dir.path()).unwrap();
        let mut now = before.clone();
        for stamp in now.values_mut() {
            assert!(stamp.hash.is_some(), "a file just written is hashed");
            stamp.hash = None;
        }
        let (tx, rx) = channel();
        diff(dir.path(), &before, &now, &|kind, path| {
            tx.send((kind, path)).unwrap()
        });
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn created_and_removed_entries_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old"), "").unwrap();
        let before = scan(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join("old")).unwrap();
        std::fs::write(dir.path().join("new"), "").unwrap();
        let now = scan(dir.path()).unwrap();
        let (tx, rx) = channel();
        diff(dir.path(), &before, &now, &|kind, path| {
            tx.send((kind, path)).unwrap()
        });
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got.len(), 2);
        assert!(got
            .iter()
            .any(|(k, p)| matches!(k, EventKind::Create(_)) && p.ends_with("new")));
        assert!(got
            .iter()
            .any(|(k, p)| matches!(k, EventKind::Remove(_)) && p.ends_with("old")));
    }
}

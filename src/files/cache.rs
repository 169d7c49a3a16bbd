//! Small files held in memory between changes.
//!
//! The watcher sees every change under ROOT, so a file read once can be served from memory until
//! the next change: no path resolution, no read, no hashing on the hot path. The cache is keyed by
//! the request's URL path. A hit is checked against the file itself: one `stat`, whose mtime,
//! ctime, size and inode must be unchanged, so a save is seen at once, before its event arrives.
//! The cache is cleared whole when the watcher sees a file created, removed or renamed, which can
//! change what a URL resolves to (a new `index.html`, a page replaced by an editor's rename). That check is exact because a file is
//! admitted only once its mtime is [`SETTLED`] old (git's "racily clean" rule): any later write
//! then carries a later mtime, however coarse the file system's clock.
//!
//! Only files the watcher actually watches are admitted (never an ignored folder such as
//! `node_modules`, whose renames and new files no event reports), and a file read while any event
//! arrived is not admitted, so a read that raced with a write can never stay in the cache.

use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::HeaderValue;
use bytes::Bytes;

use super::precompressed::{Coding, Siblings};
use super::sendfile::{Regions, Registration};
use super::stamp::Stamp;

/// A file younger than this is not admitted: a second write within the same timestamp tick could
/// leave its stat unchanged.
const SETTLED: Duration = Duration::from_millis(50);
/// At most this many bytes are held in all.
const BUDGET: usize = 48 * 1024 * 1024;
/// At most this many entries.
const MAX_ENTRIES: usize = 4096;

/// A file as read, with what its responses need.
pub(crate) struct Cached {
    /// Where it was read from, and what its stat said then: `None` for a response never cached.
    pub(crate) source: Option<(PathBuf, Stamp)>,
    pub(crate) bytes: Bytes,
    pub(crate) etag: String,
    pub(crate) content_type: HeaderValue,
    pub(crate) modified: Option<SystemTime>,
    pub(crate) html: bool,
    /// The URL path of the file (`/index.html` for `/`), named in the injected tag.
    pub(crate) url: Option<String>,
    /// The coding its bytes are in (`app.wasm.br`, or the variant sent for `app.wasm`).
    pub(crate) coding: Option<Coding>,
    /// Precompressed files beside it when it was read.
    pub(crate) siblings: Siblings,
    /// The page with the client injected, made for a given seq.
    pub(crate) injected: Mutex<Option<Injected>>,
    /// The bytes' region, registered with the file they were read from, while the entry is kept.
    sendfile: Option<Registration>,
}

impl Cached {
    /// An entry not registered for sendfile yet.
    pub(crate) fn new(
        source: Option<(PathBuf, Stamp)>,
        bytes: Bytes,
        etag: String,
        content_type: HeaderValue,
        modified: Option<SystemTime>,
        html: bool,
    ) -> Self {
        Cached {
            source,
            bytes,
            etag,
            content_type,
            modified,
            html,
            url: None,
            coding: None,
            siblings: Siblings::default(),
            injected: Mutex::new(None),
            sendfile: None,
        }
    }
}

/// An injected page and the seq its tag carries.
pub(crate) struct Injected {
    pub(crate) seq: u64,
    pub(crate) bytes: Bytes,
    pub(crate) etag: String,
}

type Admit = Box<dyn Fn(&Path) -> bool + Send + Sync>;

/// The cache. Empty and admitting nothing until the watcher is running.
#[derive(Default)]
pub(crate) struct FileCache {
    map: RwLock<HashMap<String, Arc<Cached>>>,
    /// Bumped by every invalidation.
    generation: AtomicU64,
    bytes: AtomicUsize,
    /// Says whether the watcher sees changes to a file; set once watching has started.
    admit: OnceLock<Admit>,
    /// Where kept files are registered to be sent with sendfile(2).
    regions: Arc<Regions>,
}

impl FileCache {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The regions kept files are registered in, for the connections to look them up.
    pub(crate) fn regions(&self) -> Arc<Regions> {
        self.regions.clone()
    }

    /// Called by the watcher once it is watching: `admit` tells which files it would see change.
    pub(crate) fn enable(&self, admit: impl Fn(&Path) -> bool + Send + Sync + 'static) {
        let _ = self.admit.set(Box::new(admit));
    }

    /// The generation to hand back to [`insert`](Self::insert) after reading a file.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The entry for `url_path`, if the file is still the one that was read.
    pub(crate) fn get(&self, url_path: &str) -> Option<Arc<Cached>> {
        let entry = self.map.read().ok()?.get(url_path).cloned()?;
        let (path, stamp) = entry.source.as_ref()?;
        // One stat of a file the kernel has cached: cheaper than handing it to a blocking thread.
        let meta = std::fs::metadata(path).ok()?;
        (Stamp::of(&meta) == *stamp).then_some(entry)
    }

    /// Keeps a file read at `generation`, unless something changed since or the watcher would not
    /// see it change. `file`, the open file the bytes were read from, is held to send them with
    /// sendfile(2) while the entry is kept, and closed otherwise.
    pub(crate) fn insert(
        &self,
        url_path: &str,
        fs_path: &Path,
        generation: u64,
        mut entry: Cached,
        file: Option<std::fs::File>,
    ) -> Arc<Cached> {
        let admitted = self.admit.get().is_some_and(|admit| admit(fs_path));
        let settled = entry
            .source
            .as_ref()
            .and_then(|(_, stamp)| stamp.modified())
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age >= SETTLED);
        if !admitted || !settled || entry.bytes.len() > BUDGET / 8 {
            return Arc::new(entry);
        }
        let Ok(mut map) = self.map.write() else {
            return Arc::new(entry);
        };
        // Checked under the lock: an invalidation takes the same lock after bumping the generation.
        if self.generation.load(Ordering::Acquire) != generation
            || map.len() >= MAX_ENTRIES
            || self.bytes.load(Ordering::Relaxed) + entry.bytes.len() > BUDGET
        {
            return Arc::new(entry);
        }
        if let (Some(file), Some((_, stamp))) = (file, &entry.source) {
            entry.sendfile = self.regions.register(&entry.bytes, file, stamp.clone());
        }
        let entry = Arc::new(entry);
        self.bytes.fetch_add(entry.bytes.len(), Ordering::Relaxed);
        if let Some(old) = map.insert(url_path.to_string(), entry.clone()) {
            self.bytes.fetch_sub(old.bytes.len(), Ordering::Relaxed);
        }
        entry
    }

    /// Forgets everything: something under ROOT changed.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut map) = self.map.write() {
            if !map.is_empty() {
                map.clear();
                self.bytes.store(0, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry for a real file that was written a while ago.
    fn entry(text: &str) -> Cached {
        let dir = tempfile::tempdir().unwrap().keep();
        let path = dir.join("f");
        std::fs::write(&path, text).unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
        Cached::new(
            Some((path, stamp)),
            Bytes::from(text.to_string()),
            "\"e\"".into(),
            HeaderValue::from_static("text/plain"),
            None,
            false,
        )
    }

    #[test]
    fn nothing_is_kept_before_the_watcher_admits_it() {
        let cache = FileCache::new();
        cache.insert("/a", Path::new("/r/a"), cache.generation(), entry("a"), None);
        assert!(cache.get("/a").is_none());
        cache.enable(|p| !p.starts_with("/r/node_modules"));
        cache.insert("/a", Path::new("/r/a"), cache.generation(), entry("a"), None);
        assert!(cache.get("/a").is_some());
        cache.insert(
            "/m",
            Path::new("/r/node_modules/m"),
            cache.generation(),
            entry("m"),
            None,
        );
        assert!(cache.get("/m").is_none(), "no events come from ignored folders");
    }

    #[test]
    fn a_read_that_raced_with_a_change_is_not_kept() {
        let cache = FileCache::new();
        cache.enable(|_| true);
        let before = cache.generation();
        cache.invalidate(); // a change landed while the file was being read
        cache.insert("/a", Path::new("/r/a"), before, entry("old"), None);
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn a_file_changed_before_its_event_arrives_is_not_served() {
        let cache = FileCache::new();
        cache.enable(|_| true);
        let e = entry("a{}");
        let path = e.source.as_ref().unwrap().0.clone();
        cache.insert("/a", Path::new("/r/a"), cache.generation(), e, None);
        assert!(cache.get("/a").is_some());
        std::fs::write(&path, "b{}").unwrap(); // same size; no event delivered yet
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn a_file_written_just_now_is_not_admitted() {
        let cache = FileCache::new();
        cache.enable(|_| true);
        let mut e = entry("x");
        let (path, _) = e.source.clone().unwrap();
        std::fs::write(&path, "y").unwrap();
        e.source = Some((path.clone(), Stamp::of(&std::fs::metadata(&path).unwrap())));
        cache.insert("/a", Path::new("/r/a"), cache.generation(), e, None);
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn a_large_kept_file_is_registered_for_sendfile_until_it_is_forgotten() {
        let cache = FileCache::new();
        cache.enable(|_| true);
        let big = "x".repeat(super::super::sendfile::MIN_LEN);
        let e = entry(&big);
        let file = std::fs::File::open(&e.source.as_ref().unwrap().0).unwrap();
        cache.insert("/big", Path::new("/r/big"), cache.generation(), e, Some(file));
        assert_eq!(cache.regions().len(), usize::from(cfg!(target_os = "linux")));
        cache.invalidate();
        assert!(cache.regions().is_empty());
    }

    #[test]
    fn invalidation_forgets_everything() {
        let cache = FileCache::new();
        cache.enable(|_| true);
        cache.insert("/a", Path::new("/r/a"), cache.generation(), entry("a"), None);
        cache.invalidate();
        assert!(cache.get("/a").is_none());
        assert_eq!(cache.bytes.load(Ordering::Relaxed), 0);
    }
}

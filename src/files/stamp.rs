//! What a file's `stat` says of its version: enough to tell that a file read a moment ago is
//! still the same one (cache hits and sendfile both check it).

use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

/// mtime, ctime, size and inode: a write changes the first two (and usually the size), an
/// editor's rename-over save changes the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    modified: Option<SystemTime>,
    changed: i64,
    changed_ns: i64,
    len: u64,
    inode: u64,
}

impl Stamp {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Stamp {
            modified: meta.modified().ok(),
            changed: meta.ctime(),
            changed_ns: meta.ctime_nsec(),
            len: meta.len(),
            inode: meta.ino(),
        }
    }

    /// The mtime, when the file system gives one.
    pub(crate) fn modified(&self) -> Option<SystemTime> {
        self.modified
    }
}

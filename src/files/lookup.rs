//! Finding a file under ROOT: resolved, kept inside ROOT, and read when it is read whole — in
//! one trip to the blocking pool.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::mime::{is_page, mime_of};
use super::precompressed::{coded, Coding, Siblings};
use crate::paths::contained;

/// Files up to this size are read whole: validators come from their content, not their mtime
/// (two saves within one mtime tick still differ), and the body length is what was read.
const READ_WHOLE_MAX: u64 = 1024 * 1024;
/// HTML pages larger than this are served as they are, without the client.
const INJECT_MAX: u64 = 32 * 1024 * 1024;

/// A regular file under ROOT, and its content when it is to be read whole.
pub(super) struct FoundFile {
    pub(super) path: PathBuf,
    pub(super) meta: std::fs::Metadata,
    pub(super) mime: mime_guess::Mime,
    pub(super) content: Content,
    /// The coding its name says it holds (`game.wasm.br`): its `mime` is the inner name's.
    pub(super) coding: Option<Coding>,
    /// Precompressed files beside it, for a client that accepts them.
    pub(super) siblings: Siblings,
}

impl FoundFile {
    /// True for a page the client is injected into (never one that is compressed).
    pub(super) fn is_page(&self) -> bool {
        self.coding.is_none() && is_page(&self.mime)
    }
}

/// What [`locate`] did with a file's content, as [`reads_whole`] decided.
pub(super) enum Content {
    /// Read whole; the open file is kept when it is large enough to be sent with sendfile(2).
    Read(Vec<u8>, Option<File>),
    /// To be read whole, but the read failed.
    Unreadable,
    /// Too large: streamed from the file opened (and checked) here.
    Stream(File),
}

pub(super) enum Found {
    File(FoundFile),
    /// A folder, with its `index.html` when that was asked for and is there.
    Dir(PathBuf, Option<FoundFile>),
    Missing,
}

/// True when a file is read into memory (and kept in the cache) rather than streamed: every file
/// up to [`READ_WHOLE_MAX`], and an HTML page that gets the client, up to [`INJECT_MAX`].
fn reads_whole(mime: &mime_guess::Mime, len: u64, injects: bool) -> bool {
    len <= READ_WHOLE_MAX || (injects && is_page(mime) && len <= INJECT_MAX)
}

/// Resolves segments under ROOT to a real, contained file or folder, and reads what will be read
/// whole, in one trip to the blocking pool: a page that is not cached yet (the first request, a
/// stylesheet just saved) waits for one hand-over instead of two (three for a folder's
/// `index.html`). With `index`, a folder's `index.html` is found and read in the same trip.
pub(super) async fn locate(root: &Path, segments: &[String], index: bool, injects: bool) -> Found {
    let root = root.to_path_buf();
    let mut path = root.clone();
    path.extend(segments);
    let found = tokio::task::spawn_blocking(move || {
        let Some(opened) = open_contained(&root, &path) else {
            return Found::Missing;
        };
        if opened.meta.is_dir() {
            let index = index
                .then(|| open_contained(&root, &opened.real.join("index.html")))
                .flatten()
                .filter(|index| index.meta.is_file())
                .map(|index| read_found(index, injects));
            Found::Dir(opened.real, index)
        } else if opened.meta.is_file() {
            let mut found = read_found(opened, injects);
            if found.coding.is_none() && !is_page(&found.mime) {
                // Beside the name asked for, not the file a symlink leads to: that is the URL
                // the sibling is served under, and checked under again.
                found.siblings = Siblings::of(&path, &found.meta);
            }
            Found::File(found)
        } else {
            Found::Missing
        }
    });
    found.await.unwrap_or(Found::Missing)
}

/// A file or folder opened under ROOT, and what it really is.
struct Opened {
    /// The path of what was opened, every symlink resolved.
    real: PathBuf,
    file: File,
    meta: std::fs::Metadata,
}

/// Opens `path` if what it leads to lies inside ROOT and is not hidden. Blocking.
///
/// The check is made on what the path really leads to once opened, not on a name resolved
/// beforehand, so a symlink swapped in between a check and an open cannot lead out of ROOT; and
/// on Linux nothing outside ROOT is opened for reading at all: the path is first opened with
/// `O_PATH` (which pins the file without opening its contents — no FIFO waits, no device
/// wakes), its real path read from `/proc/self/fd`, and only a file found inside ROOT is opened
/// for reading, through that same descriptor. An in-root symlink to an in-root file is served.
/// Never blocks on a FIFO. Where `/proc` cannot be read (systems other than Linux), the file is
/// opened by name and checked by its name resolved again: a symlink swapped in between those two
/// steps is not caught there.
fn open_contained(root: &Path, path: &Path) -> Option<Opened> {
    let (file, real) = open_pinned(root, path).unwrap_or_else(|| open_by_name(root, path))?;
    let meta = file.metadata().ok()?;
    Some(Opened { real, file, meta })
}

/// The `O_PATH` way (Linux): `None` when `/proc` cannot be read, `Some(None)` when refused.
#[cfg(target_os = "linux")]
fn open_pinned(root: &Path, path: &Path) -> Option<Option<(File, PathBuf)>> {
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsRawFd;
    let Ok(pinned) = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) else {
        return Some(None);
    };
    let link = format!("/proc/self/fd/{}", pinned.as_raw_fd());
    let real = std::fs::read_link(&link).ok()?;
    if !contained(root, &real) {
        refused(root, path);
        return Some(None);
    }
    // A FIFO, socket or device inside ROOT is not served either, and is not opened.
    let Ok(stat) = rustix::fs::fstat(&pinned) else {
        return Some(None);
    };
    let kind = rustix::fs::FileType::from_raw_mode(stat.st_mode);
    if !matches!(
        kind,
        rustix::fs::FileType::RegularFile | rustix::fs::FileType::Directory
    ) {
        return Some(None);
    }
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    Some(
        rustix::fs::open(link.as_str(), flags, Mode::empty())
            .ok()
            .map(|fd| (File::from(fd), real)),
    )
}

#[cfg(not(target_os = "linux"))]
fn open_pinned(_root: &Path, _path: &Path) -> Option<Option<(File, PathBuf)>> {
    None
}

/// Without `/proc`: opened by name (without waiting on a FIFO), then checked by the name
/// resolved again.
fn open_by_name(root: &Path, path: &Path) -> Option<(File, PathBuf)> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let file = File::from(rustix::fs::open(path, flags, Mode::empty()).ok()?);
    let real = std::fs::canonicalize(path).ok()?;
    if !contained(root, &real) {
        refused(root, path);
        return None;
    }
    Some((file, real))
}

fn refused(root: &Path, path: &Path) {
    let shown = path.strip_prefix(root).unwrap_or(path);
    tracing::debug!(path = %shown.display(), "refused: resolves outside ROOT or to a hidden file");
}

/// A found file, read when it is read whole. Blocking.
fn read_found(opened: Opened, injects: bool) -> FoundFile {
    let Opened { real, mut file, meta } = opened;
    let (coding, mime) = match coded(&real) {
        Some((coding, mime)) => (Some(coding), mime),
        None => (None, mime_of(&real)),
    };
    // A compressed page is sent as it is: the client cannot be put into its bytes.
    let injects = injects && coding.is_none();
    let content = if !reads_whole(&mime, meta.len(), injects) {
        Content::Stream(file)
    } else {
        read_whole(&mut file).map_or(Content::Unreadable, |bytes| {
            let keep = bytes.len() >= super::sendfile::MIN_LEN;
            Content::Read(bytes, keep.then_some(file))
        })
    };
    FoundFile {
        path: real,
        meta,
        mime,
        content,
        coding,
        siblings: Siblings::default(),
    }
}

/// A file's content. Blocking.
fn read_whole(file: &mut File) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check is on what was opened: a path through a symlink out of ROOT is refused whatever
    /// its name says, and one to a file inside ROOT is served.
    #[test]
    fn what_is_opened_is_what_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s").unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("out.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("in.txt")).unwrap();
        let root = root.canonicalize().unwrap();
        assert!(open_contained(&root, &root.join("out.txt")).is_none());
        let inside = open_contained(&root, &root.join("in.txt")).unwrap();
        assert_eq!(inside.real, root.join("a.txt"));
    }
}

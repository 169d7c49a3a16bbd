//! Finding a file under ROOT: resolved, kept inside ROOT, and read when it is read whole — in
//! one trip to the blocking pool.

use std::path::{Path, PathBuf};

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
}

/// What [`locate`] did with a file's content, as [`reads_whole`] decided.
pub(super) enum Content {
    /// Read whole; the open file is kept when it is large enough to be sent with sendfile(2).
    Read(Vec<u8>, Option<std::fs::File>),
    /// To be read whole, but the read failed.
    Unreadable,
    /// Too large: streamed from disk.
    Stream,
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
        let Some((canonical, meta)) = resolve(&root, &path) else {
            return Found::Missing;
        };
        if meta.is_dir() {
            let index = index
                .then(|| resolve(&root, &canonical.join("index.html")))
                .flatten()
                .filter(|(_, meta)| meta.is_file())
                .map(|(path, meta)| read_found(path, meta, injects));
            Found::Dir(canonical, index)
        } else if meta.is_file() {
            Found::File(read_found(canonical, meta, injects))
        } else {
            Found::Missing
        }
    });
    found.await.unwrap_or(Found::Missing)
}

/// The canonical path and metadata of `path`, if it exists and resolves inside ROOT to something
/// that is not hidden. Blocking.
fn resolve(root: &Path, path: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
    let canonical = std::fs::canonicalize(path).ok()?;
    if !contained(root, &canonical) {
        let shown = path.strip_prefix(root).unwrap_or(path);
        tracing::debug!(path = %shown.display(), "refused: resolves outside ROOT or to a hidden file");
        return None;
    }
    let meta = std::fs::metadata(&canonical).ok()?;
    Some((canonical, meta))
}

/// A found file, read when it is read whole. Blocking.
fn read_found(path: PathBuf, meta: std::fs::Metadata, injects: bool) -> FoundFile {
    let mime = mime_of(&path);
    let content = if !reads_whole(&mime, meta.len(), injects) {
        Content::Stream
    } else {
        read_whole(&path).map_or(Content::Unreadable, |(bytes, file)| Content::Read(bytes, file))
    };
    FoundFile {
        path,
        meta,
        mime,
        content,
    }
}

/// A file's content, and the open file itself when it is large enough to be sent from it later.
/// Blocking.
fn read_whole(path: &Path) -> std::io::Result<(Vec<u8>, Option<std::fs::File>)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let keep = bytes.len() >= super::sendfile::MIN_LEN;
    Ok((bytes, keep.then_some(file)))
}

/// The type a file is served with: by its extension (mime_guess), except where that is not what
/// a browser needs. TypeScript and JSX are scripts a page loads as modules, not MPEG streams
/// (`.ts`) or octet streams, and a browser refuses a module of any other type.
pub(super) fn mime_of(path: &Path) -> mime_guess::Mime {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "ts" | "mts" | "cts" | "tsx" | "jsx" => mime_guess::mime::TEXT_JAVASCRIPT,
        _ => mime_guess::from_path(path).first_or_octet_stream(),
    }
}

/// True for a page the client is injected into: HTML, or XHTML.
pub(super) fn is_page(mime: &mime_guess::Mime) -> bool {
    matches!(mime.essence_str(), "text/html" | "application/xhtml+xml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_in_typescript_are_scripts() {
        for name in ["a.ts", "b.MTS", "c.tsx", "d.jsx"] {
            assert_eq!(
                mime_of(Path::new(name)).essence_str(),
                "text/javascript",
                "{name}"
            );
        }
        assert_eq!(mime_of(Path::new("v.mp4")).essence_str(), "video/mp4");
        assert!(is_page(&mime_of(Path::new("p.xhtml"))));
        assert!(is_page(&mime_of(Path::new("p.html"))));
        assert!(!is_page(&mime_of(Path::new("p.svg"))));
    }
}

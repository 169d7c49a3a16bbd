//! URL paths ↔ paths under ROOT: pure functions, which never touch the file system and so cannot
//! be fooled by what is there. Symlinks are dealt with afterwards, by [`contained`] on the
//! resolved path.

use std::path::{Component, Path};

/// Why a URL path cannot name a file under ROOT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `..`, `.`, a backslash, a NUL or bytes that are not UTF-8.
    Traversal,
    /// A segment that starts with a dot (`.env`, `.git/`).
    Hidden,
}

/// Turns a URL path into the segments of a path under ROOT, percent-decoded.
pub(crate) fn url_to_segments(url_path: &str) -> Result<Vec<String>, Refusal> {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(url_path).collect();
    let decoded = String::from_utf8(decoded).map_err(|_| Refusal::Traversal)?;
    let mut segments = Vec::new();
    for seg in decoded.split('/') {
        if seg.is_empty() {
            continue;
        }
        if seg == "." || seg == ".." || seg.contains(['\\', '\0']) {
            return Err(Refusal::Traversal);
        }
        if seg.starts_with('.') {
            return Err(Refusal::Hidden);
        }
        segments.push(seg.to_string());
    }
    Ok(segments)
}

/// True when `canonical` (a fully resolved path) lies inside `root` and no part of it below
/// `root` is hidden. This is what stops a symlink that points out of ROOT or at a dotfile.
pub(crate) fn contained(root: &Path, canonical: &Path) -> bool {
    match canonical.strip_prefix(root) {
        Ok(rest) => rest.components().all(|c| match c {
            Component::Normal(name) => !name.to_string_lossy().starts_with('.'),
            _ => false,
        }),
        Err(_) => false,
    }
}

/// The percent-encoded URL path of a file under ROOT, as a browser would write it.
pub(crate) fn path_to_url(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut url = String::new();
    for c in rest.components() {
        let Component::Normal(name) = c else { return None };
        url.push('/');
        url.push_str(&encode_segment(&name.to_string_lossy()));
    }
    if url.is_empty() {
        url.push('/');
    }
    Some(url)
}

/// One path segment, percent-encoded as a browser's URL parser would (and `%`, `/` themselves).
pub(crate) fn encode_segment(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

/// What a browser's URL parser percent-encodes in a path segment, plus `%` and `/` themselves.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_paths_decode_into_segments() {
        assert_eq!(
            url_to_segments("/a/b%20c/%F0%9F%98%80.html").unwrap(),
            vec!["a", "b c", "😀.html"]
        );
        assert_eq!(url_to_segments("//a//b/").unwrap(), vec!["a", "b"]);
        assert_eq!(url_to_segments("/%23hash%25").unwrap(), vec!["#hash%"]);
    }

    #[test]
    fn traversal_is_refused_in_every_encoding() {
        for p in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/..%2fx",
            "/..%5cx",
            "/a%5c..%5c..%5cx",
            "/%00",
            "/./a",
            "/%c0%ae%c0%ae/x",
            "/a/%2e%2e",
        ] {
            assert!(url_to_segments(p).is_err(), "{p}");
        }
    }

    #[test]
    fn hidden_files_are_refused() {
        assert_eq!(url_to_segments("/.env"), Err(Refusal::Hidden));
        assert_eq!(url_to_segments("/.git/config"), Err(Refusal::Hidden));
        assert_eq!(url_to_segments("/a/%2egit/x"), Err(Refusal::Hidden));
    }

    #[test]
    fn containment_checks_the_resolved_path() {
        let root = Path::new("/srv/site");
        assert!(contained(root, Path::new("/srv/site/a/b.html")));
        assert!(contained(root, Path::new("/srv/site")));
        assert!(!contained(root, Path::new("/srv/site2/a")));
        assert!(!contained(root, Path::new("/etc/passwd")));
        assert!(!contained(root, Path::new("/srv/site/.git/config")));
    }

    #[test]
    fn url_paths_are_encoded_like_a_browser() {
        let root = Path::new("/r");
        assert_eq!(
            path_to_url(root, Path::new("/r/css/site.css")).unwrap(),
            "/css/site.css"
        );
        assert_eq!(
            path_to_url(root, Path::new("/r/a b/#1%.css")).unwrap(),
            "/a%20b/%231%25.css"
        );
        assert_eq!(path_to_url(root, Path::new("/r/é.css")).unwrap(), "/%C3%A9.css");
        assert_eq!(path_to_url(root, Path::new("/elsewhere/x")), None);
    }

    proptest! {
        /// No URL path, however encoded, yields segments that leave ROOT when joined onto it.
        #[test]
        fn no_path_escapes_root(parts in proptest::collection::vec(
            prop_oneof![Just("..".to_string()), Just("%2e%2e".to_string()), Just("%2E.".to_string()),
                        Just(".".to_string()), Just("%2f".to_string()), Just("%5c".to_string()),
                        Just("a".to_string()), Just("".to_string()), Just("%00".to_string()),
                        "[a-z%./\\\\]{0,6}"], 0..8)) {
            let url = format!("/{}", parts.join("/"));
            if let Ok(segments) = url_to_segments(&url) {
                let root = Path::new("/srv/root");
                let mut joined = root.to_path_buf();
                joined.extend(&segments);
                prop_assert!(joined.starts_with(root));
                prop_assert!(joined.components().all(|c| !matches!(c, Component::ParentDir | Component::CurDir)));
                prop_assert!(segments.iter().all(|s| !s.contains('/') && !s.contains('\\')));
            }
        }
    }
}

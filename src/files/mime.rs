//! The type a file is served with (a leaf: `lookup` and `precompressed` both ask it).

use std::path::Path;

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

//! What a request says about how its answer will be used (`Sec-Fetch-*` and friends).

use axum::http::{header, HeaderMap, HeaderName};

/// As names, not strings: a string is parsed into a name again at every lookup.
pub(crate) const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");
pub(crate) const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");
pub(crate) const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Marks a request that came over TLS (`X-Forwarded-Proto: https` for the backend).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverTls;

/// The headers a [`Page`](super::Page) decides by, copied, for a request whose own headers go
/// on to a backend (cloning all of them cost more than forwarding them).
pub(crate) fn page_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(4);
    for name in [SEC_FETCH_DEST, SEC_FETCH_MODE, header::ACCEPT] {
        if let Some(value) = headers.get(&name) {
            out.insert(name, value.clone());
        }
    }
    out
}

/// True when the request is a navigation (or old enough not to say): a page fetched by script,
/// an image or a worker (`Sec-Fetch-Dest` present and not a document) gets the file untouched.
pub(crate) fn wants_injection(headers: &HeaderMap) -> bool {
    match headers.get(SEC_FETCH_DEST).map(|v| v.as_bytes()) {
        None => true,
        Some(dest) => matches!(dest, b"document" | b"iframe" | b"frame" | b"embed" | b"object"),
    }
}

/// A browser navigating to a page, as opposed to a script, image or fetch asking for a file.
pub(crate) fn is_navigation(headers: &HeaderMap) -> bool {
    match headers.get(SEC_FETCH_MODE).map(|v| v.as_bytes()) {
        Some(mode) => mode == b"navigate",
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_are_left_alone() {
        let mut h = HeaderMap::new();
        assert!(wants_injection(&h));
        h.insert("sec-fetch-dest", "document".parse().unwrap());
        assert!(wants_injection(&h));
        h.insert("sec-fetch-dest", "empty".parse().unwrap());
        assert!(!wants_injection(&h));
        h.insert("sec-fetch-dest", "script".parse().unwrap());
        assert!(!wants_injection(&h));
    }

    #[test]
    fn navigations_are_told_from_fetches() {
        let mut h = HeaderMap::new();
        assert!(!is_navigation(&h));
        h.insert(header::ACCEPT, "text/html,*/*".parse().unwrap());
        assert!(is_navigation(&h));
        h.insert("sec-fetch-mode", "cors".parse().unwrap());
        assert!(!is_navigation(&h));
        h.insert("sec-fetch-mode", "navigate".parse().unwrap());
        assert!(is_navigation(&h));
    }
}

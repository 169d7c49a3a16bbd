//! The pure pieces, for `cargo fuzz` (built with `--cfg fuzzing`; not part of the API).

/// URL path → segments under ROOT; the segments must never leave ROOT.
pub fn url_to_segments(url_path: &str) -> Option<Vec<String>> {
    crate::paths::url_to_segments(url_path).ok()
}

/// True when a resolved path lies inside `root` and is not hidden.
pub fn contained(root: &std::path::Path, canonical: &std::path::Path) -> bool {
    crate::paths::contained(root, canonical)
}

/// The page with `tag` injected.
pub fn inject(html: &[u8], tag: &[u8]) -> Vec<u8> {
    crate::inject::inject(html, tag)
}

/// The UTF-16 tag for a UTF-16 page, else `tag` itself: what [`inject`] adds.
pub fn tag_for(html: &[u8], tag: &[u8]) -> Vec<u8> {
    match crate::inject::utf16_order(html) {
        Some(order) => tag
            .iter()
            .flat_map(|&b| match order {
                crate::inject::Order::Little => [b, 0],
                crate::inject::Order::Big => [0, b],
            })
            .collect(),
        None => tag.to_vec(),
    }
}

/// A `--proxy` rule, and what it makes of a request path.
pub fn proxy_rule(rule: &str, path: &str) -> Option<(bool, String)> {
    let rule = crate::proxy::rule::ProxyRule::parse(rule).ok()?;
    Some((rule.matches(path), rule.upstream_path(path, None)))
}

/// Hop-by-hop headers removed, including those `Connection` names.
pub fn strip_hop_by_hop(headers: &mut axum::http::HeaderMap) {
    crate::proxy::strip_hop_by_hop(headers)
}

/// The Host and Origin checks.
pub fn host_allowed(host: &str) -> bool {
    crate::security::host_allowed(host, &[])
}

pub fn origin_allowed(origin: &str, host: &str) -> bool {
    crate::security::origin_allowed(Some(origin), Some(host))
}

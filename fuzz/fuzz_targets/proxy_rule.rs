//! Any `--proxy` rule and request path: parsing never panics, and the upstream path is a path
//! (whether the rule matches the request or not).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (rule, path) = text.split_once('\n').unwrap_or((text, "/"));
    let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    if let Some((matches, upstream)) = devserve::fuzzing::proxy_rule(rule, &path) {
        assert!(upstream.starts_with('/'), "{rule:?} {path:?} → {upstream:?}");
        if path.starts_with("/__devserve/") {
            // Routing skips reserved paths before any rule; a rule may still match its text.
            let _ = matches;
        }
    }
});

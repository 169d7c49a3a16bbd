//! Host, Origin and token checks.
//!
//! The Host check stops DNS rebinding: a page on `evil.example` that re-points its name at
//! 127.0.0.1 still sends `Host: evil.example`, and is refused. The reload socket also wants the
//! page's own Origin and the random token carried by the injected tag.

use axum::http::{header, HeaderMap};

use crate::error::ServeError;

/// True when `host` (a Host header value, with or without a port) names this machine: `localhost`,
/// `*.localhost`, an IP literal, or one of `extra` (lowercase names from `--host`/`--allow-host`).
pub(crate) fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = strip_port(host).to_ascii_lowercase();
    let name = name.trim_end_matches('.');
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    extra.iter().any(|e| e == name)
}

/// The host part of a Host header value: `[::1]:8080` → `[::1]`, `a.b:80` → `a.b`.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// True when a WebSocket's `Origin` may open the reload socket: none at all (a command-line
/// client), or exactly the page's own origin: `http://` or `https://` (behind a TLS tunnel) and
/// the request's Host.
pub(crate) fn origin_allowed(origin: Option<&str>, host: Option<&str>) -> bool {
    match (origin, host) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            let origin = origin.trim_end_matches('/');
            ["http://", "https://"].iter().any(|scheme| {
                origin.len() == scheme.len() + host.len()
                    && origin.is_char_boundary(scheme.len())
                    && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
                    && origin[scheme.len()..].eq_ignore_ascii_case(host)
            })
        }
        (Some(_), None) => false,
    }
}

/// Compares a presented token with the real one without stopping at the first difference.
pub(crate) fn token_matches(presented: &str, real: &str) -> bool {
    presented.len() == real.len()
        && presented
            .bytes()
            .zip(real.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A fresh random token: 128 bits as 32 hex digits.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back on what differs between runs and machines.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = nanos ^ (u128::from(std::process::id()) << 64) ^ (&bytes as *const _ as u128);
        bytes = seed.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The Host header of a request, if it is readable.
pub(crate) fn request_host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

/// The refusal for a request whose Host names something other than this machine, or `None` when
/// the request may go on. Checked before anything else, for every request.
pub(crate) fn refuse_foreign_host(headers: &HeaderMap, allowed_hosts: &[String]) -> Option<ServeError> {
    let present = headers.contains_key(header::HOST);
    let refused = |host: &str| ServeError::ForeignHost {
        host: host.to_string(),
    };
    match request_host(headers) {
        // HTTP/1.0 clients may send no Host; a browser always does, so rebinding needs one.
        None if !present => None,
        None => Some(refused("(unreadable)")),
        Some(host) if host_allowed(host, allowed_hosts) => None,
        Some(host) => {
            tracing::warn!(
                host,
                "refused a request for a foreign Host (add --allow-host to accept it)"
            );
            Some(refused(host))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_and_literals_pass() {
        for host in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.",
            "app.localhost:1",
            "127.0.0.1:80",
            "192.168.1.20",
            "[::1]:8080",
            "[fe80::1]",
        ] {
            assert!(host_allowed(host, &[]), "{host}");
        }
    }

    #[test]
    fn foreign_names_are_refused() {
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "[::1",
            "",
            "localhostx",
        ] {
            assert!(!host_allowed(host, &[]), "{host}");
        }
        assert!(host_allowed("mybox.lan:8080", &["mybox.lan".to_string()]));
    }

    #[test]
    fn origin_must_be_the_page_itself() {
        assert!(origin_allowed(None, Some("localhost:8080")));
        assert!(origin_allowed(
            Some("http://localhost:8080"),
            Some("localhost:8080")
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            Some("localhost:8080")
        ));
        assert!(!origin_allowed(
            Some("http://localhost:8081"),
            Some("localhost:8080")
        ));
        assert!(!origin_allowed(Some("null"), Some("localhost:8080")));
        assert!(
            origin_allowed(Some("https://localhost:8080"), Some("localhost:8080")),
            "TLS tunnel"
        );
        assert!(!origin_allowed(
            Some("ftp://localhost:8080"),
            Some("localhost:8080")
        ));
        assert!(!origin_allowed(Some("unreadable"), Some("localhost:8080")));
        // Multi-byte text where the scheme would end must not panic the slicing.
        assert!(!origin_allowed(Some("héllo://x"), Some("x:8")));
        assert!(!origin_allowed(Some("ééééééé"), Some("x")));
    }

    #[test]
    fn tokens_compare_exactly() {
        let t = random_token();
        assert_eq!(t.len(), 32);
        assert!(token_matches(&t, &t));
        assert!(!token_matches(&t[..31], &t));
        assert!(!token_matches("", &t));
        assert_ne!(random_token(), t);
    }
}

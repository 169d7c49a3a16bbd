//! `--proxy PREFIX=URL` rules: parsing, matching a request path, building the upstream path.
//!
//! Pure: no I/O. A rule's error says what is wrong with the value; the caller adds where the value
//! came from (`--proxy`, `DEVSERVE_PROXY`, …).

use crate::reload::protocol::RESERVED_PREFIX;

/// One `--proxy` rule: requests under `prefix` go to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyRule {
    /// A path prefix matched on whole segments: `/api` (no trailing slash), or `/` for everything.
    pub(crate) prefix: String,
    pub(crate) target: Target,
}

/// Where a rule forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The host as written, without brackets (`localhost`, `::1`, `10.0.0.2`).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `Some("/v1")` replaces the prefix (`Some("")` strips it); `None` keeps the request path.
    pub(crate) path: Option<String>,
    /// `https://` (or `wss://`): spoken to over TLS.
    pub(crate) tls: bool,
}

impl Target {
    /// `http` or `https`.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// `host:port`, bracketed for IPv6, as a Host header or a log line wants it.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl ProxyRule {
    /// Parses `PREFIX=URL`, e.g. `/api=http://localhost:3000` or `/ws=ws://127.0.0.1:3000/socket`.
    pub(crate) fn parse(rule: &str) -> Result<Self, String> {
        let bad = |why: &str| why.to_string();
        let (prefix, url) = rule
            .split_once('=')
            .ok_or_else(|| bad("expected PREFIX=URL, e.g. /api=http://localhost:3000"))?;
        let prefix = prefix.trim();
        if !prefix.starts_with('/') {
            return Err(bad(
                "the prefix must start with /, e.g. /api=http://localhost:3000",
            ));
        }
        let prefix = match prefix.trim_end_matches('/') {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        if prefix == RESERVED_PREFIX.trim_end_matches('/') || prefix.starts_with(RESERVED_PREFIX) {
            return Err(bad(
                "paths under /__devserve/ are devserve's own and cannot be proxied",
            ));
        }
        let target = parse_target(url.trim()).map_err(|why| bad(&why))?;
        Ok(ProxyRule { prefix, target })
    }

    /// `--proxy-ws HOST:PORT` (or a bare port, or a URL) means `--proxy /ws=http://HOST:PORT`.
    pub(crate) fn parse_ws_shorthand(target: &str) -> Result<Self, String> {
        let target = target.trim();
        let url = if target.contains("://") {
            target.to_string()
        } else if target.bytes().all(|b| b.is_ascii_digit()) && !target.is_empty() {
            format!("http://localhost:{target}")
        } else {
            format!("http://{target}")
        };
        ProxyRule::parse(&format!("/ws={url}"))
            .map_err(|why| format!("{why}; expected HOST:PORT, e.g. localhost:3000"))
    }

    /// True when `path` is the prefix or lies below it, segment-wise (`/api` matches `/api/x`,
    /// not `/apix`).
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.prefix == "/"
            || path == self.prefix
            || (path.starts_with(&self.prefix) && path.as_bytes().get(self.prefix.len()) == Some(&b'/'))
    }

    /// The path and query to ask the backend for.
    pub(crate) fn upstream_path(&self, path: &str, query: Option<&str>) -> String {
        let mut out = match &self.target.path {
            None => path.to_string(),
            Some(base) => {
                // What follows the prefix, on a segment boundary; a path the rule does not match
                // (never asked for by the router) keeps its own path rather than a cut one.
                let rest = if self.prefix == "/" {
                    path
                } else {
                    path.strip_prefix(self.prefix.as_str())
                        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                        .unwrap_or(path)
                };
                let joined = format!("{base}{rest}");
                if joined.is_empty() {
                    "/".to_string()
                } else {
                    joined
                }
            }
        };
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

fn parse_target(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL: write it as http://HOST:PORT"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => false,
        "https" | "wss" => true,
        other => {
            return Err(format!(
                "`{other}://` is not a scheme devserve can forward to: use http://, https://, ws:// or wss://"
            ))
        }
    };
    let default_port = if tls { 443 } else { 80 };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if path.contains(['?', '#']) {
        return Err("the backend URL cannot carry a query or fragment".into());
    }
    if authority.is_empty() || authority.contains('@') {
        return Err(format!(
            "`{url}` names no backend host: write it as http://HOST:PORT"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in the backend address")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse::<u16>().map_err(|_| format!("`{p}` is not a port"))?,
            None if after.is_empty() => default_port,
            None => return Err(format!("unexpected `{after}` after the address")),
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_string(),
                port.parse::<u16>()
                    .map_err(|_| format!("`{port}` is not a port"))?,
            ),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() || port == 0 {
        return Err(format!(
            "`{url}` needs a host and a port, e.g. http://localhost:3000"
        ));
    }
    // No path keeps the request path; a path (even a lone `/`) replaces the prefix.
    let path = if path.is_empty() {
        None
    } else {
        Some(path.trim_end_matches('/').to_string())
    };
    Ok(Target {
        host: host.to_ascii_lowercase(),
        port,
        path,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        let r = ProxyRule::parse("/api=http://localhost:3000").unwrap();
        assert_eq!(r.prefix, "/api");
        assert_eq!(
            r.target,
            Target {
                host: "localhost".into(),
                port: 3000,
                path: None,
                tls: false,
            }
        );
        let r = ProxyRule::parse("/api/=ws://[::1]:4000/v1/").unwrap();
        assert_eq!(r.prefix, "/api");
        assert_eq!(
            r.target,
            Target {
                host: "::1".into(),
                port: 4000,
                path: Some("/v1".into()),
                tls: false,
            }
        );
        assert_eq!(r.target.authority(), "[::1]:4000");
        let r = ProxyRule::parse_ws_shorthand("localhost:3000").unwrap();
        assert_eq!((r.prefix.as_str(), r.target.port), ("/ws", 3000));
        assert_eq!(
            ProxyRule::parse_ws_shorthand("3001").unwrap().target.host,
            "localhost"
        );
    }

    #[test]
    fn malformed_rules_say_what_to_write() {
        for bad in [
            "api=http://x:1",
            "/api",
            "/api=localhost:3000",
            "/api=http://:3000",
            "/api=http://h:port",
            "/__devserve/x=http://h:1",
            "/api=ftp://h:1",
            "/api=http://h:1/?q",
        ] {
            let err = ProxyRule::parse(bad).unwrap_err();
            assert!(!err.is_empty() && !err.starts_with("--proxy"), "{bad}: {err}");
        }
        assert!(ProxyRule::parse_ws_shorthand("local host:x").is_err());
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let r = ProxyRule::parse("/api=http://h:1").unwrap();
        assert!(r.matches("/api"));
        assert!(r.matches("/api/x"));
        assert!(!r.matches("/apix"));
        assert!(!r.matches("/ap"));
        assert!(ProxyRule::parse("/=http://h:1").unwrap().matches("/anything"));
    }

    #[test]
    fn upstream_paths() {
        let keep = ProxyRule::parse("/api=http://h:1").unwrap();
        assert_eq!(keep.upstream_path("/api/users", Some("a=1")), "/api/users?a=1");
        let swap = ProxyRule::parse("/api=http://h:1/v1").unwrap();
        assert_eq!(swap.upstream_path("/api/users", None), "/v1/users");
        assert_eq!(swap.upstream_path("/api", Some("q")), "/v1?q");
        let strip = ProxyRule::parse("/api=http://h:1/").unwrap();
        assert_eq!(strip.upstream_path("/api/users", None), "/users");
        assert_eq!(strip.upstream_path("/api", None), "/");
    }

    /// Found by `cargo fuzz` (fuzz/fuzz_targets/proxy_rule.rs): a path the rule does not match
    /// was cut at the prefix's length, mid-segment, and the upstream path did not start with `/`.
    #[test]
    fn the_upstream_path_always_starts_with_a_slash() {
        let rule = ProxyRule::parse("/0__dev/=http://sNev=/").unwrap();
        assert_eq!(
            rule.upstream_path("/e/N=\u{1}\u{1}\u{1}\u{1}", None),
            "/e/N=\u{1}\u{1}\u{1}\u{1}"
        );
        assert_eq!(rule.upstream_path("/0__dev/x", None), "/x");
        assert_eq!(rule.upstream_path("/0__dev", None), "/");
    }
}

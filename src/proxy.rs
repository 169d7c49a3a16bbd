//! Forwarding to a backend: the `--proxy PREFIX=URL` rules, HTTP forwarding with streamed bodies,
//! and WebSocket tunnels spliced byte for byte.
//!
//! HTTP goes through hyper-util's pooled client; a WebSocket upgrade gets a connection of its own,
//! and once the backend answers `101` the two sockets are joined with `copy_bidirectional`, so
//! subprotocols, extensions, binary frames and close codes pass untouched. `localhost` resolves to
//! both `::1` and `127.0.0.1` and each is tried, so a backend listening on either one works.

use std::future::Future;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tower::Service;

use crate::error::StartError;
use crate::files::{escape_html, html_page, Page};
use crate::inject::{inject, is_html, wants_injection};
use crate::server::{AppState, RESERVED_PREFIX};

/// How long to wait for a backend to accept a connection (a refused one fails at once).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// HTML pages up to this size are buffered to inject the client; larger ones pass through.
const INJECT_LIMIT: usize = 16 * 1024 * 1024;
/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One `--proxy` rule: requests under `prefix` go to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRule {
    /// A path prefix matched on whole segments: `/api` (no trailing slash), or `/` for everything.
    pub prefix: String,
    pub target: Target,
}

/// Where a rule forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host as written, without brackets (`localhost`, `::1`, `10.0.0.2`).
    pub host: String,
    pub port: u16,
    /// `Some("/v1")` replaces the prefix (`Some("")` strips it); `None` keeps the request path.
    pub path: Option<String>,
}

impl Target {
    /// `host:port`, bracketed for IPv6, as a Host header or a log line wants it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl ProxyRule {
    /// Parses `PREFIX=URL`, e.g. `/api=http://localhost:3000` or `/ws=ws://127.0.0.1:3000/socket`.
    pub fn parse(rule: &str) -> Result<Self, StartError> {
        let bad = |why: &str| StartError::BadProxy {
            rule: rule.to_string(),
            why: why.to_string(),
        };
        let (prefix, url) = rule
            .split_once('=')
            .ok_or_else(|| bad("expected PREFIX=URL, e.g. --proxy /api=http://localhost:3000"))?;
        let prefix = prefix.trim();
        if !prefix.starts_with('/') {
            return Err(bad(
                "the prefix must start with /, e.g. --proxy /api=http://localhost:3000",
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
    pub fn parse_ws_shorthand(target: &str) -> Result<Self, StartError> {
        let target = target.trim();
        let url = if target.contains("://") {
            target.to_string()
        } else if target.bytes().all(|b| b.is_ascii_digit()) && !target.is_empty() {
            format!("http://localhost:{target}")
        } else {
            format!("http://{target}")
        };
        let rule = format!("/ws={url}");
        let parsed = ProxyRule::parse(&rule);
        parsed.map_err(|e| match e {
            StartError::BadProxy { why, .. } => StartError::BadProxy {
                rule: format!("--proxy-ws {target}"),
                why: format!("{why}; expected HOST:PORT, e.g. --proxy-ws localhost:3000"),
            },
            other => other,
        })
    }

    /// True when `path` is the prefix or lies below it, segment-wise (`/api` matches `/api/x`,
    /// not `/apix`).
    pub fn matches(&self, path: &str) -> bool {
        self.prefix == "/"
            || path == self.prefix
            || (path.starts_with(&self.prefix) && path.as_bytes().get(self.prefix.len()) == Some(&b'/'))
    }

    /// The path and query to ask the backend for.
    pub fn upstream_path(&self, path: &str, query: Option<&str>) -> String {
        let mut out = match &self.target.path {
            None => path.to_string(),
            Some(base) => {
                let rest = if self.prefix == "/" {
                    path
                } else {
                    &path[self.prefix.len().min(path.len())..]
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

/// The proxy rules and the client that forwards to them.
pub struct Proxy {
    /// Longest prefix first, so the most specific rule wins.
    rules: Vec<ProxyRule>,
    connector: HttpConnector<LoopbackResolver>,
    client: Client<HttpConnector<LoopbackResolver>, Body>,
    /// How long a backend may take to start answering.
    timeout: Duration,
}

impl Proxy {
    pub fn new(mut rules: Vec<ProxyRule>, timeout: Duration) -> Self {
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        let mut connector = HttpConnector::new_with_resolver(LoopbackResolver(GaiResolver::new()));
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector.clone());
        Proxy {
            rules,
            connector,
            client,
            timeout,
        }
    }

    /// The rule a request path falls under, if any; devserve's own paths never do.
    pub fn route(&self, path: &str) -> Option<&ProxyRule> {
        if path.starts_with(RESERVED_PREFIX) {
            return None;
        }
        self.rules.iter().find(|r| r.matches(path))
    }
}

/// Resolves `localhost` to both loopback addresses (IPv6 first, as Node ≥ 17 listens there) and
/// everything else through the system resolver.
#[derive(Clone)]
pub struct LoopbackResolver(GaiResolver);

type Addrs = std::vec::IntoIter<SocketAddr>;

impl Service<Name> for LoopbackResolver {
    type Response = Addrs;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Addrs, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if name.as_str().eq_ignore_ascii_case("localhost") {
            let addrs = vec![
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            ];
            return Box::pin(std::future::ready(Ok(addrs.into_iter())));
        }
        let fut = self.0.call(name);
        Box::pin(async move { Ok(fut.await?.collect::<Vec<_>>().into_iter()) })
    }
}

/// Forwards one request under `rule` and returns the backend's answer (or a 502/504 page).
pub async fn forward(state: &AppState, rule: &ProxyRule, req: Request) -> Response {
    let proxy = &state.proxy;
    let (mut parts, body) = req.into_parts();
    let page_headers = parts.headers.clone();
    let page = Page::new(state, &page_headers, parts.method == Method::HEAD);
    let upgrade = is_upgrade(&parts.headers);
    let injecting =
        state.reload && !upgrade && parts.method == Method::GET && wants_injection(&parts.headers);
    let client_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let authority = rule.target.authority();
    let path = rule.upstream_path(parts.uri.path(), parts.uri.query());

    let headers = &mut parts.headers;
    let original_host = headers.get(header::HOST).cloned();
    strip_hop_by_hop(headers);
    // Framing is hyper's to set from the body, so a request can never carry both.
    headers.remove(header::CONTENT_LENGTH);
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(up) = page_headers.get(header::UPGRADE) {
            headers.insert(header::UPGRADE, up.clone());
        }
    }
    if let Ok(host) = HeaderValue::from_str(&authority) {
        headers.insert(header::HOST, host);
    }
    set_forwarded(headers, client_ip, original_host);
    if injecting {
        // The page is read whole and injected: ask for it plain and whole, never a 304 for a
        // copy that carries another run's token.
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        headers.remove(header::IF_NONE_MATCH);
        headers.remove(header::IF_MODIFIED_SINCE);
        headers.remove(header::RANGE);
    }

    if upgrade {
        let on_client = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
        let Ok(uri) = path.parse::<Uri>() else {
            return bad_gateway(&page, &authority, "bad path");
        };
        parts.uri = uri;
        return tunnel(&page, &authority, Request::from_parts(parts, body), on_client).await;
    }

    let Ok(uri) = format!("http://{authority}{path}").parse::<Uri>() else {
        return bad_gateway(&page, &authority, "bad path");
    };
    parts.uri = uri;
    parts.extensions = Default::default();
    let upstream = Request::from_parts(parts, body);
    let resp = match tokio::time::timeout(proxy.timeout, proxy.client.request(upstream)).await {
        Err(_) => return gateway_timeout(&page, &authority, proxy.timeout),
        Ok(Err(e)) => {
            let why = if e.is_connect() {
                "connection refused".to_string()
            } else {
                root_cause(&e)
            };
            return bad_gateway(&page, &authority, &why);
        }
        Ok(Ok(resp)) => resp,
    };
    let (mut parts, body) = resp.into_parts();
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        // Sent with both, the length is the one to distrust (RFC 9112 §6.3); hyper re-frames.
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    strip_hop_by_hop(&mut parts.headers);
    let status = parts.status;
    if injecting
        && is_html(&parts.headers)
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
    {
        return inject_response(&page, &authority, parts, body).await;
    }
    Response::from_parts(parts, Body::new(body))
}

/// Reads a backend's HTML page (bounded), decodes it, adds the client, fixes the headers.
async fn inject_response(
    page: &Page<'_>,
    authority: &str,
    mut parts: axum::http::response::Parts,
    body: hyper::body::Incoming,
) -> Response {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > INJECT_LIMIT) {
        return Response::from_parts(parts, Body::new(body));
    }
    let raw = match read_bounded(body, INJECT_LIMIT).await {
        Ok(raw) => raw,
        Err(Some(body)) => return Response::from_parts(parts, body),
        Err(None) => return bad_gateway(page, authority, "the backend broke off in the middle of the page"),
    };
    let encoding = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let Some(plain) = decode(encoding.as_deref(), &raw) else {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(raw.len()));
        return Response::from_parts(parts, Body::from(raw));
    };
    let nonce = parts
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .and_then(csp_nonce);
    let html = inject(&plain, &page.tag(nonce));
    let headers = &mut parts.headers;
    // The page now carries this run's token: never cached beyond it, whatever the backend said.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.remove(header::EXPIRES);
    headers.remove(header::CONTENT_ENCODING);
    headers.remove(header::ETAG);
    headers.remove(header::LAST_MODIFIED);
    headers.remove(header::ACCEPT_RANGES);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(html.len()));
    headers.append(header::VARY, HeaderValue::from_static("Sec-Fetch-Dest"));
    Response::from_parts(parts, Body::from(html))
}

/// The whole body if it fits in `limit`; otherwise a body that replays what was read and streams
/// the rest (`Err(Some)`), or `Err(None)` when the backend broke off.
async fn read_bounded(mut body: hyper::body::Incoming, limit: usize) -> Result<Bytes, Option<Body>> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| None)?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > limit {
                let head =
                    futures_util::stream::once(std::future::ready(Ok::<Bytes, hyper::Error>(buf.freeze())));
                let rest = body.into_data_stream();
                return Err(Some(Body::from_stream(head.chain(rest))));
            }
        }
    }
    Ok(buf.freeze())
}

/// Decodes a page sent with `Content-Encoding`; `None` for an encoding devserve cannot read or a
/// page that inflates past the limit (it is then passed on as it came).
fn decode(encoding: Option<&str>, raw: &[u8]) -> Option<Vec<u8>> {
    let limit = INJECT_LIMIT as u64 + 1;
    let mut out = Vec::new();
    let read = match encoding {
        None | Some("") | Some("identity") => return Some(raw.to_vec()),
        Some("gzip") | Some("x-gzip") => flate2::read::MultiGzDecoder::new(raw)
            .take(limit)
            .read_to_end(&mut out),
        Some("deflate") => {
            // "deflate" is zlib-wrapped by the spec, raw by some servers' habit.
            let zlib = flate2::read::ZlibDecoder::new(raw)
                .take(limit)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(raw)
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        Some("br") => brotli_decompressor::Decompressor::new(raw, 4096)
            .take(limit)
            .read_to_end(&mut out),
        Some(_) => return None,
    };
    (read.is_ok() && out.len() as u64 <= INJECT_LIMIT as u64).then_some(out)
}

/// The nonce a page's CSP allows scripts by, so the injected tag may run too.
fn csp_nonce(csp: &str) -> Option<&str> {
    let start = csp.find("'nonce-")? + "'nonce-".len();
    let end = csp[start..].find('\'')? + start;
    Some(&csp[start..end])
}

/// Opens a connection of its own to the backend, passes the upgrade on, and on `101` splices the
/// two sockets until either side closes or devserve shuts down.
async fn tunnel(
    page: &Page<'_>,
    authority: &str,
    upstream: Request,
    on_client: Option<hyper::upgrade::OnUpgrade>,
) -> Response {
    let state = page.state;
    let Some(on_client) = on_client else {
        return plain(
            StatusCode::BAD_REQUEST,
            "400 Bad Request: this connection cannot be upgraded\n",
        );
    };
    let Ok(uri) = format!("http://{authority}/").parse::<Uri>() else {
        return bad_gateway(page, authority, "bad address");
    };
    let io = match state.proxy.connector.clone().call(uri).await {
        Ok(io) => io,
        Err(_) => return bad_gateway(page, authority, "connection refused"),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(io).await {
        Ok(pair) => pair,
        Err(e) => return bad_gateway(page, authority, &root_cause(&e)),
    };
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut resp = match tokio::time::timeout(state.proxy.timeout, sender.send_request(upstream)).await {
        Err(_) => return gateway_timeout(page, authority, state.proxy.timeout),
        Ok(Err(e)) => return bad_gateway(page, authority, &root_cause(&e)),
        Ok(Ok(resp)) => resp,
    };
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The backend refused the upgrade: its answer goes back as it is.
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        return Response::from_parts(parts, Body::new(body));
    }
    let on_backend = hyper::upgrade::on(&mut resp);
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        let (Ok(client), Ok(backend)) = tokio::join!(on_client, on_backend) else {
            return;
        };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut backend) => {}
            _ = shutdown.cancelled() => {}
        }
    });
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, Body::empty())
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
}

/// Removes hop-by-hop headers, including any that `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

fn set_forwarded(headers: &mut HeaderMap, client_ip: Option<IpAddr>, original_host: Option<HeaderValue>) {
    if let Some(ip) = client_ip {
        let value = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) => format!("{prev}, {ip}"),
            None => ip.to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert("x-forwarded-for", v);
        }
    }
    if let Some(host) = original_host {
        headers.insert("x-forwarded-host", host);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text))
        .unwrap_or_default()
}

fn bad_gateway(page: &Page<'_>, authority: &str, why: &str) -> Response {
    tracing::warn!("proxy: cannot reach the backend at {authority} ({why})");
    let body = format!(
        "<h1>502 — backend not reachable</h1>\n<p>devserve could not reach the backend at <code>{}</code> \
         ({}). Is it running?</p>\n<p>This tab reloads by itself once it is back.</p>",
        escape_html(authority),
        escape_html(why)
    );
    html_page(page, StatusCode::BAD_GATEWAY, "502 Bad Gateway", &body, true)
}

fn gateway_timeout(page: &Page<'_>, authority: &str, after: Duration) -> Response {
    tracing::warn!(
        "proxy: the backend at {authority} did not answer within {} s",
        after.as_secs_f32()
    );
    let body = format!(
        "<h1>504 — backend did not answer</h1>\n<p>The backend at <code>{}</code> accepted the request \
         but sent nothing for {} s (<code>--proxy-timeout</code>).</p>",
        escape_html(authority),
        after.as_secs_f32()
    );
    html_page(
        page,
        StatusCode::GATEWAY_TIMEOUT,
        "504 Gateway Timeout",
        &body,
        true,
    )
}

fn parse_target(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL: write it as http://HOST:PORT"))?;
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => {}
        "https" | "wss" => {
            return Err(
                "https:// backends are not supported yet: point the rule at the backend's http:// port"
                    .into(),
            )
        }
        other => {
            return Err(format!(
                "`{other}://` is not a scheme devserve can forward to: use http:// or ws://"
            ))
        }
    }
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
            None if after.is_empty() => 80,
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
            None => (authority.to_string(), 80),
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
                path: None
            }
        );
        let r = ProxyRule::parse("/api/=ws://[::1]:4000/v1/").unwrap();
        assert_eq!(r.prefix, "/api");
        assert_eq!(
            r.target,
            Target {
                host: "::1".into(),
                port: 4000,
                path: Some("/v1".into())
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
            let err = ProxyRule::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("--proxy"), "{bad}: {err}");
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
    fn hop_by_hop_headers_go_including_those_named_in_connection() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-secret".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("te", "trailers".parse().unwrap());
        h.insert("accept", "*/*".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));
    }

    #[test]
    fn pages_are_decoded_from_every_common_encoding() {
        use std::io::Write;
        let page = b"<html><head></head></html>".repeat(10);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&page).unwrap();
        assert_eq!(decode(Some("gzip"), &gz.finish().unwrap()).unwrap(), page);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&page).unwrap();
        assert_eq!(decode(Some("deflate"), &z.finish().unwrap()).unwrap(), page);
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&page).unwrap();
        assert_eq!(decode(Some("deflate"), &raw.finish().unwrap()).unwrap(), page);
        assert_eq!(decode(None, &page).unwrap(), page);
        assert_eq!(decode(Some("zstd"), &page), None);
    }

    #[test]
    fn csp_nonce_is_found() {
        assert_eq!(
            csp_nonce("default-src 'self'; script-src 'nonce-abc123' 'strict-dynamic'"),
            Some("abc123")
        );
        assert_eq!(csp_nonce("script-src 'self'"), None);
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
}

//! Every page devserve writes itself — 404, the folder listing, 403, 405, 502, 504 — and the one
//! place a [`ServeError`] becomes a response.
//!
//! An error a browser navigates to is an HTML page in devserve's style, with the client when the
//! request gets one (so a tab waiting on a missing page or a dead backend reloads by itself);
//! anything else (a script, a fetch, a command-line client) gets one line of text.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::conditional::Reply;
use super::request::wants_injection;
use super::Page;
use crate::error::ServeError;
use crate::inject::inject;

/// One look for every page devserve writes, light or dark as the system is.
const PAGE_CSS: &str = ":root{color-scheme:light dark;--fg:#1f1f1f;--bg:#fff;--muted:#6b6b6b;--link:#0b57d0;--code:#e9ebee;--line:#e3e3e3}\
@media (prefers-color-scheme:dark){:root{--fg:#e3e3e3;--bg:#1b1b1d;--muted:#9aa0a6;--link:#8ab4f8;--code:#2d2e31;--line:#3c4043}}\
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:var(--fg);background:var(--bg)}\
h1{font-size:1.3rem;font-weight:600}a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}\
code{background:var(--code);padding:0 .3em;border-radius:3px;white-space:nowrap}\
code.path{white-space:normal;overflow-wrap:anywhere;box-decoration-break:clone;-webkit-box-decoration-break:clone}h1{overflow-wrap:anywhere}.meta{color:var(--muted);font-size:.85rem}\
table{border-collapse:collapse;width:100%}td,th{padding:.2rem .75rem .2rem 0;border-bottom:1px solid var(--line)}\
th{text-align:left;font-weight:500;color:var(--muted);font-size:.85rem}td:first-child{overflow-wrap:anywhere}\
td:last-child,th:last-child{padding-right:0}td.n,td.d{color:var(--muted);white-space:nowrap;font-variant-numeric:tabular-nums}\
td.n,th.n{text-align:right}.dir{font-weight:600}";

/// What a page devserve writes stands for, named in its `<meta name="devserve-page">`: the
/// client reloads a 404 when its path appears and a listing when its folder changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    NotFound,
    Listing,
    /// A stand-in for a backend's page (502, 504): the client fetches the URL again with backoff
    /// and reloads once it answers.
    StandIn,
    /// A refusal (403, a hidden file): nothing to wait for.
    Refused,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::NotFound => "404",
            Kind::Listing => "listing",
            Kind::StandIn => "stand-in",
            Kind::Refused => "refused",
        }
    }
}

/// An HTML page made by devserve, with the client when it applies.
pub(crate) fn html_page(
    page: &Page<'_>,
    status: StatusCode,
    kind: Kind,
    title: &str,
    body_html: &str,
) -> Response {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><meta name=\"devserve-page\" content=\"{kind}\">{retry}<style>{PAGE_CSS}</style></head>\n\
         <body>\n{body_html}\n</body></html>\n",
        title = escape_html(title),
        kind = kind.name(),
        retry = if kind == Kind::StandIn { "<meta name=\"devserve-retry\" content=\"1\">" } else { "" },
    );
    let bytes = if page.injects() {
        inject(html.as_bytes(), &page.tag(None, None))
    } else {
        html.into_bytes()
    };
    Reply::new(status)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )
        .header(header::VARY, HeaderValue::from_static("Sec-Fetch-Dest"))
        .sized(bytes.len() as u64, page.head, || Body::from(bytes))
}

/// The answer to a request that went wrong: a page for a browser's navigation, text otherwise.
pub(crate) fn render(error: &ServeError, page: &Page<'_>) -> Response {
    if wants_injection(page.headers) {
        if let Some((title, body, kind)) = page_for(error) {
            return html_page(page, error.status(), kind, &title, &body);
        }
    }
    let mut response = text(error);
    if page.head {
        *response.body_mut() = Body::empty();
    }
    response
}

/// The HTML title and body for the errors that are pages; `None` for those that are only text.
fn page_for(error: &ServeError) -> Option<(String, String, Kind)> {
    let status = error.status();
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let page = match error {
        ServeError::NotFound { path } => {
            let shown = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            let body = format!(
                "<h1>404 — not found</h1>\n<p>Nothing is served at <code class=\"path\">{}</code>. This tab reloads by itself when the file appears.</p>\n<p><a href=\"/\">Back to /</a></p>",
                escape_html(&shown)
            );
            (title, body, Kind::NotFound)
        }
        ServeError::BadGateway { authority, why } => {
            let body = format!(
                "<h1>502 — backend not reachable</h1>\n<p>devserve could not reach the backend at <code>{}</code> \
                 ({}). Is it running?</p>\n<p>This tab reloads by itself once the backend answers.</p>\n<p><a href=\"/\">Back to /</a></p>",
                escape_html(authority),
                escape_html(why)
            );
            (title, body, Kind::StandIn)
        }
        ServeError::GatewayTimeout { authority, after } => {
            let body = format!(
                "<h1>504 — backend did not answer</h1>\n<p>The backend at <code>{}</code> accepted the request \
                 but sent nothing for {} s (<code>--proxy-timeout</code>).</p>\n\
                 <p>This tab tries again by itself and reloads once the backend answers.</p>\n\
                 <p><a href=\"/\">Back to /</a></p>",
                escape_html(authority),
                secs(*after)
            );
            (title, body, Kind::StandIn)
        }
        ServeError::Hidden { path } => {
            let shown = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            let body = format!(
                "<h1>404 — hidden</h1>\n<p><code class=\"path\">{}</code> is hidden: devserve never serves files or folders whose \
                 names start with a dot (<code>.env</code>, <code>.git/</code>).</p>\n<p><a href=\"/\">Back to /</a></p>",
                escape_html(&shown)
            );
            (title, body, Kind::Refused)
        }
        ServeError::ForeignHost { host } => {
            let (shown, name) = shown_host(host);
            let body = format!(
                "<h1>403 — not this host</h1>\n<p>devserve does not answer requests for the host <code>{}</code>: \
                 a page on another site could otherwise read your files through it (DNS rebinding).</p>\n\
                 <p>Open it through <code>localhost</code> or an IP address, or restart devserve with \
                 <code>--allow-host {}</code>.</p>",
                escape_html(&shown),
                escape_html(&name)
            );
            (title, body, Kind::Refused)
        }
        _ => return None,
    };
    Some(page)
}

fn secs(d: Duration) -> f32 {
    d.as_secs_f32()
}

/// One or two lines of text: the status, what went wrong and what to do.
fn text(error: &ServeError) -> Response {
    let status = error.status();
    let reason = status.canonical_reason().unwrap_or("");
    let body = match error {
        ServeError::ForeignHost { host } => {
            let (shown, name) = shown_host(host);
            format!(
                "403 Forbidden: devserve does not answer requests for the host `{shown}`.\n\
                 Open it through localhost or an IP address, or restart devserve with --allow-host {name}\n"
            )
        }
        ServeError::RangeNotSatisfiable { .. } => String::new(),
        other => format!("{} {reason}: {other}\n", status.as_u16()),
    };
    let mut reply = Reply::new(status);
    if !body.is_empty() {
        reply = reply.header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    match error {
        ServeError::MethodNotAllowed => {
            reply = reply.header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
        }
        ServeError::RangeNotSatisfiable { len } => {
            reply = reply.header(header::CONTENT_RANGE, format!("bytes */{len}"));
        }
        _ => {}
    }
    reply.body(Body::from(body))
}

/// A Host header as it may be shown (printable, bounded), and the name `--allow-host` takes.
fn shown_host(host: &str) -> (String, String) {
    let shown: String = host.chars().filter(|c| c.is_ascii_graphic()).take(100).collect();
    let name = crate::security::strip_port(&shown).to_ascii_lowercase();
    (shown, name)
}

/// Without a request to look at (before any page context exists): text.
impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        text(&self)
    }
}

/// One entry of a folder listing.
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    /// A file's size in bytes.
    pub(crate) size: Option<u64>,
    pub(crate) modified: Option<SystemTime>,
}

/// The listing of a folder without `index.html`; `url_path` is the folder's URL path.
pub(crate) fn listing(page: &Page<'_>, url_path: &str, mut entries: Vec<Entry>) -> Response {
    entries.sort_by(|a, b| (!a.is_dir, &a.name).cmp(&(!b.is_dir, &b.name)));
    let shown = percent_encoding::percent_decode_str(url_path)
        .decode_utf8_lossy()
        .into_owned();
    let mut body = format!(
        "<h1>Index of {}</h1>\n<table>\n<tr><th>Name</th><th class=\"n\">Size</th><th>Modified</th></tr>\n",
        escape_html(&shown)
    );
    if url_path != "/" {
        body.push_str("<tr><td><a class=\"dir\" href=\"../\">../</a></td><td class=\"n\"></td><td class=\"d\"></td></tr>\n");
    }
    let now = SystemTime::now();
    for entry in &entries {
        // Percent-encoded as a URL path, then escaped as an attribute: `a&amp;b.txt` stays literal.
        let href = escape_html(&crate::paths::encode_segment(&entry.name));
        let (slash, class) = if entry.is_dir { ("/", "dir") } else { ("", "file") };
        let size = entry.size.map(human_size).unwrap_or_default();
        let (date, exact) = entry
            .modified
            .map(|m| (ago(now, m), httpdate::fmt_http_date(m)))
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr><td><a class=\"{class}\" href=\"./{href}{slash}\">{}{slash}</a></td><td class=\"n\">{size}</td>\
             <td class=\"d\" title=\"{exact}\">{date}</td></tr>\n",
            escape_html(&entry.name)
        ));
    }
    body.push_str("</table>\n");
    if entries.is_empty() {
        body.push_str("<p class=\"meta\">(empty folder)</p>\n");
    }
    body.push_str("<p class=\"meta\">No index.html here, so devserve lists the folder.</p>");
    html_page(
        page,
        StatusCode::OK,
        Kind::Listing,
        &format!("Index of {shown}"),
        &body,
    )
}

/// `1.2 MiB`, `340 B`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

/// How long ago `then` was, roughly: `just now`, `5 min ago`, `3 h ago`, `12 days ago`.
fn ago(now: SystemTime, then: SystemTime) -> String {
    let secs = now.duration_since(then).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        0..=59 => "just now".to_string(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    async fn body(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn errors_are_pages_for_navigations_and_text_for_fetches() {
        let tag = crate::inject::ClientTag::new("tok".into(), Default::default());
        let error = ServeError::NotFound {
            path: "/a%20b.html".into(),
        };
        let nav = HeaderMap::new();
        let r = render(&error, &Page::new(&nav, "/a%20b.html", false, Some(&tag)));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let html = body(r).await;
        assert!(
            html.contains("<code class=\"path\">/a b.html</code>") && html.contains("data-token=\"tok\""),
            "{html}"
        );
        let mut fetch = HeaderMap::new();
        fetch.insert("sec-fetch-dest", "script".parse().unwrap());
        let r = render(&error, &Page::new(&fetch, "/a%20b.html", false, Some(&tag)));
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(body(r).await, "404 Not Found: nothing is served at /a%20b.html\n");
    }

    #[tokio::test]
    async fn a_stand_in_for_a_backend_retries_and_escapes_what_it_shows() {
        let error = ServeError::BadGateway {
            authority: "localhost:3000".into(),
            why: "<refused>".into(),
        };
        let headers = HeaderMap::new();
        let html = body(render(&error, &Page::new(&headers, "/app/", false, None))).await;
        assert!(
            html.contains("devserve-retry") && html.contains("&lt;refused&gt;"),
            "{html}"
        );
        assert!(!html.contains("data-token"), "no client without live reload");
    }

    #[tokio::test]
    async fn the_refusal_of_a_host_suggests_the_name_without_its_port() {
        let error = ServeError::ForeignHost {
            host: "MyLaptop.local:8217".into(),
        };
        let headers = HeaderMap::new();
        let html = body(render(&error, &Page::new(&headers, "/", false, None))).await;
        assert!(
            html.contains("<code>--allow-host mylaptop.local</code>"),
            "{html}"
        );
        assert!(html.contains("devserve-page\" content=\"refused"), "{html}");
        let text = body(error.into_response()).await;
        assert!(text.ends_with("--allow-host mylaptop.local\n"), "{text}");
    }

    #[test]
    fn sizes_and_ages_read_as_a_person_would() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        let now = SystemTime::now();
        let before = |s: u64| now - Duration::from_secs(s);
        assert_eq!(ago(now, before(5)), "just now");
        assert_eq!(ago(now, before(300)), "5 min ago");
        assert_eq!(ago(now, before(3 * 3600)), "3 h ago");
        assert_eq!(ago(now, before(12 * 86_400)), "12 days ago");
        assert_eq!(
            ago(now, now + Duration::from_secs(60)),
            "just now",
            "a clock ahead"
        );
    }

    #[tokio::test]
    async fn head_gets_no_body() {
        let headers = HeaderMap::new();
        let r = render(
            &ServeError::MethodNotAllowed,
            &Page::new(&headers, "/", true, None),
        );
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(body(r).await, "");
    }
}

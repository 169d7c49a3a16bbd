//! Every page devserve writes itself — 404, the folder listing, 403, 405, 502, 504 — and the one
//! place a [`ServeError`] becomes a response.
//!
//! An error a browser navigates to is an HTML page in devserve's style, with the client when the
//! request gets one (so a tab waiting on a missing page or a dead backend reloads by itself);
//! anything else (a script, a fetch, a command-line client) gets one line of text.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::conditional::Reply;
use super::request::wants_injection;
use super::Page;
use crate::error::ServeError;
use crate::inject::inject;

const PAGE_CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:48rem;padding:0 1rem;color:#222}\
h1{font-size:1.3rem}ul{list-style:none;padding:0}li{padding:.15rem 0}a{color:#0b57d0;text-decoration:none}\
a:hover{text-decoration:underline}.dir{font-weight:600}.meta{color:#777;font-size:.85rem}code{background:#f3f3f3;padding:0 .3em}";

/// An HTML page made by devserve, with the client when it applies. `retry` marks a page that
/// stands in for one that failed (a 502): the client fetches the URL again with backoff and
/// reloads once it answers.
pub(crate) fn html_page(
    page: &Page<'_>,
    status: StatusCode,
    title: &str,
    body_html: &str,
    retry: bool,
) -> Response {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title>{retry}<style>{PAGE_CSS}</style></head>\n<body>\n{body_html}\n</body></html>\n",
        title = escape_html(title),
        retry = if retry { "<meta name=\"devserve-retry\" content=\"1\">" } else { "" },
    );
    let bytes = if page.injects() {
        inject(html.as_bytes(), &page.tag(None))
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
        if let Some((title, body, retry)) = page_for(error) {
            return html_page(page, error.status(), &title, &body, retry);
        }
    }
    let mut response = text(error);
    if page.head {
        *response.body_mut() = Body::empty();
    }
    response
}

/// The HTML title and body for the errors that are pages; `None` for those that are only text.
fn page_for(error: &ServeError) -> Option<(String, String, bool)> {
    let status = error.status();
    let title = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let page = match error {
        ServeError::NotFound { path } => {
            let shown = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            let body = format!(
                "<h1>404 — not found</h1>\n<p>Nothing is served at <code>{}</code>. This tab reloads by itself when the file appears.</p>\n<p><a href=\"/\">Back to /</a></p>",
                escape_html(&shown)
            );
            (title, body, false)
        }
        ServeError::BadGateway { authority, why } => {
            let body = format!(
                "<h1>502 — backend not reachable</h1>\n<p>devserve could not reach the backend at <code>{}</code> \
                 ({}). Is it running?</p>\n<p>This tab reloads by itself once it is back.</p>",
                escape_html(authority),
                escape_html(why)
            );
            (title, body, true)
        }
        ServeError::GatewayTimeout { authority, after } => {
            let body = format!(
                "<h1>504 — backend did not answer</h1>\n<p>The backend at <code>{}</code> accepted the request \
                 but sent nothing for {} s (<code>--proxy-timeout</code>).</p>",
                escape_html(authority),
                secs(*after)
            );
            (title, body, true)
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
            let shown: String = host.chars().filter(|c| c.is_ascii_graphic()).take(100).collect();
            format!(
                "403 Forbidden: devserve does not answer requests for the host `{shown}`.\n\
                 Open it through localhost or an IP address, or restart devserve with --allow-host {shown}\n"
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
}

/// The listing of a folder without `index.html`; `url_path` is the folder's URL path.
pub(crate) fn listing(page: &Page<'_>, url_path: &str, mut entries: Vec<Entry>) -> Response {
    entries.sort_by(|a, b| (!a.is_dir, &a.name).cmp(&(!b.is_dir, &b.name)));
    let shown = percent_encoding::percent_decode_str(url_path)
        .decode_utf8_lossy()
        .into_owned();
    let mut body = format!("<h1>Index of {}</h1>\n<ul>\n", escape_html(&shown));
    if url_path != "/" {
        body.push_str("<li><a class=\"dir\" href=\"../\">../</a></li>\n");
    }
    for entry in &entries {
        // Percent-encoded as a URL path, then escaped as an attribute: `a&amp;b.txt` stays literal.
        let href = escape_html(&crate::paths::encode_segment(&entry.name));
        let (slash, class) = if entry.is_dir { ("/", "dir") } else { ("", "file") };
        body.push_str(&format!(
            "<li><a class=\"{class}\" href=\"./{href}{slash}\">{}{slash}</a></li>\n",
            escape_html(&entry.name)
        ));
    }
    if entries.is_empty() {
        body.push_str("<li class=\"meta\">(empty folder)</li>\n");
    }
    body.push_str("</ul>\n<p class=\"meta\">No index.html here, so devserve lists the folder.</p>");
    html_page(page, StatusCode::OK, &format!("Index of {shown}"), &body, false)
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
        let r = render(&error, &Page::new(&nav, false, Some(&tag)));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let html = body(r).await;
        assert!(
            html.contains("<code>/a b.html</code>") && html.contains("data-token=\"tok\""),
            "{html}"
        );
        let mut fetch = HeaderMap::new();
        fetch.insert("sec-fetch-dest", "script".parse().unwrap());
        let r = render(&error, &Page::new(&fetch, false, Some(&tag)));
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
        let html = body(render(&error, &Page::new(&headers, false, None))).await;
        assert!(
            html.contains("devserve-retry") && html.contains("&lt;refused&gt;"),
            "{html}"
        );
        assert!(!html.contains("data-token"), "no client without live reload");
    }

    #[tokio::test]
    async fn head_gets_no_body() {
        let headers = HeaderMap::new();
        let r = render(&ServeError::MethodNotAllowed, &Page::new(&headers, true, None));
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(body(r).await, "");
    }
}

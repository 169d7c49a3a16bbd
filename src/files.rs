//! Static files: path containment, conditional requests, ranges, the directory listing and the
//! 404 page.
//!
//! Written by hand rather than with tower-http's `ServeDir` because every HTML page has to be read
//! whole and injected (so its validators must change with the token, and `Range` does not apply),
//! symlinks must be resolved and kept inside ROOT, dotfiles hidden, and a directory without
//! `index.html` listed — all of which `ServeDir` leaves to its caller.

use std::hash::{Hash, Hasher};
use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::cache::{Cached, Injected, Stamp};
use crate::inject::{inject, wants_injection};
use crate::server::AppState;

/// Files up to this size are read whole: validators come from their content, not their mtime
/// (two saves within one mtime tick still differ), and the body length is what was read.
const READ_WHOLE_MAX: u64 = 1024 * 1024;
/// A `Range` header naming more ranges than this is ignored (the whole file is sent): checking
/// many ranges for overlap is quadratic.
const MAX_RANGES: usize = 16;
/// HTML pages larger than this are served as they are, without the client.
const INJECT_MAX: u64 = 32 * 1024 * 1024;

/// Why a URL path cannot name a file under ROOT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `..`, `.`, a backslash, a NUL or bytes that are not UTF-8.
    Traversal,
    /// A segment that starts with a dot (`.env`, `.git/`).
    Hidden,
}

/// Turns a URL path into the segments of a path under ROOT, percent-decoded.
///
/// Pure: it never touches the file system, so it cannot be fooled by what is there; symlinks are
/// dealt with afterwards by [`contained`].
pub fn url_to_segments(url_path: &str) -> Result<Vec<String>, Refusal> {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(url_path).collect();
    let decoded = String::from_utf8(decoded).map_err(|_| Refusal::Traversal)?;
    let mut segments = Vec::new();
    for seg in decoded.split('/') {
        if seg.is_empty() {
            continue;
        }
        if seg == "." || seg == ".." || seg.contains(['\\', '\0']) || seg.contains(':') && cfg!(windows) {
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
pub fn contained(root: &Path, canonical: &Path) -> bool {
    match canonical.strip_prefix(root) {
        Ok(rest) => rest.components().all(|c| match c {
            Component::Normal(name) => !name.to_string_lossy().starts_with('.'),
            _ => false,
        }),
        Err(_) => false,
    }
}

/// The percent-encoded URL path of a file under ROOT, as a browser would write it.
pub fn path_to_url(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut url = String::new();
    for c in rest.components() {
        let Component::Normal(name) = c else { return None };
        url.push('/');
        url.extend(percent_encoding::utf8_percent_encode(
            &name.to_string_lossy(),
            PATH_SEGMENT,
        ));
    }
    if url.is_empty() {
        url.push('/');
    }
    Some(url)
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

/// A regular file under ROOT, and its content when it is to be read whole.
struct FoundFile {
    path: PathBuf,
    meta: std::fs::Metadata,
    mime: mime_guess::Mime,
    content: Content,
}

/// What [`locate`] did with a file's content, as [`reads_whole`] decided.
enum Content {
    /// Read whole; the open file is kept when it is large enough to be sent with sendfile(2).
    Read(Vec<u8>, Option<std::fs::File>),
    /// To be read whole, but the read failed.
    Unreadable,
    /// Too large: streamed from disk.
    Stream,
}

enum Found {
    File(FoundFile),
    /// A folder, with its `index.html` when that was asked for and is there.
    Dir(PathBuf, Option<FoundFile>),
    Missing,
}

/// True when a file is read into memory (and kept in the cache) rather than streamed: every file
/// up to [`READ_WHOLE_MAX`], and an HTML page that gets the client, up to [`INJECT_MAX`].
fn reads_whole(mime: &mime_guess::Mime, len: u64, injects: bool) -> bool {
    len <= READ_WHOLE_MAX || (injects && mime.essence_str() == "text/html" && len <= INJECT_MAX)
}

/// Resolves segments under ROOT to a real, contained file or folder, and reads what will be read
/// whole, in one trip to the blocking pool: a page that is not cached yet (the first request, a
/// stylesheet just saved) waits for one hand-over instead of two (three for a folder's
/// `index.html`). With `index`, a folder's `index.html` is found and read in the same trip.
async fn locate(root: &Path, segments: &[String], index: bool, injects: bool) -> Found {
    let root = root.to_path_buf();
    let mut path = root.clone();
    path.extend(segments);
    let found = tokio::task::spawn_blocking(move || {
        let Some((canonical, meta)) = resolve(&root, &path) else {
            return Found::Missing;
        };
        if meta.is_dir() {
            let index = index
                .then(|| resolve(&root, &canonical.join("index.html")))
                .flatten()
                .filter(|(_, meta)| meta.is_file())
                .map(|(path, meta)| read_found(path, meta, injects));
            Found::Dir(canonical, index)
        } else if meta.is_file() {
            Found::File(read_found(canonical, meta, injects))
        } else {
            Found::Missing
        }
    });
    found.await.unwrap_or(Found::Missing)
}

/// The canonical path and metadata of `path`, if it exists and resolves inside ROOT to something
/// that is not hidden. Blocking.
fn resolve(root: &Path, path: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
    let canonical = std::fs::canonicalize(path).ok()?;
    if !contained(root, &canonical) {
        let shown = path.strip_prefix(root).unwrap_or(path);
        tracing::debug!(path = %shown.display(), "refused: resolves outside ROOT or to a hidden file");
        return None;
    }
    let meta = std::fs::metadata(&canonical).ok()?;
    Some((canonical, meta))
}

/// A found file, read when it is read whole. Blocking.
fn read_found(path: PathBuf, meta: std::fs::Metadata, injects: bool) -> FoundFile {
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let content = if !reads_whole(&mime, meta.len(), injects) {
        Content::Stream
    } else {
        read_whole(&path).map_or(Content::Unreadable, |(bytes, file)| Content::Read(bytes, file))
    };
    FoundFile {
        path,
        meta,
        mime,
        content,
    }
}

/// A file's content, and the open file itself when it is large enough to be sent from it later.
/// Blocking.
fn read_whole(path: &Path) -> std::io::Result<(Vec<u8>, Option<std::fs::File>)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let keep = bytes.len() >= crate::sendfile::MIN_LEN;
    Ok((bytes, keep.then_some(file)))
}

/// Every GET/HEAD that is not a reserved path or a proxy route: a file, a folder, or a 404.
pub async fn serve(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .body(Body::from(
                "405 Method Not Allowed: devserve serves files with GET and HEAD\n",
            ))
            .unwrap_or_default();
    }
    let headers = req.headers();
    let page = Page::new(&state, headers, req.method() == Method::HEAD);
    let url_path = req.uri().path();
    if let Some(hit) = state.cache.get(url_path) {
        return respond(&page, &hit);
    }
    let generation = state.cache.generation();
    let segments = match url_to_segments(url_path) {
        Ok(segments) => segments,
        Err(_) => return not_found(&page, url_path),
    };
    let injects = page.injects();
    match locate(&state.root, &segments, url_path.ends_with('/'), injects).await {
        Found::File(file) => serve_file(&page, Some(url_path), generation, file).await,
        Found::Dir(dir, index) => {
            if !url_path.ends_with('/') {
                // Built from the segments, not the raw path: `//evil.example` must stay a path.
                let mut location = String::new();
                for seg in &segments {
                    location.push('/');
                    location.extend(percent_encoding::utf8_percent_encode(seg, PATH_SEGMENT));
                }
                location.push('/');
                if let Some(q) = req.uri().query() {
                    location.push('?');
                    location.push_str(q);
                }
                return redirect(&location);
            }
            match index {
                Some(file) => serve_file(&page, Some(url_path), generation, file).await,
                None => listing(&page, &dir, url_path).await,
            }
        }
        Found::Missing => {
            if state.spa && is_navigation(headers) {
                if let Found::File(file) =
                    locate(&state.root, &["index.html".to_string()], false, injects).await
                {
                    // Not kept under this URL: what it gets depends on how it is asked for.
                    return serve_file(&page, None, generation, file).await;
                }
            }
            not_found(&page, url_path)
        }
    }
}

/// A browser navigating to a page, as opposed to a script, image or fetch asking for a file.
fn is_navigation(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-mode").map(|v| v.as_bytes()) {
        Some(mode) => mode == b"navigate",
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html")),
    }
}

/// Serves one file. Files read whole are kept in the cache under `cache_key` (when given, and
/// when nothing changed since `generation`).
async fn serve_file(page: &Page<'_>, cache_key: Option<&str>, generation: u64, file: FoundFile) -> Response {
    let (headers, head) = (page.headers, page.head);
    let FoundFile {
        path,
        meta,
        mime,
        content,
    } = file;
    let html = mime.essence_str() == "text/html";
    let modified = meta.modified().ok();

    match content {
        Content::Unreadable => return not_found(page, ""),
        Content::Stream => {}
        Content::Read(bytes, file) => {
            let (etag, content_type) = (content_etag(&bytes, None), content_type(&mime, Some(&bytes)));
            let entry = Cached::new(
                Some((path.clone(), Stamp::of(&meta))),
                Bytes::from(bytes),
                etag,
                content_type,
                modified,
                html,
            );
            // A page is mostly sent with the client in it, which is not the file's bytes.
            let file = file.filter(|_| !html);
            let entry = match cache_key {
                Some(key) => page.state.cache.insert(key, &path, generation, entry, file),
                None => Arc::new(entry),
            };
            return respond(page, &entry);
        }
    }

    // Large files stream from disk, validated by size and mtime.
    let Ok(mut file) = tokio::fs::File::open(&path).await else {
        return not_found(page, "");
    };
    let len = meta.len();
    let etag = format!("\"{:x}-{:x}\"", modified.map(mtime_nanos).unwrap_or(0), len);
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type(&mime, None))
        .header(header::ETAG, &etag);
    if let Some(m) = modified {
        builder = builder.header(header::LAST_MODIFIED, httpdate::fmt_http_date(m));
    }
    if not_modified(headers, &etag, modified) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let range = requested_range(headers, len, &etag);
    let (start, end) = match range {
        RangeAnswer::Whole => (0, len),
        RangeAnswer::Part(start, end) => (start, end),
        RangeAnswer::Unsatisfiable => return unsatisfiable(len),
    };
    if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
        return not_found(page, "");
    }
    let stream = ReaderStream::with_capacity(file.take(end - start), 64 * 1024);
    with_range(builder, range, len, head, move |_, _| Body::from_stream(stream))
}

/// Answers from a file held in memory: validators, ranges, and the client injected into a page
/// (made once per batch of changes and kept with the file).
fn respond(page: &Page<'_>, entry: &Cached) -> Response {
    let (headers, head) = (page.headers, page.head);
    if entry.html && page.injects() {
        let (bytes, etag) = injected(page, entry);
        let builder = Response::builder()
            .header(header::CONTENT_TYPE, entry.content_type.clone())
            .header(header::ETAG, &etag)
            .header(header::VARY, "Sec-Fetch-Dest");
        // An injected page changes with every run's token, so its date says nothing.
        if not_modified(headers, &etag, None) {
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .unwrap_or_default();
        }
        return finish(builder, bytes.len() as u64, head, || Body::from(bytes));
    }
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, entry.content_type.clone())
        .header(header::ETAG, &entry.etag);
    if entry.html {
        builder = builder.header(header::VARY, "Sec-Fetch-Dest");
    }
    if let Some(m) = entry.modified {
        builder = builder.header(header::LAST_MODIFIED, httpdate::fmt_http_date(m));
    }
    if not_modified(headers, &entry.etag, entry.modified) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let len = entry.bytes.len() as u64;
    let range = requested_range(headers, len, &entry.etag);
    let bytes = entry.bytes.clone();
    with_range(builder, range, len, head, |start, end| {
        Body::from(bytes.slice(start as usize..end as usize))
    })
}

/// The page with the client injected for this request's seq, made once and kept with the file.
fn injected(page: &Page<'_>, entry: &Cached) -> (Bytes, String) {
    let mut slot = entry.injected.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(made) = slot.as_ref().filter(|made| made.seq == page.seq) {
        return (made.bytes.clone(), made.etag.clone());
    }
    let bytes = Bytes::from(inject(&entry.bytes, &page.tag(None)));
    let etag = content_etag(&bytes, Some(&page.state.token));
    *slot = Some(Injected {
        seq: page.seq,
        bytes: bytes.clone(),
        etag: etag.clone(),
    });
    (bytes, etag)
}

/// Adds `Accept-Ranges` and answers with the range asked for (206 or 416), else the whole body.
fn with_range(
    builder: axum::http::response::Builder,
    range: RangeAnswer,
    len: u64,
    head: bool,
    body: impl FnOnce(u64, u64) -> Body,
) -> Response {
    let builder = builder.header(header::ACCEPT_RANGES, "bytes");
    match range {
        RangeAnswer::Whole => finish(builder, len, head, || body(0, len)),
        RangeAnswer::Unsatisfiable => unsatisfiable(len),
        RangeAnswer::Part(start, end) => {
            let builder = builder.status(StatusCode::PARTIAL_CONTENT).header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", start, end - 1, len),
            );
            finish(builder, end - start, head, || body(start, end))
        }
    }
}

fn finish(
    builder: axum::http::response::Builder,
    len: u64,
    head: bool,
    body: impl FnOnce() -> Body,
) -> Response {
    let builder = builder.header(header::CONTENT_LENGTH, len);
    let body = if head { Body::empty() } else { body() };
    builder.body(body).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum RangeAnswer {
    Whole,
    /// Bytes `start..end` (end exclusive).
    Part(u64, u64),
    Unsatisfiable,
}

/// One range, honoured; several ranges or an `If-Range` that does not match get the whole file.
fn requested_range(headers: &HeaderMap, len: u64, etag: &str) -> RangeAnswer {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeAnswer::Whole;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        if if_range.as_bytes() != etag.as_bytes() {
            return RangeAnswer::Whole;
        }
    }
    if range.matches(',').count() >= MAX_RANGES {
        return RangeAnswer::Whole;
    }
    let Ok(parsed) = http_range_header::parse_range_header(range) else {
        return RangeAnswer::Whole;
    };
    match parsed.validate(len) {
        Ok(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            if len == 0 || *r.start() >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(*r.start(), r.end() + 1)
            }
        }
        Ok(_) => RangeAnswer::Whole,
        Err(_) => RangeAnswer::Unsatisfiable,
    }
}

fn unsatisfiable(len: u64) -> Response {
    Response::builder()
        .status(StatusCode::RANGE_NOT_SATISFIABLE)
        .header(header::CONTENT_RANGE, format!("bytes */{len}"))
        .body(Body::empty())
        .unwrap_or_default()
}

/// `If-None-Match` wins over `If-Modified-Since` (RFC 9110 §13.2.2): dates have one-second
/// resolution, so a file saved twice in a second must never be answered from its date.
fn not_modified(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return inm.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    match (since, modified) {
        (Some(since), Some(modified)) => {
            let secs = |t: SystemTime| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            };
            secs(modified) <= secs(since)
        }
        _ => false,
    }
}

/// A strong validator from the bytes sent; for an injected page, also from the token, so a page
/// cached by a previous run is never revalidated into a page with a stale token.
fn content_etag(bytes: &[u8], token: Option<&str>) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    token.hash(&mut h);
    format!("\"{:016x}-{:x}\"", h.finish(), bytes.len())
}

fn mtime_nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The Content-Type to send. Text is labelled UTF-8 only when its bytes are UTF-8, so a Latin-1
/// page keeps the charset its `<meta>` declares.
fn content_type(mime: &mime_guess::Mime, bytes: Option<&[u8]>) -> HeaderValue {
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "javascript" | "json" | "xml" | "svg")
        || mime.suffix().is_some_and(|s| s == "xml" || s == "json");
    let essence = mime.essence_str();
    let value = match bytes {
        Some(bytes) if textual && std::str::from_utf8(bytes).is_ok() => format!("{essence}; charset=utf-8"),
        _ => essence.to_string(),
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::TEMPORARY_REDIRECT)
        .header(header::LOCATION, location)
        .body(Body::empty())
        .unwrap_or_default()
}

/// What a response to one request needs to know of it: who asks and how, and which batch of
/// changes the page reflects — read when the request arrived, before any content was read, so a
/// change that lands meanwhile is one the page is not credited with.
pub struct Page<'a> {
    pub state: &'a AppState,
    pub headers: &'a HeaderMap,
    pub head: bool,
    pub seq: u64,
}

impl<'a> Page<'a> {
    pub fn new(state: &'a AppState, headers: &'a HeaderMap, head: bool) -> Self {
        Page {
            state,
            headers,
            head,
            seq: state.hub.seq(),
        }
    }

    /// True when an HTML answer to this request gets the client.
    pub fn injects(&self) -> bool {
        self.state.reload && wants_injection(self.headers)
    }

    /// The tag for this page.
    pub fn tag(&self, nonce: Option<&str>) -> Vec<u8> {
        crate::inject::script_tag(&self.state.token, self.seq, nonce)
    }
}

/// An HTML page made by devserve (listing, 404, proxy error), with the client when it applies.
/// `retry` marks a page that stands in for one that failed (a 502): the client fetches the URL
/// again with backoff and reloads once it answers.
pub fn html_page(page: &Page<'_>, status: StatusCode, title: &str, body_html: &str, retry: bool) -> Response {
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
    let builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::VARY, "Sec-Fetch-Dest");
    finish(builder, bytes.len() as u64, page.head, || Body::from(bytes))
}

const PAGE_CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:48rem;padding:0 1rem;color:#222}\
h1{font-size:1.3rem}ul{list-style:none;padding:0}li{padding:.15rem 0}a{color:#0b57d0;text-decoration:none}\
a:hover{text-decoration:underline}.dir{font-weight:600}.meta{color:#777;font-size:.85rem}code{background:#f3f3f3;padding:0 .3em}";

fn not_found(page: &Page<'_>, url_path: &str) -> Response {
    let shown = percent_encoding::percent_decode_str(url_path).decode_utf8_lossy();
    let body = format!(
        "<h1>404 — not found</h1>\n<p>Nothing is served at <code>{}</code>. This tab reloads by itself when the file appears.</p>\n<p><a href=\"/\">Back to /</a></p>",
        escape_html(&shown)
    );
    html_page(page, StatusCode::NOT_FOUND, "404 Not Found", &body, false)
}

async fn listing(page: &Page<'_>, dir: &Path, url_path: &str) -> Response {
    let mut entries = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(entry)) = rd.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let is_dir = tokio::fs::metadata(entry.path())
                .await
                .map(|m| m.is_dir())
                .unwrap_or(false);
            entries.push((!is_dir, name));
        }
    }
    entries.sort();
    let shown = percent_encoding::percent_decode_str(url_path)
        .decode_utf8_lossy()
        .into_owned();
    let mut body = format!("<h1>Index of {}</h1>\n<ul>\n", escape_html(&shown));
    if url_path != "/" {
        body.push_str("<li><a class=\"dir\" href=\"../\">../</a></li>\n");
    }
    for (is_file, name) in &entries {
        // Percent-encoded as a URL path, then escaped as an attribute: `a&amp;b.txt` stays literal.
        let href = escape_html(&percent_encoding::utf8_percent_encode(name, PATH_SEGMENT).to_string());
        let slash = if *is_file { "" } else { "/" };
        let class = if *is_file { "file" } else { "dir" };
        body.push_str(&format!(
            "<li><a class=\"{class}\" href=\"./{href}{slash}\">{}{slash}</a></li>\n",
            escape_html(name)
        ));
    }
    if entries.is_empty() {
        body.push_str("<li class=\"meta\">(empty folder)</li>\n");
    }
    body.push_str("</ul>\n<p class=\"meta\">No index.html here, so devserve lists the folder.</p>");
    html_page(page, StatusCode::OK, &format!("Index of {shown}"), &body, false)
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
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

//! From a found file to a response: validators, ranges, the client injected into a page, and the
//! cache kept in step.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::cache::{Cached, FileCache, Injected};
use super::lookup::{Content, FoundFile};
use super::precompressed::{Coding, Siblings};
use super::stamp::Stamp;
use crate::error::ServeError;
use crate::inject::inject;
use crate::web::conditional::{content_etag, not_modified, requested_range, stat_etag, RangeAnswer, Reply};
use crate::web::pages::render;
use crate::web::Page;

/// Serves one file. Files read whole are kept in `cache` under `cache_key` (when given, and when
/// nothing changed since `generation`).
pub(super) async fn serve_file(
    page: &Page<'_>,
    root: &std::path::Path,
    cache: &FileCache,
    cache_key: Option<&str>,
    generation: u64,
    file: FoundFile,
) -> Response {
    let html = file.is_page();
    let FoundFile {
        path,
        meta,
        mime,
        content,
        coding,
        siblings,
    } = file;
    let modified = meta.modified().ok();
    let gone = || {
        render(
            &ServeError::NotFound {
                path: cache_key.unwrap_or("/").to_string(),
            },
            page,
        )
    };

    let file = match content {
        Content::Unreadable => return gone(),
        Content::Stream(file) => file,
        Content::Read(bytes, file) => {
            // Compressed bytes say nothing of the charset of what they hold.
            let text = Some(&bytes[..]).filter(|_| coding.is_none());
            let (etag, content_type) = (content_etag(&bytes, None), content_type(&mime, text));
            let mut entry = Cached::new(
                Some((path.clone(), Stamp::of(&meta))),
                Bytes::from(bytes),
                etag,
                content_type,
                modified,
                html,
            );
            if html {
                entry.url = crate::paths::path_to_url(root, &path);
            }
            entry.coding = coding;
            entry.siblings = siblings;
            // A page is mostly sent with the client in it, which is not the file's bytes.
            let file = file.filter(|_| !html);
            let entry = match cache_key {
                Some(key) => cache.insert(key, &path, generation, entry, file),
                None => Arc::new(entry),
            };
            return respond(page, &entry);
        }
    };

    // Large files stream from the file opened and checked, validated by size and mtime.
    let mut file = tokio::fs::File::from_std(file);
    let len = meta.len();
    let etag = stat_etag(modified, len);
    let mut reply = coded(
        Reply::ok()
            .header(header::CONTENT_TYPE, content_type(&mime, None))
            .header(header::ETAG, &etag),
        coding,
        siblings,
    );
    if let Some(m) = modified {
        reply = reply.header(header::LAST_MODIFIED, httpdate::fmt_http_date(m));
    }
    if not_modified(page.headers, &etag, modified) {
        return reply.not_modified();
    }
    let range = requested_range(page.headers, len, &etag);
    let (start, end) = match range {
        RangeAnswer::Whole => (0, len),
        RangeAnswer::Part(start, end) => (start, end),
        RangeAnswer::Unsatisfiable => return render(&ServeError::RangeNotSatisfiable { len }, page),
    };
    if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return gone();
    }
    let stream = ReaderStream::with_capacity(file.take(end - start), 64 * 1024);
    reply.ranged(range, len, page.head, move |_, _| Body::from_stream(stream))
}

/// Answers from a file held in memory: validators, ranges, and the client injected into a page
/// (made once per batch of changes and kept with the file).
pub(super) fn respond(page: &Page<'_>, entry: &Cached) -> Response {
    if entry.html && page.injects() {
        let (bytes, etag) = injected(page, entry);
        let reply = Reply::ok()
            .header(header::CONTENT_TYPE, entry.content_type.clone())
            .header(header::ETAG, &etag)
            .header(header::VARY, HeaderValue::from_static("Sec-Fetch-Dest"));
        // An injected page changes with every run's token, so its date says nothing.
        if not_modified(page.headers, &etag, None) {
            return reply.not_modified();
        }
        return reply.sized(bytes.len() as u64, page.head, || Body::from(bytes));
    }
    let mut reply = coded(
        Reply::ok()
            .header(header::CONTENT_TYPE, entry.content_type.clone())
            .header(header::ETAG, &entry.etag),
        entry.coding,
        entry.siblings,
    );
    if entry.html {
        reply = reply.header(header::VARY, HeaderValue::from_static("Sec-Fetch-Dest"));
    }
    if let Some(m) = entry.modified {
        reply = reply.header(header::LAST_MODIFIED, httpdate::fmt_http_date(m));
    }
    if not_modified(page.headers, &entry.etag, entry.modified) {
        return reply.not_modified();
    }
    let len = entry.bytes.len() as u64;
    let range = requested_range(page.headers, len, &entry.etag);
    let bytes = entry.bytes.clone();
    reply.ranged(range, len, page.head, |start, end| {
        Body::from(bytes.slice(start as usize..end as usize))
    })
}

/// `Content-Encoding` for bytes in a coding, and `Vary: Accept-Encoding` wherever the answer
/// depends on it: a variant, or a file that has one.
fn coded(reply: Reply, coding: Option<Coding>, siblings: Siblings) -> Reply {
    let reply = match coding {
        Some(coding) => reply.header(header::CONTENT_ENCODING, coding.header()),
        None => reply,
    };
    if coding.is_some() || siblings.any() {
        reply.header(header::VARY, HeaderValue::from_static("Accept-Encoding"))
    } else {
        reply
    }
}

/// The page with the client injected for this request's seq, made once and kept with the file.
fn injected(page: &Page<'_>, entry: &Cached) -> (Bytes, String) {
    let mut slot = entry.injected.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(made) = slot.as_ref().filter(|made| made.seq == page.seq) {
        return (made.bytes.clone(), made.etag.clone());
    }
    let mut tag = page.tag(entry.url.as_deref(), None);
    if entry
        .content_type
        .as_bytes()
        .starts_with(b"application/xhtml+xml")
    {
        // Parsed as XML: every attribute needs a value.
        tag = crate::inject::as_xml(tag);
    }
    let bytes = Bytes::from(inject(&entry.bytes, &tag));
    let etag = content_etag(&bytes, Some(page.token()));
    *slot = Some(Injected {
        seq: page.seq,
        bytes: bytes.clone(),
        etag: etag.clone(),
    });
    (bytes, etag)
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

/// `307` to `location` (a folder's URL with its trailing slash).
pub(super) fn redirect(location: &str) -> Response {
    Reply::new(StatusCode::TEMPORARY_REDIRECT)
        .header(header::LOCATION, location)
        .body(Body::empty())
}

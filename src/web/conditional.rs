//! Conditional and range requests, answered in one place: validators (`ETag`, `Last-Modified`,
//! `304`), `Range` (`206`, `416`), and the [`Reply`] that sets `Content-Length` and drops the body
//! of a `HEAD`.

use std::hash::{Hash, Hasher};
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ServeError;

/// A `Range` header naming more ranges than this is ignored (the whole file is sent): checking
/// many ranges for overlap is quadratic.
const MAX_RANGES: usize = 16;

/// A response's status and headers, before its body. Unlike `http::response::Builder` it cannot
/// fail: a header value that would not be valid is left out (devserve makes all of them itself),
/// rather than turning the whole response into an empty `200`.
pub(crate) struct Reply {
    status: StatusCode,
    headers: HeaderMap,
}

impl Reply {
    pub(crate) fn new(status: StatusCode) -> Self {
        Reply {
            status,
            headers: HeaderMap::new(),
        }
    }

    pub(crate) fn ok() -> Self {
        Self::new(StatusCode::OK)
    }

    pub(crate) fn header<V: TryInto<HeaderValue>>(mut self, name: HeaderName, value: V) -> Self {
        if let Ok(value) = value.try_into() {
            self.headers.insert(name, value);
        }
        self
    }

    /// The reply with `body` as it is.
    pub(crate) fn body(self, body: Body) -> Response {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }

    /// The reply with a body of `len` bytes, or none for a `HEAD`.
    pub(crate) fn sized(self, len: u64, head: bool, body: impl FnOnce() -> Body) -> Response {
        let reply = self.header(header::CONTENT_LENGTH, len);
        reply.body(if head { Body::empty() } else { body() })
    }

    /// Adds `Accept-Ranges` and answers with the range asked for (206 or 416), else the whole body.
    pub(crate) fn ranged(
        self,
        range: RangeAnswer,
        len: u64,
        head: bool,
        body: impl FnOnce(u64, u64) -> Body,
    ) -> Response {
        let mut reply = self.header(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        match range {
            RangeAnswer::Whole => reply.sized(len, head, || body(0, len)),
            RangeAnswer::Unsatisfiable => ServeError::RangeNotSatisfiable { len }.into_response(),
            RangeAnswer::Part(start, end) => {
                reply.status = StatusCode::PARTIAL_CONTENT;
                reply
                    .header(
                        header::CONTENT_RANGE,
                        format!("bytes {}-{}/{}", start, end - 1, len),
                    )
                    .sized(end - start, head, || body(start, end))
            }
        }
    }

    /// `304 Not Modified` with the headers set so far.
    pub(crate) fn not_modified(mut self) -> Response {
        self.status = StatusCode::NOT_MODIFIED;
        self.body(Body::empty())
    }
}

/// What a `Range` header asks for, checked against the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    Whole,
    /// Bytes `start..end` (end exclusive).
    Part(u64, u64),
    Unsatisfiable,
}

/// One range, honoured; several ranges or an `If-Range` that does not match get the whole file.
pub(crate) fn requested_range(headers: &HeaderMap, len: u64, etag: &str) -> RangeAnswer {
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

/// `If-None-Match` wins over `If-Modified-Since` (RFC 9110 §13.2.2): dates have one-second
/// resolution, so a file saved twice in a second must never be answered from its date.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
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
pub(crate) fn content_etag(bytes: &[u8], token: Option<&str>) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    token.hash(&mut h);
    format!("\"{:016x}-{:x}\"", h.finish(), bytes.len())
}

/// A validator for a file streamed from disk, from its mtime and size.
pub(crate) fn stat_etag(modified: Option<SystemTime>, len: u64) -> String {
    let nanos = modified
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("\"{nanos:x}-{len:x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn one_range_is_honoured_and_the_rest_get_the_whole_file() {
        let h = |v: &str| with(header::RANGE, v);
        assert_eq!(
            requested_range(&h("bytes=0-9"), 100, "\"e\""),
            RangeAnswer::Part(0, 10)
        );
        assert_eq!(
            requested_range(&h("bytes=-10"), 100, "\"e\""),
            RangeAnswer::Part(90, 100)
        );
        assert_eq!(
            requested_range(&h("bytes=0-1,5-6"), 100, "\"e\""),
            RangeAnswer::Whole
        );
        assert_eq!(
            requested_range(&h("bytes=200-"), 100, "\"e\""),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(requested_range(&h("nonsense"), 100, "\"e\""), RangeAnswer::Whole);
        let mut stale = h("bytes=0-9");
        stale.insert(header::IF_RANGE, "\"old\"".parse().unwrap());
        assert_eq!(requested_range(&stale, 100, "\"e\""), RangeAnswer::Whole);
    }

    #[test]
    fn if_none_match_wins_over_dates() {
        let now = SystemTime::now();
        let mut h = with(header::IF_NONE_MATCH, "W/\"a\", \"b\"");
        assert!(not_modified(&h, "\"b\"", None));
        h.insert(
            header::IF_MODIFIED_SINCE,
            httpdate::fmt_http_date(now).parse().unwrap(),
        );
        assert!(!not_modified(&h, "\"c\"", Some(now)), "the tag decides");
        let dated = with(header::IF_MODIFIED_SINCE, &httpdate::fmt_http_date(now));
        assert!(not_modified(&dated, "\"c\"", Some(now)));
    }

    #[test]
    fn a_bad_header_value_is_left_out_not_an_empty_200() {
        let r = Reply::new(StatusCode::NOT_FOUND)
            .header(header::ETAG, "bad\nvalue")
            .sized(3, false, || Body::from("abc"));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.headers().get(header::ETAG).is_none());
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "3");
    }
}

//! A whole response from a backend (or, with the layer, from the app it wraps), injected: read (bounded), decoded (gzip, deflate, brotli),
//! the tag added, and the headers fixed to match.

use std::io::Read;

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http_body_util::BodyExt;

use super::inject_declared;

/// HTML pages up to this size are buffered to inject the client; larger ones pass through.
pub(crate) const INJECT_LIMIT: usize = 16 * 1024 * 1024;

/// The backend broke off in the middle of the page.
#[derive(Debug)]
pub(crate) struct BrokeOff;

/// Reads a backend's HTML page (bounded), decodes it and adds the tag `tag(nonce)` makes, with
/// the page's CSP nonce. A page too large, or in an encoding devserve cannot read, is passed on
/// as it came.
pub(crate) async fn inject_response(
    mut parts: axum::http::response::Parts,
    body: Body,
    tag: impl FnOnce(Option<&str>) -> Vec<u8>,
) -> Result<Response, BrokeOff> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > INJECT_LIMIT) {
        return Ok(Response::from_parts(parts, body));
    }
    let raw = match read_bounded(body, INJECT_LIMIT).await {
        Ok(raw) => raw,
        Err(Some(body)) => return Ok(Response::from_parts(parts, body)),
        Err(None) => return Err(BrokeOff),
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
        return Ok(Response::from_parts(parts, Body::from(raw)));
    };
    let nonce = parts
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .and_then(csp_nonce);
    let charset = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(charset_of);
    let Some(html) = inject_declared(&plain, &tag(nonce), charset) else {
        tracing::debug!(
            "a page in {} (not ASCII-compatible) is passed on without the client",
            charset.unwrap_or("?")
        );
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(raw.len()));
        return Ok(Response::from_parts(parts, Body::from(raw)));
    };
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
    Ok(Response::from_parts(parts, Body::from(html)))
}

/// The `charset` parameter of a `Content-Type` value.
fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim())
    })
}

/// The whole body if it fits in `limit`; otherwise a body that replays what was read and streams
/// the rest (`Err(Some)`), or `Err(None)` when the backend broke off.
async fn read_bounded(mut body: Body, limit: usize) -> Result<Bytes, Option<Body>> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| None)?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > limit {
                let head =
                    futures_util::stream::once(std::future::ready(Ok::<Bytes, axum::Error>(buf.freeze())));
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_charset_is_read_from_the_content_type() {
        assert_eq!(charset_of("text/html; charset=UTF-16LE"), Some("UTF-16LE"));
        assert_eq!(
            charset_of("text/html;Charset=\"utf-16\" ; q=1"),
            Some("\"utf-16\"")
        );
        assert_eq!(charset_of("text/html"), None);
    }
}

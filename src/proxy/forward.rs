//! HTTP forwarding: the request rewritten for the backend, sent on a pooled keep-alive connection
//! with a timeout, and the answer passed back streamed — or read whole and injected when it is a
//! page.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;

use super::headers::{is_upgrade, set_forwarded, strip_hop_by_hop, ForwardedFor};
use super::pool::Failed;
use super::rule::ProxyRule;
use super::{bad_gateway, gateway_timeout, root_cause, Proxy};
use crate::error::ServeError;
use crate::inject::body::inject_response;
use crate::inject::is_html;
use crate::web::pages::render;
use crate::web::request::{page_headers, wants_injection, OverTls};
use crate::web::Page;

/// What could make a backend answer a page with a 304 or a part of it: a page that is injected
/// is asked for whole.
static PARTIAL: [header::HeaderName; 3] = [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE, header::RANGE];

/// Forwards one request under `rule` and returns the backend's answer (or a 502/504 page).
pub(super) async fn forward(
    proxy: &Proxy,
    rule: &ProxyRule,
    req: Request,
    peer: Option<&ForwardedFor>,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let page_headers = page_headers(&parts.headers);
    let page_path = parts.uri.path().to_owned();
    let page = Page::new(
        &page_headers,
        &page_path,
        parts.method == Method::HEAD,
        proxy.client_tag.as_ref(),
    );
    let upgrade = is_upgrade(&parts.headers);
    let injecting = proxy.client_tag.is_some()
        && !upgrade
        && parts.method == Method::GET
        && wants_injection(&parts.headers);
    let Some(backend) = proxy.pool.backend(&rule.target) else {
        return bad_gateway(&page, &rule.target.authority(), "no such backend");
    };
    let authority = backend.authority.as_str();
    let Some(uri) = upstream_uri(rule, &parts.uri) else {
        return bad_gateway(&page, authority, "bad path");
    };

    let headers = &mut parts.headers;
    let original_host = headers.get(header::HOST).cloned();
    let upgrade_to = headers.get(header::UPGRADE).filter(|_| upgrade).cloned();
    strip_hop_by_hop(headers);
    // Framing is hyper's to set from the body, so a request can never carry both.
    headers.remove(header::CONTENT_LENGTH);
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(up) = upgrade_to {
            headers.insert(header::UPGRADE, up);
        }
    }
    if let Some(host) = &backend.host_header {
        headers.insert(header::HOST, host.clone());
    }
    let secure = parts.extensions.get::<OverTls>().is_some();
    set_forwarded(headers, peer, original_host, secure);
    // The backend is spoken to in HTTP/1.1, whatever the browser spoke (HTTP/2 over TLS).
    parts.version = axum::http::Version::HTTP_11;
    if injecting {
        // The page is read whole and injected: ask for it plain and whole, never a 304 for a
        // copy that carries another run's token.
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        // Removed only when there: a removal hashes its name, and most requests carry none.
        if headers.keys().any(|n| PARTIAL.contains(n)) {
            for name in &PARTIAL {
                headers.remove(name);
            }
        }
    }

    if !proxy.backend_is_ready().await {
        let why = format!("it was still starting after {} s", proxy.timeout.as_secs_f32());
        return bad_gateway(&page, authority, &why);
    }
    if upgrade {
        let on_client = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
        parts.uri = uri;
        return super::tunnel::tunnel(
            proxy,
            rule,
            &page,
            authority,
            Request::from_parts(parts, body),
            on_client,
        )
        .await;
    }

    parts.uri = uri;
    parts.extensions = Default::default();
    let upstream = Request::from_parts(parts, body);
    let resp = match tokio::time::timeout(proxy.timeout, proxy.pool.request(backend, upstream)).await {
        Err(_) => return gateway_timeout(&page, authority, proxy.timeout),
        Ok(Err(Failed::Connect)) => {
            proxy.refused(rule, &page_path);
            return bad_gateway(&page, authority, "connection refused");
        }
        Ok(Err(Failed::Http(e))) => {
            if client_body_failed(&e) {
                // The client's own body broke HTTP's framing: its fault, not the backend's.
                return render(&ServeError::BadBody, &page);
            }
            return bad_gateway(&page, authority, &root_cause(&e));
        }
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status();
    if status.as_u16() >= 600 || status == StatusCode::SWITCHING_PROTOCOLS {
        // A status no client knows, or a protocol switch nobody asked for (a tunnel past the
        // Host check): neither is passed on.
        let why = format!("it answered with status {}", status.as_u16());
        return bad_gateway(&page, authority, &why);
    }
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
        return match inject_response(parts, Body::new(body), |nonce| page.tag(None, nonce)).await {
            Ok(response) => response,
            Err(_) => bad_gateway(
                &page,
                authority,
                "the backend broke off in the middle of the page",
            ),
        };
    }
    Response::from_parts(parts, Body::new(body))
}

/// The request's URI as the backend is asked for it: origin-form (`/path?query`), its prefix
/// replaced when the rule says so. Without a replacement it is the request's own, not rebuilt.
fn upstream_uri(rule: &ProxyRule, uri: &Uri) -> Option<Uri> {
    match (&rule.target.path, uri.path_and_query()) {
        (None, Some(path)) => Some(Uri::from(path.clone())),
        _ => rule.upstream_path(uri.path(), uri.query()).parse().ok(),
    }
}

/// True when forwarding failed because reading the client's request body failed.
fn client_body_failed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_user() || h.is_parse())
        {
            return true;
        }
        cause = err.source();
    }
    false
}

//! The service stack: the Host check on every request, then devserve's own paths (the reload
//! endpoint), a proxy route, or a file; `Cache-Control: no-cache` on every response.
//!
//! Files, nearly every request, skip the Router: its route lookup and boxed services cost a sixth
//! of the requests a second a small file could be served at (see BENCHMARKS.md). Each component
//! owns its state; this only dispatches.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::HttpBody as _;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use tower::{Service, ServiceExt};
use tower_http::set_header::SetResponseHeader;

use crate::error::ServeError;
use crate::files::FileService;
use crate::proxy::{ForwardedFor, Proxy, ProxyRule};
use crate::reload::protocol::RESERVED_PREFIX;
use crate::security::refuse_foreign_host;
use crate::serve::headers::Added;
use crate::web::pages::render;
use crate::web::request::{SEC_FETCH_MODE, SEC_FETCH_SITE};
use crate::web::Page;

/// [`App`] with `Cache-Control: no-cache` on every response that does not set its own.
pub(crate) type Served = SetResponseHeader<App, HeaderValue>;

/// Checks the Host, then answers a file itself, or hands a reserved path to the reload endpoint's
/// Router or a proxy route to the proxy.
#[derive(Clone)]
pub(crate) struct App {
    /// Names accepted in the Host header besides localhost and IP literals.
    allowed_hosts: Arc<[String]>,
    files: FileService,
    proxy: Arc<Proxy>,
    /// `/__devserve/…`: the reload endpoint's routes, and a 404 for every other path there.
    reserved: Router,
    /// `--header`, `--isolated`, `--cors`.
    added: Added,
    /// The connection's peer, for the proxy's `X-Forwarded-For`.
    peer: Option<ForwardedFor>,
}

impl App {
    /// `reload` is the reload endpoint's Router, `None` with `--no-reload`.
    pub(crate) fn new(
        allowed_hosts: Vec<String>,
        files: FileService,
        proxy: Arc<Proxy>,
        reload: Option<Router>,
        added: Added,
    ) -> Self {
        let no_endpoint = || async { ServeError::NoEndpoint.into_response() };
        let reserved = reload
            .unwrap_or_default()
            .route("/__devserve/{*rest}", any(no_endpoint))
            .fallback(no_endpoint);
        App {
            allowed_hosts: allowed_hosts.into(),
            files,
            proxy,
            reserved,
            added,
            peer: None,
        }
    }

    /// The whole application for one connection, without a socket: a test can drive it with
    /// `tower::ServiceExt::oneshot`.
    pub(crate) fn served(self) -> Served {
        SetResponseHeader::if_not_present(self, header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))
    }
}

impl Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // `-v`: every request's outcome. Only then is the answer waited on here.
        if !tracing::enabled!(target: "devserve::request", tracing::Level::DEBUG) {
            return self.dispatch(req).0;
        }
        let (method, path, started) = (req.method().clone(), req.uri().path().to_owned(), Instant::now());
        let (answer, rule) = self.dispatch(req);
        Box::pin(async move {
            let response = answer.await?;
            let backend = rule.map(|rule| rule.target.authority());
            log_request(&method, &path, &response, backend.as_deref(), started.elapsed());
            Ok(response)
        })
    }
}

impl App {
    /// The answer to one request, and the proxy rule it goes out by, if any.
    fn dispatch(&mut self, req: Request) -> (<Self as Service<Request>>::Future, Option<Arc<ProxyRule>>) {
        let head = req.method() == Method::HEAD;
        if let Some(refused) =
            refuse_foreign_host(req.headers(), &self.allowed_hosts).or_else(|| refuse_malformed(&req))
        {
            let response = render(&refused, &Page::new(req.headers(), req.uri().path(), head, None));
            return (Box::pin(std::future::ready(Ok(response))), None);
        }
        let path = req.uri().path();
        if let Some(rule) = self.proxy.route(path).cloned() {
            let (proxy, peer, routed) = (self.proxy.clone(), self.peer.clone(), rule.clone());
            return (
                Box::pin(async move { Ok(proxy.forward(&rule, req, peer.as_ref()).await) }),
                Some(routed),
            );
        }
        // From here on, devserve's own answers.
        if let Some(preflight) = self.added.preflight(&req) {
            return (Box::pin(std::future::ready(Ok(preflight))), None);
        }
        let (added, origin) = (self.added.clone(), self.added.allowed_origin(req.headers()));
        if origin.is_none() && refuse_cross_site(req.headers()) {
            let response = render(
                &ServeError::CrossSite,
                &Page::new(req.headers(), path, head, None),
            );
            return (
                Box::pin(std::future::ready(Ok(same_site_only(added.own(None, response))))),
                None,
            );
        }
        if path.starts_with(RESERVED_PREFIX) {
            let answer = self.reserved.clone().oneshot(req);
            return (
                Box::pin(async move { answer.await.map(|r| same_site_only(added.own(origin, r))) }),
                None,
            );
        }
        let files = self.files.clone();
        (
            Box::pin(async move { Ok(same_site_only(added.own(origin, files.serve(req).await))) }),
            None,
        )
    }
}

/// A request HTTP/1.1 forbids: one without `Host` (RFC 9112 §3.2).
fn refuse_malformed(req: &Request) -> Option<ServeError> {
    (req.version() == Version::HTTP_11 && !req.headers().contains_key(header::HOST))
        .then_some(ServeError::MissingHost)
}

/// True for a request another site's page makes for devserve's own files, other than a
/// navigation: a `<script src>` of another site could otherwise run the served source and read
/// it back (webpack-dev-server, CVE-2025-30359). Another port of localhost is the same site. A
/// browser sends `Sec-Fetch-Site` only towards trustworthy origins (localhost, https); towards
/// plain http on a LAN address, `Cross-Origin-Resource-Policy` is what stops the read.
fn refuse_cross_site(headers: &axum::http::HeaderMap) -> bool {
    let site = headers.get(SEC_FETCH_SITE).map(|v| v.as_bytes());
    let mode = headers.get(SEC_FETCH_MODE).map(|v| v.as_bytes());
    site == Some(b"cross-site") && mode != Some(b"navigate")
}

const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// devserve's own answers may be used by pages of the same site only.
fn same_site_only(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(CROSS_ORIGIN_RESOURCE_POLICY)
        .or_insert(HeaderValue::from_static("same-site"));
    response
}

/// One line per request at `-v`: method, path, status, size, time, and the backend it went to.
fn log_request(method: &Method, path: &str, response: &Response, backend: Option<&str>, took: Duration) {
    let size = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|n| format!("{n} B"))
        .or_else(|| response.body().size_hint().exact().map(|n| format!("{n} B")))
        .unwrap_or_else(|| "streamed".to_string());
    let via = backend.map(|b| format!(" via {b}")).unwrap_or_default();
    tracing::debug!(
        target: "devserve::request",
        "{method} {path} → {}{via}, {size}, {:.1} ms",
        response.status().as_u16(),
        took.as_secs_f64() * 1000.0
    );
}

impl App {
    /// The answer to a plain-HTTP request on the HTTPS port: a redirect to the same URL over
    /// HTTPS, for a Host this server answers to.
    pub(crate) fn to_https<B>(&self, req: &axum::http::Request<B>) -> Response {
        let host = crate::security::request_host(req.headers());
        let target = host
            .filter(|_| refuse_foreign_host(req.headers(), &self.allowed_hosts).is_none())
            .and_then(|host| {
                let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
                HeaderValue::from_str(&format!("https://{host}{path}")).ok()
            });
        let mut response = match target {
            Some(location) => {
                let mut r = "This server speaks HTTPS: use https://\n".into_response();
                *r.status_mut() = axum::http::StatusCode::PERMANENT_REDIRECT;
                r.headers_mut().insert(header::LOCATION, location);
                r
            }
            None => (
                axum::http::StatusCode::BAD_REQUEST,
                "This server speaks HTTPS: use https://\n",
            )
                .into_response(),
        };
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }

    /// The application for one connection from `peer`.
    pub(crate) fn for_peer(self, peer: SocketAddr) -> Served {
        App {
            peer: Some(ForwardedFor::new(peer.ip())),
            ..self
        }
        .served()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::cache::FileCache;
    use crate::inject::ClientTag;
    use crate::reload::protocol::CLIENT_JS_PATH;
    use crate::reload::{Hub, ReloadSocket};
    use axum::body::Body;
    use axum::http::StatusCode;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    fn app(root: &std::path::Path) -> Served {
        let hub = Arc::new(Hub::new());
        let tag = ClientTag::new("t".into(), hub.seq_counter());
        let (shutdown, tracker) = (CancellationToken::new(), TaskTracker::new());
        let files = FileService::new(
            root.canonicalize().unwrap(),
            Arc::new(FileCache::new()),
            false,
            Some(tag.clone()),
        );
        let proxy = Proxy::new(
            Vec::new(),
            Duration::from_secs(5),
            Some(tag),
            shutdown.clone(),
            tracker.clone(),
        )
        .unwrap();
        let builds = crate::reload::Builds::new(hub.clone(), Duration::from_secs(60));
        let reload = crate::reload::routes(
            Arc::new(ReloadSocket {
                hub,
                token: "t".into(),
                shutdown,
                tracker,
                reload_all: false,
                report_errors: false,
            }),
            builds,
        );
        App::new(Vec::new(), files, Arc::new(proxy), Some(reload), Added::default()).served()
    }

    async fn get(app: Served, path: &str, host: &str) -> Response {
        let req = Request::get(path)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        app.oneshot(req).await.unwrap()
    }

    /// Files skip the Router; the Host check and `Cache-Control` must apply to both ways alike.
    #[tokio::test]
    async fn every_path_is_host_checked_and_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        let app = app(dir.path());
        for path in ["/a.txt", CLIENT_JS_PATH, "/__devserve/nothing"] {
            let refused = get(app.clone(), path, "evil.example").await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
            assert_eq!(refused.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
        }
        let file = get(app.clone(), "/a.txt", "localhost").await;
        assert_eq!(file.status(), StatusCode::OK);
        assert_eq!(file.headers()[header::CACHE_CONTROL], "no-cache");
        let client = get(app.clone(), CLIENT_JS_PATH, "localhost:1").await;
        assert_eq!(client.status(), StatusCode::OK);
        assert_eq!(client.headers()[header::CACHE_CONTROL], "no-cache");
        let reserved = get(app, "/__devserve/nothing", "127.0.0.1").await;
        assert_eq!(reserved.status(), StatusCode::NOT_FOUND);
        assert_eq!(reserved.headers()[header::CACHE_CONTROL], "no-cache");
    }
}

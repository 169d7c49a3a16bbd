//! `--header`, `--isolated` and `--cors`: what the user adds to the answers.
//!
//! Both cover the answers devserve writes itself (files, its pages, its client): a proxied
//! backend's answers are its own, headers and CORS policy alike.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;

/// The headers and CORS origins the user asked for.
#[derive(Clone, Default)]
pub(crate) struct Added {
    headers: Arc<[(HeaderName, HeaderValue)]>,
    /// Lowercase `scheme://host[:port]`.
    cors: Arc<[String]>,
}

impl Added {
    pub(crate) fn new(headers: Vec<(HeaderName, HeaderValue)>, cors: Vec<String>) -> Self {
        Added {
            headers: headers.into(),
            cors: cors.into(),
        }
    }

    /// The request's `Origin` when `--cors` allows it.
    pub(crate) fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        if self.cors.is_empty() {
            return None;
        }
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?.to_ascii_lowercase();
        self.cors.contains(&text).then(|| origin.clone())
    }

    /// The answer to a CORS preflight from an allowed origin: GET and HEAD, any request header.
    pub(crate) fn preflight(&self, req: &Request) -> Option<Response> {
        if req.method() != Method::OPTIONS
            || !req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let origin = self.allowed_origin(req.headers())?;
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        Some(response)
    }

    /// devserve's own answer, with the added headers and, for an allowed origin, CORS.
    pub(crate) fn own(&self, origin: Option<HeaderValue>, mut response: Response) -> Response {
        let headers = response.headers_mut();
        for (name, value) in self.headers.iter() {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        if !self.cors.is_empty() {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        response
    }
}

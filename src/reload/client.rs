//! The browser client, compiled into the binary and served at [`CLIENT_JS_PATH`].
//!
//! It reads its settings (token, seq, socket path) from `data-*` attributes of its own tag, so the
//! script is the same file for every page and every run.

use axum::http::header;
use axum::response::{IntoResponse, Response};

#[cfg(doc)]
use super::protocol::CLIENT_JS_PATH;

/// The browser side.
const CLIENT_JS: &str = include_str!("../../assets/client.js");

/// `GET /__devserve/client.js`.
pub(crate) async fn handler() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (
                header::ETAG,
                concat!("\"devserve-", env!("CARGO_PKG_VERSION"), "\""),
            ),
        ],
        CLIENT_JS,
    )
        .into_response()
}

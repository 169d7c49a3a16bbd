//! HTTP pieces every component shares: what a request asks for ([`request`]), conditional and
//! range answers ([`conditional`]), and every page devserve writes itself ([`pages`]).
//!
//! [`Page`] is one request as the responders see it: its headers, whether it is a `HEAD`, and the
//! client tag its HTML answer gets (none with `--no-reload`).

pub(crate) mod conditional;
pub(crate) mod pages;
pub(crate) mod request;

use axum::http::HeaderMap;

use crate::inject::ClientTag;

/// What a response to one request needs to know of it: who asks and how, and which batch of
/// changes the page reflects — read when the request arrived, before any content was read, so a
/// change that lands meanwhile is one the page is not credited with.
pub(crate) struct Page<'a> {
    pub(crate) headers: &'a HeaderMap,
    /// The request's URL path, as it came.
    pub(crate) path: &'a str,
    pub(crate) head: bool,
    pub(crate) seq: u64,
    client: Option<&'a ClientTag>,
}

impl<'a> Page<'a> {
    /// `client` is the tag HTML answers carry, `None` when devserve does not reload.
    pub(crate) fn new(
        headers: &'a HeaderMap,
        path: &'a str,
        head: bool,
        client: Option<&'a ClientTag>,
    ) -> Self {
        Page {
            headers,
            path,
            head,
            seq: client.map_or(0, ClientTag::seq),
            client,
        }
    }

    /// True when an HTML answer to this request gets the client.
    pub(crate) fn injects(&self) -> bool {
        self.client.is_some() && request::wants_injection(self.headers)
    }

    /// The tag for this page; `file` is the URL path of the file it was read from.
    pub(crate) fn tag(&self, file: Option<&str>, nonce: Option<&str>) -> Vec<u8> {
        self.client
            .map(|c| c.tag(self.seq, file, nonce))
            .unwrap_or_default()
    }

    /// The token an injected page carries (empty without the client).
    pub(crate) fn token(&self) -> &str {
        self.client.map_or("", ClientTag::token)
    }
}

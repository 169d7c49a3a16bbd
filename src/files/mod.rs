//! Static files: a [`FileService`] answers every `GET`/`HEAD` that is not devserve's own or a
//! proxy route — a file, a folder's `index.html`, a listing, or a 404.
//!
//! Written by hand rather than with tower-http's `ServeDir` because every HTML page has to be read
//! whole and injected (so its validators must change with the token, and `Range` does not apply),
//! symlinks must be resolved and kept inside ROOT, dotfiles hidden, and a directory without
//! `index.html` listed — all of which `ServeDir` leaves to its caller.
//!
//! - [`lookup`]: resolving and reading a file under ROOT, in one blocking trip.
//! - [`respond`]: a found or cached file → a response (validators, ranges, injection).
//! - [`cache`]: small files held in memory between changes; [`stamp`]: what a stat says.
//! - [`sendfile`]: connections that send large cached files with sendfile(2).

pub(crate) mod cache;
mod lookup;
mod respond;
pub(crate) mod sendfile;
pub(crate) mod stamp;

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use tower::Service;

use crate::error::ServeError;
use crate::inject::ClientTag;
use crate::paths::{encode_segment, url_to_segments};
use crate::web::pages::{self, render, Entry};
use crate::web::request::is_navigation;
use crate::web::Page;
use cache::FileCache;
use lookup::{locate, Found};
use respond::{redirect, respond, serve_file};

/// Serves the files under ROOT. Cheap to clone; reads only its own fields.
#[derive(Clone)]
pub(crate) struct FileService {
    inner: Arc<Inner>,
}

struct Inner {
    /// Canonical ROOT.
    root: PathBuf,
    /// Small files held in memory until the watcher sees a change.
    cache: Arc<FileCache>,
    /// Unknown paths a browser navigates to get `/index.html`.
    spa: bool,
    /// The tag HTML pages get; `None` with `--no-reload`.
    client: Option<ClientTag>,
}

impl FileService {
    pub(crate) fn new(root: PathBuf, cache: Arc<FileCache>, spa: bool, client: Option<ClientTag>) -> Self {
        FileService {
            inner: Arc::new(Inner {
                root,
                cache,
                spa,
                client,
            }),
        }
    }

    /// Answers one request.
    pub(crate) async fn serve(&self, req: Request) -> Response {
        self.inner.serve(req).await
    }
}

impl Service<Request> for FileService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let files = self.clone();
        Box::pin(async move { Ok(files.serve(req).await) })
    }
}

impl Inner {
    async fn serve(&self, req: Request) -> Response {
        let head = req.method() == Method::HEAD;
        let headers = req.headers();
        let page = Page::new(headers, head, self.client.as_ref());
        if req.method() != Method::GET && !head {
            return render(&ServeError::MethodNotAllowed, &page);
        }
        let url_path = req.uri().path();
        if let Some(hit) = self.cache.get(url_path) {
            return respond(&page, &hit);
        }
        let generation = self.cache.generation();
        let not_found = || {
            render(
                &ServeError::NotFound {
                    path: url_path.to_string(),
                },
                &page,
            )
        };
        let Ok(segments) = url_to_segments(url_path) else {
            return not_found();
        };
        let injects = page.injects();
        match locate(&self.root, &segments, url_path.ends_with('/'), injects).await {
            Found::File(file) => serve_file(&page, &self.cache, Some(url_path), generation, file).await,
            Found::Dir(dir, index) => {
                if !url_path.ends_with('/') {
                    // Built from the segments, not the raw path: `//evil.example` must stay a path.
                    let mut location = String::new();
                    for seg in &segments {
                        location.push('/');
                        location.push_str(&encode_segment(seg));
                    }
                    location.push('/');
                    if let Some(q) = req.uri().query() {
                        location.push('?');
                        location.push_str(q);
                    }
                    return redirect(&location);
                }
                match index {
                    Some(file) => serve_file(&page, &self.cache, Some(url_path), generation, file).await,
                    None => pages::listing(&page, url_path, list(&dir).await),
                }
            }
            Found::Missing => {
                if self.spa && is_navigation(headers) {
                    if let Found::File(file) =
                        locate(&self.root, &["index.html".to_string()], false, injects).await
                    {
                        // Not kept under this URL: what it gets depends on how it is asked for.
                        return serve_file(&page, &self.cache, None, generation, file).await;
                    }
                }
                not_found()
            }
        }
    }
}

/// The entries of a folder, without hidden ones.
async fn list(dir: &Path) -> Vec<Entry> {
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
            entries.push(Entry { name, is_dir });
        }
    }
    entries
}

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
//! - [`precompressed`]: `app.js.br` sent for `app.js`, and `game.wasm.br` with its coding.
//! - [`sendfile`]: connections that send large cached files with sendfile(2).

pub(crate) mod cache;
mod lookup;
mod mime;
mod precompressed;
mod respond;
pub(crate) mod sendfile;
pub(crate) mod stamp;

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use tokio::sync::watch;
use tower::Service;

use crate::error::ServeError;
use crate::inject::ClientTag;
use crate::paths::{encode_segment, url_to_segments, Refusal};
use crate::web::pages::{self, render, Entry};
use crate::web::request::is_navigation;
use crate::web::Page;
use cache::FileCache;
use lookup::{locate, Found};
use precompressed::Coding;
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
    /// True while files are changing; a page asked for meanwhile waits for the end.
    settling: Option<watch::Receiver<bool>>,
    /// Told of each folder a file is read or listed from, so that it is watched.
    served_from: Option<ServedFrom>,
}

/// Told of a folder a page loaded something from.
pub(crate) type ServedFrom = Arc<dyn Fn(&Path) + Send + Sync>;

/// The longest a page waits for changing files to settle. A batch goes out after at most a
/// second of continuous writing, but a page asked for while a writer goes on waits for the end,
/// so that it shows the final content and the tab reloads once (300 rewrites with pauses take
/// about three seconds).
const SETTLE_WAIT_MAX: Duration = Duration::from_secs(5);

impl FileService {
    /// A service that neither waits for changes nor tells a watcher of anything.
    #[cfg(test)]
    pub(crate) fn new(root: PathBuf, cache: Arc<FileCache>, spa: bool, client: Option<ClientTag>) -> Self {
        Self::watched(root, cache, spa, client, None, None)
    }

    /// A service whose pages wait while `settling` is true, and which tells `served_from` of
    /// every folder it reads or lists a file from.
    pub(crate) fn watched(
        root: PathBuf,
        cache: Arc<FileCache>,
        spa: bool,
        client: Option<ClientTag>,
        settling: Option<watch::Receiver<bool>>,
        served_from: Option<ServedFrom>,
    ) -> Self {
        FileService {
            inner: Arc::new(Inner {
                root,
                cache,
                spa,
                client,
                settling,
                served_from,
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
        if is_navigation(headers) {
            self.settled().await;
        }
        let url_path = req.uri().path();
        let page = Page::new(headers, url_path, head, self.client.as_ref());
        if req.method() != Method::GET && !head {
            return render(&ServeError::MethodNotAllowed, &page);
        }
        if let Some(hit) = self.cache.get(url_path) {
            if let Some(coding) = hit.siblings.chosen(headers) {
                if let Some(variant) = self.variant(&page, url_path, coding).await {
                    return variant;
                }
            }
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
        let segments = match url_to_segments(url_path) {
            Ok(segments) => segments,
            Err(Refusal::Hidden) => {
                let hidden = ServeError::Hidden {
                    path: url_path.to_string(),
                };
                return render(&hidden, &page);
            }
            Err(Refusal::Traversal) => return not_found(),
        };
        let injects = page.injects();
        let found = locate(&self.root, &segments, url_path.ends_with('/'), injects).await;
        self.tell_served(&found);
        match found {
            // `/a.txt/` names a folder, and a file is none (nor is `/index.html/` the page).
            Found::File(_) if url_path.ends_with('/') => not_found(),
            Found::File(file) => {
                if let Some(coding) = file.siblings.chosen(headers) {
                    if let Some(variant) = self.variant(&page, url_path, coding).await {
                        return variant;
                    }
                }
                serve_file(&page, &self.root, &self.cache, Some(url_path), generation, file).await
            }
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
                    Some(file) => {
                        serve_file(&page, &self.root, &self.cache, Some(url_path), generation, file).await
                    }
                    None => pages::listing(&page, url_path, list(&dir).await),
                }
            }
            Found::Missing => {
                if self.spa && is_navigation(headers) {
                    if let Found::File(file) =
                        locate(&self.root, &["index.html".to_string()], false, injects).await
                    {
                        // Not kept under this URL: what it gets depends on how it is asked for.
                        return serve_file(&page, &self.root, &self.cache, None, generation, file).await;
                    }
                }
                not_found()
            }
        }
    }
}

impl Inner {
    /// `url_path` as its precompressed sibling (`/app.js.br`), which is what a request for that
    /// name gets too; `None` when it has gone meanwhile.
    async fn variant(&self, page: &Page<'_>, url_path: &str, coding: Coding) -> Option<Response> {
        let url = format!("{url_path}.{}", coding.suffix());
        if let Some(hit) = self.cache.get(&url) {
            return Some(respond(page, &hit));
        }
        let generation = self.cache.generation();
        let segments = url_to_segments(&url).ok()?;
        match locate(&self.root, &segments, false, false).await {
            Found::File(file) if file.coding == Some(coding) => {
                Some(serve_file(page, &self.root, &self.cache, Some(&url), generation, file).await)
            }
            _ => None,
        }
    }

    /// Waits, bounded, while files are changing: a tab that reloads in the middle of a build
    /// gets the final content, and the latest seq with it, instead of reloading again.
    async fn settled(&self) {
        let Some(settling) = &self.settling else { return };
        if !*settling.borrow() {
            return;
        }
        let mut settling = settling.clone();
        if tokio::time::timeout(SETTLE_WAIT_MAX, settling.wait_for(|busy| !busy))
            .await
            .is_err()
        {
            tracing::debug!("files still changing after {SETTLE_WAIT_MAX:?}; serving the page as it is");
        }
    }

    /// Tells the watcher of the folder a file was read or listed from.
    fn tell_served(&self, found: &Found) {
        let Some(served_from) = &self.served_from else {
            return;
        };
        match found {
            Found::File(file) | Found::Dir(_, Some(file)) => {
                if let Some(dir) = file.path.parent() {
                    served_from(dir);
                }
            }
            Found::Dir(dir, None) => served_from(dir),
            Found::Missing => {}
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
            let meta = tokio::fs::metadata(entry.path()).await.ok();
            entries.push(Entry {
                name,
                is_dir: meta.as_ref().is_some_and(|m| m.is_dir()),
                size: meta.as_ref().filter(|m| m.is_file()).map(|m| m.len()),
                modified: meta.and_then(|m| m.modified().ok()),
            });
        }
    }
    entries
}

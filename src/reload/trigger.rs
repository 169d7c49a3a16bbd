//! Build tools drive the reload (DESIGN §13): `POST /__devserve/reload` sends a batch, and
//! `POST /__devserve/status` says what state a build is in — while any source is `building`,
//! batches of changes are held (at most [`HOLD_MAX`]) and go out as one when it ends; `error`
//! shows the build's message over every tab, `ok` clears it.
//!
//! Behind the Host check like every path; refused for a foreign `Origin` (a web page cannot
//! drive them) and for anything but a small JSON body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;

use super::hub::Hub;
use crate::error::ServeError;
use crate::security::{origin_allowed, request_host};

/// A source that says `building` and never says more releases what it held after this.
pub(crate) const HOLD_MAX: Duration = Duration::from_secs(60);
/// Largest body the endpoints read.
const MAX_BODY: usize = 64 * 1024;
/// Paths one `reload` may name.
const MAX_PATHS: usize = 1000;

/// Batches held while builds run, and the builds running.
pub(crate) struct Builds {
    hub: Arc<Hub>,
    hold_max: Duration,
    state: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// Sources building now, each with the number of its current build (for its time limit).
    building: HashMap<String, u64>,
    builds: u64,
    /// The changes held meanwhile: their paths, and whether any needs a reload.
    paths: Vec<String>,
    reload: bool,
    /// Some change is not named by `paths`: every tab reloads.
    all: bool,
    any: bool,
    /// Files are still changing: what the build wrote last settles before anything goes out.
    settling: bool,
    /// A build ended while files were settling: release once they have.
    release_pending: bool,
}

impl Builds {
    pub(crate) fn new(hub: Arc<Hub>, hold_max: Duration) -> Arc<Self> {
        Arc::new(Builds {
            hub,
            hold_max,
            state: Mutex::new(Held::default()),
        })
    }

    /// A batch of changes: told to the tabs now, or held while a build runs. Returns how many
    /// tabs were told (`None`: held).
    pub(crate) fn offer(&self, paths: Vec<String>, reload: bool, all: bool) -> Option<usize> {
        let Ok(mut held) = self.state.lock() else {
            return Some(self.hub.publish_batch(paths, reload, all));
        };
        if held.building.is_empty() && !held.release_pending {
            drop(held);
            return Some(self.hub.publish_batch(paths, reload, all));
        }
        for path in paths {
            if held.paths.len() < MAX_PATHS && !held.paths.contains(&path) {
                held.paths.push(path);
            } else if held.paths.len() >= MAX_PATHS {
                held.all = true;
            }
        }
        held.reload |= reload;
        held.all |= all;
        held.any = true;
        None
    }

    /// `source` started building.
    pub(crate) fn building(self: &Arc<Self>, source: &str) {
        let build = match self.state.lock() {
            Ok(mut held) => {
                held.builds += 1;
                let build = held.builds;
                held.building.insert(source.to_string(), build);
                build
            }
            Err(_) => return,
        };
        // Bounded: a tool that dies mid-build does not hold the tabs forever.
        let (builds, source, hold_max) = (self.clone(), source.to_string(), self.hold_max);
        tokio::spawn(async move {
            tokio::time::sleep(hold_max).await;
            let still = builds
                .state
                .lock()
                .is_ok_and(|held| held.building.get(&source) == Some(&build));
            if still {
                tracing::warn!(
                    "`{source}` said it was building {} s ago and nothing since: releasing the changes",
                    hold_max.as_secs()
                );
                builds.done(&source);
            }
        });
    }

    /// `source` finished: what was held goes out when no build runs any more — once the files
    /// the build wrote last have settled, so that the build is one batch.
    pub(crate) fn done(&self, source: &str) {
        let released = match self.state.lock() {
            Ok(mut held) => {
                held.building.remove(source);
                if !held.building.is_empty() {
                    None
                } else if held.settling {
                    held.release_pending = true;
                    None
                } else {
                    Some(take_held(&mut held))
                }
            }
            Err(_) => None,
        };
        self.release(released);
    }

    /// The watcher says files are changing (`true`) or have settled (`false`).
    pub(crate) fn settling(&self, now: bool) {
        let released = match self.state.lock() {
            Ok(mut held) => {
                held.settling = now;
                (!now && held.release_pending && held.building.is_empty()).then(|| take_held(&mut held))
            }
            Err(_) => None,
        };
        self.release(released);
    }

    fn release(&self, released: Option<Held>) {
        if let Some(Held {
            paths,
            reload,
            all,
            any: true,
            ..
        }) = released
        {
            let tabs = self.hub.publish_batch(paths.clone(), reload, all);
            let word = if tabs == 1 { "tab" } else { "tabs" };
            tracing::info!(
                "a build is done → its {} change(s) go out, told {tabs} {word}",
                paths.len()
            );
        }
    }

    pub(crate) fn hub(&self) -> &Hub {
        &self.hub
    }
}

/// What was held (its paths, reload, all and any; nothing else is read), and the hold lifted.
fn take_held(held: &mut Held) -> Held {
    let taken = Held {
        paths: std::mem::take(&mut held.paths),
        reload: held.reload,
        all: held.all,
        any: held.any,
        ..Held::default()
    };
    held.reload = false;
    held.all = false;
    held.any = false;
    held.release_pending = false;
    taken
}

/// `{}` or `{"paths": ["/app.js"]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadBody {
    #[serde(default)]
    paths: Vec<String>,
}

/// `{"source": "esbuild", "state": "building" | "ok" | "error", "text": "…", "title": "…"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    source: String,
    state: BuildState,
    #[serde(default)]
    text: String,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BuildState {
    Building,
    Ok,
    Error,
}

/// `POST /__devserve/reload`.
pub(crate) async fn reload(State(builds): State<Arc<Builds>>, req: Request) -> Response {
    let body: ReloadBody = match read_json(req).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    if let Some(bad) = body.paths.iter().find(|p| !p.starts_with('/')) {
        return ServeError::BadJson(format!("paths are URL paths that start with /, not `{bad}`"))
            .into_response();
    }
    if body.paths.len() > MAX_PATHS {
        return ServeError::BadJson(format!("at most {MAX_PATHS} paths")).into_response();
    }
    let reload = body.paths.is_empty()
        || body
            .paths
            .iter()
            .any(|p| !p.to_ascii_lowercase().ends_with(".css"));
    let tabs = builds.hub().publish(body.paths, reload);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"told\":{tabs}}}\n"),
    )
        .into_response()
}

/// `POST /__devserve/status`.
pub(crate) async fn status(State(builds): State<Arc<Builds>>, req: Request) -> Response {
    let body: StatusBody = match read_json(req).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let source = body.source.trim();
    if source.is_empty() || source.len() > 64 {
        return ServeError::BadJson("`source` names the tool, in 1 to 64 characters".into()).into_response();
    }
    match body.state {
        BuildState::Building => {
            tracing::debug!("{source}: building");
            builds.building(source);
        }
        BuildState::Ok => {
            tracing::info!("{source}: ok");
            builds.hub().clear(source);
            builds.done(source);
        }
        BuildState::Error => {
            let title = body.title.unwrap_or_else(|| format!("{source} failed"));
            let text: String = body.text.chars().take(MAX_BODY).collect();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            tracing::warn!("{source}: {title}: {first}");
            builds.hub().show_error(source, &title, &text);
            builds.done(source);
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The request's JSON body, or the refusal to send: a foreign `Origin` (403), another type than
/// JSON (415), a body over [`MAX_BODY`] (413), JSON that is not what the endpoint takes (400).
async fn read_json<T: serde::de::DeserializeOwned>(req: Request) -> Result<T, Response> {
    let headers = req.headers();
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("unreadable"));
    if !origin_allowed(origin, request_host(headers)) {
        return Err(ServeError::ForeignOrigin.into_response());
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !json {
        return Err(ServeError::NotJson.into_response());
    }
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    let bytes = match Body::new(limited).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(ServeError::TooLarge { limit: MAX_BODY }.into_response()),
    };
    serde_json::from_slice(&bytes).map_err(|e| ServeError::BadJson(e.to_string()).into_response())
}

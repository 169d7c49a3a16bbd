//! The example app itself, also served by the browser tests over a copy of its folder.

use std::path::PathBuf;

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use devserve::layer::LiveReloadLayer;

/// The app over the folder `here` (its `templates/` and `assets/`), with live reload: a template
/// saved reloads the tabs, a stylesheet saved is swapped in place. Call it inside a tokio runtime.
pub fn app(here: PathBuf) -> Router {
    let live = LiveReloadLayer::new()
        .watch(here.join("templates"))
        .watch_as(here.join("assets"), "/assets");
    Router::new()
        .route("/", get(index))
        .route("/assets/style.css", get(style))
        .with_state(here)
        .layer(live)
}

/// The page, rendered from its template on every request.
async fn index(State(here): State<PathBuf>) -> impl IntoResponse {
    let template = std::fs::read_to_string(here.join("templates/index.html")).unwrap_or_default();
    Html(template.replace("{{ visits }}", "rendered by axum"))
}

async fn style(State(here): State<PathBuf>) -> impl IntoResponse {
    let css = std::fs::read_to_string(here.join("assets/style.css")).unwrap_or_default();
    ([("content-type", "text/css")], css)
}

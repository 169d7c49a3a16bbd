//! An axum app that renders its own pages, with devserve's live reload as a layer:
//!
//! ```text
//! cargo run --example axum_app        # http://127.0.0.1:3030/
//! ```
//!
//! Edit `examples/axum_app/templates/index.html` and the tab reloads; edit
//! `examples/axum_app/assets/style.css` and the new style is swapped in without a reload. The
//! template is read on every request, as a template engine's development mode does.

use std::path::PathBuf;

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use devserve::layer::LiveReloadLayer;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/axum_app");
    let live = LiveReloadLayer::new()
        .watch(here.join("templates"))
        .watch_as(here.join("assets"), "/assets");
    let app = Router::new()
        .route("/", get(index))
        .route("/assets/style.css", get(style))
        .with_state(here)
        .layer(live);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3030").await?;
    eprintln!("axum app with live reload on http://127.0.0.1:3030/");
    axum::serve(listener, app).await?;
    Ok(())
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

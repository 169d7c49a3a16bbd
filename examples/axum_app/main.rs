//! An axum app that renders its own pages, with devserve's live reload as a layer:
//!
//! ```text
//! cargo run --example axum_app        # http://127.0.0.1:3030/
//! ```
//!
//! Edit `examples/axum_app/templates/index.html` and the tab reloads; edit
//! `examples/axum_app/assets/style.css` and the new style is swapped in without a reload. The
//! template is read on every request, as a template engine's development mode does.

mod app;

use std::path::PathBuf;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/axum_app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3030").await?;
    eprintln!("axum app with live reload on http://127.0.0.1:3030/");
    axum::serve(listener, app::app(here)).await?;
    Ok(())
}

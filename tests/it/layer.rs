//! The layer (#19): devserve's live reload around an axum app of one's own.

use std::io::Write as _;
use std::net::SocketAddr;

use axum::response::{Html, IntoResponse};
use axum::routing::get;
use devserve::layer::{LiveReloadLayer, Reloader};
use devserve::ServerMessage;

use crate::support::{client, token_in};

const PAGE: &str = "<!doctype html><html><head><title>app</title></head><body>rendered</body></html>";

/// An app rendering its own pages, with the layer around it, on port 0.
async fn app() -> (SocketAddr, Reloader) {
    let live = LiveReloadLayer::new();
    let reloader = live.reloader();
    let gzipped = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(PAGE.replace("rendered", "compressed").as_bytes())
            .unwrap();
        e.finish().unwrap()
    };
    let app = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/gz",
            get(move || async move {
                (
                    [
                        ("content-type", "text/html; charset=utf-8"),
                        ("content-encoding", "gzip"),
                    ],
                    gzipped,
                )
                    .into_response()
            }),
        )
        .route(
            "/data.json",
            get(|| async { ([("content-type", "application/json")], "{\"a\":1}") }),
        )
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, Html(PAGE)) })
        .layer(live);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, reloader)
}

async fn page(addr: SocketAddr, path: &str, dest: &str) -> (reqwest::StatusCode, String) {
    let r = client()
        .get(format!("http://{addr}{path}"))
        .header("sec-fetch-dest", dest)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn pages_the_app_renders_get_the_client_and_nothing_else_does() {
    let (addr, _) = app().await;
    let (status, body) = page(addr, "/", "document").await;
    assert_eq!(status, 200);
    assert!(body.contains("rendered") && token_in(&body).is_some(), "{body}");
    let (_, body) = page(addr, "/gz", "document").await;
    assert!(
        body.contains("compressed") && token_in(&body).is_some(),
        "decoded and injected: {body}"
    );
    let (_, body) = page(addr, "/", "empty").await;
    assert_eq!(body, PAGE, "a page fetched by script is left alone");
    let (status, body) = page(addr, "/missing", "document").await;
    assert_eq!(
        (status, body.as_str()),
        (reqwest::StatusCode::NOT_FOUND, PAGE),
        "a 404 is the app's own"
    );
    let (_, body) = page(addr, "/data.json", "document").await;
    assert_eq!(body, "{\"a\":1}");
    let (status, body) = page(addr, "/__devserve/client.js", "script").await;
    assert_eq!(status, 200);
    assert!(body.contains("WebSocket"), "the client script");
    let foreign = client()
        .get(format!("http://{addr}/__devserve/client.js"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        foreign.status(),
        403,
        "the Host check holds on the layer's own paths"
    );
}

#[tokio::test]
async fn the_reloader_reaches_the_tabs() {
    let (addr, reloader) = app().await;
    let (_, body) = page(addr, "/", "document").await;
    let token = token_in(&body).unwrap();
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/__devserve/ws?token={token}"))
        .await
        .unwrap();
    let mut tab = crate::support::Tab { ws };
    assert!(matches!(tab.next().await, ServerMessage::Connected { .. }));
    assert_eq!(reloader.reload_paths(["/style.css"]), 1, "one tab told");
    match tab.next().await {
        ServerMessage::Updated { paths, reload, .. } => {
            assert_eq!((paths, reload), (vec!["/style.css".to_string()], false))
        }
        other => panic!("{other:?}"),
    }
    reloader.reload();
    assert!(matches!(
        tab.next().await,
        ServerMessage::Updated { reload: true, .. }
    ));
    reloader.error("templates", "template error", "index.html:3: unclosed tag");
    assert!(matches!(tab.next().await, ServerMessage::Error { source, .. } if source == "templates"));
    reloader.clear("templates");
    assert!(matches!(tab.next().await, ServerMessage::Clear { source } if source == "templates"));
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/__devserve/ws?token=wrong")).await;
    assert!(refused.is_err(), "a wrong token is refused");
}

/// `.watch(templates)` reloads every tab once per save; `.watch_as(assets, "/assets")` names the
/// URL, so a stylesheet is swapped. Tabs are told `connected` once both folders are watched.
#[tokio::test]
async fn watched_folders_feed_the_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let (templates, assets) = (dir.path().join("templates"), dir.path().join("assets"));
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&assets).unwrap();
    std::fs::write(templates.join("index.html"), "v1").unwrap();
    std::fs::write(assets.join("style.css"), "p{}").unwrap();
    let live = LiveReloadLayer::new()
        .watch(&templates)
        .watch_as(&assets, "/assets/");
    let app = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .layer(live);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (_, body) = page(addr, "/", "document").await;
    let token = token_in(&body).unwrap();
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/__devserve/ws?token={token}"))
        .await
        .unwrap();
    let mut tab = crate::support::Tab { ws };
    assert!(matches!(tab.next().await, ServerMessage::Connected { .. }));
    std::fs::write(templates.join("index.html"), "v2").unwrap();
    assert_eq!(tab.updated().await.1, Vec::<String>::new(), "every tab reloads");
    std::fs::write(assets.join("style.css"), "p{color:red}").unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert_eq!((paths, reload), (vec!["/assets/style.css".to_string()], false));
    // Nothing else came of the two saves: the next message is the marker's.
    std::fs::write(assets.join("marker.txt"), "m").unwrap();
    assert_eq!(tab.updated().await.1, ["/assets/marker.txt"]);
}

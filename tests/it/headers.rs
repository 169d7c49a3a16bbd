//! `--header`, `--isolated` and `--cors` (#16).

use axum::routing::get;

use crate::support::{client, Backend, TestServer};

/// Added headers go on files and devserve's own paths; a proxied answer is the backend's.
#[tokio::test]
async fn added_headers_go_on_devserves_own_answers_only() {
    let backend = Backend::start(axum::Router::new().route(
        "/api/x",
        get(|| async { ([("x-team", "backend")], "from the backend") }),
    ))
    .await;
    let rule = format!("/api=http://{}", backend.addr);
    let s = TestServer::start_with(
        &[
            "--header",
            "X-Team: devserve",
            "--header",
            "X-Frame-Options:DENY",
            "--isolated",
            "--proxy",
            &rule,
        ],
        |root| {
            std::fs::write(root.join("index.html"), "<html><body>hi</body></html>").unwrap();
            std::fs::create_dir(root.join("docs")).unwrap();
            std::fs::write(root.join("docs/a.txt"), "a").unwrap();
        },
    )
    .await;
    let etag = s.get("/docs/a.txt").await.headers()["etag"].clone();
    let not_modified = client()
        .get(s.url("/docs/a.txt"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    let listing = s.get("/docs/").await;
    assert!(listing.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    for (path, r) in [
        ("/", s.get("/").await),
        ("/__devserve/client.js", s.get("/__devserve/client.js").await),
        ("/missing.txt", s.get("/missing.txt").await),
        ("/docs/ (a listing)", listing),
        ("/docs/a.txt (304)", not_modified),
    ] {
        let h = r.headers();
        assert_eq!(h["x-team"], "devserve", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
        assert_eq!(h["cross-origin-embedder-policy"], "require-corp", "{path}");
        assert_eq!(h["cross-origin-resource-policy"], "same-site", "{path}");
    }
    let r = s.get("/api/x").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-team"], "backend");
    assert!(!r.headers().contains_key("x-frame-options"));
    assert!(!r.headers().contains_key("cross-origin-opener-policy"));
    assert_eq!(r.text().await.unwrap(), "from the backend");
}

/// Without the flags, none of it.
#[tokio::test]
async fn no_added_headers_and_no_cors_by_default() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("app.js"), "1").unwrap()).await;
    let r = client()
        .get(s.url("/app.js"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for name in [
        "access-control-allow-origin",
        "cross-origin-opener-policy",
        "cross-origin-embedder-policy",
        "vary",
    ] {
        assert!(!r.headers().contains_key(name), "{name}");
    }
}

/// An allowed origin may fetch the files (preflight included); any other site is still refused.
#[tokio::test]
async fn cors_lets_exactly_the_named_origins_read() {
    let s = TestServer::start_with(&["--cors", "http://localhost:5173,https://app.example"], |root| {
        std::fs::write(root.join("data.json"), r#"{"secret":1}"#).unwrap()
    })
    .await;
    let fetch = |origin: &'static str| {
        client()
            .get(s.url("/data.json"))
            .header("origin", origin)
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "cors")
            .send()
    };
    for origin in [
        "http://localhost:5173",
        "https://app.example",
        "HTTPS://APP.EXAMPLE",
    ] {
        let r = fetch(origin).await.unwrap();
        assert_eq!(r.status(), 200, "{origin}");
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
        assert_eq!(r.headers()["vary"], "Origin");
        assert!(r.text().await.unwrap().contains("secret"));
    }
    for origin in ["http://evil.example", "http://localhost:5174", "null"] {
        let r = fetch(origin).await.unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        assert!(
            !r.headers().contains_key("access-control-allow-origin"),
            "{origin}"
        );
        assert!(!r.text().await.unwrap().contains("secret"), "{origin}");
    }

    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, s.url("/data.json"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-requested-with")
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "cors")
            .send()
    };
    let r = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(r.headers()["access-control-allow-methods"], "GET, HEAD, OPTIONS");
    assert_eq!(r.headers()["access-control-allow-headers"], "x-requested-with");
    let r = preflight("http://evil.example").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("access-control-allow-origin"));
}

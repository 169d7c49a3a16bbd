//! What a new user trips over in the first hour: a folder that does not exist yet, `--allow-host`
//! with a port, hidden files, trailing slashes, types, listings.

use std::fs;

use reqwest::{header, StatusCode};

use crate::support::{client, TestServer};

/// `devserve dist` started together with the build that makes `dist/`.
#[tokio::test]
async fn a_root_created_after_start_is_served_once_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, &[]).await;
    assert!(!s.root.exists());
    let mut tab = s.tab().await;
    assert_eq!(s.get("/").await.status(), StatusCode::NOT_FOUND);
    fs::create_dir(&s.root).unwrap();
    fs::write(s.root.join("index.html"), "<p>built</p>").unwrap();
    let (_, _, reload) = tab.updated().await;
    assert!(reload);
    let page = s.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<p>built</p>"));
    // And it is watched like any other.
    s.write("index.html", "<p>again</p>");
    let paths = tab.updates_until(&s, "/m.txt").await;
    assert!(
        paths.iter().any(|(p, _)| p.iter().any(|p| p == "/index.html")),
        "{paths:?}"
    );
}

/// The browser's address bar shows `name:port`; `--allow-host` takes it as it is.
#[tokio::test]
async fn allow_host_takes_a_name_with_its_port() {
    let s = TestServer::start(&["--allow-host", "MyLaptop.local:8217"]).await;
    let r = client()
        .get(s.url("/"))
        .header("host", "mylaptop.local:8217")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let refused = client()
        .get(s.url("/"))
        .header("host", "other.local:8217")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let page = refused.text().await.unwrap();
    assert!(page.contains("<code>--allow-host other.local</code>"), "{page}");
    assert!(page.contains("<style>"), "a page like devserve's others");
}

/// A refused dotfile does not promise to reload "when the file appears".
#[tokio::test]
async fn a_hidden_file_is_refused_without_promising_it_will_appear() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join(".env"), "SECRET=1").unwrap()).await;
    let r = s.get("/.env").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("is hidden") && !body.contains("reloads by itself"),
        "{body}"
    );
    assert!(!body.contains("SECRET"));
}

/// `/a.txt/` and `/index.html/` name folders, and there are none.
#[tokio::test]
async fn a_file_with_a_trailing_slash_is_not_the_file() {
    let s = TestServer::start_with(&[], |root| {
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(root.join("index.html"), "<p>i</p>").unwrap();
    })
    .await;
    for path in ["/a.txt/", "/index.html/"] {
        assert_eq!(s.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(s.get("/a.txt").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn typescript_is_a_script_and_xhtml_a_page() {
    let s = TestServer::start_with(&[], |root| {
        fs::write(root.join("app.ts"), "export const a: number = 1;").unwrap();
        fs::write(
            root.join("p.xhtml"),
            "<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>x</title></head><body/></html>",
        )
        .unwrap();
    })
    .await;
    let ts = s.get("/app.ts").await;
    assert!(ts.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let page = s.get("/p.xhtml").await;
    assert!(page.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/xhtml+xml"));
    let body = page.text().await.unwrap();
    assert!(
        body.contains(r#"data-page="/p.xhtml" defer="defer"></script></head>"#),
        "{body}"
    );
}

#[tokio::test]
async fn the_listing_shows_sizes_and_dates() {
    let s = TestServer::start_with(&[], |root| {
        fs::create_dir_all(root.join("d/sub")).unwrap();
        fs::write(root.join("d/big.bin"), vec![0u8; 1536]).unwrap();
    })
    .await;
    let body = s.get("/d/").await.text().await.unwrap();
    assert!(body.contains("<td class=\"n\">1.5 KiB</td>"), "{body}");
    assert!(body.contains("just now"), "{body}");
    assert!(body.contains("meta name=\"devserve-page\" content=\"listing\""));
    assert!(body.contains("prefers-color-scheme:dark"), "dark mode");
}

//! Serving files: types, validators, ranges, folders, listings, 404s, awkward names.

use reqwest::header;
use reqwest::StatusCode;

use crate::support::{client, TestServer};

#[tokio::test]
async fn serves_files_with_their_type_and_no_cache() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("app.js"), "console.log(1)").unwrap();
        std::fs::write(root.join("logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
    })
    .await;
    let r = s.get("/app.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(r.text().await.unwrap(), "console.log(1)");
    let r = s.get("/logo.png").await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &[0x89, b'P', b'N', b'G']);
}

#[tokio::test]
async fn head_gives_headers_without_a_body() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("a.txt"), "hello").unwrap()).await;
    let r = client().head(s.url("/a.txt")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_LENGTH], "5");
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn unchanged_file_revalidates_to_304_and_changed_one_does_not() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("a.css"), "a{}").unwrap()).await;
    let r = s.get("/a.css").await;
    let etag = r.headers()[header::ETAG].clone();
    let last_modified = r.headers()[header::LAST_MODIFIED].clone();
    let again = client()
        .get(s.url("/a.css"))
        .header(header::IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let by_date = client()
        .get(s.url("/a.css"))
        .header(header::IF_MODIFIED_SINCE, last_modified.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(by_date.status(), StatusCode::NOT_MODIFIED);

    // Saved again within the same second, same length: the date cannot tell, the ETag must.
    s.write("a.css", "b{}");
    let after = client()
        .get(s.url("/a.css"))
        .header(header::IF_NONE_MATCH, etag)
        .header(header::IF_MODIFIED_SINCE, last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::OK);
    assert_eq!(after.text().await.unwrap(), "b{}");
}

#[tokio::test]
async fn range_requests_get_206_for_non_html() {
    let body: Vec<u8> = (0..=255u8).cycle().take(3 * 1024 * 1024).collect();
    let expected = body.clone();
    let s = TestServer::start_with(&[], move |root| {
        std::fs::write(root.join("small.bin"), &body[..1000]).unwrap();
        std::fs::write(root.join("big.bin"), &body).unwrap();
    })
    .await;
    let r = client()
        .get(s.url("/small.bin"))
        .header(header::RANGE, "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 10-19/1000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &expected[10..20]);

    let r = client()
        .get(s.url("/big.bin"))
        .header(header::RANGE, "bytes=2000000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE],
        format!("bytes 2000000-{}/{}", expected.len() - 1, expected.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &expected[2_000_000..]);

    let r = client().get(s.url("/big.bin")).send().await.unwrap();
    assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &expected[..]);

    let r = client()
        .get(s.url("/small.bin"))
        .header(header::RANGE, "bytes=5000-6000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */1000");
}

#[tokio::test]
async fn injected_html_ignores_range_and_its_etag_changes_with_each_run() {
    let page = "<html><head></head><body>x</body></html>";
    let a = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), page).unwrap()).await;
    let r = client()
        .get(a.url("/"))
        .header(header::RANGE, "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let etag_a = r.headers()[header::ETAG].clone();
    assert!(r.text().await.unwrap().contains("data-token"));

    // A restarted server has a new token: the page cached by the old run must not revalidate.
    let b = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), page).unwrap()).await;
    let r = client()
        .get(b.url("/"))
        .header(header::IF_NONE_MATCH, etag_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn redirect_to_trailing_slash_on_dir_then_index_html() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    })
    .await;
    let r = s.get("/docs?x=1").await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.headers()[header::LOCATION], "/docs/?x=1");
    let r = s.get("/docs/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().starts_with("<h1>docs</h1>"));
}

#[tokio::test]
async fn folder_without_index_is_listed_with_the_client() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir_all(root.join("sub/inner")).unwrap();
        std::fs::write(root.join("sub/a b.txt"), "x").unwrap();
        std::fs::write(root.join("sub/<b>.txt"), "x").unwrap();
        std::fs::write(root.join("sub/a&amp;b.txt"), "amp").unwrap();
        std::fs::write(root.join("sub/.secret"), "x").unwrap();
    })
    .await;
    let r = s.get("/sub/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"href="./a%20b.txt""#), "{body}");
    assert!(body.contains(r#"href="./inner/""#));
    assert!(body.contains("&lt;b&gt;.txt"));
    // Regression: an `&` in a name was left as is in the href, so the browser decoded `&amp;`.
    assert!(body.contains(r#"href="./a&amp;amp;b.txt""#), "{body}");
    assert_eq!(s.get("/sub/a&amp;b.txt").await.text().await.unwrap(), "amp");
    assert!(!body.contains("<b>.txt"));
    assert!(!body.contains(".secret"));
    assert!(body.contains(r#"<script src="/__devserve/client.js" data-token=""#));
    assert!(
        !body.contains(&*s.root.to_string_lossy()),
        "no absolute paths in pages"
    );
}

#[tokio::test]
async fn missing_path_gets_an_html_404_with_the_client() {
    let s = TestServer::start(&[]).await;
    let r = s.get("/nope/<script>.html").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"<script src="/__devserve/client.js""#));
    assert!(!body.contains("<script>.html"), "the path is escaped");
    assert!(!body.contains(&*s.root.to_string_lossy()));
}

#[tokio::test]
async fn spa_fallback_only_for_navigations() {
    let s = TestServer::start_with(&["--spa"], |root| {
        std::fs::write(root.join("index.html"), "<p>app</p>").unwrap()
    })
    .await;
    let nav = client()
        .get(s.url("/users/42"))
        .header("sec-fetch-mode", "navigate")
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(nav.status(), StatusCode::OK);
    assert!(nav.text().await.unwrap().starts_with("<p>app</p>"));
    let asset = client()
        .get(s.url("/missing.js"))
        .header("sec-fetch-mode", "no-cors")
        .header("sec-fetch-dest", "script")
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), StatusCode::NOT_FOUND);
    let plain = TestServer::start(&[]).await;
    assert_eq!(plain.get("/users/42").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn awkward_names_are_served() {
    let names = [
        "a b.txt",
        "hash#1.txt",
        "per%20cent.txt",
        "😀.txt",
        "ünï.txt",
        "q?.txt",
    ];
    let s = TestServer::start_with(&[], |root| {
        for n in names {
            std::fs::write(root.join(n), n).unwrap();
        }
    })
    .await;
    for n in names {
        let encoded: String =
            percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC).collect();
        let r = s.get(&format!("/{encoded}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{n}");
        assert_eq!(r.text().await.unwrap(), n);
    }
}

#[tokio::test]
async fn other_methods_get_405() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("a.txt"), "x").unwrap()).await;
    let r = client().post(s.url("/a.txt")).body("x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
}

#[tokio::test]
async fn no_reload_serves_pages_untouched() {
    let page = "<html><head></head><body>x</body></html>";
    let s = TestServer::start_with(&["--no-reload"], |root| {
        std::fs::write(root.join("index.html"), page).unwrap()
    })
    .await;
    assert_eq!(s.get("/").await.text().await.unwrap(), page);
    assert!(!s
        .get("/missing")
        .await
        .text()
        .await
        .unwrap()
        .contains("client.js"));
    assert_eq!(
        s.get("/__devserve/client.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn client_script_is_served() {
    let s = TestServer::start(&[]).await;
    let r = s.get("/__devserve/client.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(r.text().await.unwrap().contains("/__devserve/ws"));
    assert_eq!(s.get("/__devserve/other").await.status(), StatusCode::NOT_FOUND);
}

/// Regression: the redirect was built from the raw path, so `//docs` sent the browser to
/// `http://docs/`.
#[tokio::test]
async fn redirect_of_a_doubled_slash_stays_on_this_server() {
    let s = TestServer::start_with(&[], |root| std::fs::create_dir(root.join("docs")).unwrap()).await;
    let raw = crate::support::raw_request(
        s.addr,
        "GET //docs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 307"), "{raw}");
    assert!(
        raw.to_ascii_lowercase().contains("\r\nlocation: /docs/\r\n"),
        "{raw}"
    );
}

/// Regression: checking many ranges for overlap is quadratic; past a few, the whole file is sent.
#[tokio::test]
async fn a_range_header_with_many_ranges_gets_the_whole_file() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("a.bin"), vec![7u8; 100_000]).unwrap()
    })
    .await;
    let ranges: Vec<String> = (0..5000).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
    let r = client()
        .get(s.url("/a.bin"))
        .header(header::RANGE, format!("bytes={}", ranges.join(",")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().len(), 100_000);
}

/// Writes a file dated a minute ago: old enough to be kept in memory at once.
fn write_a_while_ago(path: &std::path::Path, contents: &[u8]) {
    std::fs::write(path, contents).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

/// Files are served from memory between changes; a save must still be seen at once, before the
/// watcher's event arrives, even when the size stays the same.
#[tokio::test]
async fn a_saved_file_is_never_served_stale_from_memory() {
    let s = TestServer::start_with(&[], |root| write_a_while_ago(&root.join("app.css"), b"v00")).await;
    assert_eq!(s.get("/app.css").await.text().await.unwrap(), "v00");
    assert_eq!(s.get("/app.css").await.text().await.unwrap(), "v00");
    for i in 1..20 {
        s.write("app.css", format!("v{i:02}"));
        assert_eq!(
            s.get("/app.css").await.text().await.unwrap(),
            format!("v{i:02}"),
            "save {i}"
        );
    }
}

/// A large file kept in memory is sent from the file with sendfile(2) on Linux; whichever way it
/// goes, every byte must be the file's, whole or in a range, before and after a save.
#[tokio::test]
async fn a_large_kept_file_is_sent_byte_for_byte() {
    let pattern = |seed: u32| -> Vec<u8> {
        (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 24) as u8)
            .collect()
    };
    let first = pattern(1);
    let s = TestServer::start_with(&[], |root| write_a_while_ago(&root.join("big.bin"), &first)).await;
    let _tab = s.tab().await; // watching: files are kept from now on
    for _ in 0..3 {
        let body = s.get("/big.bin").await.bytes().await.unwrap();
        assert!(body[..] == first[..], "whole file");
    }
    let part = client()
        .get(s.url("/big.bin"))
        .header("Range", "bytes=70000-269999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert!(part.bytes().await.unwrap()[..] == first[70_000..270_000], "range");

    let second = pattern(2);
    s.write("big.bin", &second);
    for _ in 0..2 {
        let body = s.get("/big.bin").await.bytes().await.unwrap();
        assert!(body[..] == second[..], "after the save");
    }
}

//! Precompressed files (#16): `app.js.br`/`.gz` beside `app.js`, and a `.br` asked for by name.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RANGE, VARY};

use crate::support::{client, TestServer};

const SCRIPT: &str = "console.log('a script long enough to be worth compressing');\n";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `app.js` with its `.br` and `.gz` siblings, and a Unity-style `game.wasm.br`.
async fn server() -> TestServer {
    TestServer::start_with(&[], |root| {
        std::fs::write(root.join("app.js"), SCRIPT).unwrap();
        std::fs::write(root.join("app.js.br"), b"brotli bytes, as a build wrote them").unwrap();
        std::fs::write(root.join("app.js.gz"), gzip(SCRIPT.as_bytes())).unwrap();
        std::fs::write(root.join("game.wasm.br"), b"\x00asm, compressed").unwrap();
        std::fs::write(root.join("old.css"), "p{color:red}").unwrap();
        std::fs::write(root.join("old.css.gz"), gzip(b"p{color:blue}")).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(root.join("old.css.gz"))
            .unwrap()
            .set_modified(old)
            .unwrap();
    })
    .await
}

async fn get(
    s: &TestServer,
    path: &str,
    headers: &[(reqwest::header::HeaderName, &str)],
) -> reqwest::Response {
    let mut req = client().get(s.url(path));
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_sibling_is_sent_to_a_client_that_accepts_it() {
    let s = server().await;
    // Twice each: read from disk, then from the cache.
    for _ in 0..2 {
        let r = get(&s, "/app.js", &[(ACCEPT_ENCODING, "gzip, deflate, br, zstd")]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[CONTENT_ENCODING], "br");
        assert_eq!(r.headers()[CONTENT_TYPE], "text/javascript");
        assert_eq!(r.headers()[VARY], "Accept-Encoding");
        let br_etag = r.headers()[ETAG].clone();
        assert_eq!(
            r.bytes().await.unwrap(),
            &b"brotli bytes, as a build wrote them"[..]
        );

        let r = get(&s, "/app.js", &[(ACCEPT_ENCODING, "gzip")]).await;
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        let gz_etag = r.headers()[ETAG].clone();
        let body = r.bytes().await.unwrap();
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).unwrap();
        assert_eq!(plain, SCRIPT);

        let r = get(&s, "/app.js", &[]).await;
        assert!(r.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(
            r.headers()[VARY],
            "Accept-Encoding",
            "the identity answer varies too"
        );
        let plain_etag = r.headers()[ETAG].clone();
        assert_eq!(r.text().await.unwrap(), SCRIPT);
        assert!(
            br_etag != gz_etag && gz_etag != plain_etag,
            "one ETag per variant"
        );

        let r = get(
            &s,
            "/app.js",
            &[
                (ACCEPT_ENCODING, "br"),
                (IF_NONE_MATCH, br_etag.to_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(r.status(), 304);
        let r = get(&s, "/app.js", &[(ACCEPT_ENCODING, "br"), (RANGE, "bytes=0-5")]).await;
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.bytes().await.unwrap(),
            &b"brotli"[..],
            "a range of the variant's bytes"
        );
    }
}

#[tokio::test]
async fn a_sibling_older_than_its_file_is_not_sent() {
    let s = server().await;
    let r = get(&s, "/old.css", &[(ACCEPT_ENCODING, "gzip")]).await;
    assert!(r.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(r.text().await.unwrap(), "p{color:red}");
}

#[tokio::test]
async fn a_compressed_file_asked_for_by_name_says_its_coding_and_type() {
    let s = server().await;
    for accept in [None, Some("br")] {
        let headers: Vec<_> = accept.map(|a| (ACCEPT_ENCODING, a)).into_iter().collect();
        let r = get(&s, "/game.wasm.br", &headers).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[CONTENT_ENCODING], "br");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/wasm");
        assert_eq!(r.bytes().await.unwrap(), &b"\x00asm, compressed"[..]);
    }
}

/// A build that writes `app.js.br` after `app.js`: the tabs hear of `/app.js`, which is what
/// they loaded.
#[tokio::test]
async fn a_new_sibling_is_a_change_to_its_file() {
    let s = server().await;
    let mut tab = s.tab().await;
    s.write("app.js.br", "newer brotli bytes");
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, ["/app.js", "/app.js.br"]);
    let r = get(&s, "/app.js", &[(ACCEPT_ENCODING, "br")]).await;
    assert_eq!(r.bytes().await.unwrap(), &b"newer brotli bytes"[..]);
}

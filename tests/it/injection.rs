//! The injected tag as a browser receives it: placement, length, encoding, fetches left alone.

use reqwest::header;

use crate::support::{client, token_in, TestServer};

const TAG_START: &str = r#"<script src="/__devserve/client.js" data-token=""#;

#[tokio::test]
async fn page_gets_one_tag_before_head_close_and_a_fixed_length() {
    let page = "<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>";
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), page).unwrap()).await;
    let r = s.get("/").await;
    let len: usize = r.headers()[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert_eq!(body.len(), len);
    assert_eq!(body.matches(TAG_START).count(), 1);
    let token = token_in(&body).unwrap();
    let tag = format!(
        r#"<script src="/__devserve/client.js" data-token="{token}" data-seq="0" data-ws="/__devserve/ws" data-page="/index.html" defer></script>"#
    );
    assert_eq!(body, page.replace("</head>", &format!("{tag}</head>")));
}

#[tokio::test]
async fn page_without_head_or_body_gets_the_tag_at_the_end() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("frag.html"), "<p>just a fragment").unwrap();
        std::fs::write(root.join("body.html"), "<p>x</p></body>").unwrap();
    })
    .await;
    let body = s.get("/frag.html").await.text().await.unwrap();
    assert!(body.starts_with("<p>just a fragment<script src="));
    assert!(body.ends_with("defer></script>"));
    let body = s.get("/body.html").await.text().await.unwrap();
    assert!(body.starts_with("<p>x</p><script src="));
    assert!(body.ends_with("</script></body>"));
}

#[tokio::test]
async fn latin1_page_is_kept_byte_exact() {
    let page: &[u8] =
        b"<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9 \xa9 na\xefve</body></html>";
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("l1.html"), page).unwrap()).await;
    let r = s.get("/l1.html").await;
    let ct = r.headers()[header::CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(
        !ct.contains("utf-8"),
        "a Latin-1 page must not be labelled UTF-8: {ct}"
    );
    let body = r.bytes().await.unwrap();
    let at = body.windows(7).position(|w| w == b"<script").unwrap();
    let end = body.windows(9).position(|w| w == b"</script>").unwrap() + 9;
    let mut without_tag = body[..at].to_vec();
    without_tag.extend_from_slice(&body[end..]);
    assert_eq!(without_tag, page);
}

#[tokio::test]
async fn pages_fetched_by_script_are_not_injected() {
    let page = "<html><head></head><body>x</body></html>";
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("part.html"), page).unwrap()).await;
    let fetched = client()
        .get(s.url("/part.html"))
        .header("sec-fetch-dest", "empty")
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.headers()[header::VARY], "Sec-Fetch-Dest");
    assert_eq!(fetched.text().await.unwrap(), page);
    let navigated = client()
        .get(s.url("/part.html"))
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap();
    assert!(navigated.text().await.unwrap().contains(TAG_START));
}

#[tokio::test]
async fn page_already_carrying_the_client_is_not_injected_twice() {
    let page = r#"<head><script src="/__devserve/client.js" data-token="old" defer></script></head>"#;
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), page).unwrap()).await;
    assert_eq!(s.get("/").await.text().await.unwrap(), page);
}

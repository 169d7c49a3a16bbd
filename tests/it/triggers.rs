//! Build tools drive the reload: `POST /__devserve/reload` and `/__devserve/status`, errors shown
//! to every tab and to tabs that connect later, changes held while a build runs.

use std::time::Duration;

use devserve::{Config, ServerMessage};
use reqwest::StatusCode;

use crate::support::{client, TestServer};

async fn post(s: &TestServer, path: &str, body: &str) -> reqwest::Response {
    client()
        .post(s.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn post_reload_sends_one_batch_with_the_paths_given() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    assert_eq!(
        post(&s, "/__devserve/reload", "{}").await.status(),
        StatusCode::OK
    );
    assert_eq!(tab.updated().await, (1, vec![], true));
    post(&s, "/__devserve/reload", r#"{"paths":["/css/a.css"]}"#).await;
    assert_eq!(
        tab.updated().await,
        (2, vec!["/css/a.css".to_string()], false),
        "only a stylesheet: a swap"
    );
    post(&s, "/__devserve/reload", r#"{"paths":["/app.js","/css/a.css"]}"#).await;
    let (_, paths, reload) = tab.updated().await;
    assert_eq!(paths, vec!["/app.js", "/css/a.css"]);
    assert!(reload);
}

#[tokio::test]
async fn changes_made_while_building_go_out_once_the_build_is_ok() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    let building = post(
        &s,
        "/__devserve/status",
        r#"{"source":"esbuild","state":"building"}"#,
    )
    .await;
    assert_eq!(building.status(), StatusCode::NO_CONTENT);
    for i in 0..5 {
        s.write(&format!("out/part{i}.js"), "half written");
        tokio::time::sleep(Duration::from_millis(60)).await; // a build that takes a while
    }
    assert!(
        tab.next_within(Duration::from_millis(400)).await.is_none(),
        "held while building"
    );
    post(&s, "/__devserve/status", r#"{"source":"esbuild","state":"ok"}"#).await;
    let (_, paths, reload) = tab.updated().await;
    assert_eq!(paths.len(), 5, "{paths:?}");
    assert!(reload);
    assert!(
        tab.next_within(Duration::from_millis(400)).await.is_none(),
        "one batch for the build"
    );
}

#[tokio::test]
async fn a_build_that_never_ends_releases_what_it_held_after_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir(&root).unwrap();
    let mut config = Config::from_args(["devserve", root.to_str().unwrap()]).unwrap();
    config.build_hold = Duration::from_secs(1);
    let s = TestServer::run(config, dir, root).await;
    let mut tab = s.tab().await;
    post(&s, "/__devserve/status", r#"{"source":"tsc","state":"building"}"#).await;
    s.write("app.js", "x");
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/app.js"]);
}

#[tokio::test]
async fn an_error_reaches_every_tab_and_tabs_that_connect_later_until_it_is_cleared() {
    let s = TestServer::start(&[]).await;
    let mut early = s.tab().await;
    let failed = r#"{"source":"esbuild","state":"error","title":"Build failed","text":"src/app.js:3:7: ERROR: <b>x</b>"}"#;
    assert_eq!(
        post(&s, "/__devserve/status", failed).await.status(),
        StatusCode::NO_CONTENT
    );
    let shown = ServerMessage::Error {
        source: "esbuild".into(),
        title: "Build failed".into(),
        text: "src/app.js:3:7: ERROR: <b>x</b>".into(),
    };
    assert_eq!(early.next().await, shown);
    let mut late = s.tab().await; // `connected` was checked
    assert_eq!(late.next().await, shown, "replayed right after connected");
    post(&s, "/__devserve/status", r#"{"source":"esbuild","state":"ok"}"#).await;
    let cleared = ServerMessage::Clear {
        source: "esbuild".into(),
    };
    assert_eq!(early.next().await, cleared);
    assert_eq!(late.next().await, cleared);
    let mut later = s.tab().await;
    assert!(
        later.next_within(Duration::from_millis(300)).await.is_none(),
        "nothing open any more"
    );
}

#[tokio::test]
async fn the_endpoints_refuse_what_a_build_tool_would_not_send() {
    let s = TestServer::start(&[]).await;
    let foreign = client()
        .post(s.url("/__devserve/reload"))
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        foreign.status(),
        StatusCode::FORBIDDEN,
        "a web page cannot drive it"
    );
    let text = client()
        .post(s.url("/__devserve/reload"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(r#"{{"paths":["/{}"]}}"#, "a".repeat(1 << 20));
    assert_eq!(
        post(&s, "/__devserve/reload", &big).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    for bad in [
        "{",
        r#"{"paths":"/a"}"#,
        r#"{"paths":["a.js"]}"#,
        r#"{"pathz":[]}"#,
    ] {
        let r = post(&s, "/__devserve/reload", bad).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.text().await.unwrap().starts_with("400 Bad Request: "), "{bad}");
    }
    for bad in [
        r#"{"source":"x","state":"done"}"#,
        r#"{"state":"ok"}"#,
        r#"{"source":"","state":"ok"}"#,
    ] {
        assert_eq!(
            post(&s, "/__devserve/status", bad).await.status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let get = client().get(s.url("/__devserve/reload")).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        post(&s, "/__devserve/reload", "{}").await.status(),
        StatusCode::OK,
        "still serving"
    );
}

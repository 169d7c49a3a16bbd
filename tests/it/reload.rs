//! The reload protocol over a real WebSocket: connected, updated, seq, reload, shutdown.

use devserve::ServerMessage;

use crate::support::TestServer;

#[tokio::test]
async fn connected_first_then_updated_after_a_save() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), "v1").unwrap()).await;
    let mut tab = s.tab().await;
    s.write("index.html", "v2");
    let (seq, paths, reload) = tab.updated().await;
    assert_eq!(seq, 1);
    assert_eq!(paths, vec!["/index.html"]);
    assert!(reload);
    s.write("index.html", "v3");
    let (seq, _, _) = tab.updated().await;
    assert_eq!(seq, 2, "seq grows by one per batch");
}

/// Regression: a save that landed between a page being served and its client connecting was lost
/// (the tab kept the old page). The tag says which batch the page reflects; `connected` says the
/// latest, so the client can tell it missed one.
#[tokio::test]
async fn tab_connecting_after_a_change_learns_it_missed_one() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), "v1").unwrap()).await;
    let page = s.get("/").await.text().await.unwrap();
    assert!(page.contains("data-seq=\"0\""), "{page}");
    let mut early = s.tab().await;
    s.write("index.html", "v2");
    early.updated().await;
    let token = s.token().await;
    let url = format!("ws://{}/__devserve/ws?token={token}", s.addr);
    let (mut late, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = futures_util::StreamExt::next(&mut late).await.unwrap().unwrap();
    let hello: ServerMessage = serde_json::from_str(hello.to_text().unwrap()).unwrap();
    assert!(
        matches!(hello, ServerMessage::Connected { seq: 1, .. }),
        "{hello:?}"
    );
    assert!(s.get("/").await.text().await.unwrap().contains("data-seq=\"1\""));
}

#[tokio::test]
async fn css_only_change_is_swapped_not_reloaded() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir(root.join("css")).unwrap();
        std::fs::write(root.join("css/site.css"), "a{}").unwrap();
        std::fs::write(root.join("css/more.css"), "b{}").unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    s.write("css/site.css", "a{color:red}");
    let (_, paths, reload) = tab.updated().await;
    assert_eq!(paths, vec!["/css/site.css"]);
    assert!(!reload);

    // A stylesheet and a page together: the page needs a reload.
    s.write("css/more.css", "b{color:red}");
    s.write("index.html", "x");
    let mut all = Vec::new();
    let mut reloads = false;
    while !all.iter().any(|p: &String| p == "/index.html") {
        let (_, paths, reload) = tab.updated().await;
        reloads |= reload && paths.iter().any(|p| p == "/index.html");
        all.extend(paths);
    }
    assert!(reloads);
}

#[tokio::test]
async fn deleted_stylesheet_reloads() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("a.css"), "a{}").unwrap()).await;
    let mut tab = s.tab().await;
    std::fs::remove_file(s.path("a.css")).unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert_eq!(paths, vec!["/a.css"]);
    assert!(reload);
}

#[tokio::test]
async fn paths_are_percent_encoded_url_paths() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    s.write("my dir/é #1.css", "a{}");
    let seen = tab.updates_until(&s, "/marker.txt").await;
    let all: Vec<String> = seen.into_iter().flat_map(|(p, _)| p).collect();
    assert!(
        all.contains(&"/my%20dir/%C3%A9%20%231.css".to_string()),
        "{all:?}"
    );
    assert!(all
        .iter()
        .all(|p| p.starts_with('/') && !p.contains(&*s.root.to_string_lossy())));
}

#[tokio::test]
async fn every_tab_is_told() {
    let s = TestServer::start(&[]).await;
    let mut tabs = Vec::new();
    for _ in 0..20 {
        tabs.push(s.tab().await);
    }
    s.write("a.html", "x");
    for tab in &mut tabs {
        assert_eq!(tab.updated().await.1, vec!["/a.html"]);
    }
}

#[tokio::test]
async fn client_frames_are_ignored() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    tab.send_text("{\"type\":\"updated\",\"seq\":99,\"paths\":[\"/x\"],\"reload\":true}")
        .await;
    tab.send_text("garbage").await;
    s.write("a.html", "x");
    let (seq, paths, _) = tab.updated().await;
    assert_eq!((seq, paths), (1, vec!["/a.html".to_string()]));
}

/// The socket reads through a 1 KiB buffer (tungstenite's 128 KiB default cost every tab 136 KiB
/// and a 128 KiB memset per batch): a frame a few times that size, within the 4 KiB limit, is
/// still read whole and dropped, and the tab is still told.
#[tokio::test]
async fn client_frames_larger_than_the_read_buffer_are_ignored() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    tab.send_text(&"x".repeat(3900)).await;
    tab.send_text("small").await;
    s.write("a.html", "x");
    let (seq, paths, _) = tab.updated().await;
    assert_eq!((seq, paths), (1, vec!["/a.html".to_string()]));
}

#[tokio::test]
async fn shutdown_closes_reload_sockets_and_run_returns() {
    let mut s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    s.stop().await;
    assert_eq!(
        tab.next_within(crate::support::WAIT).await,
        None,
        "socket closed, no more messages"
    );
}

#[test]
fn messages_round_trip_through_serde() {
    let text = r#"{"type":"updated","seq":3,"paths":["/css/site.css"],"reload":false}"#;
    let msg: ServerMessage = serde_json::from_str(text).unwrap();
    assert_eq!(
        msg,
        ServerMessage::Updated {
            seq: 3,
            paths: vec!["/css/site.css".into()],
            reload: false,
            all: false
        }
    );
}

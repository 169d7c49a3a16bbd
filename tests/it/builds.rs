//! Build tools writing into the served folder: one batch per build, deletions that wait for
//! their replacements, pages that wait for a build to settle, gitignored output watched.

use std::fs;
use std::time::Duration;

use reqwest::header;

use crate::support::{client, TestServer};

/// Vite's `emptyOutDir`: the old files go, and the new ones come a moment later. The tabs hear of
/// it once, with both, and never of the deletions alone.
#[tokio::test]
async fn deleted_files_wait_for_their_replacements_in_one_batch() {
    let s = TestServer::start_with(&[], |root| {
        fs::write(root.join("index.html"), "<p>v1</p>").unwrap();
        fs::create_dir(root.join("assets")).unwrap();
        fs::write(root.join("assets/index-aaa.js"), "// v1").unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    fs::remove_file(s.path("assets/index-aaa.js")).unwrap();
    fs::remove_file(s.path("index.html")).unwrap();
    // What the build takes between emptying the folder and writing into it (Vite: ~200 ms).
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.write("assets/index-bbb.js", "// v2");
    s.write("index.html", "<p>v2</p>");
    let (_, paths, reload) = tab.updated().await;
    assert!(reload);
    for want in ["/index.html", "/assets/index-aaa.js", "/assets/index-bbb.js"] {
        assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
    }
    let rest = tab.updates_until(&s, "/marker.txt").await;
    assert_eq!(
        rest,
        vec![(vec!["/marker.txt".to_string()], true)],
        "one batch for the build"
    );
}

/// A plain `rm` is still announced, on its own.
#[tokio::test]
async fn a_removed_file_is_announced_when_nothing_replaces_it() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("old.html"), "x").unwrap()).await;
    let mut tab = s.tab().await;
    fs::remove_file(s.path("old.html")).unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert_eq!(paths, vec!["/old.html"]);
    assert!(reload);
}

/// A writer that goes on past the one-second cap gets a batch out while it writes; a page asked
/// for meanwhile waits for the writer to stop, and carries the last batch's seq, so the tab that
/// reloaded for the first batch does not reload again.
#[tokio::test]
async fn a_page_asked_for_while_files_change_waits_and_carries_the_final_seq() {
    let s = TestServer::start_with(&[], |root| {
        fs::write(root.join("index.html"), "<p>v0</p>").unwrap()
    })
    .await;
    let mut tab = s.tab().await;
    let root = s.root.clone();
    let writer = std::thread::spawn(move || {
        // About 2.5 s of rewrites with short pauses: never quiet for a whole window.
        for i in 0..250 {
            fs::write(root.join("index.html"), format!("<p>v{i}</p>")).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        fs::write(root.join("index.html"), "<p>final</p>").unwrap();
    });
    // The first rewrite goes out as a save; the rest, a writer that never pauses long, as a burst
    // whose first batch goes out at the cap while the writer goes on.
    tab.updated().await;
    let (first, _, _) = tab.updated().await;
    assert!(!writer.is_finished(), "a batch went out while the writer went on");
    // The tab reloads: a navigation.
    let page = client()
        .get(s.url("/"))
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(writer.is_finished(), "the page waited for the writer");
    writer.join().unwrap();
    assert!(page.contains("<p>final</p>"), "{page}");
    let mut last = first;
    while let Some(msg) = tab.next_within(Duration::from_millis(500)).await {
        if let devserve::ServerMessage::Updated { seq, .. } = msg {
            last = seq;
        }
    }
    assert!(
        page.contains(&format!("data-seq=\"{last}\"")),
        "the page carries the last batch, {last}: {page}"
    );
}

/// Build output in `.gitignore` is not watched — until a page loads a file from it.
#[tokio::test]
async fn gitignored_output_is_watched_once_a_page_loads_from_it() {
    let s = TestServer::start_with(&[], |root| {
        fs::write(root.join(".gitignore"), "dist/\n").unwrap();
        fs::write(
            root.join("index.html"),
            "<script src=\"dist/bundle.js\"></script>",
        )
        .unwrap();
        fs::create_dir(root.join("dist")).unwrap();
        fs::write(root.join("dist/bundle.js"), "// v1").unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    s.write("dist/bundle.js", "// v2, before any page used it");
    let seen = tab.updates_until(&s, "/m1.txt").await;
    assert_eq!(
        seen,
        vec![(vec!["/m1.txt".to_string()], true)],
        "ignored until used"
    );
    let r = client()
        .get(s.url("/dist/bundle.js"))
        .header("sec-fetch-dest", "script")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The watch is set up on the watcher's thread; a rewrite is seen once it is in place.
    let mut paths = Vec::new();
    for round in 0..20 {
        s.write("dist/bundle.js", format!("// v{}", round + 3));
        if let Some(devserve::ServerMessage::Updated { paths: p, .. }) =
            tab.next_within(Duration::from_millis(500)).await
        {
            paths = p;
            break;
        }
    }
    assert_eq!(paths, vec!["/dist/bundle.js"]);
    assert!(r.headers().get(header::CONTENT_TYPE).is_some());
}

/// `--watch` a folder inside ROOT overrides the ignore rules.
#[tokio::test]
async fn watch_flag_overrides_the_ignore_rules() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    fs::create_dir_all(root.join("out/deep")).unwrap();
    fs::write(root.join(".gitignore"), "out/\n").unwrap();
    let out = root.join("out").canonicalize().unwrap();
    let s = TestServer::start_in(dir, &["--watch", out.to_str().unwrap()]).await;
    let mut tab = s.tab().await;
    s.write("out/deep/app.js", "// new");
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/out/deep/app.js"]);
}

//! Watching with real file operations: editors' saves, bursts, ignores, new and removed folders.

use std::fs;

use crate::support::TestServer;

#[tokio::test]
async fn atomic_rename_save_is_exactly_one_change_and_the_file_stays_watched() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("index.html"), "v1").unwrap()).await;
    let mut tab = s.tab().await;
    for round in 0..2 {
        let tmp = s.path(&format!("index.html.tmp.{round}"));
        fs::write(&tmp, format!("v{}", round + 2)).unwrap();
        fs::rename(&tmp, s.path("index.html")).unwrap();
        let (_, paths, reload) = tab.updated().await;
        assert_eq!(paths, vec!["/index.html"], "round {round}");
        assert!(reload);
        let rest = tab.updates_until(&s, &format!("/marker{round}.txt")).await;
        assert_eq!(
            rest,
            vec![(vec![format!("/marker{round}.txt")], true)],
            "nothing else from round {round}"
        );
    }
}

/// sass, `cp -p` and `rsync -t` set a file's times after closing it: part of that save, not a
/// second one. Times set on their own, with no save just before, are still a change.
#[tokio::test]
async fn times_set_right_after_a_save_are_part_of_it_and_alone_are_a_change() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("style.css"), "a{}").unwrap()).await;
    let mut tab = s.tab().await;
    // Both times, by path, as sass and `cp -p` set them (nothing opened, nothing written).
    let set_times = |secs: i64| {
        let at = rustix::fs::Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        };
        let times = rustix::fs::Timestamps {
            last_access: at,
            last_modification: at,
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            s.path("style.css"),
            &times,
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
    };
    set_times(1_000_000_000);
    assert_eq!(tab.updated().await.1, vec!["/style.css"], "a touch alone");
    fs::write(s.path("style.css"), "b{}").unwrap();
    assert_eq!(tab.updated().await.1, vec!["/style.css"], "the save");
    let heard = std::time::Instant::now();
    set_times(1_100_000_000);
    let late = heard.elapsed();
    let rest = tab.updates_until(&s, "/marker.txt").await;
    // Within the 250 ms the times belong to the save; a machine too slow to set them in time
    // proves nothing either way.
    if late < std::time::Duration::from_millis(150) {
        assert_eq!(
            rest,
            vec![(vec!["/marker.txt".to_string()], true)],
            "set {late:?} after"
        );
    }
}

#[tokio::test]
async fn vim_style_save_renames_the_original_away_and_writes_anew() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("site.css"), "a{}").unwrap()).await;
    let mut tab = s.tab().await;
    for round in 0..2 {
        // vim with backupcopy=no: 4913 probe, original → site.css~, new file written, backup gone.
        fs::write(s.path("4913"), "").unwrap();
        fs::remove_file(s.path("4913")).unwrap();
        fs::rename(s.path("site.css"), s.path("site.css~")).unwrap();
        fs::write(s.path("site.css"), format!("a{{color:red;z-index:{round}}}")).unwrap();
        fs::remove_file(s.path("site.css~")).unwrap();
        let (_, paths, reload) = tab.updated().await;
        assert_eq!(paths, vec!["/site.css"], "round {round}");
        assert!(!reload, "a rewritten stylesheet is still just a stylesheet");
        let rest = tab.updates_until(&s, &format!("/m{round}.txt")).await;
        assert_eq!(rest.len(), 1, "one message per save: {rest:?}");
    }
}

#[tokio::test]
async fn burst_of_300_files_is_one_or_two_messages() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    for i in 0..300 {
        s.write(&format!("gen/file{i:03}.html"), format!("<p>{i}</p>"));
    }
    let seen = tab.updates_until(&s, "/done.txt").await;
    let files: usize = seen
        .iter()
        .map(|(p, _)| p.iter().filter(|p| p.starts_with("/gen/")).count())
        .sum();
    let batches_with_files = seen
        .iter()
        .filter(|(p, _)| p.iter().any(|p| p.starts_with("/gen/")))
        .count();
    assert!(batches_with_files <= 2, "{batches_with_files} batches");
    // Regression: files in a new folder were reported once by the folder's walk and again by
    // their own events, in a second batch.
    assert_eq!(files, 300, "every file reported exactly once");
}

#[tokio::test]
async fn editor_noise_never_triggers_a_reload() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    for noise in [
        ".index.html.swp",
        "index.html~",
        "4913",
        "#index.html#",
        ".#index.html",
        "index.html___jb_tmp___",
        "index.html___jb_old___",
    ] {
        fs::write(s.path(noise), "x").unwrap();
    }
    let seen = tab.updates_until(&s, "/real.txt").await;
    assert_eq!(seen, vec![(vec!["/real.txt".to_string()], true)]);
}

#[tokio::test]
async fn ignored_folders_and_rules_are_not_watched() {
    let s = TestServer::start_with(&["--ignore", "*.log", "--ignore", "dist/"], |root| {
        for dir in ["node_modules/pkg", ".git", "dist", "sub"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        fs::write(root.join(".gitignore"), "build/\n").unwrap();
        fs::create_dir(root.join("build")).unwrap();
        fs::write(root.join("sub/.gitignore"), "*.tmp\n").unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    for file in [
        "node_modules/pkg/index.js",
        ".git/index",
        "dist/a.js",
        "build/b.js",
        "debug.log",
        "sub/x.tmp",
        ".env",
    ] {
        fs::write(s.path(file), "x").unwrap();
    }
    let seen = tab.updates_until(&s, "/sub/real.txt").await;
    assert_eq!(seen, vec![(vec!["/sub/real.txt".to_string()], true)]);
}

#[tokio::test]
async fn new_folders_are_watched() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    fs::create_dir_all(s.path("a/b")).unwrap();
    tab.updates_until(&s, "/m1.txt").await;
    fs::write(s.path("a/b/page.html"), "x").unwrap();
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/a/b/page.html"]);
}

#[tokio::test]
async fn root_removed_and_recreated_is_watched_again() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("index.html"), "v1").unwrap()).await;
    let mut tab = s.tab().await;
    fs::remove_dir_all(&s.root).unwrap();
    fs::create_dir(&s.root).unwrap();
    fs::write(s.path("index.html"), "v2").unwrap();
    // The re-created folder is picked up: a later save inside it is seen.
    let seen = tab.updates_until(&s, "/after.txt").await;
    assert!(seen.iter().any(|(_, reload)| *reload));
    assert_eq!(
        s.get("/").await.text().await.unwrap().split('<').next().unwrap(),
        "v2"
    );
}

#[tokio::test]
async fn extra_watch_path_outside_root_reloads_every_tab() {
    let outside = tempfile::tempdir().unwrap();
    let arg = outside.path().display().to_string();
    let s = TestServer::start(&["--watch", &arg]).await;
    let mut tab = s.tab().await;
    fs::write(outside.path().join("data.json"), "{}").unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert!(paths.is_empty(), "changes outside ROOT add no paths: {paths:?}");
    assert!(reload);
}

#[tokio::test]
async fn polling_sees_changes_too() {
    let s = TestServer::start_with(&["--poll", "50"], |root| {
        fs::write(root.join("a.html"), "v1").unwrap()
    })
    .await;
    let mut tab = s.tab().await;
    fs::write(s.path("a.html"), "v2 longer").unwrap();
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/a.html"]);
}

#[tokio::test]
async fn a_build_writing_on_every_reload_is_held_to_two_batches_a_second() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("out.js"), "0").unwrap()).await;
    let mut tab = s.tab().await;
    let mut told = Vec::new();
    fs::write(s.path("out.js"), "1").unwrap();
    for i in 0..14 {
        let (_, paths, _) = tab.updated().await;
        assert_eq!(paths, vec!["/out.js"]);
        told.push(std::time::Instant::now());
        // The "build" answers every reload by writing its output again.
        fs::write(s.path("out.js"), format!("{}", i + 2)).unwrap();
    }
    // Ten quick repeats in a row, and the guard holds batches half a second apart.
    for pair in told[10..].windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= std::time::Duration::from_millis(450),
            "batches {gap:?} apart while looping"
        );
    }
}

#[tokio::test]
async fn jetbrains_safe_write_is_one_change_of_the_real_file() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("app.js"), "v1").unwrap()).await;
    let mut tab = s.tab().await;
    // Write a temporary, move the original aside, move the temporary in, delete the original.
    fs::write(s.path("app.js___jb_tmp___"), "v2").unwrap();
    fs::rename(s.path("app.js"), s.path("app.js___jb_old___")).unwrap();
    fs::rename(s.path("app.js___jb_tmp___"), s.path("app.js")).unwrap();
    fs::remove_file(s.path("app.js___jb_old___")).unwrap();
    let seen = tab.updates_until(&s, "/marker.txt").await;
    let all: Vec<&String> = seen.iter().flat_map(|(p, _)| p).collect();
    assert_eq!(all, vec!["/app.js", "/marker.txt"], "{seen:?}");
    assert_eq!(s.get("/app.js").await.text().await.unwrap(), "v2");
}

#[tokio::test]
async fn emacs_lock_files_are_noise() {
    let s = TestServer::start_with(&[], |root| fs::write(root.join("page.html"), "x").unwrap()).await;
    let mut tab = s.tab().await;
    // emacs marks a file it is editing with a dangling symlink named .#FILE.
    std::os::unix::fs::symlink("me@host.1234:1700000000", s.path(".#page.html")).unwrap();
    fs::write(s.path("#page.html#"), "autosave").unwrap();
    fs::remove_file(s.path(".#page.html")).unwrap();
    let seen = tab.updates_until(&s, "/marker.txt").await;
    assert_eq!(seen, vec![(vec!["/marker.txt".to_string()], true)]);
}

#[tokio::test]
async fn symlink_loops_do_not_recurse() {
    let s = TestServer::start_with(&[], |root| {
        fs::create_dir(root.join("a")).unwrap();
        std::os::unix::fs::symlink("..", root.join("a/up")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("a/self")).unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    s.write("a/page.html", "x");
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/a/page.html"]);
}

#[tokio::test]
async fn subfolder_deleted_and_recreated_is_watched_again() {
    let s = TestServer::start_with(&[], |root| {
        fs::create_dir_all(root.join("dist/js")).unwrap();
        fs::write(root.join("dist/js/app.js"), "v1").unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    fs::remove_dir_all(s.path("dist")).unwrap();
    tab.updates_until(&s, "/m1.txt").await;
    fs::create_dir_all(s.path("dist/js")).unwrap();
    fs::write(s.path("dist/js/app.js"), "v2").unwrap();
    tab.updates_until(&s, "/m2.txt").await;
    fs::write(s.path("dist/js/app.js"), "v3").unwrap();
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/dist/js/app.js"], "the new folder is watched");
}

/// Regression: a deleted folder has no metadata left, so `node_modules` going away (`npm ci`)
/// was not recognised as an ignored folder and reloaded every tab.
#[tokio::test]
async fn deleting_an_ignored_folder_reloads_nothing() {
    let s = TestServer::start_with(&["--ignore", "dist/"], |root| {
        fs::create_dir_all(root.join("node_modules/pkg")).unwrap();
        fs::write(root.join("node_modules/pkg/index.js"), "x").unwrap();
        fs::create_dir_all(root.join("dist")).unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    fs::remove_dir_all(s.path("node_modules")).unwrap();
    fs::remove_dir_all(s.path("dist")).unwrap();
    let seen = tab.updates_until(&s, "/marker.txt").await;
    assert_eq!(seen, vec![(vec!["/marker.txt".to_string()], true)]);
}

#[tokio::test]
async fn a_huge_batch_names_at_most_a_thousand_paths_and_reloads() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    let staging = s.dir.path().join("staging");
    fs::create_dir(&staging).unwrap();
    for i in 0..1500 {
        fs::write(staging.join(format!("{i}.css")), "a{}").unwrap();
    }
    fs::rename(&staging, s.path("generated")).unwrap();
    let (_, paths, reload) = tab.updated().await;
    assert_eq!(paths.len(), 1000);
    assert!(reload, "cut short, so not a stylesheet-only batch");
}

#[tokio::test]
async fn gitignore_with_a_bad_line_keeps_its_good_ones_and_braces_work_in_ignore() {
    let s = TestServer::start_with(&["--ignore", "*.{tmp,bak}"], |root| {
        fs::write(root.join(".gitignore"), "bad[\n*.log\n").unwrap();
    })
    .await;
    let mut tab = s.tab().await;
    for f in ["debug.log", "x.tmp", "y.bak"] {
        fs::write(s.path(f), "x").unwrap();
    }
    let seen = tab.updates_until(&s, "/marker.txt").await;
    assert_eq!(seen, vec![(vec!["/marker.txt".to_string()], true)]);
}

/// Regression: a burst into a new folder that stalled for a few milliseconds early on (before
/// eight files had been seen) was sent as two batches — two reloads. A folder arriving now makes
/// the batch wait as a burst does.
#[tokio::test]
async fn a_new_folder_burst_that_stalls_briefly_is_one_batch() {
    let s = TestServer::start(&[]).await;
    let mut tab = s.tab().await;
    fs::create_dir(s.path("out")).unwrap();
    for i in 0..3 {
        s.write(&format!("out/a{i}.html"), "x");
    }
    // The writer stalls (a build between two outputs): longer than a save's settle window,
    // shorter than a burst's.
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    for i in 0..3 {
        s.write(&format!("out/b{i}.html"), "x");
    }
    let seen = tab.updates_until(&s, "/marker.txt").await;
    let with_out: Vec<_> = seen
        .iter()
        .filter(|(p, _)| p.iter().any(|p| p.starts_with("/out/")))
        .collect();
    assert_eq!(with_out.len(), 1, "one batch for the whole burst: {seen:?}");
    assert_eq!(with_out[0].0.iter().filter(|p| p.starts_with("/out/")).count(), 6);
}

//! Reload only the tabs a change touches: a tab acts on a change to its own page or to a file it
//! loaded, and leaves the rest alone; `--reload-all` restores "every tab reloads".

use crate::pages::counted_page;
use crate::support::TestServer;
use crate::tab::Tab;

/// A page that counts its loads, shows `text` and loads `{name}.js` and `extra` in its head.
fn page(name: &str, text: &str, extra: &str) -> String {
    counted_page(&format!("<p>{text}</p>")).replace(
        "</head>",
        &format!("<script src=\"{name}.js\"></script>{extra}</head>"),
    )
}

/// Two pages, each with its own script, and one stylesheet and one JSON file used by A only.
fn two_pages(root: &std::path::Path) {
    let page = |name: &str, extra: &str| page(name, name, extra);
    std::fs::write(
        root.join("a.html"),
        page(
            "a",
            "<link rel=\"stylesheet\" href=\"shared.css\"><script>fetch('data.json')</script>",
        ),
    )
    .unwrap();
    std::fs::write(root.join("b.html"), page("b", "")).unwrap();
    std::fs::write(root.join("a.js"), "// a").unwrap();
    std::fs::write(root.join("b.js"), "// b").unwrap();
    std::fs::write(root.join("shared.css"), "p { color: rgb(1, 1, 1); }").unwrap();
    std::fs::write(root.join("data.json"), "{}").unwrap();
}

/// Waits until the tab's client has heard of the next batch and decided to leave it alone.
async fn ignores(tab: &Tab) {
    tab.armed().await;
}

pub async fn only_the_tab_whose_page_changed_reloads() {
    let s = TestServer::start_with(&[], two_pages).await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    a.arm("devserve:ignored").await;
    s.write("b.html", page("b", "b2", ""));
    b.next_load().await;
    assert_eq!(b.text().await, "b2");
    ignores(&a).await;
    assert!(!a.loaded_since(), "a does not use b.html");
    // b's own script: b only, again.
    b.connected().await;
    a.arm("devserve:ignored").await;
    s.write("b.js", "// b2");
    b.next_load().await;
    ignores(&a).await;
    assert!(!a.loaded_since());
    let loads: String = a.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "1");
    a.close().await;
    b.close().await;
}

pub async fn a_json_file_reloads_only_the_tab_that_fetched_it() {
    let s = TestServer::start_with(&[], two_pages).await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    // The fetch has been made once it is among the page's resource entries.
    let _: bool = a
        .eval(
            "async () => { while (!performance.getEntriesByType('resource').some(e => e.name.endsWith('/data.json'))) \
             await new Promise(r => setTimeout(r, 20)); return true; }",
        )
        .await;
    b.arm("devserve:ignored").await;
    s.write("data.json", "{\"v\":2}");
    a.next_load().await;
    ignores(&b).await;
    assert!(!b.loaded_since(), "b never fetched data.json");
    a.close().await;
    b.close().await;
}

pub async fn a_stylesheet_is_swapped_only_where_it_is_used() {
    let s = TestServer::start_with(&[], two_pages).await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    a.arm("devserve:swapped").await;
    b.arm("devserve:ignored").await;
    s.write("shared.css", "p { color: rgb(2, 2, 2); }");
    a.armed().await;
    ignores(&b).await;
    let color: String = a
        .eval("() => getComputedStyle(document.querySelector('p')).color")
        .await;
    assert_eq!(color, "rgb(2, 2, 2)");
    assert!(!a.loaded_since() && !b.loaded_since(), "no navigation anywhere");
    let links: usize = b.eval("() => document.querySelectorAll('link').length").await;
    assert_eq!(links, 0, "nothing was added to b");
    a.close().await;
    b.close().await;
}

pub async fn reload_all_reloads_every_tab() {
    let s = TestServer::start_with(&["--reload-all"], two_pages).await;
    let Some(mut a) = Tab::open(&s, "/a.html").await else {
        return;
    };
    let Some(mut b) = Tab::open(&s, "/b.html").await else {
        return;
    };
    s.write("b.html", counted_page("<p>b2</p>"));
    a.next_load().await;
    b.next_load().await;
    assert_eq!(b.text().await, "b2");
    a.close().await;
    b.close().await;
}

pub async fn a_listing_reloads_when_its_folder_changes() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/docs/").await else {
        return;
    };
    assert!(tab.text().await.contains("Index of /docs/"));
    tab.arm("devserve:ignored").await;
    s.write("other/x.txt", "elsewhere");
    ignores(&tab).await;
    assert!(!tab.loaded_since());
    s.write("docs/new.txt", "here");
    tab.next_load().await;
    assert!(tab.text().await.contains("new.txt"));
    tab.close().await;
}

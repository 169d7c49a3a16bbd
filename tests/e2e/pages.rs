//! The injected client as a person sees it: reloads, stylesheet swaps, scroll, CSP, the chat
//! example, stale tokens, a backend coming up.

use std::path::PathBuf;

use crate::chat;
use crate::support::{Backend, TestServer};
use crate::tab::Tab;

/// A page that counts its own loads in sessionStorage.
pub fn counted_page(body: &str) -> String {
    format!(
        "<!doctype html><html><head><title>t</title>\
         <script>sessionStorage.loads = String((+sessionStorage.loads || 0) + 1)</script></head>\
         <body>{body}</body></html>"
    )
}

/// Copies the chat example's front end into `root`.
fn copy_chat_site(root: &std::path::Path) {
    let site = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/chat/site");
    for entry in std::fs::read_dir(&site).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), root.join(entry.file_name())).unwrap();
    }
}

/// Joins the chat's room `dev` as `name`.
fn join_js(name: &str) -> String {
    format!(
        "() => {{ document.getElementById('name').value = '{name}'; document.getElementById('room').value = 'dev'; \
         document.getElementById('join').requestSubmit(); return true; }}"
    )
}

/// Says `text` in the chat.
fn say_js(text: &str) -> String {
    format!(
        "() => {{ document.getElementById('text').value = {text:?}; document.getElementById('say').requestSubmit(); return true; }}"
    )
}

/// Waits until the chat's log has a line with `text`.
fn line_js(text: &str) -> String {
    format!(
        "async () => {{ const has = () => [...document.querySelectorAll('#log li')].some(li => li.textContent.includes({text:?})); \
         while (!has()) await new Promise(r => setTimeout(r, 20)); return true; }}"
    )
}

/// Waits until the chat's status starts with `prefix`.
fn status_js(prefix: &str) -> String {
    format!(
        "async () => {{ const ok = () => document.getElementById('status').textContent.startsWith({prefix:?}); \
         while (!ok()) await new Promise(r => setTimeout(r, 20)); return true; }}"
    )
}

pub async fn html_save_loads_the_new_document_once() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("index.html"), counted_page("<p>v1</p>")).unwrap()
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    s.write("index.html", counted_page("<p>v2</p>"));
    tab.next_load().await;
    assert_eq!(tab.text().await, "v2");
    // A later save reloads again, and no reload happened in between.
    tab.connected().await;
    s.write("index.html", counted_page("<p>v3</p>"));
    tab.next_load().await;
    assert_eq!(tab.text().await, "v3");
    let loads: String = tab.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "3");
    tab.close().await;
}

pub async fn stylesheet_save_restyles_without_navigation_or_unstyled_flash() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("a.css"), "h1 { color: rgb(255, 0, 0); }").unwrap();
        std::fs::write(root.join("b.css"), "h1 { font-size: 20px; }").unwrap();
        std::fs::write(
            root.join("index.html"),
            "<!doctype html><html><head><link rel=stylesheet href=a.css><link rel=stylesheet href=b.css></head>\
             <body><h1>styled</h1></body></html>",
        )
        .unwrap();
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    // Record, at each removal of a stylesheet link, whether its replacement had already loaded.
    let _: bool = tab
        .eval(
            "() => { window.__mark = 'kept'; window.__flash = []; \
             new MutationObserver(ms => ms.forEach(m => m.removedNodes.forEach(n => { \
               if (n.tagName === 'LINK') { \
                 const next = [...document.querySelectorAll('link')].find(l => l.href.includes('__devserve')); \
                 window.__flash.push(!!(next && next.sheet)); } }))) \
             .observe(document.head, { childList: true }); return true; }",
        )
        .await;
    let before: String = tab
        .eval("() => getComputedStyle(document.querySelector('h1')).color")
        .await;
    assert_eq!(before, "rgb(255, 0, 0)");
    tab.arm("devserve:swapped").await;
    s.write("a.css", "h1 { color: rgb(0, 0, 255); }");
    tab.armed().await;
    let after: String = tab
        .eval("() => getComputedStyle(document.querySelector('h1')).color")
        .await;
    assert_eq!(after, "rgb(0, 0, 255)");
    let mark: String = tab.eval("() => window.__mark").await;
    assert_eq!(mark, "kept", "the document is the same one");
    assert!(!tab.loaded_since(), "no navigation");
    let flash: Vec<bool> = tab.eval("() => window.__flash").await;
    assert_eq!(
        flash,
        vec![true],
        "the old sheet went only after the new one had loaded"
    );
    let links: Vec<String> = tab
        .eval("() => [...document.querySelectorAll('link[rel=stylesheet]')].map(l => new URL(l.href).pathname + new URL(l.href).search)")
        .await;
    assert_eq!(links.len(), 2);
    assert!(links[0].starts_with("/a.css?__devserve="), "{links:?}");
    assert_eq!(
        links[1], "/b.css",
        "only the changed sheet is swapped, order kept"
    );
    tab.close().await;
}

pub async fn atomic_save_reloads_once_into_the_new_content() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("index.html"), counted_page("<p>old</p>")).unwrap()
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    let tmp = s.path("index.html.tmp.4242");
    std::fs::write(&tmp, counted_page("<p>new</p>")).unwrap();
    std::fs::rename(&tmp, s.path("index.html")).unwrap();
    tab.next_load().await;
    assert_eq!(tab.text().await, "new");
    tab.connected().await;
    s.write("index.html", counted_page("<p>next</p>"));
    tab.next_load().await;
    let loads: String = tab.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "3", "one reload per save");
    tab.close().await;
}

pub async fn burst_of_300_files_is_exactly_one_reload() {
    let s = TestServer::start_with(&[], |root| {
        // The page uses one of the files the burst writes.
        let page = counted_page("<p>v1</p>").replace("</head>", "<script src=\"gen/7.js\"></script></head>");
        std::fs::write(root.join("index.html"), page).unwrap();
        std::fs::create_dir(root.join("gen")).unwrap();
        std::fs::write(root.join("gen/7.js"), "// 7").unwrap();
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    for i in 0..300 {
        std::fs::write(s.path(&format!("gen/{i}.js")), format!("// {i} again")).unwrap();
    }
    tab.next_load().await;
    tab.connected().await;
    s.write("index.html", counted_page("<p>after</p>"));
    tab.next_load().await;
    assert_eq!(tab.text().await, "after");
    let loads: String = tab.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "3", "the burst reloaded once, the later save once");
    tab.close().await;
}

pub async fn page_that_does_not_exist_yet_appears_when_created() {
    let s = TestServer::start(&[]).await;
    let Some(mut tab) = Tab::open(&s, "/later.html").await else {
        return;
    };
    assert!(tab.text().await.contains("404"));
    s.write("later.html", "<p>here now</p>");
    tab.next_load().await;
    assert_eq!(tab.text().await, "here now");
    tab.close().await;
}

pub async fn restarted_server_reloads_the_tab_once_without_a_loop() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("index.html"), counted_page("<p>v1</p>")).unwrap()
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    let s = s.restart().await;
    tab.next_load().await;
    tab.connected().await;
    let loads: String = tab.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "2", "reconnected and reloaded once");
    // The new page works with the new server: a save reloads it once more, and only once.
    s.write("index.html", counted_page("<p>v2</p>"));
    tab.next_load().await;
    assert_eq!(tab.text().await, "v2");
    let loads: String = tab.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "3");
    tab.close().await;
}

pub async fn scroll_position_survives_a_reload() {
    let long: String = (0..300).map(|i| format!("<p>paragraph {i}</p>")).collect();
    let page = format!("<!doctype html><html><head></head><body>{long}</body></html>");
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("long.html"), &page).unwrap()).await;
    let Some(mut tab) = Tab::open(&s, "/long.html").await else {
        return;
    };
    let y: f64 = tab.eval("() => { scrollTo(0, 2000); return scrollY; }").await;
    assert!(y > 1900.0, "the page scrolls: {y}");
    s.write("long.html", page.replace("paragraph 0<", "first paragraph<"));
    tab.next_load().await;
    let y: f64 = tab
        .eval("async () => { if (document.readyState !== 'complete') await new Promise(r => addEventListener('load', r)); return scrollY; }")
        .await;
    assert!((y - 2000.0).abs() < 50.0, "scroll restored near 2000, got {y}");
    tab.close().await;
}

pub async fn page_with_a_strict_csp_still_reloads() {
    let page = |v: &str| {
        format!(
            "<!doctype html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'self'\">\
             </head><body><p>{v}</p></body></html>"
        )
    };
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join("index.html"), page("v1")).unwrap()
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    s.write("index.html", page("v2"));
    tab.next_load().await;
    assert_eq!(tab.text().await, "v2");
    tab.close().await;
}

pub async fn chat_in_two_tabs_through_proxy_ws_survives_a_stylesheet_edit() {
    let backend = Backend::start(chat::app()).await;
    let s = TestServer::start_with(
        &["--proxy-ws", &format!("localhost:{}", backend.addr.port())],
        copy_chat_site,
    )
    .await;
    let Some(mut ann) = Tab::open(&s, "/").await else {
        return;
    };
    let Some(mut bob) = Tab::open(&s, "/").await else {
        return;
    };
    let _: bool = ann.eval(&join_js("ann")).await;
    let _: bool = ann.eval(&line_js("ann joined \"dev\".")).await;
    let _: bool = bob.eval(&join_js("bob")).await;
    let _: bool = ann.eval(&line_js("bob joined \"dev\".")).await;
    let _: bool = ann.eval(&say_js("<b>hello</b> bob")).await;
    let _: bool = bob.eval(&line_js("<b>hello</b> bob")).await;
    let bold: bool = bob.eval("() => !!document.querySelector('#log b')").await;
    assert!(!bold, "chat text is shown as text, never as HTML");

    // Restyle both tabs: no reload, and the chat sockets stay up.
    ann.arm("devserve:swapped").await;
    bob.arm("devserve:swapped").await;
    let css = std::fs::read_to_string(s.path("chat.css")).unwrap();
    s.write("chat.css", format!("{css}\nh1 {{ color: rgb(1, 2, 3); }}\n"));
    ann.armed().await;
    bob.armed().await;
    for tab in [&mut ann, &mut bob] {
        let color: String = tab
            .eval("() => getComputedStyle(document.querySelector('h1')).color")
            .await;
        assert_eq!(color, "rgb(1, 2, 3)");
        assert!(!tab.loaded_since(), "restyled in place");
    }
    let _: bool = bob.eval(&say_js("still connected")).await;
    let _: bool = ann.eval(&line_js("still connected")).await;
    ann.close().await;
    bob.close().await;
}

/// Regression: a page carrying a stale token (a cached copy, or one that already had a tag) was
/// refused by the reload socket and retried forever without ever reloading.
pub async fn page_with_a_stale_token_reloads_once_then_stops_trying() {
    let page = "<!doctype html><html><head>\
        <script>sessionStorage.loads = String((+sessionStorage.loads || 0) + 1)</script>\
        <script src=\"/__devserve/client.js\" data-token=\"stale\" data-seq=\"0\" defer></script>\
        </head><body><p>cached</p></body></html>";
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), page).unwrap()).await;
    let Some(mut tab) = Tab::load(&s, "/").await else {
        return;
    };
    tab.next_load().await; // the one reload
    let refused: bool = tab
        .eval("async () => { await new Promise(r => addEventListener('devserve:refused', r, { once: true })); return true; }")
        .await;
    assert!(refused);
    let loads: String = tab.eval("() => sessionStorage.loads").await;
    assert_eq!(loads, "2", "reloaded once, then gave up instead of looping");
    tab.close().await;
}

pub async fn bad_gateway_page_reloads_when_the_backend_comes_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = TestServer::start(&["--proxy", &format!("/app=http://127.0.0.1:{port}")]).await;
    let Some(mut tab) = Tab::open(&s, "/app/").await else {
        return;
    };
    assert!(tab.text().await.contains("502"), "the backend is down");
    let app = axum::Router::new().route(
        "/app/",
        axum::routing::get(|| async { axum::response::Html("<p>backend up</p>") }),
    );
    let _backend = Backend::start_on(app, port).await;
    tab.next_load().await;
    assert_eq!(tab.text().await, "backend up");
    tab.close().await;
}

/// The chat example keeps its rooms through a backend restart: both tabs reconnect with backoff,
/// rejoin, and chat again without a reload.
pub async fn chat_reconnects_and_rejoins_after_the_backend_restarts() {
    let mut backend = Backend::start(chat::app()).await;
    let port = backend.addr.port();
    let s = TestServer::start_with(&["--proxy-ws", &format!("127.0.0.1:{port}")], copy_chat_site).await;
    let Some(mut ann) = Tab::open(&s, "/").await else {
        return;
    };
    let Some(mut bob) = Tab::open(&s, "/").await else {
        return;
    };
    let _: bool = ann.eval(&join_js("ann")).await;
    let _: bool = bob.eval(&join_js("bob")).await;
    let _: bool = ann.eval(&status_js("connected to dev")).await;
    let _: bool = bob.eval(&status_js("connected to dev")).await;
    let hidden: bool = ann
        .eval("() => getComputedStyle(document.getElementById('join')).display === 'none'")
        .await;
    assert!(hidden, "the join form hides once joined");

    backend.kill();
    let _: bool = ann.eval(&status_js("disconnected")).await;
    let _: bool = bob.eval(&status_js("disconnected")).await;
    let _backend = Backend::start_on(chat::app(), port).await;
    let _: bool = ann.eval(&status_js("connected to dev")).await;
    let _: bool = bob.eval(&status_js("connected to dev")).await;
    // Both rejoin on their own schedule: bob says something until ann, back in the room, hears it.
    let mut heard = false;
    for i in 0..50 {
        let _: bool = bob.eval(&say_js(&format!("ping {i}"))).await;
        heard = ann
            .eval(
                "async () => { for (let k = 0; k < 10; k++) { \
                 if ([...document.querySelectorAll('#log li')].some(li => li.textContent.includes('ping'))) return true; \
                 await new Promise(r => setTimeout(r, 20)); } return false; }",
            )
            .await;
        if heard {
            break;
        }
    }
    assert!(heard, "ann hears bob again after the restart");
    let _: bool = ann.eval(&say_js("after the restart")).await;
    let _: bool = bob.eval(&line_js("after the restart")).await;
    assert!(!ann.loaded_since() && !bob.loaded_since(), "no reload needed");
    ann.close().await;
    bob.close().await;
}

/// The one-command workflow: the chat backend started by `--run`, a message exchanged, the
/// backend's source touched — the backend restarts, the tab reloads once it answers, rejoins,
/// and chats again.
pub async fn chat_with_its_backend_under_run_restarts_and_the_tab_comes_back_once() {
    // `cargo test` builds the examples next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let chat_bin = exe.parent().unwrap().parent().unwrap().join("examples/chat");
    assert!(chat_bin.exists(), "{} (built by cargo test)", chat_bin.display());
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("server.rs"), "// the backend's source").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = TestServer::start_with(
        &[
            "--proxy-ws",
            &format!("127.0.0.1:{port}"),
            "--run",
            &format!("exec {} --port {port}", chat_bin.display()),
            "--run-watch",
            src.path().to_str().unwrap(),
        ],
        copy_chat_site,
    )
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    let _: bool = tab
        .eval(
            "() => { sessionStorage.loads = String((+sessionStorage.loads || 0) + 1); \
             document.getElementById('name').value = 'ann'; document.getElementById('room').value = 'dev'; \
             document.getElementById('join').requestSubmit(); return true; }",
        )
        .await;
    let connected = "async () => { const ok = () => document.getElementById('status').textContent.startsWith('connected to dev'); \
        while (!ok()) await new Promise(r => setTimeout(r, 20)); return true; }";
    let say_and_see = |text: &str| {
        format!(
            "async () => {{ document.getElementById('text').value = {text:?}; document.getElementById('say').requestSubmit(); \
             const has = () => [...document.querySelectorAll('#log li')].some(li => li.textContent.includes({text:?})); \
             while (!has()) await new Promise(r => setTimeout(r, 20)); return true; }}"
        )
    };
    let _: bool = tab.eval(connected).await;
    let _: bool = tab.eval(&say_and_see("before the restart")).await;
    std::fs::write(src.path().join("server.rs"), "// changed").unwrap();
    tab.next_load().await;
    let _: bool = tab.eval(connected).await;
    let _: bool = tab.eval(&say_and_see("after the restart")).await;
    assert!(!tab.loaded_since(), "one reload");
    tab.close().await;
}

/// `--isolated`: the page is cross-origin isolated (SharedArrayBuffer exists) and its injected
/// client still loads and reloads it.
pub async fn isolated_page_has_shared_array_buffer_and_still_reloads() {
    let page = |v: &str| format!("<!doctype html><html><body><p>{v}</p></body></html>");
    let s = TestServer::start_with(&["--isolated"], |root| {
        std::fs::write(root.join("index.html"), page("v1")).unwrap()
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    let isolated: bool = tab
        .eval("() => self.crossOriginIsolated && typeof SharedArrayBuffer === 'function'")
        .await;
    assert!(isolated, "crossOriginIsolated with --isolated");
    s.write("index.html", page("v2"));
    tab.next_load().await;
    assert_eq!(tab.text().await, "v2");
    tab.close().await;
}

/// `--https`: the page comes over HTTP/2, its client connects over `wss:`, a stylesheet is
/// swapped in place and a saved page reloads.
pub async fn https_page_over_http2_swaps_css_and_reloads() {
    let page = |v: &str| {
        format!("<!doctype html><html><head><link rel=\"stylesheet\" href=\"style.css\"></head><body><p>{v}</p></body></html>")
    };
    let s = TestServer::start_https(&[], |root| {
        std::fs::write(root.join("index.html"), page("v1")).unwrap();
        std::fs::write(root.join("style.css"), "p { color: rgb(1, 1, 1); }").unwrap();
    })
    .await;
    let Some(mut tab) = Tab::open(&s, "/").await else {
        return;
    };
    let how: String = tab
        .eval("() => location.protocol + ' ' + performance.getEntriesByType('navigation')[0].nextHopProtocol")
        .await;
    assert_eq!(how, "https: h2");
    tab.arm("devserve:swapped").await;
    s.write("style.css", "p { color: rgb(9, 8, 7); }");
    tab.armed().await;
    let color: String = tab
        .eval("() => getComputedStyle(document.querySelector('p')).color")
        .await;
    assert_eq!(color, "rgb(9, 8, 7)");
    assert!(!tab.loaded_since(), "swapped, not reloaded");
    s.write("index.html", page("v2"));
    tab.next_load().await;
    assert_eq!(tab.text().await, "v2");
    tab.close().await;
}

/// The layer around an axum app of one's own: a stylesheet the app serves is swapped in place,
/// and a reload told by the app's code reloads the tab, which shows the new render.
pub async fn the_layer_swaps_and_reloads_an_apps_own_pages() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let version = Arc::new(AtomicUsize::new(1));
    let live = devserve::layer::LiveReloadLayer::new();
    let reloader = live.reloader();
    let (v1, v2) = (version.clone(), version.clone());
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || async move {
                axum::response::Html(format!(
                    "<!doctype html><html><head><link rel=\"stylesheet\" href=\"/style.css\"></head>\
                     <body><p>render {}</p></body></html>",
                    v1.load(Ordering::SeqCst)
                ))
            }),
        )
        .route(
            "/style.css",
            axum::routing::get(move || async move {
                (
                    [("content-type", "text/css")],
                    format!("p {{ color: rgb({}, 0, 0); }}", v2.load(Ordering::SeqCst)),
                )
            }),
        )
        .layer(live);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let Some(mut tab) = Tab::open_url(format!("http://{addr}/")).await else {
        return;
    };
    assert_eq!(tab.text().await, "render 1");
    version.store(2, Ordering::SeqCst);
    tab.arm("devserve:swapped").await;
    reloader.reload_paths(["/style.css"]);
    tab.armed().await;
    let color: String = tab
        .eval("() => getComputedStyle(document.querySelector('p')).color")
        .await;
    assert_eq!(color, "rgb(2, 0, 0)");
    assert!(!tab.loaded_since(), "swapped, not reloaded");
    reloader.reload_paths(["/"]);
    tab.next_load().await;
    assert_eq!(tab.text().await, "render 2");
    tab.close().await;
}

/// The layer's example app (examples/axum_app), over a copy of its folder: a template saved
/// reloads the tab with the new render, a stylesheet saved is swapped in place.
pub async fn the_example_axum_app_reloads_on_a_template_and_swaps_its_stylesheet() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/axum_app");
    for sub in ["templates", "assets"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(example.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = crate::axum_app::app(dir.path().to_path_buf());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let Some(mut tab) = Tab::open_url(format!("http://{addr}/")).await else {
        return;
    };
    assert!(tab.text().await.contains("Hello from axum"));
    tab.arm("devserve:swapped").await;
    std::fs::write(dir.path().join("assets/style.css"), "h1 { color: rgb(1, 2, 3); }").unwrap();
    tab.armed().await;
    let color: String = tab
        .eval("() => getComputedStyle(document.querySelector('h1')).color")
        .await;
    assert_eq!(color, "rgb(1, 2, 3)");
    assert!(!tab.loaded_since(), "swapped, not reloaded");
    let template = std::fs::read_to_string(dir.path().join("templates/index.html")).unwrap();
    std::fs::write(
        dir.path().join("templates/index.html"),
        template.replace("Hello from axum", "Saved template"),
    )
    .unwrap();
    tab.next_load().await;
    assert!(tab.text().await.contains("Saved template"));
    tab.close().await;
}

/// The `cargo watch -x run` loop: the app with the layer stops and a new build starts on the same
/// port; the tab reloads once the new one answers, and shows its render.
pub async fn the_layer_reloads_the_tab_when_the_app_comes_back() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let first = AppProcess::start(listener, "build 1");
    let Some(mut tab) = Tab::open_url(format!("http://{addr}/")).await else {
        return;
    };
    assert_eq!(tab.text().await, "build 1");
    first.stop();
    let second = AppProcess::start(std::net::TcpListener::bind(addr).unwrap(), "build 2");
    tab.next_load().await;
    assert_eq!(tab.text().await, "build 2");
    second.stop();
    tab.close().await;
}

/// An app with the layer on a runtime of its own, as a process of its own would be: stopping it
/// closes every socket it holds.
struct AppProcess {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl AppProcess {
    fn start(listener: std::net::TcpListener, text: &'static str) -> AppProcess {
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new()
                    .route(
                        "/",
                        axum::routing::get(move || async move {
                            axum::response::Html(format!(
                                "<!doctype html><html><body><p>{text}</p></body></html>"
                            ))
                        }),
                    )
                    .layer(devserve::layer::LiveReloadLayer::new());
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops every connection's task, and with it its socket.
            drop(runtime);
        });
        AppProcess { stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
    }
}

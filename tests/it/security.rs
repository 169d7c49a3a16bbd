//! Security defaults: Host check, reload socket Origin and token, containment.

use reqwest::StatusCode;

use crate::support::{client, raw_request, ws_status, TestServer};

#[tokio::test]
async fn foreign_host_is_refused_with_a_hint() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("index.html"), "x").unwrap()).await;
    let r = client()
        .get(s.url("/"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("--allow-host"));
    for host in ["localhost:1234", "app.localhost", "127.0.0.1", "[::1]:80"] {
        let r = client()
            .get(s.url("/"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{host}");
    }
    let token = s.token().await;
    let status = ws_status(
        s.addr,
        &format!("/__devserve/ws?token={token}"),
        &[("host", "evil.example")],
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn allow_host_accepts_a_named_host() {
    let s = TestServer::start(&["--allow-host", "devbox.lan"]).await;
    let r = client()
        .get(s.url("/"))
        .header("host", "devbox.lan:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn reload_socket_wants_its_own_origin_and_the_token() {
    let s = TestServer::start(&[]).await;
    let token = s.token().await;
    let path = format!("/__devserve/ws?token={token}");
    let own = format!("http://{}", s.addr);
    assert_eq!(ws_status(s.addr, &path, &[("origin", &own)]).await, 101);
    assert_eq!(
        ws_status(s.addr, &path, &[]).await,
        101,
        "command-line clients send no Origin"
    );
    assert_eq!(
        ws_status(s.addr, &path, &[("origin", "http://evil.example")]).await,
        403
    );
    assert_eq!(ws_status(s.addr, &path, &[("origin", "null")]).await, 403);
    assert_eq!(
        ws_status(s.addr, "/__devserve/ws?token=wrong", &[("origin", &own)]).await,
        403
    );
    assert_eq!(ws_status(s.addr, "/__devserve/ws", &[]).await, 403);
}

#[tokio::test]
async fn traversal_in_every_encoding_is_refused() {
    let s = TestServer::start(&[]).await;
    std::fs::write(s.dir.path().join("secret.txt"), "TOP SECRET").unwrap();
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/a/..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/.%2e/secret.txt",
        "//../secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
    ] {
        let raw = raw_request(
            s.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(!raw.contains("TOP SECRET"), "{path}: {raw}");
        let status: u16 = raw.split(' ').nth(1).unwrap().parse().unwrap();
        assert!((400..500).contains(&status), "{path}: {status}");
    }
}

#[tokio::test]
async fn symlink_out_of_root_is_refused() {
    let s = TestServer::start(&[]).await;
    std::fs::write(s.dir.path().join("outside.txt"), "OUTSIDE").unwrap();
    std::fs::create_dir(s.dir.path().join("outdir")).unwrap();
    std::fs::write(s.dir.path().join("outdir/x.txt"), "OUTSIDE").unwrap();
    std::os::unix::fs::symlink(s.dir.path().join("outside.txt"), s.path("link.txt")).unwrap();
    std::os::unix::fs::symlink(s.dir.path().join("outdir"), s.path("linkdir")).unwrap();
    std::fs::write(s.path("inside.txt"), "INSIDE").unwrap();
    std::os::unix::fs::symlink(s.path("inside.txt"), s.path("ok.txt")).unwrap();
    assert_eq!(s.get("/link.txt").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.get("/linkdir/x.txt").await.status(), StatusCode::NOT_FOUND);
    // A folder's index.html that leads out of ROOT is not its page: the folder is listed instead.
    std::fs::create_dir(s.path("sub")).unwrap();
    std::os::unix::fs::symlink(s.dir.path().join("outside.txt"), s.path("sub/index.html")).unwrap();
    let sub = s.get("/sub/").await;
    assert_eq!(sub.status(), StatusCode::OK);
    let listing = sub.text().await.unwrap();
    assert!(!listing.contains("OUTSIDE"), "{listing}");
    assert!(listing.contains("Index of /sub/"), "{listing}");
    assert_eq!(
        s.get("/ok.txt").await.text().await.unwrap(),
        "INSIDE",
        "links inside ROOT are fine"
    );
}

#[tokio::test]
async fn dotfiles_are_not_served() {
    let s = TestServer::start_with(&[], |root| {
        std::fs::write(root.join(".env"), "API_KEY=hunter2").unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/config"), "[core]").unwrap();
    })
    .await;
    std::os::unix::fs::symlink(s.path(".env"), s.path("env.txt")).unwrap();
    for path in ["/.env", "/.git/config", "/%2eenv", "/env.txt", "/.git/"] {
        let r = s.get(path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().await.unwrap().contains("hunter2"));
    }
}

#[tokio::test]
async fn no_cors_headers_by_default() {
    let s = TestServer::start_with(&[], |root| std::fs::write(root.join("a.json"), "{}").unwrap()).await;
    let r = client()
        .get(s.url("/a.json"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn unreadable_host_is_refused() {
    let s = TestServer::start(&[]).await;
    let raw = raw_request(
        s.addr,
        "GET / HTTP/1.1\r\nHost: caf\u{e9}.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        raw.starts_with("HTTP/1.1 403") || raw.starts_with("HTTP/1.1 400"),
        "{raw}"
    );
}

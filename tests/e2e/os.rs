//! What needs the operating system's help to set up: a user namespace of its own (its own inotify
//! limit), and a child running as `nobody`. `main` marks them ignored where that cannot be had,
//! except under `CI=true`.

use std::process::Command;

use crate::support::Logged;

/// True when user namespaces can be made (util-linux `unshare`).
pub fn user_namespaces() -> bool {
    Command::new("unshare")
        .args(["-Ur", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// True when this test process may run a child as `nobody` (util-linux `setpriv`, as root).
pub fn can_run_as_nobody() -> bool {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs out of inotify watches for real: in a user namespace of its own, the watch limit is 3.
pub async fn out_of_inotify_watches_falls_back_to_polling() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    for sub in ["a", "b", "c", "d/e/f"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-Ur",
        "sh",
        "-c",
        "echo 3 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\"",
    ]);
    cmd.arg(env!("CARGO_BIN_EXE_devserve"))
        .arg(&root)
        .args(["--port", "0"]);
    let server = Logged::spawn(cmd);
    let mut tab = crate::support::Tab::connect(server.addr).await;
    assert!(server.wait_for("ran out of file watches"), "{}", server.log());
    std::fs::write(root.join("d/e/f/page.html"), "deep").unwrap();
    loop {
        let (_, paths, _) = tab.updated().await;
        if paths.iter().any(|p| p == "/d/e/f/page.html") {
            break;
        }
    }
}

/// A folder devserve may not read is logged, and everything else is served and watched. devserve
/// runs as `nobody`, for whom a root folder of mode 0700 is unreadable.
pub async fn unreadable_folder_is_logged_and_the_rest_works() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir_all(root.join("ok")).unwrap();
    std::fs::create_dir_all(root.join("secret")).unwrap();
    std::fs::write(root.join("secret/key.txt"), "hidden").unwrap();
    std::fs::write(root.join("ok/index.html"), "<p>ok</p>").unwrap();
    std::fs::set_permissions(root.join("secret"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
    cmd.arg(env!("CARGO_BIN_EXE_devserve"))
        .arg(&root)
        .args(["--port", "0"]);
    let server = Logged::spawn(cmd);
    let mut tab = crate::support::Tab::connect(server.addr).await;
    assert!(server.wait_for("cannot read a folder"), "{}", server.log());
    let http = crate::support::client();
    let ok = http
        .get(format!("http://{}/ok/", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let secret = http
        .get(format!("http://{}/secret/key.txt", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(secret.status(), 404);
    std::fs::write(root.join("ok/index.html"), "<p>ok 2</p>").unwrap();
    let (_, paths, _) = tab.updated().await;
    assert_eq!(paths, vec!["/ok/index.html"]);
}

//! A real socket.io chat (npm `socket.io` and `socket.io-client`, installed by `.ci/run` beside
//! the build tools) behind devserve: its backend started and restarted by `--run`, its clients
//! on WebSocket from the start and on long-polling upgraded to WebSocket, all through devserve's
//! proxy — as the user's chat front end with its backend runs.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{TestServer, WAIT};
use crate::tools;

/// True when both packages are installed where the build tools are.
pub fn installed() -> bool {
    ["socket.io", "socket.io-client"].iter().all(|p| {
        tools::dir()
            .join("node_modules")
            .join(p)
            .join("package.json")
            .exists()
    })
}

/// The chat backend: rooms, names, join and leave notes; each join is answered with the
/// process's id, so the clients can tell a restarted backend from the old one.
const SERVER: &str = r#"
const { Server } = require(MODULES + "/socket.io");
const io = new Server(Number(process.argv[2]));
io.on("connection", (s) => {
  s.on("join", ({ room, name }, ack) => {
    s.data.name = name;
    s.data.room = room;
    s.join(room);
    io.to(room).emit("note", `${name} joined`);
    ack(process.pid);
  });
  s.on("say", (text) => io.to(s.data.room).emit("msg", `${s.data.name}: ${text}`));
  s.on("disconnect", () => {
    if (s.data.room) io.to(s.data.room).emit("note", `${s.data.name} left`);
  });
});
"#;

/// Two clients in one room, through devserve at `argv[2]`: ann on WebSocket only, bob starting
/// on long-polling. A round: both (re)join, bob is on WebSocket, ann says 20 things and bob hears
/// them in order; it prints a JSON line. After the first round it waits for the backend to go
/// away and come back (the test restarts it), then plays a second round; then ann leaves and
/// bob's last note is printed. Bounded: it gives up after 60 s.
const CLIENT: &str = r#"
const { io } = require(MODULES + "/socket.io-client");
const url = process.argv[2];
const opts = { forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 200 };
const ann = io(url, { ...opts, transports: ["websocket"] });
const bob = io(url, { ...opts, transports: ["polling", "websocket"] });
const notes = [];
bob.on("note", (n) => notes.push(n));
setTimeout(() => { console.error("gave up; bob's notes:", notes); process.exit(1); }, 60000);
const connected = (s) => new Promise((r) => (s.connected ? r() : s.once("connect", r)));
const join = async (s, name) => {
  await connected(s);
  return s.emitWithAck("join", { room: "lobby", name });
};
const upgraded = (s) => new Promise((r) =>
  s.io.engine.transport.name === "websocket" ? r() : s.io.engine.once("upgrade", () => r()));
async function round(n) {
  const pid = await join(bob, "bob");
  await join(ann, "ann");
  await upgraded(bob);
  const heard = [];
  const all = new Promise((r) => {
    const h = (m) => { heard.push(m); if (heard.length === 20) { bob.off("msg", h); r(); } };
    bob.on("msg", h);
  });
  for (let i = 0; i < 20; i++) ann.emit("say", `round ${n} #${i}`);
  await all;
  console.log(JSON.stringify({ round: n, pid, heard, notes: notes.splice(0),
    transports: [ann.io.engine.transport.name, bob.io.engine.transport.name] }));
}
(async () => {
  await round(1);
  await Promise.all([ann, bob].map((s) => new Promise((r) => s.once("disconnect", r))));
  await round(2);
  const left = new Promise((r) => bob.on("note", (n) => n === "ann left" && r()));
  ann.close();
  await left;
  console.log(JSON.stringify({ last: notes[notes.length - 1] }));
  bob.close();
  process.exit(0);
})();
"#;

/// Writes `code` with the packages' folder filled in.
fn script(path: &Path, code: &str) {
    let modules = tools::dir().join("node_modules");
    let modules = serde_json::to_string(&modules.to_string_lossy()).unwrap();
    std::fs::write(path, format!("const MODULES = {modules};\n{code}")).unwrap();
}

/// The next line the client prints, as JSON.
async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> serde_json::Value {
    let line = tokio::time::timeout(WAIT * 6, lines.next_line())
        .await
        .expect("the client reports in time")
        .unwrap()
        .expect("the client reports before it exits");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn texts(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

pub async fn socketio_chat_through_devserve_survives_a_backend_restart() {
    let work = tempfile::tempdir().unwrap();
    let (server, client) = (work.path().join("server.js"), work.path().join("client.js"));
    script(&server, SERVER);
    script(&client, CLIENT);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = TestServer::start(&[
        "--proxy",
        &format!("/socket.io=http://127.0.0.1:{port}"),
        "--run",
        &format!("exec node {} {port}", server.display()),
        "--run-watch",
        server.to_str().unwrap(),
    ])
    .await;
    let mut child = tokio::process::Command::new("node")
        .arg(&client)
        .arg(format!("http://{}", s.addr))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let said = |round: u32| {
        (0..20)
            .map(|i| format!("ann: round {round} #{i}"))
            .collect::<Vec<_>>()
    };

    let first = next_line(&mut lines).await;
    assert_eq!(texts(&first["heard"]), said(1), "every message, in order");
    assert_eq!(texts(&first["notes"]), ["bob joined", "ann joined"]);
    assert_eq!(
        texts(&first["transports"]),
        ["websocket", "websocket"],
        "bob upgraded"
    );

    // A save of the backend: devserve restarts it, both clients lose it and reconnect.
    let code = std::fs::read_to_string(&server).unwrap();
    std::fs::write(&server, format!("{code}\n// edited\n")).unwrap();
    let second = next_line(&mut lines).await;
    assert_ne!(second["pid"], first["pid"], "a new backend process");
    assert_eq!(texts(&second["heard"]), said(2));
    assert_eq!(
        texts(&second["notes"]),
        ["bob joined", "ann joined"],
        "the new backend's"
    );
    assert_eq!(texts(&second["transports"]), ["websocket", "websocket"]);

    let last = next_line(&mut lines).await;
    assert_eq!(last["last"], "ann left");
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the client ends")
        .unwrap();
    assert!(status.success());
}

// The chat front end. Chat text is only ever put on the page with textContent, never as HTML.
const $ = (id) => document.getElementById(id);
let socket = null;

function line(cls, name, text) {
  const li = document.createElement("li");
  li.className = cls;
  if (name) {
    const who = document.createElement("span");
    who.className = "name";
    who.textContent = name;
    li.append(who);
  }
  li.append(document.createTextNode(text));
  $("log").append(li);
  li.scrollIntoView({ block: "end" });
}

// The connection's state, shown plainly: connected (green), or reconnecting (red) with when.
function status(up, text) {
  $("status").textContent = text;
  $("status").className = "status " + (up ? "up" : "down");
}

// Joins `room` as `name`, and keeps the membership through backend restarts: when the socket
// drops it reconnects with backoff (0.5 s doubling to 8 s) and joins again.
function join(name, room) {
  const path = room ? "/ws/" + encodeURIComponent(room) : "/ws";
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  let delay = 500;
  const connect = () => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      delay = 500;
      status(true, "connected to " + (room || "lobby") + " as " + name);
      ws.send(JSON.stringify({ type: "join", name }));
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "note") line("note", "", msg.text);
      else if (msg.type === "chat") line("chat", msg.name, msg.text);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      status(false, "disconnected — reconnecting in " + (delay / 1000) + " s");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 8000);
    };
  };
  connect();
  sessionStorage.setItem("chat", JSON.stringify({ name, room }));
  $("join").hidden = true;
  $("chat").hidden = false;
  $("text").focus();
}

$("join").addEventListener("submit", (ev) => {
  ev.preventDefault();
  join($("name").value.trim(), $("room").value.trim());
});

$("say").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value;
  if (socket && socket.readyState === WebSocket.OPEN && text.trim()) {
    socket.send(JSON.stringify({ type: "chat", text }));
    $("text").value = "";
  }
});

// After a reload (say, devserve reloading the page on save) rejoin with the same name and room.
const saved = JSON.parse(sessionStorage.getItem("chat") || "null");
if (saved && saved.name) join(saved.name, saved.room);

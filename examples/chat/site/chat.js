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

function join(name, room) {
  const path = room ? "/ws/" + encodeURIComponent(room) : "/ws";
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(url);
  socket.onopen = () => {
    $("status").textContent = "connected to " + (room || "lobby");
    socket.send(JSON.stringify({ type: "join", name }));
  };
  socket.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === "note") line("note", "", msg.text);
    else if (msg.type === "chat") line("chat", msg.name, msg.text);
  };
  socket.onclose = (ev) => {
    $("status").textContent = "disconnected" + (ev.reason ? ": " + ev.reason : "") + " — is the backend running?";
  };
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

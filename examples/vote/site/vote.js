// The vote board's front end. Names are only ever put on the page with textContent.
const $ = (id) => document.getElementById(id);
let socket = null;

function status(up, text) {
  $("status").textContent = text;
  $("status").className = "status " + (up ? "up" : "down");
}

function render(candidates) {
  const total = candidates.reduce((n, c) => n + c.votes, 0) || 1;
  const board = $("board");
  board.replaceChildren(...candidates.map((c) => {
    const li = document.createElement("li");
    li.dataset.name = c.name;
    const name = document.createElement("span");
    name.textContent = c.name;
    const track = document.createElement("span");
    track.className = "track";
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = (100 * c.votes / total) + "%";
    track.append(bar);
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = String(c.votes);
    const vote = document.createElement("button");
    vote.textContent = "Vote";
    vote.addEventListener("click", () => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "vote", name: c.name }));
    });
    li.append(name, track, count, vote);
    return li;
  }));
}

// Connects to /ws, and reconnects with backoff (0.5 s doubling to 8 s) when it drops, so a
// backend restarted by `devserve --run` is picked up again.
function connect() {
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  let delay = 500;
  const open = () => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => { delay = 500; status(true, "connected"); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "counts" && Array.isArray(msg.candidates)) render(msg.candidates);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      status(false, "disconnected — reconnecting in " + (delay / 1000) + " s");
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 8000);
    };
  };
  open();
}

connect();

// devserve's live-reload client, injected into every HTML page as
//   <script src="/__devserve/client.js" data-token="…" data-seq="…" data-ws="/__devserve/ws" defer></script>
// Its settings come from those data-* attributes (the socket's path too), so this file is the same
// for every page and every run.
// It listens on /__devserve/ws. A tab acts only on changes to files it uses — its document, or a
// file it loaded (performance resource entries, its stylesheets and scripts) — unless the server
// says every tab reloads (--reload-all); a tab on devserve's 404 page or folder listing acts when
// its path appears or its folder changes. `updated` with reload:false swaps the named stylesheets
// in place; anything else reloads the page, keeping its scroll position. When the socket drops it probes the
// server with backoff and reloads once when the server answers again (a restarted server has a new
// token, so the page must be fetched anew).
// It announces what it does as window events — devserve:connected, devserve:updated (detail: the
// message), devserve:ignored (detail: the message, when the page uses none of its files),
// devserve:swapped (detail: {paths}, once the new sheets have loaded) and devserve:refused (the
// socket keeps refusing this page) — for pages and tests that react.
(function () {
  "use strict";
  if (window.__devserve) return; // one client per document, even if injected twice
  var script = document.currentScript;
  var token = script && script.dataset ? script.dataset.token : "";
  // The last batch this page already reflects; a newer one at connect time was missed in transit.
  var pageSeq = script && script.dataset && script.dataset.seq !== undefined ? Number(script.dataset.seq) : NaN;
  var base = script && script.src ? new URL(script.src) : new URL(location.href);
  var wsPath = script && script.dataset && script.dataset.ws ? script.dataset.ws : "/__devserve/ws";
  var wsUrl = new URL(wsPath, base);
  wsUrl.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  wsUrl.search = "?token=" + encodeURIComponent(token || "");
  var probeUrl = base.origin + base.pathname; // this script itself: answered while devserve is up
  // The file this page was read from (`/index.html` for `/`, or for any path with --spa).
  var pageFile = script && script.dataset && script.dataset.page ? script.dataset.page : "";
  // Every file the page loads is a performance entry, but the buffer keeps 250 by default: raise
  // it, and if it fills up anyway, stop guessing and reload on every change.
  var tooMany = false;
  try {
    if (performance.getEntriesByType("resource").length >= 250) tooMany = true;
    performance.setResourceTimingBufferSize(100000);
    performance.addEventListener("resourcetimingbufferfull", function () { tooMany = true; });
  } catch (e) { tooMany = true; }
  var SCROLL_KEY = "__devserve_scroll";
  var MIN_DELAY = 100, MAX_DELAY = 1000;

  var state = { wasConnected: false, reloading: false, socket: null, delay: MIN_DELAY, seq: 0, reloadAll: false };
  window.__devserve = state;

  function log(msg) {
    if (window.console && console.debug) console.debug("[devserve] " + msg);
  }

  function emit(name, detail) {
    try { window.dispatchEvent(new CustomEvent(name, { detail: detail })); } catch (e) { /* old browser */ }
  }

  // A hidden tab keeps the reload it was told of and acts when it is shown: a tab behind others
  // does not lose its state for nothing, and never misses the change.
  var hiddenReload = null;
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && hiddenReload) {
      var why = hiddenReload;
      hiddenReload = null;
      reload(why);
    }
  });

  function reload(why) {
    if (state.reloading) return;
    if (document.hidden) {
      if (!hiddenReload) log("hidden: reloading when shown (" + why + ")");
      hiddenReload = why;
      emit("devserve:deferred", { why: why });
      return;
    }
    state.reloading = true;
    log("reloading: " + why);
    try {
      sessionStorage.setItem(SCROLL_KEY, JSON.stringify({ path: location.pathname + location.search, x: scrollX, y: scrollY }));
    } catch (e) { /* storage may be disabled */ }
    location.reload();
  }

  function restoreScroll() {
    var saved;
    try {
      saved = JSON.parse(sessionStorage.getItem(SCROLL_KEY) || "null");
    } catch (e) { return; }
    if (!saved || saved.path !== location.pathname + location.search) return;
    var apply = function () { window.scrollTo(saved.x, saved.y); };
    apply();
    // Images and fonts can still move things: apply once more when the page has loaded.
    if (document.readyState === "complete") {
      sessionStorage.removeItem(SCROLL_KEY);
    } else {
      window.addEventListener("load", function () { apply(); sessionStorage.removeItem(SCROLL_KEY); }, { once: true });
    }
  }

  function samePath(a, b) {
    return decoded(a) === decoded(b);
  }

  function decoded(p) {
    try { return decodeURIComponent(p); } catch (e) { return p; }
  }

  // The same-origin paths this page uses: its document and every file it has loaded.
  function usedPaths() {
    var used = {};
    var add = function (href) {
      try {
        var u = new URL(href, location.href);
        if (u.origin === location.origin) used[decoded(u.pathname)] = true;
      } catch (e) { /* not a URL */ }
    };
    add(location.href);
    if (location.pathname.slice(-1) === "/") add(location.pathname + "index.html");
    if (pageFile) add(pageFile);
    try {
      performance.getEntriesByType("resource").forEach(function (e) { add(e.name); });
    } catch (e) { /* no resource timing */ }
    var els = document.querySelectorAll("link[href], script[src], img[src], source[src], iframe[src], embed[src], object[data]");
    Array.prototype.forEach.call(els, function (el) { add(el.href || el.src || el.data); });
    return used;
  }

  // What this tab must do about a change of `paths`: {why, paths} with the changed paths it uses
  // (all of them when it cannot tell), or null when the change is none of its business.
  function concern(paths) {
    var all = function (why) { return { why: why, paths: paths }; };
    if (state.reloadAll) return all("every tab reloads (--reload-all)");
    if (!paths.length) return all("files changed that no tab can place");
    if (tooMany) return all("this page loaded too many files to follow");
    var meta = document.querySelector('meta[name="devserve-page"]');
    var kind = meta ? meta.content : "";
    var here = decoded(location.pathname);
    var touched;
    if (kind === "404" || kind === "listing") {
      // A 404 waits for its path (or a folder's index.html) to appear; a listing for its folder.
      var dir = here.slice(-1) === "/" ? here : here + "/";
      touched = paths.filter(function (p) { p = decoded(p); return p === here || p.indexOf(dir) === 0; });
    } else if (kind) {
      return all("files changed");
    } else {
      var used = usedPaths();
      touched = paths.filter(function (p) { return used[decoded(p)]; });
    }
    return touched.length ? { why: touched.join(", ") + " changed", paths: touched } : null;
  }

  function isStylesheet(p) {
    return /\.css$/i.test(decoded(p));
  }

  function isImage(p) {
    return /\.(png|jpe?g|gif|webp|avif|svg|ico|bmp)$/i.test(decoded(p));
  }

  // `url` with the batch's seq in its query, so the browser fetches it again; same-origin URLs
  // whose path is one of `paths` only.
  function busted(url, paths, seq) {
    try {
      var u = new URL(url, location.href);
      if (u.origin !== location.origin || !paths.some(function (q) { return samePath(u.pathname, q); })) return null;
      u.searchParams.set("__devserve", String(seq));
      return u.href;
    } catch (e) { return null; }
  }

  // Swaps changed images in place: <img src> and srcset, <source srcset>, favicons, and CSS
  // backgrounds (set inline on the elements that show one).
  function swapImages(paths, seq) {
    var n = 0;
    Array.prototype.forEach.call(document.querySelectorAll("img[src], input[type=image][src]"), function (img) {
      var next = busted(img.getAttribute("src"), paths, seq);
      if (next) { img.src = next; n++; }
    });
    Array.prototype.forEach.call(document.querySelectorAll("img[srcset], source[srcset]"), function (el) {
      var changed = false;
      var set = el.getAttribute("srcset").split(",").map(function (part) {
        var bits = part.trim().split(/\s+/);
        var next = busted(bits[0], paths, seq);
        if (next) { changed = true; bits[0] = next; }
        return bits.join(" ");
      }).join(", ");
      if (changed) { el.setAttribute("srcset", set); n++; }
    });
    Array.prototype.forEach.call(document.querySelectorAll('link[rel~="icon"]'), function (link) {
      var next = busted(link.getAttribute("href"), paths, seq);
      if (next) { link.href = next; n++; }
    });
    Array.prototype.forEach.call(document.querySelectorAll("body, body *"), function (el) {
      var bg = getComputedStyle(el).backgroundImage;
      if (!bg || bg === "none") return;
      var changed = false;
      var next = bg.replace(/url\("?([^")]*)"?\)/g, function (all, url) {
        var b = busted(url, paths, seq);
        if (!b) return all;
        changed = true;
        return 'url("' + b + '")';
      });
      if (changed) { el.style.backgroundImage = next; n++; }
    });
    log("swapped " + n + " image(s): " + paths.join(", "));
    emit("devserve:swapped", { paths: paths, images: n });
  }

  // Swaps one <link rel=stylesheet>: the new sheet is inserted right after the old one and the old
  // one is removed only once the new one has loaded, so the page never shows unstyled content.
  function swapLink(link, seq, done) {
    if (link.__devserveNext) link.__devserveNext.remove(); // a swap still loading: replace it
    var url = new URL(link.href);
    url.searchParams.set("__devserve", String(seq));
    var next = link.cloneNode(false);
    next.href = url.href;
    next.__devservePending = true;
    link.__devserveNext = next;
    var finished = false;
    var finish = function () {
      if (finished) return;
      finished = true;
      next.__devservePending = false;
      if (link.parentNode) link.remove();
      done();
    };
    var failed = function () {
      // Keep the old sheet rather than leave the page unstyled; a reload shows what is there.
      if (finished) return;
      finished = true;
      next.remove();
      reload("stylesheet failed to load: " + url.pathname);
    };
    next.addEventListener("load", finish);
    next.addEventListener("error", failed);
    link.after(next);
  }

  function swapStylesheets(paths, seq) {
    var links = Array.prototype.filter.call(document.querySelectorAll('link[rel~="stylesheet"]'), function (l) {
      if (!l.href || l.__devservePending) return false; // a replacement still loading
      try { return new URL(l.href).origin === location.origin; } catch (e) { return false; }
    });
    var matched = links.filter(function (l) {
      var p = new URL(l.href).pathname;
      return paths.some(function (q) { return samePath(p, q); });
    });
    // No direct match: the sheet is @imported by another (it is among the files the page loaded),
    // so refresh them all.
    var targets = matched.length ? matched : links;
    var left = targets.length;
    var one = function () { if (--left === 0) emit("devserve:swapped", { paths: paths }); };
    if (!left) emit("devserve:swapped", { paths: paths });
    targets.forEach(function (l) { swapLink(l, seq, one); });
    log("swapped " + targets.length + " stylesheet(s): " + paths.join(", "));
  }

  // The error overlay: a custom element with its own shadow root, so the page's CSS cannot
  // restyle it and its CSS cannot touch the page. One entry per source; text only, never HTML;
  // ANSI colours become colours. Esc or a click closes it until the next error.
  var errors = {};
  var overlay = null;
  var ANSI_COLOURS = { 30: "#666", 31: "#ff6b6b", 32: "#69db7c", 33: "#ffd43b", 34: "#74c0fc", 35: "#e599f7",
    36: "#66d9e8", 37: "#eee", 90: "#999", 91: "#ff8787", 92: "#8ce99a", 93: "#ffe066", 94: "#a5d8ff",
    95: "#f3c4fb", 96: "#99e9f2", 97: "#fff" };

  // Appends `text` to `into`, with ANSI SGR colours and bold turned into styled spans and every
  // other escape sequence dropped.
  function ansi(into, text) {
    var style = { color: "", bold: false };
    var parts = String(text).split(/(\x1b\[[0-9;?]*[A-Za-z])/);
    parts.forEach(function (part) {
      var m = /^\x1b\[([0-9;]*)m$/.exec(part);
      if (m) {
        (m[1] || "0").split(";").forEach(function (code) {
          code = Number(code);
          if (code === 0) style = { color: "", bold: false };
          else if (code === 1) style.bold = true;
          else if (code === 22) style.bold = false;
          else if (code === 39) style.color = "";
          else if (ANSI_COLOURS[code]) style.color = ANSI_COLOURS[code];
        });
        return;
      }
      if (/^\x1b\[/.test(part) || !part) return;
      var span = document.createElement("span");
      span.textContent = part;
      if (style.color) span.style.color = style.color;
      if (style.bold) span.style.fontWeight = "bold";
      into.appendChild(span);
    });
  }

  function closeOverlay() {
    if (overlay) overlay.remove();
    overlay = null;
  }

  function renderOverlay() {
    var sources = Object.keys(errors);
    if (!sources.length) return closeOverlay();
    if (!overlay) {
      if (!window.customElements.get("devserve-overlay")) {
        window.customElements.define("devserve-overlay", class extends HTMLElement {});
      }
      overlay = document.createElement("devserve-overlay");
      var root = overlay.attachShadow({ mode: "open" });
      var css = document.createElement("style");
      css.textContent = ":host{all:initial;position:fixed;inset:0;z-index:2147483647;display:block;background:rgba(0,0,0,.55);font:14px/1.5 system-ui,sans-serif}" +
        ".box{margin:6vh auto;max-width:min(960px,92vw);max-height:84vh;overflow:auto;background:#1e1e1e;color:#eee;border-radius:8px;border-top:4px solid #ff6b6b;padding:16px 20px;box-shadow:0 8px 32px rgba(0,0,0,.5)}" +
        ".error+.error{margin-top:16px;padding-top:16px;border-top:1px solid #444}h2{font-size:15px;margin:0 0 8px;color:#ff8787}" +
        ".source{color:#999;font-weight:normal;margin-left:.5em}pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.45 ui-monospace,monospace}" +
        ".hint{color:#999;font-size:12px;margin-top:12px}";
      root.appendChild(css);
      var box = document.createElement("div");
      box.className = "box";
      root.appendChild(box);
      overlay.addEventListener("click", function (e) { if (e.composedPath()[0] === overlay) closeOverlay(); });
      box.addEventListener("click", function (e) { e.stopPropagation(); });
      (document.body || document.documentElement).appendChild(overlay);
    }
    var box = overlay.shadowRoot.querySelector(".box");
    box.textContent = "";
    sources.forEach(function (source) {
      var e = errors[source];
      var entry = document.createElement("div");
      entry.className = "error";
      var h = document.createElement("h2");
      h.textContent = e.title || "error";
      var from = document.createElement("span");
      from.className = "source";
      from.textContent = source;
      h.appendChild(from);
      var pre = document.createElement("pre");
      ansi(pre, e.text || "");
      entry.appendChild(h);
      entry.appendChild(pre);
      box.appendChild(entry);
    });
    var hint = document.createElement("div");
    hint.className = "hint";
    hint.textContent = "Esc or a click outside closes this; it goes away by itself once fixed.";
    box.appendChild(hint);
  }

  window.addEventListener("keydown", function (e) { if (e.key === "Escape") closeOverlay(); });

  // Asked for in `connected` (devserve -v): the page's uncaught errors go to devserve's terminal.
  function reportErrors() {
    var send = function (message, at) {
      var s = state.socket;
      if (s && s.readyState === 1) {
        try { s.send(JSON.stringify({ type: "page-error", url: location.href, message: String(message), at: at || "" })); } catch (e) { /* closed */ }
      }
    };
    window.addEventListener("error", function (e) {
      send(e.message, e.filename ? e.filename + ":" + e.lineno + ":" + e.colno : "");
    });
    window.addEventListener("unhandledrejection", function (e) {
      var r = e.reason;
      send("unhandled rejection: " + (r && r.message ? r.message : r), r && r.stack ? String(r.stack).split("\n")[1] : "");
    });
  }

  function onMessage(ev) {
    var msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (!msg || state.reloading) return;
    if (msg.type === "connected") {
      if (state.wasConnected) {
        reload("reconnected to " + (msg.server || "devserve"));
        return;
      }
      if (typeof msg.seq === "number" && msg.seq > pageSeq) {
        reload("files changed while this page was loading");
        return;
      }
      state.wasConnected = true;
      state.delay = MIN_DELAY;
      state.reloadAll = msg.reload_all === true;
      if (msg.report_errors === true && !state.reporting) {
        state.reporting = true;
        reportErrors();
      }
      log("connected (" + msg.server + ")");
      emit("devserve:connected", msg);
    } else if (msg.type === "error" && msg.source) {
      errors[msg.source] = { title: msg.title, text: msg.text };
      log("error from " + msg.source + ": " + msg.title);
      emit("devserve:error", msg);
      renderOverlay();
    } else if (msg.type === "clear" && msg.source) {
      delete errors[msg.source];
      emit("devserve:clear", msg);
      renderOverlay();
    } else if (msg.type === "updated") {
      state.seq = msg.seq || state.seq + 1;
      // `all`: the paths do not name every change (lost events, a folder outside the served one,
      // batches this tab missed), so no tab can tell whether it is concerned.
      var paths = Array.isArray(msg.paths) && !msg.all ? msg.paths : [];
      emit("devserve:updated", msg);
      var mine = concern(paths);
      if (!mine) {
        log("not reloading: this page uses none of " + paths.join(", "));
        emit("devserve:ignored", msg);
      } else if (paths.length && (msg.reload === false || (!state.reloadAll && mine.paths.every(isStylesheet)))) {
        // Only stylesheets of this page changed (a Sass source saved with its output is not one
        // of them): swap them in place.
        swapStylesheets(mine.paths, state.seq);
      } else if (paths.length && !state.reloadAll && mine.paths.every(function (p) { return isStylesheet(p) || isImage(p); })) {
        // Images too are swapped in place, and the stylesheets among the changes.
        var sheets = mine.paths.filter(isStylesheet);
        if (sheets.length) swapStylesheets(sheets, state.seq);
        swapImages(mine.paths.filter(isImage), state.seq);
      } else reload(mine.why);
    }
  }

  function connect() {
    if (state.reloading) return;
    var socket;
    try { socket = new WebSocket(wsUrl.href); } catch (e) { return retry(); }
    state.socket = socket;
    socket.onmessage = onMessage;
    socket.onclose = function () {
      if (state.socket !== socket) return;
      state.socket = null;
      retry();
    };
  }

  // After a drop: probe with capped backoff. A server that answers is back (perhaps restarted,
  // with a new token), so the page is reloaded once. A page that never connected although its
  // server answers carries a stale token (a cached copy): it reloads once too, but not again
  // within a minute, so a refusal that reloading cannot cure never becomes a loop.
  var STALE_KEY = "__devserve_stale";
  function retry() {
    if (state.reloading) return;
    var delay = state.delay;
    state.delay = Math.min(delay * 2, MAX_DELAY);
    setTimeout(function () {
      fetch(probeUrl, { method: "HEAD", cache: "no-store" }).then(function (res) {
        if (!res.ok) return retry();
        if (state.wasConnected) return reload("server is back");
        var last = 0;
        try { last = Number(sessionStorage.getItem(STALE_KEY) || 0); } catch (e) { /* no storage */ }
        if (Date.now() - last > 60000) {
          try { sessionStorage.setItem(STALE_KEY, String(Date.now())); } catch (e) { /* no storage */ }
          return reload("this copy of the page is out of date");
        }
        log("the reload socket refuses this page; reload it by hand");
        emit("devserve:refused");
        state.delay = 30000;
        connect();
      }, retry);
    }, delay);
  }

  // A devserve error page that stands in for a backend's page (502, 504) fetches the URL again
  // with backoff and reloads as soon as the backend answers.
  function retryStandIn() {
    if (!document.querySelector('meta[name="devserve-retry"]')) return;
    var wait = 500;
    var again = function () {
      setTimeout(function () {
        fetch(location.href, { cache: "no-store" }).then(function (res) {
          if (res.status !== 502 && res.status !== 504) reload("the backend answers again");
          else again();
        }, again);
        wait = Math.min(wait * 2, 4000);
      }, wait);
    };
    again();
  }

  restoreScroll();
  connect();
  retryStandIn();
})();

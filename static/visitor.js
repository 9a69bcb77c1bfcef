/* The visitor's chat panel (inside the widget iframe). User text is only ever
 * set with textContent. Messages typed while offline wait in an outbox
 * (localStorage) and are sent with their client_id once connected: the server
 * stores each client_id once, so a resend can never duplicate. */
(function () {
  "use strict";
  var root = document.getElementById("ld");
  var T = JSON.parse(root.dataset.i18n);
  document.documentElement.style.setProperty("--accent", root.dataset.accent);
  var askName = root.dataset.askName === "true";
  var $ = function (id) { return document.getElementById(id); };
  var list = $("ld-messages"), statusEl = $("ld-status"), typingEl = $("ld-typing");
  var intro = $("ld-intro"), composer = $("ld-composer"), input = $("ld-input"), hint = $("ld-hint");
  var framed = window.parent !== window;
  var MAX_BYTES = window.livedeskShared.MAX_BYTES;

  // The page that embedded us, and only it, hears from us: its origin is
  // learned from the loader's first message and must match what the browser
  // says framed us (ancestorOrigins, else the referrer). Until then nothing
  // but "ready" (which carries nothing) goes out.
  var parentOrigin = null;
  var framer = (function () {
    try {
      if (location.ancestorOrigins && location.ancestorOrigins.length) return location.ancestorOrigins[0];
      if (document.referrer) return new URL(document.referrer).origin;
    } catch (e) { /* no way to tell */ }
    return null;
  })();

  var mem = {}, pendingPersist = [];
  var store = (function () {
    try { localStorage.setItem("livedesk.probe", "1"); localStorage.removeItem("livedesk.probe"); return localStorage; } catch (e) { return null; }
  })();
  function load(k, dflt) {
    try { var v = store ? store.getItem("livedesk." + k) : mem[k]; return v == null ? dflt : JSON.parse(v); } catch (e) { return dflt; }
  }
  function save(k, v) {
    var s = JSON.stringify(v);
    if (store) { try { store.setItem("livedesk." + k, s); } catch (e) { mem[k] = s; } } else mem[k] = s;
    // The host page keeps a copy: this frame's own storage may not survive a reload.
    var msg = { livedesk: "persist", key: k, value: s };
    if (parentOrigin) toParent(msg); else if (framed) pendingPersist.push(msg);
  }
  function toParent(msg) { if (framed && parentOrigin) window.parent.postMessage(msg, parentOrigin); }

  var token = load("token", null);
  var NOBODY = { name: null, email: null, identifier: null, identifier_hash: null };
  var user = Object.assign({}, NOBODY, load("user", {}));
  var outbox = load("outbox", []);
  var ctx = { page_url: framed ? null : location.href, referrer: framed ? null : (document.referrer || null) };
  var ws = null, welcomed = false, retry = window.livedeskShared.backoff(), retryTimer = null, quiet = false, blocked = false;
  var resend = window.livedeskShared.backoff(); // for messages refused with `unavailable`
  var conv = null, lastSeq = 0, agent = null, open = !framed, unread = 0, wanted = false;
  var names = {}, seen = {}, pendingEls = {}, typingTimer = null, lastTypingSent = 0, idleTimer = null;

  var S = window.livedeskShared, fill = S.fill, time = S.time, byteLength = S.byteLength;
  function scrollDown() { list.scrollTop = list.scrollHeight; }
  function setStatus(text) { statusEl.textContent = text; }
  function notice(text) {
    var li = document.createElement("li");
    li.className = "notice";
    li.textContent = text;
    list.appendChild(li);
    scrollDown();
  }

  var bubble = S.bubble;

  function render(msg) {
    var key = msg.conversation_id + ":" + msg.seq;
    if (seen[key]) return;
    var mine = msg.sender === "visitor";
    var who = msg.sender === "agent" ? (names[msg.agent_id] || (agent && agent.name) || "") : (mine ? T.you : "");
    var li = bubble(mine ? "mine" : (msg.sender === "system" ? "notice" : "theirs"), msg.body, (who ? who + " · " : "") + time(msg.created_at));
    F.show(li.firstChild, msg.files, T, tokenOf);
    li.dataset.seq = msg.seq;
    seen[key] = li;
    var pending = msg.client_id && pendingEls[msg.client_id];
    if (pending) {
      list.replaceChild(li, pending);
      delete pendingEls[msg.client_id];
    } else {
      daySeparator(msg.created_at);
      list.appendChild(li);
    }
    if (msg.conversation_id === conv) lastSeq = Math.max(lastSeq, msg.seq);
    scrollDown();
  }

  // A line with the date whenever the day changes between messages.
  var lastDay = null;
  function daySeparator(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (d.toDateString() === lastDay) return;
    var first = lastDay === null;
    lastDay = d.toDateString();
    // Today's first message needs no line of its own in a fresh panel.
    if (first && d.toDateString() === new Date().toDateString()) return;
    var li = document.createElement("li");
    li.className = "notice day";
    li.textContent = S.longDate(d);
    list.appendChild(li);
  }

  function renderPending(p) {
    if (pendingEls[p.client_id]) return;
    var li = bubble("mine pending", p.body, T.pending);
    F.show(li.firstChild, p.files, T, tokenOf);
    pendingEls[p.client_id] = li;
    list.appendChild(li);
    scrollDown();
  }

  function showChatting() {
    if (agent) setStatus(fill(T.chatting_with, { name: agent.name }));
    else if (conv != null || outbox.length) setStatus(T.waiting);
    else setStatus(""); // nothing written yet: no conversation, nobody to wait for
  }

  function setUnread(n) { unread = n; toParent({ livedesk: "unread", count: n }); }

  function markRead() {
    if (ws && welcomed && lastSeq > 0) ws.send(JSON.stringify({ type: "read", seq: lastSeq }));
  }

  function updateIntro() {
    // Before the first message only: someone who has chatted is never asked again.
    var chatted = Object.keys(seen).length > 0 || outbox.length > 0;
    var needIntro = askName && !user.name && !chatted && !load("introDone", false);
    intro.hidden = !needIntro;
    composer.hidden = needIntro;
  }

  /// State kept by the host page wins where this frame has none of its own.
  function hydrate(state) {
    ["token", "user", "outbox", "introDone"].forEach(function (k) {
      if (typeof state[k] === "string" && load(k, null) == null) {
        if (store) { try { store.setItem("livedesk." + k, state[k]); } catch (e) { mem[k] = state[k]; } } else mem[k] = state[k];
      }
    });
    token = load("token", null);
    user = Object.assign({}, NOBODY, load("user", {}));
    outbox = load("outbox", []);
    outbox.forEach(renderPending);
    updateIntro();
  }

  function timeZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }

  function connect() {
    wanted = true;
    if (ws) return;
    clearTimeout(retryTimer);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/visitor";
    var sock = new WebSocket(url);
    ws = sock;
    sock.onopen = function () {
      sock.send(JSON.stringify({
        type: "hello", token: token, name: user.name, email: user.email,
        identifier: user.identifier, identifier_hash: user.identifier_hash,
        page_url: ctx.page_url, referrer: ctx.referrer, timezone: timeZone(), last_seq: lastSeq || null
      }));
    };
    sock.onmessage = function (e) {
      var f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      handle(f);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      welcomed = false;
      // We closed it ourselves to say hello again (a new name): no alarm, no wait.
      if (quiet) { quiet = false; connect(); return; }
      if (blocked) return; // refused for its identity: a new one (setUser) tries again

      setStatus(T.reconnecting);
      retryTimer = setTimeout(connect, retry.next());
    };
  }

  function flush() {
    outbox.forEach(function (p, i) {
      renderPending(p);
      // Spaced out so a long outbox stays under the server's flood limit.
      setTimeout(function () {
        if (ws && welcomed && outbox.some(function (q) { return q.client_id === p.client_id; })) {
          ws.send(frameOf(p));
        }
      }, i * 120);
    });
  }

  function dropFromOutbox(cid) {
    outbox = outbox.filter(function (p) { return p.client_id !== cid; });
    save("outbox", outbox);
  }

  // The team's notice ("we close at 18:00 today"), shown as text until it expires.
  var teamNotice = $("ld-notice"), noticeTimer = null;
  function showNotice(n) {
    clearTimeout(noticeTimer);
    var left = n ? new Date(n.until).getTime() - Date.now() : 0;
    teamNotice.textContent = left > 0 ? n.body : "";
    teamNotice.hidden = !(left > 0);
    if (left > 0) noticeTimer = setTimeout(function () { showNotice(null); }, Math.min(left, 2147483647));
  }
  function handle(f) {
    switch (f.type) {
      case "notice":
        showNotice(f);
        break;
      case "welcome":
        showNotice(f.notice);
        $("ld-transcript").hidden = !f.conversation_id && !f.messages.length;
        token = f.token;
        save("token", token);
        if (conv !== null && conv !== f.conversation_id) lastSeq = 0;
        conv = f.conversation_id;
        if (f.agent) names[f.agent.id] = f.agent.name;
        agent = f.status === "assigned" ? f.agent : null;
        f.messages.forEach(render);
        welcomed = true;
        retry.reset();
        showChatting();
        updateIntro();
        flush();
        if (open) markRead();
        break;
      case "ack":
        resend.reset();
        dropFromOutbox(f.client_id);
        $("ld-transcript").hidden = false;
        if (f.message.conversation_id !== conv) { conv = f.message.conversation_id; lastSeq = 0; }
        render(f.message);
        break;
      case "message":
        if (f.message.conversation_id !== conv) { conv = f.message.conversation_id; lastSeq = 0; }
        render(f.message);
        typingEl.hidden = true;
        if (!open || document.hidden) setUnread(unread + 1);
        else markRead();
        break;
      case "assigned":
        names[f.agent.id] = f.agent.name;
        if (agent && agent.id !== f.agent.id) notice(fill(T.took_over, { old: agent.name, "new": f.agent.name }));
        agent = f.agent;
        conv = f.conversation_id;
        showChatting();
        break;
      case "queued":
        agent = null;
        conv = f.conversation_id;
        showChatting();
        break;
      case "typing":
        clearTimeout(typingTimer);
        typingEl.textContent = fill(T.typing, { name: agent ? agent.name : "" });
        typingEl.hidden = !f.active;
        if (f.active) typingTimer = setTimeout(function () { typingEl.hidden = true; }, 6000);
        break;
      case "closed":
        agent = null;
        notice(T.closed);
        setStatus(T.closed);
        break;
      case "error":
        if (f.code === "too_many_connections") {
          setStatus(T.too_many_connections);
          retry.hold(30000);
          break;
        }
        if (f.code === "identity_invalid") {
          // Trying again changes nothing until the page proves who this is.
          blocked = true;
          setStatus(T.identity_invalid);
          break;
        }
        if (f.client_id && pendingEls[f.client_id]) {
          if (f.code === "unavailable") {
            // Not stored (the server is busy, or its database away): it stays
            // in the outbox and goes again after a pause that grows.
            var again = outbox.filter(function (q) { return q.client_id === f.client_id; })[0];
            setTimeout(function () {
              if (ws && welcomed && again && outbox.indexOf(again) >= 0) ws.send(frameOf(again));
            }, resend.next());
          } else if (f.code === "too_many_conversations") {
            // Not stored either: kept, and sent again once the minute has passed.
            showHint(T.too_many_conversations);
            clearTimeout(handle.later);
            handle.later = setTimeout(function () { showHint(null); flush(); }, 61000);
          } else {
            var el = pendingEls[f.client_id];
            el.classList.remove("pending");
            el.classList.add("failed");
            el.lastChild.textContent = T.failed;
            delete pendingEls[f.client_id];
            dropFromOutbox(f.client_id);
          }
        }
        break;
    }
  }

  function newClientId() { return S.newClientId("v-"); }

  // Who the site says the visitor is. Someone else signing in (or out) on
  // this browser starts afresh: the last person's conversation is theirs.
  function setUser(u) {
    var next = Object.assign({}, NOBODY);
    if (u) ["name", "email", "identifier", "identifier_hash"].forEach(function (k) { next[k] = u[k] ? String(u[k]) : null; });
    if (next.identifier !== user.identifier && (user.identifier || next.identifier)) {
      token = null; save("token", null); lastSeq = 0; conv = null;
      outbox = []; save("outbox", outbox);
      while (list.firstChild) list.removeChild(list.firstChild);
      seen = {}; pendingEls = {};
    }
    user = next;
    save("user", user);
    updateIntro();
  }

  var hintKind = null;
  function showHint(text, kind) { hint.textContent = text || ""; hint.hidden = !text; hintKind = text ? kind || "other" : null; }
  /// Tells the writer before sending when the text is over the limit; never clears it.
  function checkLength() {
    var n = byteLength(input.value);
    if (n > MAX_BYTES) { showHint(fill(T.too_long, { n: n, max: MAX_BYTES }), "length"); return false; }
    if (hintKind === "length") showHint(null);
    return true;
  }

  function frameOf(p) {
    var ids = (p.files || []).map(function (f) { return f.id; });
    return JSON.stringify({ type: "message", client_id: p.client_id, body: p.body, files: ids });
  }
  var F = window.livedeskFiles;
  function tokenOf() { return token; }
  var tray = F.tray({ T: T, chips: $("ld-files"), button: $("ld-attach"), zone: root, paste: input,
    url: function () { return token ? "/files" : null; },
    headers: function () { return { Authorization: "Bearer " + token }; },
    error: function (text) { showHint(text || null, "file"); } });

  function send() {
    var body = input.value;
    if (!body.trim() && !tray.count()) return;
    if (!checkLength()) { input.focus(); return; }
    var p = { client_id: newClientId(), body: body.trim() ? body : "", files: tray.take() };
    outbox.push(p);
    save("outbox", outbox);
    input.value = "";
    renderPending(p);
    sendTyping(false);
    if (ws && welcomed) ws.send(frameOf(p));
    else connect();
  }

  function sendTyping(active) {
    if (!ws || !welcomed) return;
    ws.send(JSON.stringify({ type: "typing", active: active }));
    lastTypingSent = active ? Date.now() : 0;
  }

  composer.addEventListener("submit", function (e) { e.preventDefault(); send(); });
  input.addEventListener("keydown", function (e) {
    // Enter sends, Shift+Enter starts a new line (and IME composition is left alone).
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  input.addEventListener("input", function () {
    checkLength();
    if (Date.now() - lastTypingSent > 2500) sendTyping(true);
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () { sendTyping(false); }, 3000);
  });
  intro.addEventListener("submit", function (e) {
    e.preventDefault();
    var n = intro.elements.name.value.trim(), m = intro.elements.email.value.trim();
    user = { name: n || null, email: m || null };
    save("user", user);
    save("introDone", true);
    updateIntro();
    if (ws) { quiet = true; ws.close(); } else connect();
    input.focus();
  });
  $("ld-close").addEventListener("click", function () { toParent({ livedesk: "close" }); });
  // The visitor's own transcript (its messages and the agents' replies), as a file.
  $("ld-transcript").addEventListener("click", function () {
    if (!token) return;
    fetch("/transcript", { method: "POST", body: new URLSearchParams({ token: token }) })
      .then(function (r) { return r.ok ? r.blob() : null; })
      .then(function (b) {
        if (!b) return;
        var a = document.createElement("a");
        a.href = URL.createObjectURL(b);
        a.download = "conversation.txt";
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      });
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") toParent({ livedesk: "close" }); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden && open) { setUnread(0); markRead(); } });

  window.addEventListener("message", function (e) {
    if (e.source !== window.parent || !e.data || typeof e.data.livedesk !== "string") return;
    var m = e.data;
    if (parentOrigin === null) {
      // The first word must be the loader's context, from the page that framed us.
      if (m.livedesk !== "context" || (framer && e.origin !== framer)) return;
      parentOrigin = e.origin;
      pendingPersist.splice(0).forEach(toParent);
    } else if (e.origin !== parentOrigin) {
      return;
    }
    if (m.livedesk === "context") {
      ctx = { page_url: typeof m.page_url === "string" ? m.page_url : null, referrer: typeof m.referrer === "string" ? m.referrer : null };
      hydrate(m.state || {});
      if (m.user && (m.user.name || m.user.email || m.user.identifier)) setUser(m.user);
      // A returning visitor connects at once (for the unread badge); a new one when the panel opens.
      if (token || outbox.length || user.identifier) connect();
    } else if (m.livedesk === "user") {
      setUser(m.user);
      if (ws) { quiet = true; ws.close(); } // reconnecting says hello again with the new name
      else if (blocked) { blocked = false; connect(); }
    } else if (m.livedesk === "open") {
      open = true;
      setUnread(0);
      if (!wanted) connect();
      markRead();
      (intro.hidden ? input : intro.elements.name).focus();
    } else if (m.livedesk === "close") {
      open = false;
    }
  });

  updateIntro();
  outbox.forEach(renderPending);
  setStatus("");
  // "ready" carries nothing: it may go out before we know who framed us.
  if (framed) window.parent.postMessage({ livedesk: "ready" }, framer || "*");
  else connect();
})();

/* The agent dashboard: live lists of my conversations and the queue, one
 * conversation at a time, visitor details. User text only via textContent.
 * Messages are kept by (conversation, seq), so a catch-up after a reconnect
 * can overlap live frames without showing anything twice. */
(function () {
  "use strict";
  var root = document.getElementById("desk");
  var T = JSON.parse(root.dataset.i18n);
  var $ = function (id) { return document.getElementById(id); };
  var el = {
    mine: $("mine"), queue: $("queue"), pane: $("pane"), empty: $("empty"), title: $("pane-title"),
    online: $("pane-online"), msgs: $("messages"), input: $("input"), composer: $("composer"),
    typing: $("typing"), claim: $("claim-btn"), transferSel: $("transfer-select"), transfer: $("transfer-btn"),
    close: $("close-btn"), older: $("older-btn"), details: $("details"), toggle: $("status-toggle"),
    statusLabel: $("status-label"), conn: $("conn"), toast: $("toast"), notify: $("notify-btn"),
    closed: $("closed"), hint: $("hint"), notice: $("pane-notice"), noteToggle: $("note-toggle"),
    transferNote: $("transfer-note"), chat: $("chat")
  };
  var MAX_BYTES = window.livedeskShared.MAX_BYTES;
  var RECENT_MAX = 20;

  var ws = null, retry = window.livedeskShared.backoff(), me = null, agents = [];
  var convs = new Map();     // id -> conversation object (server view + local fields)
  var msgs = new Map();      // id -> Map(key -> message): key is seq, or "n" + id for a note
  var pending = new Map();   // client_id -> {conversation_id, body}
  var drafts = new Map();    // conversation id -> text typed and not sent (never lost)
  var selected = null, typingTimer = null, olderFor = null;

  function send(frame) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame)); }
  var S = window.livedeskShared, fill = S.fill, time = S.time, byteLength = S.byteLength;
  function label(c) { return (c.visitor && c.visitor.name) || fill(T.visitor_label, { id: c.visitor ? c.visitor.id : "?" }); }
  function dayLabel(d) { return S.dayLabel(d, T); }
  function waited(iso) { return S.waited(iso, T); }
  function errorText(code) { return S.errorText(code, T); }
  function toast(text) {
    el.toast.textContent = text;
    el.toast.hidden = false;
    clearTimeout(toast.t);
    toast.t = setTimeout(function () { el.toast.hidden = true; }, 4000);
  }
  // A note carries the seq of the message it follows: it never moves the cursors.
  function keyOf(m) { return m.private ? "n" + m.id : m.seq; }
  function maxSeq(id) {
    var m = msgs.get(id), max = 0;
    if (m) m.forEach(function (v) { if (v.seq > max) max = v.seq; });
    return max;
  }
  function minSeq(id) {
    var m = msgs.get(id), min = Infinity;
    if (m) m.forEach(function (v) { if (!v.private && v.seq < min) min = v.seq; });
    return min === Infinity ? 0 : min;
  }
  function inOrder(a, b) { return a.seq - b.seq || (a.private ? 1 : 0) - (b.private ? 1 : 0) || a.id - b.id; }

  var P = window.livedeskParts, beep = P.beep;
  function alertNew(c, m) { P.alert(T.new_message + " · " + label(c), m.body, "livedesk-" + c.id); }

  // ---- lists ----
  function listItem(c, extra) {
    var li = document.createElement("li");
    li.tabIndex = 0;
    li.dataset.id = c.id;
    li.setAttribute("role", "button");
    if (c.id === selected) li.className = "active";
    var who = document.createElement("span");
    who.className = "who";
    who.dir = "auto";
    var dot = document.createElement("span");
    dot.className = "dot" + (c.visitor && c.visitor.online ? " on" : "");
    who.appendChild(dot);
    who.appendChild(document.createTextNode(label(c)));
    li.appendChild(who);
    var badge = document.createElement("span");
    if (c.unread > 0) { badge.className = "badge unread"; badge.textContent = String(c.unread); }
    li.appendChild(badge);
    var pv = document.createElement("span");
    pv.className = "preview";
    pv.dir = "auto";
    pv.textContent = c.status === "closed" ? T.status_closed : (c.last_message || "");
    li.appendChild(pv);
    if (extra) {
      var w = document.createElement("span");
      w.className = "wait";
      w.textContent = extra;
      li.appendChild(w);
    }
    if (hooks.decorate) hooks.decorate(li, c);
    li.addEventListener("click", function () { select(c.id); });
    li.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(c.id); } });
    return li;
  }

  // Each list keeps its items: an item is built again only when what it
  // shows changed, and moved only when its place did, so a frame about one
  // conversation leaves the others (and the keyboard focus) alone.
  var shown = new Map();
  function syncList(ul, items, extra) {
    var before = shown.get(ul) || new Map(), now = new Map();
    if (!items.length) {
      if (!ul.querySelector(".empty-note")) {
        ul.textContent = "";
        var e = document.createElement("li");
        e.className = "empty-note";
        e.textContent = T.no_conversations;
        ul.appendChild(e);
      }
      shown.set(ul, now);
      return;
    }
    items.forEach(function (c, i) {
      var ex = extra ? extra(c) : null;
      var sig = [label(c), c.visitor && c.visitor.online, c.unread, c.status, c.last_message, ex, c.id === selected,
                 JSON.stringify(c.labels || [])].join("\u0001");
      var had = before.get(c.id);
      var li = had && had.sig === sig ? had.li : listItem(c, ex);
      now.set(c.id, { sig: sig, li: li });
      if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
    });
    while (ul.children.length > items.length) ul.removeChild(ul.lastChild);
    shown.set(ul, now);
  }

  function renderLists() {
    var all = Array.from(convs.values()).filter(hooks.keep || function () { return true; });
    var newest = function (a, b) { return (b.updated_at || "").localeCompare(a.updated_at || ""); };
    var mine = all.filter(function (c) { return c.status !== "closed" && c.agent && me && c.agent.id === me.id; }).sort(newest);
    // The longest wait first: whoever has waited most is answered first.
    var queue = all.filter(function (c) { return c.status === "queued"; })
      .sort(function (a, b) { return (a.created_at || "").localeCompare(b.created_at || ""); });
    var closed = all.filter(function (c) { return c.status === "closed" && !c.gone; }).sort(newest).slice(0, RECENT_MAX);
    [[el.mine, mine, null], [el.queue, queue, function (c) { return fill(T.waiting_for, { t: waited(c.created_at) }); }],
     [el.closed, closed, null]].forEach(function (triple) {
      syncList(triple[0], triple[1], triple[2]);
    });
    var total = 0;
    convs.forEach(function (c) { if (c.agent && me && c.agent.id === me.id) total += c.unread || 0; });
    document.title = (total ? "(" + total + ") " : "") + document.title.replace(/^\(\d+\) /, "");
  }
  // Waiting times move on by themselves.
  setInterval(function () { if (el.queue.querySelector(".wait")) renderLists(); }, 30000);

  function upsert(c) {
    var old = convs.get(c.id);
    // Keep the local unread count when the server's is older news.
    var merged = Object.assign({}, old || {}, c);
    // News of it for this agent means it is on this agent's screen for a reason again.
    merged.gone = false;
    convs.set(c.id, merged);
    if (c.id === selected) renderPane();
  }

  // ---- the open conversation ----
  /// Redraws the transcript. `how`: "bottom" (opening it, or our own message),
  /// "keep" (older history came in above: the reader stays where they were),
  /// or "follow" (new message: stay at the bottom only if already there).
  function renderMessages(how) {
    var box = el.msgs;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    var fromBottom = box.scrollHeight - box.scrollTop;
    box.textContent = "";
    var m = msgs.get(selected) || new Map(), lastDay = null;
    var dayOf = function (iso) { var d = iso ? new Date(iso) : new Date(); return d.toDateString(); };
    var addDay = function (iso) {
      var d = dayOf(iso);
      if (d === lastDay) return;
      lastDay = d;
      var li = document.createElement("li");
      li.className = "day";
      li.textContent = dayLabel(iso ? new Date(iso) : new Date());
      box.appendChild(li);
    };
    Array.from(m.values()).sort(inOrder).forEach(function (v) {
      addDay(v.created_at);
      box.appendChild(bubble(v, false));
    });
    pending.forEach(function (p, cid) {
      if (p.conversation_id === selected) {
        addDay(null);
        box.appendChild(bubble({ sender: "agent", body: p.body, client_id: cid, private: p.private, files: p.files }, true));
      }
    });
    el.older.hidden = !(minSeq(selected) > 1);
    if (how === "keep") box.scrollTop = box.scrollHeight - fromBottom;
    else if (how === "bottom" || atBottom) box.scrollTop = box.scrollHeight;
    el.typing.hidden = true;
  }

  /// A new message at the end of the open transcript: one bubble added (and
  /// a day line when the day changed), not the whole transcript drawn again.
  /// Anything else (a gap, our own pending bubbles below) redraws it all.
  function appendMessage(m) {
    var box = el.msgs;
    var last = box.lastElementChild;
    var lastSeq = last && last.dataset.seq ? Number(last.dataset.seq) : 0;
    if (!last || m.private || last.classList.contains("pending") || lastSeq !== m.seq - 1) return renderMessages("follow");
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    var prev = msgs.get(selected).get(lastSeq);
    if (!prev || new Date(prev.created_at).toDateString() !== new Date(m.created_at).toDateString()) {
      var day = document.createElement("li");
      day.className = "day";
      day.textContent = dayLabel(new Date(m.created_at));
      box.appendChild(day);
    }
    box.appendChild(bubble(m, false));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function bubble(m, isPending) {
    var meta = isPending ? "…" : time(m.created_at);
    var cls = m.sender + (m.private ? " note" : "") + (isPending ? " pending" : "");
    var li = S.bubble(cls, m.body, m.private ? T.note_label + " · " + meta : meta);
    window.livedeskFiles.show(li.firstChild, m.files, T);
    if (m.seq && !m.private) li.dataset.seq = m.seq;
    return li;
  }

  function renderPane() {
    var c = convs.get(selected);
    if (!c) { el.pane.hidden = true; el.details.hidden = true; el.empty.hidden = false; return; }
    el.empty.hidden = true;
    el.pane.hidden = false;
    el.details.hidden = false;
    el.title.textContent = label(c);
    el.online.className = "dot" + (c.visitor && c.visitor.online ? " on" : "");
    el.online.title = c.visitor && c.visitor.online ? T.visitor_online : T.visitor_offline;
    var mine = c.agent && me && c.agent.id === me.id;
    var admin = me && me.role === "admin";
    var live = c.status !== "closed" && !c.gone;
    // Only what this agent can do now is shown: nothing to type into that would be refused.
    var canAct = live && c.status === "assigned" && (mine || admin);
    el.claim.hidden = !(live && c.status === "queued");
    el.transfer.hidden = el.transferSel.hidden = el.transferNote.hidden = !canAct;
    el.close.hidden = !(live && (mine || admin || c.status === "queued"));
    el.composer.hidden = !canAct;
    el.hint.hidden = !canAct || !el.hint.textContent;
    el.notice.hidden = !c.gone;
    el.notice.textContent = c.gone ? T.no_longer_yours : "";
    // Rebuilt only when the agents changed: a frame about something else
    // must not close the menu, or lose the choice, under the agent's hand.
    var sig = JSON.stringify(agents), keep = el.transferSel.value;
    if (el.transferSel.dataset.sig !== sig) {
      el.transferSel.dataset.sig = sig;
      el.transferSel.textContent = "";
      el.transferSel.appendChild(new Option(T.transfer_to, ""));
      agents.forEach(function (a) {
        if (me && a.id === me.id) return;
        el.transferSel.appendChild(new Option(a.name + " (" + (a.status === "online" ? T.online : T.away) + ")", a.id));
      });
      el.transferSel.value = keep;
      if (el.transferSel.value !== keep) el.transferSel.value = "";
    }
    P.details(c.visitor || {}, T);
    $("transcript-link").href = "/agent/conversations/" + c.id + "/transcript";
    if (hooks.paneShown) hooks.paneShown(c, canAct || (live && admin));
  }

  function select(id) {
    if (selected !== null && selected !== id) saveDraft();
    el.chat.hidden = false;
    if (hooks.conversationSelected) hooks.conversationSelected();
    selected = id;
    var c = convs.get(id);
    if (c) c.unread = 0;
    el.input.value = drafts.get(id) || "";
    checkLength();
    renderLists();
    renderPane();
    renderMessages("bottom");
    if (!msgs.has(id) || msgs.get(id).size === 0) send({ type: "history", conversation_id: id, limit: 50 });
    else markRead();
    el.input.focus();
  }

  function markRead() {
    var c = convs.get(selected);
    var s = maxSeq(selected);
    if (c && s > 0 && c.status !== "queued") send({ type: "read", conversation_id: selected, seq: s });
  }

  function store(m) {
    if (!msgs.has(m.conversation_id)) msgs.set(m.conversation_id, new Map());
    var known = msgs.get(m.conversation_id).has(keyOf(m));
    msgs.get(m.conversation_id).set(keyOf(m), m);
    return !known;
  }

  // ---- the socket ----
  function connect() {
    var sock = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent");
    ws = sock;
    sock.onopen = function () { retry.reset(); };
    sock.onmessage = function (e) { var f; try { f = JSON.parse(e.data); } catch (x) { return; } handle(f); };
    sock.onclose = function (e) {
      if (ws !== sock) return;
      ws = null;
      el.conn.className = "conn off";
      if (e.code === 1008) { location.href = "/login"; return; }
      // The account's rights changed: connect again at once to get the new ones.
      if (e.code === 4001) { setTimeout(connect, 50); return; }
      setTimeout(connect, retry.next());
    };
  }

  function handle(f) {
    switch (f.type) {
      case "welcome": {
        me = f.agent;
        agents = f.agents || [];
        el.conn.className = "conn";
        el.conn.title = T.connected;
        el.toggle.checked = f.agent.status === "online";
        el.statusLabel.textContent = el.toggle.checked ? T.online : T.away;
        var live = new Set();
        f.conversations.concat(f.queue).forEach(function (c) { live.add(c.id); upsert(c); });
        // Anything we showed that is no longer ours or queued went elsewhere while we were away.
        Array.from(convs.keys()).forEach(function (id) { if (!live.has(id) && convs.get(id).status !== "closed") convs.delete(id); });
        // Catch up on what we missed, without repeats (messages are keyed by seq).
        live.forEach(function (id) { if (msgs.has(id)) send({ type: "history", conversation_id: id, after_seq: maxSeq(id), limit: 200 }); });
        pending.forEach(function (p, cid) {
          send({ type: "message", conversation_id: p.conversation_id, client_id: cid, body: p.body, private: !!p.private });
        });
        if (hooks.welcome) hooks.welcome(f);
        renderLists();
        if (selected && !convs.has(selected)) selected = null;
        renderPane();
        if (selected) renderMessages("follow");
        break;
      }
      case "recent":
        // Closed lately: reachable again after a reload (live ones win).
        f.conversations.forEach(function (c) { if (!convs.has(c.id)) convs.set(c.id, c); });
        renderLists();
        break;
      case "conversation": {
        var c = f.conversation, before = convs.get(c.id);
        var newlyMine = c.agent && me && c.agent.id === me.id && !(before && before.agent && before.agent.id === me.id);
        upsert(c);
        if (newlyMine) { convs.get(c.id).unread = c.unread; beep(); }
        renderLists();
        break;
      }
      case "unassigned":
        if (f.conversation_id !== selected) convs.delete(f.conversation_id);
        else {
          // Still on screen: readable, but nothing more to do here; say why.
          var s = convs.get(selected);
          if (s) { s.agent = null; s.gone = true; }
        }
        renderLists();
        renderPane();
        break;
      case "history": {
        f.messages.forEach(store);
        var older = olderFor === f.conversation_id;
        if (older) olderFor = null;
        if (f.conversation_id === selected) { renderMessages(older ? "keep" : "follow"); markRead(); }
        break;
      }
      case "message": {
        var m = f.message, conv = convs.get(m.conversation_id);
        if (!store(m)) break;
        if (conv && !m.private) {
          conv.last_message = m.body.slice(0, 120);
          conv.updated_at = m.created_at;
          conv.last_seq = Math.max(conv.last_seq || 0, m.seq);
          var looking = m.conversation_id === selected && !document.hidden;
          if (m.sender === "visitor" && !looking) { conv.unread = (conv.unread || 0) + 1; alertNew(conv, m); }
          else if (m.sender === "visitor") markRead();
        }
        if (m.conversation_id === selected) { el.typing.hidden = true; appendMessage(m); }
        renderLists();
        break;
      }
      case "ack": {
        pending.delete(f.client_id);
        store(f.message);
        var cv = convs.get(f.message.conversation_id);
        if (cv && !f.message.private) { cv.last_message = f.message.body.slice(0, 120); cv.updated_at = f.message.created_at; }
        if (f.message.conversation_id === selected) renderMessages("bottom");
        renderLists();
        break;
      }
      case "typing":
        if (f.conversation_id === selected) {
          el.typing.hidden = !f.active;
          clearTimeout(typingTimer);
          if (f.active) typingTimer = setTimeout(function () { el.typing.hidden = true; }, 6000);
        }
        break;
      case "agents":
        agents = f.agents;
        renderPane();
        break;
      case "status":
        el.toggle.checked = f.status === "online";
        el.statusLabel.textContent = el.toggle.checked ? T.online : T.away;
        break;
      case "error": {
        if (f.room_id != null && hooks.error) { hooks.error(f); break; }
        var lost = f.client_id && pending.get(f.client_id);
        if (lost) {
          // Not sent: the text goes back where it was typed, before anything typed since.
          pending.delete(f.client_id);
          var prev = drafts.get(lost.conversation_id) || "";
          if (lost.conversation_id === selected) prev = el.input.value;
          var back = lost.body + (prev ? "\n" + prev : "");
          drafts.set(lost.conversation_id, back);
          if (lost.conversation_id === selected) { el.input.value = back; checkLength(); }
        }
        toast(errorText(f.code));
        if (selected) renderMessages("follow");
        break;
      }
      default:
        if (hooks[f.type]) hooks[f.type](f);
    }
  }

  function newClientId() { return S.newClientId("a-"); }

  function saveDraft() {
    if (selected === null) return;
    if (el.input.value) drafts.set(selected, el.input.value); else drafts.delete(selected);
  }
  /// Says before sending when the text is over the limit; the text stays.
  function checkLength() {
    var n = byteLength(el.input.value);
    var over = n > MAX_BYTES;
    el.hint.textContent = over ? fill(T.too_long, { n: n, max: MAX_BYTES }) : "";
    el.hint.hidden = !over;
    return !over;
  }

  el.composer.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = el.input.value, tray = window.livedeskDesk.tray;
    if ((!body.trim() && !tray.count()) || !selected) return;
    if (!checkLength()) { el.input.focus(); return; }
    var cid = newClientId(), note = el.noteToggle.checked, files = tray.take();
    pending.set(cid, { conversation_id: selected, body: body.trim() ? body : "", private: note, files: files });
    el.input.value = "";
    drafts.delete(selected);
    renderMessages("bottom");
    send({ type: "message", conversation_id: selected, client_id: cid, body: pending.get(cid).body, private: note,
           files: files.map(function (f) { return f.id; }) });
    if (!note) send({ type: "typing", conversation_id: selected, active: false });
  });
  el.input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); el.composer.requestSubmit(); }
  });
  var lastTyping = 0;
  el.input.addEventListener("input", function () {
    checkLength();
    saveDraft();
    // A note is for agents: the visitor is not told anyone is typing.
    if (!selected || el.noteToggle.checked || Date.now() - lastTyping < 2500) return;
    lastTyping = Date.now();
    send({ type: "typing", conversation_id: selected, active: true });
  });
  el.claim.addEventListener("click", function () { if (selected) send({ type: "claim", conversation_id: selected }); });
  el.close.addEventListener("click", function () { if (selected) send({ type: "close", conversation_id: selected }); });
  el.transfer.addEventListener("click", function () {
    var to = parseInt(el.transferSel.value, 10);
    var note = el.transferNote.value.trim();
    if (!selected || !to) return;
    send({ type: "transfer", conversation_id: selected, agent_id: to, note: note || null });
    el.transferNote.value = "";
  });
  el.older.addEventListener("click", function () {
    if (!selected || olderFor === selected) return;
    olderFor = selected;
    send({ type: "history", conversation_id: selected, before_seq: minSeq(selected), limit: 50 });
  });
  // Near the top: the older part of the conversation loads above, the reader keeps their place.
  el.msgs.addEventListener("scroll", function () {
    if (el.msgs.scrollTop < 60 && selected && minSeq(selected) > 1) el.older.click();
  });
  el.toggle.addEventListener("change", function () {
    send({ type: "status", status: el.toggle.checked ? "online" : "away" });
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && selected) { var c = convs.get(selected); if (c) c.unread = 0; markRead(); renderLists(); }
  });

  el.noteToggle.addEventListener("change", function () {
    el.composer.classList.toggle("noting", el.noteToggle.checked);
    el.input.placeholder = el.noteToggle.checked ? T.note_placeholder : T.placeholder;
  });
  // What the rooms panel needs from the dashboard: the socket, and turns.
  var hooks = {};
  window.livedeskDesk = {
    T: T, send: send, hooks: hooks, selected: function () { return selected; },
    conversation: function (id) { return convs.get(id); }, relist: function () { renderLists(); },
    deselect: function () { saveDraft(); selected = null; el.chat.hidden = true; el.details.hidden = true; renderLists(); }
  };

  renderLists();
  // Connected once every script has run: rooms, saved replies and labels hook into the welcome.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", connect); else connect();
})();

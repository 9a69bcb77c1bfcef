/* The dashboard's team rooms: the list with unread and mention counts, one
 * room's history (older on scroll), typing, mentions highlighted, and the
 * team's announcements. Messages are kept by (room, seq): a catch-up after a
 * reconnect may overlap live frames without showing anything twice. User
 * text only via textContent. */
(function () {
  "use strict";
  var D = window.livedeskDesk, T = D.T, S = window.livedeskShared, P = window.livedeskParts;
  var $ = function (id) { return document.getElementById(id); };
  var el = {
    list: $("rooms"), pane: $("room-pane"), title: $("room-title"), topic: $("room-topic"),
    msgs: $("room-messages"), older: $("room-older"), typing: $("room-typing"), form: $("room-composer"),
    input: $("room-input"), notice: $("room-notice"), news: $("announcements"), toast: $("toast")
  };
  var rooms = new Map(), msgs = new Map(), pending = new Map();
  var open = null, me = null, typingTimer = null, lastTyping = 0, olderFor = null;

  function seqs(id) { return Array.from((msgs.get(id) || new Map()).keys()); }
  function maxSeq(id) { return seqs(id).reduce(function (a, b) { return Math.max(a, b); }, 0); }
  function minSeq(id) { var s = seqs(id); return s.length ? Math.min.apply(null, s) : 0; }
  function store(m) {
    if (!msgs.has(m.room_id)) msgs.set(m.room_id, new Map());
    var known = msgs.get(m.room_id).has(m.seq);
    msgs.get(m.room_id).set(m.seq, m);
    return !known;
  }
  function mentionsMe(m) { return me && (m.mentions || []).indexOf(me.id) >= 0; }

  function renderList() {
    el.list.textContent = "";
    if (!rooms.size) {
      var e = document.createElement("li");
      e.className = "empty-note";
      e.textContent = T.no_rooms;
      el.list.appendChild(e);
      return;
    }
    Array.from(rooms.values()).sort(function (a, b) { return a.name.localeCompare(b.name); }).forEach(function (r) {
      var li = document.createElement("li");
      li.tabIndex = 0;
      li.setAttribute("role", "button");
      li.dataset.room = r.id;
      if (r.id === open) li.className = "active";
      var who = document.createElement("span");
      who.className = "who";
      who.dir = "auto";
      who.textContent = "# " + r.name;
      li.appendChild(who);
      var badge = document.createElement("span");
      if (r.mentions > 0) { badge.className = "badge mention"; badge.textContent = "@" + r.mentions; }
      else if (r.unread > 0) { badge.className = "badge unread"; badge.textContent = String(r.unread); }
      li.appendChild(badge);
      li.addEventListener("click", function () { openRoom(r.id); });
      li.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openRoom(r.id); } });
      el.list.appendChild(li);
    });
  }

  /// The body as text, each @name marked (text nodes only, never HTML).
  function marked(body) {
    var div = document.createElement("div");
    div.className = "bubble";
    div.dir = "auto";
    body.split(/(@[A-Za-z0-9._-]+)/).forEach(function (part, i) {
      if (i % 2) { var mk = document.createElement("mark"); mk.textContent = part; div.appendChild(mk); }
      else if (part) div.appendChild(document.createTextNode(part));
    });
    return div;
  }
  function bubble(m, isPending) {
    var li = document.createElement("li");
    var mine = me && m.agent_id === me.id;
    li.className = "msg " + (mine ? "agent" : "visitor") + (mentionsMe(m) ? " mentioned" : "") + (isPending ? " pending" : "");
    if (m.seq) li.dataset.seq = m.seq;
    li.appendChild(marked(m.body));
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = (m.agent_name || "") + " · " + (isPending ? "…" : S.time(m.created_at));
    li.appendChild(meta);
    return li;
  }
  function render(how) {
    if (open === null) return;
    var box = el.msgs, atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    var fromBottom = box.scrollHeight - box.scrollTop;
    box.textContent = "";
    var m = msgs.get(open) || new Map();
    Array.from(m.keys()).sort(function (a, b) { return a - b; }).forEach(function (s) { box.appendChild(bubble(m.get(s), false)); });
    pending.forEach(function (p) {
      if (p.room_id === open) box.appendChild(bubble({ body: p.body, agent_id: me && me.id, agent_name: me && me.name }, true));
    });
    el.older.hidden = !(minSeq(open) > 1);
    if (how === "keep") box.scrollTop = box.scrollHeight - fromBottom;
    else if (how === "bottom" || atBottom) box.scrollTop = box.scrollHeight;
  }
  function markRead() {
    var r = rooms.get(open);
    if (!r || document.hidden) return;
    var s = maxSeq(open);
    r.unread = 0; r.mentions = 0;
    if (s > 0) D.send({ type: "room_read", room_id: open, seq: s });
    renderList();
  }

  function openRoom(id) {
    var r = rooms.get(id);
    if (!r) return;
    D.deselect();
    open = id;
    el.pane.hidden = false;
    el.title.textContent = "# " + r.name;
    el.topic.textContent = r.topic || "";
    el.notice.hidden = true;
    el.form.hidden = false;
    el.typing.hidden = true;
    render("bottom");
    if (!msgs.has(id)) D.send({ type: "room_history", room_id: id, limit: 50 });
    markRead();
    renderList();
    el.input.focus();
  }

  function showAnnouncement(a) {
    if (!a || localStorage.getItem("livedesk-seen-announcement") === String(a.id)) return;
    el.news.textContent = "";
    var p = document.createElement("p");
    p.className = "announcement";
    var b = document.createElement("strong");
    b.textContent = T.announcement + " · " + a.author + ": ";
    p.appendChild(b);
    p.appendChild(document.createTextNode(a.body));
    var x = document.createElement("button");
    x.type = "button";
    x.className = "link";
    x.textContent = T.dismiss;
    x.addEventListener("click", function () { localStorage.setItem("livedesk-seen-announcement", String(a.id)); el.news.textContent = ""; });
    p.appendChild(x);
    el.news.appendChild(p);
  }

  var H = D.hooks;
  H.welcome = function (f) {
    me = f.agent;
    var listed = new Set();
    (f.rooms || []).forEach(function (r) {
      listed.add(r.id);
      rooms.set(r.id, r);
      // Catch up on what came while we were away (keyed by seq: no repeats).
      if (msgs.has(r.id) && r.last_seq > maxSeq(r.id)) D.send({ type: "room_history", room_id: r.id, after_seq: maxSeq(r.id), limit: 200 });
    });
    Array.from(rooms.keys()).forEach(function (id) { if (!listed.has(id)) { rooms.delete(id); msgs.delete(id); } });
    pending.forEach(function (p, cid) { D.send({ type: "room_message", room_id: p.room_id, client_id: cid, body: p.body }); });
    if (open !== null && !rooms.has(open)) H.room_removed({ room_id: open });
    showAnnouncement((f.announcements || [])[0]);
    renderList();
  };
  H.room_message = function (f) {
    var m = f.message, r = rooms.get(m.room_id);
    if (!r || !store(m)) return;
    r.last_seq = Math.max(r.last_seq, m.seq);
    var looking = m.room_id === open && !document.hidden;
    if (m.room_id === open) { el.typing.hidden = true; render("follow"); }
    if (looking) markRead();
    else if (!me || m.agent_id !== me.id) {
      r.unread += 1;
      if (mentionsMe(m)) { r.mentions += 1; P.alert(S.fill(T.mentioned_you, { name: m.agent_name, room: r.name }), m.body, "room-" + r.id); }
    }
    renderList();
  };
  H.room_ack = function (f) {
    pending.delete(f.client_id);
    store(f.message);
    if (f.message.room_id === open) render("bottom");
  };
  H.room_history = function (f) {
    f.messages.forEach(store);
    var older = olderFor === f.room_id;
    if (older) olderFor = null;
    if (f.room_id === open) { render(older ? "keep" : "follow"); markRead(); }
  };
  H.room_typing = function (f) {
    if (f.room_id !== open || (me && f.agent.id === me.id)) return;
    el.typing.textContent = S.fill(T.room_typing, { name: f.agent.name });
    el.typing.hidden = !f.active;
    clearTimeout(typingTimer);
    if (f.active) typingTimer = setTimeout(function () { el.typing.hidden = true; }, 6000);
  };
  H.room = function (f) {
    var old = rooms.get(f.room.id);
    rooms.set(f.room.id, old ? Object.assign(old, { name: f.room.name, topic: f.room.topic }) : f.room);
    if (f.room.id === open) { el.title.textContent = "# " + f.room.name; el.topic.textContent = f.room.topic || ""; }
    renderList();
  };
  H.room_removed = function (f) {
    rooms.delete(f.room_id);
    msgs.delete(f.room_id);
    if (f.room_id === open) { el.notice.textContent = T.room_gone; el.notice.hidden = false; el.form.hidden = true; el.msgs.textContent = ""; }
    renderList();
  };
  H.announcement = function (f) { showAnnouncement(f.announcement); P.alert(T.announcement, f.announcement.body, "announcement"); };
  H.error = function (f) {
    var lost = f.client_id && pending.get(f.client_id);
    if (lost) {
      pending.delete(f.client_id);
      if (lost.room_id === open) el.input.value = lost.body + (el.input.value ? "\n" + el.input.value : "");
      render("follow");
    }
    el.toast.textContent = S.errorText(f.code, T);
    el.toast.hidden = false;
    setTimeout(function () { el.toast.hidden = true; }, 4000);
  };
  H.conversationSelected = function () { open = null; el.pane.hidden = true; renderList(); };

  el.form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = el.input.value;
    if (!body.trim() || open === null) return;
    var cid = S.newClientId("r-");
    pending.set(cid, { room_id: open, body: body });
    el.input.value = "";
    render("bottom");
    D.send({ type: "room_message", room_id: open, client_id: cid, body: body });
    D.send({ type: "room_typing", room_id: open, active: false });
  });
  el.input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); el.form.requestSubmit(); }
  });
  el.input.addEventListener("input", function () {
    if (open === null || Date.now() - lastTyping < 2500) return;
    lastTyping = Date.now();
    D.send({ type: "room_typing", room_id: open, active: true });
  });
  el.older.addEventListener("click", function () {
    if (open === null || olderFor === open) return;
    olderFor = open;
    D.send({ type: "room_history", room_id: open, before_seq: minSeq(open), limit: 50 });
  });
  el.msgs.addEventListener("scroll", function () { if (el.msgs.scrollTop < 60 && open !== null && minSeq(open) > 1) el.older.click(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden && open !== null) markRead(); });
  renderList();
})();

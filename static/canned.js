/* The composer's saved-reply picker: "/" then a few letters lists the
 * matching replies (shortcut or text, case and accents ignored, Chinese
 * too); arrows choose, Enter or Tab puts the reply, filled in for this
 * conversation, where "/…" was, to edit before sending; Escape closes.
 * Several can go into one reply. Text only via textContent. */
(function () {
  "use strict";
  var D = window.livedeskDesk, T = D.T;
  var input = document.getElementById("input"), list = document.getElementById("canned-picker");
  var offers = null, offersFor = null, fetchedAt = 0, shown = [], active = 0, token = null;

  function norm(s) { return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  /// The "/word" just before the caret, if any: {start, query}.
  function slashToken() {
    var upto = input.value.slice(0, input.selectionStart);
    var m = /(^|\s)\/([^\s\/]*)$/.exec(upto);
    return m ? { start: upto.length - m[2].length - 1, query: m[2] } : null;
  }
  function load(conv) {
    if (offersFor === conv && Date.now() - fetchedAt < 30000) return Promise.resolve(offers);
    return fetch("/agent/canned.json?conversation_id=" + encodeURIComponent(conv), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (o) { offers = o; offersFor = conv; fetchedAt = Date.now(); return o; })
      .catch(function () { return []; });
  }
  function close() { list.hidden = true; list.textContent = ""; shown = []; token = null; }
  function render() {
    list.textContent = "";
    if (!shown.length) {
      var none = document.createElement("li");
      none.className = "empty-note";
      none.textContent = T.canned_none;
      list.appendChild(none);
    }
    shown.forEach(function (o, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      if (i === active) li.className = "active";
      var k = document.createElement("strong");
      k.textContent = "/" + o.shortcut + (o.shared ? " · " + T.canned_shared : "");
      var txt = document.createElement("span");
      txt.dir = "auto";
      txt.textContent = o.text;
      li.appendChild(k);
      li.appendChild(txt);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); active = i; insert(); });
      list.appendChild(li);
    });
    list.hidden = false;
  }
  function insert() {
    var o = shown[active];
    if (!o || !token) return close();
    var v = input.value, end = input.selectionStart;
    input.value = v.slice(0, token.start) + o.text + v.slice(end);
    var caret = token.start + o.text.length;
    input.setSelectionRange(caret, caret);
    close();
    input.dispatchEvent(new Event("input"));
    input.focus();
  }
  input.addEventListener("input", function () {
    var conv = D.selected(), t = slashToken();
    if (conv === null || !t) return close();
    token = t;
    load(conv).then(function (all) {
      var now = slashToken();
      if (!now || D.selected() !== conv) return close();
      token = now;
      var q = norm(now.query);
      shown = all.filter(function (o) { return norm(o.shortcut).indexOf(q) >= 0 || norm(o.text).indexOf(q) >= 0; }).slice(0, 8);
      active = Math.min(active, Math.max(shown.length - 1, 0));
      render();
    });
  });
  // Before the composer's own keys (Enter sends): the picker has them while open.
  input.addEventListener("keydown", function (e) {
    if (list.hidden) return;
    var stop = function () { e.preventDefault(); e.stopImmediatePropagation(); };
    if (e.key === "ArrowDown") { stop(); active = (active + 1) % Math.max(shown.length, 1); render(); }
    else if (e.key === "ArrowUp") { stop(); active = (active - 1 + shown.length) % Math.max(shown.length, 1); render(); }
    else if ((e.key === "Enter" || e.key === "Tab") && shown.length && !e.isComposing) { stop(); insert(); }
    else if (e.key === "Escape") { stop(); close(); }
  }, true);
  input.addEventListener("blur", function () { setTimeout(close, 150); });
})();

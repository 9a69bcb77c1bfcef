/* Labels in the dashboard: chips on list items and on the open
 * conversation, a picker to add one, a chip's × to take it off, and a
 * filter over the lists. The server sends a conversation again whenever its
 * labels change (from any agent), so what is shown is what is stored.
 * Text only via textContent; a label's colour is checked (#rrggbb) first. */
(function () {
  "use strict";
  var D = window.livedeskDesk, T = D.T, S = window.livedeskShared, H = D.hooks;
  var chips = document.getElementById("pane-labels"), picker = document.getElementById("label-select");
  var filter = document.getElementById("label-filter");
  var catalog = [], only = null, open = null;

  function colour(c) { return /^#[0-9a-f]{6}$/i.test(c) ? c : "#888888"; }
  function chip(l, onRemove) {
    var s = document.createElement("span");
    s.className = "chip";
    s.style.borderColor = colour(l.colour);
    s.dataset.label = l.name;
    var dot = document.createElement("i");
    dot.style.background = colour(l.colour);
    s.appendChild(dot);
    s.appendChild(document.createTextNode(l.name));
    if (onRemove) {
      var x = document.createElement("button");
      x.type = "button";
      x.className = "link";
      x.textContent = "×";
      x.setAttribute("aria-label", S.fill(T.remove_label, { name: l.name }));
      x.addEventListener("click", function (e) { e.stopPropagation(); onRemove(); });
      s.appendChild(x);
    }
    return s;
  }
  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }
  function fillFilter() {
    filter.textContent = "";
    filter.appendChild(option("", T.all_labels));
    catalog.forEach(function (l) { filter.appendChild(option(String(l.id), l.name)); });
    filter.value = only === null ? "" : String(only);
    filter.hidden = !catalog.length;
  }
  function send(c, id, on) { D.send({ type: "label", conversation_id: c.id, label_id: id, on: on }); }

  H.decorate = function (li, c) {
    if (!c.labels || !c.labels.length) return;
    var box = document.createElement("span");
    box.className = "chips";
    c.labels.forEach(function (l) { box.appendChild(chip(l, null)); });
    li.appendChild(box);
  };
  H.keep = function (c) { return only === null || (c.labels || []).some(function (l) { return l.id === only; }); };
  var drawn = null;
  H.paneShown = function (c, canLabel) {
    open = c;
    // Drawn again only when what it shows changed: a frame about something
    // else must not close the picker under the agent's hand.
    var sig = JSON.stringify([c.id, c.labels || [], catalog, canLabel]);
    if (sig === drawn) return;
    drawn = sig;
    chips.textContent = "";
    var has = new Set((c.labels || []).map(function (l) { return l.id; }));
    (c.labels || []).forEach(function (l) { chips.appendChild(chip(l, canLabel ? function () { send(open, l.id, false); } : null)); });
    picker.textContent = "";
    picker.appendChild(option("", T.add_label));
    catalog.filter(function (l) { return !has.has(l.id); }).forEach(function (l) { picker.appendChild(option(String(l.id), l.name)); });
    picker.hidden = !canLabel || picker.options.length < 2;
  };
  var before = H.welcome;
  H.welcome = function (f) {
    if (before) before(f);
    catalog = f.labels || [];
    if (only !== null && !catalog.some(function (l) { return l.id === only; })) only = null;
    fillFilter();
    D.relist();
  };
  picker.addEventListener("change", function () {
    var id = parseInt(picker.value, 10);
    if (open && id) send(open, id, true);
    picker.value = "";
  });
  filter.addEventListener("change", function () {
    only = filter.value ? parseInt(filter.value, 10) : null;
    D.relist();
  });
})();

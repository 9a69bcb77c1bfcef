/* Admin console: who is online, their status and load, refreshed every few seconds;
 * confirmation before the actions that cannot be undone. */
(function () {
  "use strict";
  // Forms that cannot be undone ask first (disable an account, close the queue).
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });
  var card = document.getElementById("presence-card");
  if (!card) return;
  var T = JSON.parse(card.dataset.i18n);
  var body = document.getElementById("presence"), empty = document.getElementById("presence-empty");
  function render(list) {
    body.textContent = "";
    empty.hidden = list.length > 0;
    list.forEach(function (a) {
      var tr = document.createElement("tr");
      tr.dataset.agentId = a.id;
      [a.name, a.status === "online" ? T.online : T.away, String(a.open_conversations)].forEach(function (v, i) {
        var td = document.createElement("td");
        if (i === 1) {
          var dot = document.createElement("span");
          dot.className = "dot" + (a.status === "online" ? " on" : "");
          td.appendChild(dot);
        }
        td.appendChild(document.createTextNode(v));
        if (i === 0 && a.nodes && a.nodes.length) {
          // A cluster: which nodes hold the agent's sockets.
          var n = document.createElement("small");
          n.className = "nodes";
          n.textContent = " · " + a.nodes.join(", ");
          td.appendChild(n);
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  function refresh() {
    fetch("/admin/presence", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (list) { if (list) render(list); })
      .catch(function () {})
      .finally(function () { setTimeout(refresh, 3000); });
  }
  refresh();
})();

/* The dashboard composer's files: a button, drops on the conversation and
 * pastes into the composer upload into the open conversation (the agent's
 * session and the page's CSRF token), then go with the next message or note. */
(function () {
  "use strict";
  var D = window.livedeskDesk, T = D.T;
  var csrf = document.querySelector("input[name=csrf_token]");
  var toast = document.getElementById("toast");
  D.tray = window.livedeskFiles.tray({
    T: T,
    chips: document.getElementById("files"),
    button: document.getElementById("attach"),
    zone: document.getElementById("chat"),
    paste: document.getElementById("input"),
    url: function () { var id = D.selected(); return id ? "/agent/files?conversation_id=" + id : null; },
    headers: function () { return { "X-CSRF-Token": csrf ? csrf.value : "" }; },
    error: function (text) {
      if (!toast) return;
      toast.textContent = text;
      toast.hidden = !text;
    }
  });
})();

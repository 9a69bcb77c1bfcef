/* What the dashboard and the widget panel both need, in one place:
 * filling translated templates, times, byte counts as the server counts,
 * client ids, and the day of a message. Plain functions, no state. */
(function () {
  "use strict";
  window.livedeskShared = {
    MAX_BYTES: 4096, // the longest message body the server accepts, in UTF-8 bytes
    fill: function (tpl, vars) {
      return tpl.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] == null ? "" : vars[k]; });
    },
    time: function (iso) {
      var d = iso ? new Date(iso) : new Date();
      return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    },
    longDate: function (d) {
      return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric", weekday: "short" });
    },
    byteLength: function (text) { return new TextEncoder().encode(text).length; },
    newClientId: function (prefix) {
      var a = new Uint8Array(12);
      window.crypto.getRandomValues(a);
      return prefix + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    }
  };
})();

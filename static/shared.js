/* What the dashboard and the widget panel both need, in one place:
 * filling translated templates, times and days, byte counts as the server
 * counts, client ids, and when to reconnect. Plain functions; only a
 * backoff holds state, its own. */
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
    /// "Today", "Yesterday" or the date, for the line above a day's messages.
    dayLabel: function (d, T) {
      var today = new Date(); today.setHours(0, 0, 0, 0);
      var day = new Date(d); day.setHours(0, 0, 0, 0);
      var diff = Math.round((today - day) / 86400000);
      if (diff === 0) return T.today;
      if (diff === 1) return T.yesterday;
      return this.longDate(d);
    },
    /// How long since `iso`, in words ("just now", "5 min", "2 h").
    waited: function (iso, T) {
      var mins = Math.floor((Date.now() - new Date(iso).getTime()) / 60000);
      if (!(mins >= 1)) return T.just_now;
      if (mins < 60) return this.fill(T.minutes, { n: mins });
      return this.fill(T.hours, { n: Math.floor(mins / 60) });
    },
    /// A server error code in the reader's language (the frame's own text is English).
    errorText: function (code, T) {
      var known = { forbidden: T.err_forbidden, not_found: T.err_not_found, already_assigned: T.err_already_assigned,
                    agent_offline: T.err_agent_offline, closed: T.err_closed, rate_limited: T.err_rate_limited,
                    unavailable: T.err_unavailable, at_capacity: T.err_at_capacity };
      return known[code] || T.err_generic;
    },
    /// When to try a dropped socket again: 1 s, doubling to 15 s, with up to
    /// 0.4 s of jitter so a restarted server is not hit by every tab at once.
    /// `reset()` once a connection is good; `hold(ms)` when the server asks
    /// for a longer pause.
    backoff: function () {
      var wait = 1000;
      return {
        next: function () { var d = wait + Math.random() * 400; wait = Math.min(wait * 2, 15000); return d; },
        reset: function () { wait = 1000; },
        hold: function (ms) { wait = ms; }
      };
    },
    /// One message as a list item: its text (as text, never as HTML) and a
    /// line under it. `cls` gives the side and kind ("mine", "agent", …).
    bubble: function (cls, body, meta) {
      var li = document.createElement("li");
      li.className = "msg " + cls;
      var b = document.createElement("div");
      b.className = "bubble";
      b.dir = "auto"; // right-to-left text reads right to left
      b.textContent = body;
      var m = document.createElement("div");
      m.className = "meta";
      m.textContent = meta;
      li.appendChild(b);
      li.appendChild(m);
      return li;
    },
    byteLength: function (text) { return new TextEncoder().encode(text).length; },
    newClientId: function (prefix) {
      var a = new Uint8Array(12);
      window.crypto.getRandomValues(a);
      return prefix + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    }
  };
})();

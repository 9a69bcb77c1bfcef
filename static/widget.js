/* livedesk widget loader: <script src="https://<livedesk>/widget.js" async></script>
 * Adds a launcher bubble and the chat panel (an iframe served by livedesk, so
 * the host page's CSS and scripts cannot break it, nor it them).
 * Settings: data-* attributes on the script tag or window.livedeskSettings:
 *   position (left|right), accent (#hex), locale (en|zh), greeting, title, askName (true|false)
 * API: window.livedesk.open(), close(), toggle(),
 *      setUser({identifier, identifier_hash, name, email}) (null: signed out),
 *      onUnreadChange(fn(count)), isOpen()
 * A signed-in customer: settings.user = {identifier, identifier_hash, name, email},
 * identifier_hash being hex HMAC-SHA256(site secret, identifier) made by the site's server.
 */
(function () {
  "use strict";
  if (window.livedesk && window.livedesk.__loaded) return;

  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll('script[src*="/widget.js"]');
    script = all[all.length - 1];
  }
  var origin = new URL(script.src, location.href).origin;
  var settings = Object.assign({}, window.livedeskSettings || {});
  var d = script.dataset || {};
  ["position", "accent", "locale", "greeting", "title"].forEach(function (k) {
    if (d[k] != null && settings[k] == null) settings[k] = d[k];
  });
  if (d.askName != null && settings.askName == null) settings.askName = d.askName !== "false";
  var side = settings.position === "left" ? "left" : "right";
  var accent = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(settings.accent || "") ? settings.accent : "#2764d8";

  var params = new URLSearchParams();
  if (settings.locale) params.set("locale", settings.locale);
  params.set("accent", accent);
  if (settings.greeting) params.set("greeting", settings.greeting);
  if (settings.title) params.set("title", settings.title);
  if (settings.askName === false) params.set("ask_name", "false");

  var open = false, ready = false, unread = 0, user = userOf(settings.user), listeners = [], queued = [];

  function userOf(u) {
    if (!u || typeof u !== "object") return null;
    var s = function (v) { return v == null || v === "" ? null : String(v); };
    return { name: s(u.name), email: s(u.email), identifier: s(u.identifier), identifier_hash: s(u.identifier_hash) };
  }

  // Inline !important beats any rule of the host page's stylesheets.
  function css(el, rules) {
    for (var k in rules) {
      el.style.setProperty(k.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); }), rules[k], "important");
    }
  }

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "livedesk-launcher";
  launcher.setAttribute("aria-label", settings.title || "Chat");
  launcher.setAttribute("aria-expanded", "false");
  css(launcher, {
    position: "fixed", bottom: "20px", width: "56px", height: "56px", borderRadius: "50%",
    border: "0", background: accent, color: "#fff", cursor: "pointer", zIndex: "2147483000",
    boxShadow: "0 4px 14px rgba(0,0,0,.25)", display: "flex", alignItems: "center", justifyContent: "center", padding: "0"
  });
  css(launcher, side === "left" ? { left: "20px" } : { right: "20px" });
  var svgNS = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(svgNS, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "26");
  icon.setAttribute("height", "26");
  icon.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(svgNS, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z");
  icon.appendChild(path);
  launcher.appendChild(icon);

  var badge = document.createElement("span");
  badge.id = "livedesk-badge";
  css(badge, {
    position: "absolute", top: "-4px", right: "-4px", minWidth: "20px", height: "20px", borderRadius: "10px",
    background: "#e5484d", color: "#fff", font: "bold 12px/20px system-ui, sans-serif", textAlign: "center",
    padding: "0 5px", display: "none"
  });
  launcher.appendChild(badge);

  var frame = document.createElement("iframe");
  frame.id = "livedesk-frame";
  frame.title = settings.title || "Chat";
  frame.src = origin + "/widget?" + params.toString();
  frame.setAttribute("allow", "clipboard-write");
  css(frame, {
    position: "fixed", bottom: "88px", width: "370px", height: "560px", maxHeight: "calc(100vh - 108px)",
    maxWidth: "calc(100vw - 40px)", border: "0", borderRadius: "12px", boxShadow: "0 8px 30px rgba(0,0,0,.2)",
    zIndex: "2147483000", display: "none", background: "#fff", colorScheme: "normal"
  });
  css(frame, side === "left" ? { left: "20px" } : { right: "20px" });

  function phone() { return window.matchMedia("(max-width: 480px)").matches; }

  function layout() {
    if (open && phone()) {
      css(frame, { top: "0", bottom: "0", left: "0", right: "0", width: "100vw", height: "100%", maxHeight: "none", maxWidth: "none", borderRadius: "0" });
      css(launcher, { display: "none" });
    } else {
      css(frame, { top: "", left: "", right: "", bottom: "88px", width: "370px", height: "560px", maxHeight: "calc(100vh - 108px)", maxWidth: "calc(100vw - 40px)", borderRadius: "12px" });
      css(frame, side === "left" ? { left: "20px" } : { right: "20px" });
      css(launcher, { display: "flex" });
    }
  }

  function post(msg) {
    if (ready) frame.contentWindow.postMessage(msg, origin);
    else queued.push(msg);
  }

  // The widget's own state (visitor token, outbox, name) is kept in this
  // page's storage: browsers may refuse storage to a third-party iframe.
  var STATE_KEYS = ["token", "user", "outbox", "introDone"];
  function readState() {
    var st = {};
    STATE_KEYS.forEach(function (k) {
      try { st[k] = localStorage.getItem("livedesk." + k); } catch (e) { st[k] = null; }
    });
    return st;
  }

  function context() {
    return { livedesk: "context", page_url: location.href, referrer: document.referrer || null, user: user, state: readState() };
  }

  function setUnread(n) {
    unread = n;
    badge.textContent = n > 99 ? "99+" : String(n);
    css(badge, { display: n > 0 && !open ? "block" : "none" });
    listeners.forEach(function (fn) { try { fn(n); } catch (e) { /* a host callback must not break us */ } });
  }

  function show(v) {
    open = v;
    css(frame, { display: v ? "block" : "none" });
    launcher.setAttribute("aria-expanded", v ? "true" : "false");
    layout();
    post({ livedesk: v ? "open" : "close" });
    if (v) {
      setUnread(0);
      frame.focus();
    } else {
      launcher.focus();
    }
  }

  window.addEventListener("message", function (e) {
    if (e.origin !== origin || e.source !== frame.contentWindow || !e.data) return;
    var m = e.data;
    if (m.livedesk === "ready") {
      ready = true;
      frame.contentWindow.postMessage(context(), origin);
      if (open) frame.contentWindow.postMessage({ livedesk: "open" }, origin);
      queued.splice(0).forEach(function (q) { frame.contentWindow.postMessage(q, origin); });
    } else if (m.livedesk === "unread" && typeof m.count === "number") {
      setUnread(open ? 0 : m.count);
    } else if (m.livedesk === "close") {
      show(false);
    } else if (m.livedesk === "persist" && STATE_KEYS.indexOf(m.key) >= 0) {
      try {
        if (m.value == null) localStorage.removeItem("livedesk." + m.key);
        else localStorage.setItem("livedesk." + m.key, String(m.value));
      } catch (e) { /* storage full or refused: the session still works */ }
    }
  });
  window.addEventListener("resize", layout);
  launcher.addEventListener("click", function () { show(!open); });

  function mount() {
    document.body.appendChild(frame);
    document.body.appendChild(launcher);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.livedesk = {
    __loaded: true,
    open: function () { show(true); },
    close: function () { show(false); },
    toggle: function () { show(!open); },
    isOpen: function () { return open; },
    setUser: function (u) {
      user = userOf(u);
      post({ livedesk: "user", user: user });
    },
    onUnreadChange: function (fn) { if (typeof fn === "function") listeners.push(fn); },
    unread: function () { return unread; }
  };
})();

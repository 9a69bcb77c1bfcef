/* Parts of the agent dashboard that stand alone: sound and desktop
 * notifications, and the visitor's details. User text only via textContent. */
(function () {
  "use strict";
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880;
      g.gain.setValueAtTime(0.15, audio.currentTime);
      g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
      o.connect(g); g.connect(audio.destination);
      o.start(); o.stop(audio.currentTime + 0.35);
    } catch (e) { /* no audio: the unread count still shows */ }
  }
  // Browsers allow sound only after a gesture: unlock on the first click.
  document.addEventListener("click", function () {
    if (!audio) { try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) {} }
  }, { once: true });
  var btn = document.getElementById("notify-btn");
  if (btn && "Notification" in window && Notification.permission === "default") {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      Notification.requestPermission().then(function () { btn.hidden = true; });
    });
  }
  /// A sound, and a desktop notification when the tab is not in view (if allowed).
  function alert(title, body, tag) {
    beep();
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      try { new Notification(title, { body: body.slice(0, 140), tag: tag }); } catch (e) {}
    }
  }

  function text(id, v, T) { document.getElementById(id).textContent = v || T.unknown; }
  function pageLink(url, T) {
    var dd = document.getElementById("d-page");
    dd.textContent = "";
    var ok = false;
    try { ok = /^https?:$/.test(new URL(url).protocol); } catch (e) { ok = false; }
    if (!url || !ok) { dd.textContent = url || T.unknown; return; }
    var a = document.createElement("a");
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = url;
    dd.appendChild(a);
  }
  function localTime(zone) {
    if (!zone) return null;
    try {
      return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: zone }) + " (" + zone + ")";
    } catch (e) { return null; }
  }
  function details(v, T) {
    text("d-name", v.name, T); text("d-email", v.email, T); pageLink(v.page_url, T);
    // The site's id for its customer: marked verified only when it signed it.
    text("d-identity", v.identifier ? v.identifier + (v.verified ? " \u2713 " + T.verified : " (" + T.unverified + ")") : null, T);
    text("d-local", localTime(v.timezone), T);
    text("d-referrer", v.referrer, T); text("d-browser", v.user_agent, T);
    text("d-first", v.first_seen_at ? new Date(v.first_seen_at).toLocaleString() : null, T);
  }

  window.livedeskParts = { beep: beep, alert: alert, details: details };
})();

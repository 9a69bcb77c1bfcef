/* Files in the widget and the dashboard: a composer's tray (files are
 * uploaded as soon as they are chosen by the button, dropped or pasted, and
 * wait as chips until the message goes), and files in a message (images as
 * thumbnails, others as name, size and a download link). Names are shown
 * with textContent only. The visitor has no cookie: its files are fetched
 * with its token and shown from blob URLs. */
(function () {
  "use strict";
  var S = window.livedeskShared;

  function sizeText(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(1) + " MB";
    if (n >= 1e3) return Math.floor(n / 1e3) + " KB";
    return n + " B";
  }

  function errorText(code, T) {
    return { too_large: T.file_too_large, unsupported_type: T.file_type, rate_limited: T.file_rate }[code] || T.file_failed;
  }

  /// A blob URL for `url` fetched with the visitor's token (`token()`), once.
  var blobs = {};
  function blobUrl(url, token) {
    if (!blobs[url]) {
      blobs[url] = fetch(url, { headers: { Authorization: "Bearer " + token() } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.blob(); })
        .then(function (b) { return URL.createObjectURL(b); });
      blobs[url].catch(function () { delete blobs[url]; });
    }
    return blobs[url];
  }

  /// Adds `files` (as messages carry them) under a message's text in `box`.
  /// `token`: the visitor's, a function; absent for agents (their cookie).
  function show(box, files, T, token) {
    (files || []).forEach(function (f) {
      var item = document.createElement("div");
      item.className = "file";
      if (f.image) {
        var img = document.createElement("img");
        img.className = "thumb";
        img.alt = f.name;
        img.title = f.name + " · " + sizeText(f.size);
        if (token) blobUrl(f.url, token).then(function (u) { img.src = u; }, function () { img.alt = T.file_gone; });
        else img.src = f.url;
        item.appendChild(img);
      } else {
        var a = document.createElement("a");
        a.textContent = f.name;
        a.href = f.url;
        a.download = f.name;
        if (token) {
          a.addEventListener("click", function (e) {
            e.preventDefault();
            blobUrl(f.url, token).then(function (u) {
              var tmp = document.createElement("a");
              tmp.href = u; tmp.download = f.name;
              document.body.appendChild(tmp); tmp.click(); tmp.remove();
            }, function () { a.textContent = f.name + " — " + T.file_gone; });
          });
        }
        var size = document.createElement("span");
        size.className = "size";
        size.textContent = " " + sizeText(f.size);
        item.appendChild(a);
        item.appendChild(size);
      }
      box.appendChild(item);
    });
  }

  /// The files waiting in a composer. `o`: `{ T, chips, button, zone,
  /// paste, url(), headers(), error(text), changed() }`: `url()` says where
  /// to upload now (null: not now), `zone` takes drops, `paste` pastes.
  function tray(o) {
    var ready = [], loading = 0;
    var picker = document.createElement("input");
    picker.type = "file";
    picker.multiple = true;
    picker.hidden = true;
    o.button.after(picker);
    o.button.addEventListener("click", function () { picker.click(); });
    picker.addEventListener("change", function () { add(picker.files); picker.value = ""; });
    o.zone.addEventListener("dragover", function (e) {
      if (e.dataTransfer && Array.from(e.dataTransfer.types).indexOf("Files") >= 0) { e.preventDefault(); o.zone.classList.add("dropping"); }
    });
    o.zone.addEventListener("dragleave", function () { o.zone.classList.remove("dropping"); });
    o.zone.addEventListener("drop", function (e) {
      o.zone.classList.remove("dropping");
      if (e.dataTransfer && e.dataTransfer.files.length) { e.preventDefault(); add(e.dataTransfer.files); }
    });
    o.paste.addEventListener("paste", function (e) {
      var files = e.clipboardData ? Array.from(e.clipboardData.files || []) : [];
      if (files.length) { e.preventDefault(); add(files); }
    });

    function draw() {
      o.chips.textContent = "";
      ready.forEach(function (f, i) {
        var chip = document.createElement("span");
        chip.className = "chip file-chip";
        chip.textContent = f.name + " · " + sizeText(f.size) + " ";
        var x = document.createElement("button");
        x.type = "button";
        x.className = "small";
        x.textContent = "×";
        x.setAttribute("aria-label", S.fill(o.T.remove_file, { name: f.name }));
        x.addEventListener("click", function () { ready.splice(i, 1); draw(); });
        chip.appendChild(x);
        o.chips.appendChild(chip);
      });
      o.chips.hidden = !ready.length && !loading;
      o.changed && o.changed();
    }

    function add(list) {
      Array.from(list).forEach(function (file) {
        var url = o.url();
        if (!url) return;
        var name = file.name || "pasted.png";
        loading++;
        o.chips.hidden = false;
        o.error(S.fill(o.T.uploading, { name: name }));
        fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + "name=" + encodeURIComponent(name), {
          method: "POST", body: file, headers: o.headers(), credentials: "same-origin"
        }).then(function (r) {
          return r.json().then(function (j) { if (!r.ok) throw j; return j; });
        }).then(function (view) {
          ready.push(view);
          o.error("");
        }, function (j) {
          o.error(errorText(j && j.error && j.error.code, o.T));
        }).then(function () { loading--; draw(); });
      });
    }

    return {
      /// The files to send with the message now, leaving the tray empty.
      take: function () { var out = ready; ready = []; draw(); return out; },
      busy: function () { return loading > 0; },
      count: function () { return ready.length; }
    };
  }

  window.livedeskFiles = { show: show, tray: tray, sizeText: sizeText };
})();

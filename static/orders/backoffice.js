// Orders back office: confirmation dialogs, parcel rows, pickup steppers, the ticket's print button,
// and the new-order banner with its chime (on every back-office page: the menu loads this file).
// Every text shown comes from data-* attributes rendered (and translated) by the templates.
(function () {
  "use strict";

  // --- confirmation dialog for irreversible actions: <form data-confirm="…"> ---------------------
  function dialog(opts, onOk) {
    var mask = document.createElement("div");
    mask.className = "obo-mask";
    var box = document.createElement("div");
    box.className = "obo-dialog";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    var hd = document.createElement("div");
    hd.className = "obo-dialog__hd";
    hd.textContent = opts.title || "";
    var bd = document.createElement("div");
    bd.className = "obo-dialog__bd";
    bd.textContent = opts.text || "";
    var ft = document.createElement("div");
    ft.className = "obo-dialog__ft";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "obo-dialog__btn";
    cancel.textContent = opts.cancel || "Cancel";
    var ok = document.createElement("button");
    ok.type = "button";
    ok.className = "obo-dialog__btn " + (opts.warn ? "obo-dialog__btn--warn" : "obo-dialog__btn--primary");
    ok.textContent = opts.ok || "OK";
    ok.setAttribute("data-dialog-ok", "");
    ft.appendChild(cancel);
    ft.appendChild(ok);
    box.appendChild(hd);
    box.appendChild(bd);
    box.appendChild(ft);
    function close() { mask.remove(); box.remove(); document.removeEventListener("keydown", onKey); }
    function onKey(e) { if (e.key === "Escape") { close(); } }
    cancel.addEventListener("click", close);
    mask.addEventListener("click", close);
    ok.addEventListener("click", function () { close(); onOk(); });
    document.addEventListener("keydown", onKey);
    document.body.appendChild(mask);
    document.body.appendChild(box);
    ok.focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-confirm]")) { return; }
    if (form.dataset.confirmed === "1") { form.dataset.confirmed = ""; return; }
    event.preventDefault();
    var submitter = event.submitter || null;
    dialog({
      title: form.dataset.confirmTitle, text: form.dataset.confirm, ok: form.dataset.confirmOk,
      cancel: form.dataset.confirmCancel, warn: form.hasAttribute("data-confirm-warn")
    }, function () {
      form.dataset.confirmed = "1";
      if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
    });
  });

  // --- one more parcel row on the ship form ------------------------------------------------------
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-parcel]");
    if (add) {
      var form = add.closest("form");
      var rows = form.querySelectorAll(".obo-parcel");
      if (rows.length >= Number(add.dataset.max || 10)) { return; }
      var row = rows[rows.length - 1].cloneNode(true);
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      rows[rows.length - 1].after(row);
      row.querySelector("input").focus();
      return;
    }
    var step = event.target.closest("[data-step]");
    if (step) {
      var input = step.parentNode.querySelector("input");
      var value = (parseInt(input.value, 10) || 0) + Number(step.dataset.step);
      var min = Number(input.min || 0), max = Number(input.max || 999);
      input.value = String(Math.min(max, Math.max(min, value)));
      return;
    }
    if (event.target.closest("[data-print]")) { window.print(); }
  });

  // --- new-order banner and chime ------------------------------------------------------------------
  var POLL_MS = 20000;
  var source = document.querySelector("[data-orders-alert]");
  if (!source || !window.fetch || !window.localStorage) { return; }
  var d = source.dataset;
  var keys = { cursor: "obo.cursor." + d.user, pending: "obo.pending." + d.user, sound: "obo.sound." + d.user };
  var audio = null;
  var timer = null;

  function read(key, fallback) {
    try { var v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function write(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ } }

  function chime() {
    if (!audio) { audio = new Audio(d.chime); }
    audio.currentTime = 0;
    return audio.play();
  }

  function soundButton(show) {
    var button = document.querySelector(".obo-sound");
    if (!show) { if (button) { button.remove(); } return; }
    if (button) { return; }
    button = document.createElement("button");
    button.type = "button";
    button.className = "obo-sound";
    button.textContent = d.labelSound;
    button.addEventListener("click", function () {
      var played = chime();
      write(keys.sound, "on");
      soundButton(false);
      if (played && played.catch) { played.catch(function () { soundButton(true); }); }
    });
    var place = document.querySelector(".bo-user") || document.body;
    place.insertBefore(button, place.firstChild);
  }

  function render() {
    var pending = read(keys.pending, []);
    var banner = document.querySelector(".obo-alert");
    if (!pending.length) { if (banner) { banner.remove(); } return; }
    if (!banner) {
      banner = document.createElement("div");
      banner.className = "obo-alert";
      banner.setAttribute("role", "alert");
      banner.setAttribute("data-testid", "new-order-alert");
      var top = document.querySelector(".bo-top");
      if (top) { top.after(banner); } else { document.body.insertBefore(banner, document.body.firstChild); }
    }
    banner.textContent = "";
    var text = document.createElement("span");
    text.className = "obo-alert__text";
    var link = document.createElement("a");
    if (pending.length === 1) {
      var o = pending[0];
      text.textContent = d.labelNew + " " + o.number + " · " + o.store + " · " + o.fulfilment + " · ¥" + o.amount;
      link.href = o.url;
    } else {
      text.textContent = d.labelMany.replace("%s", String(pending.length));
      link.href = d.queue;
    }
    link.textContent = d.labelView;
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "bo-btn";
    dismiss.textContent = d.labelDismiss;
    function clear() { write(keys.pending, []); render(); }
    dismiss.addEventListener("click", clear);
    link.addEventListener("click", clear);
    banner.appendChild(text);
    banner.appendChild(link);
    banner.appendChild(dismiss);
  }

  function poll() {
    var cursor = read(keys.cursor, null);
    var url = d.url + (cursor ? "?after=" + encodeURIComponent(cursor) : "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") !== 0) { throw new Error("stop"); }
        return response.json();
      })
      .then(function (data) {
        if (!data.enabled) { stop(); soundButton(false); return; }
        write(keys.cursor, String(data.cursor));
        if (data.orders.length) {
          var pending = read(keys.pending, []);
          var seen = {};
          pending.forEach(function (o) { seen[o.number] = true; });
          data.orders.slice().reverse().forEach(function (o) { if (!seen[o.number]) { pending.unshift(o); } });
          write(keys.pending, pending.slice(0, 20));
          render();
          if (read(keys.sound, "") === "on") {
            var played = chime();
            if (played && played.catch) { played.catch(function () { soundButton(true); }); }
          }
        }
        if (read(keys.sound, "") !== "on") { soundButton(true); }
      })
      .catch(function () { stop(); });
  }

  function stop() { if (timer) { window.clearInterval(timer); timer = null; } }

  window.addEventListener("storage", function (event) { if (event.key === keys.pending) { render(); } });
  render();
  poll();
  timer = window.setInterval(poll, POLL_MS);
})();

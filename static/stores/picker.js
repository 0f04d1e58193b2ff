// The product picker (templates/stores/backoffice/partials/_picker.html): htmx fetches the matches
// as you type; a tap on one fills the hidden "sku" field and moves to the quantity. Enter (what a
// scanner gun sends after the code) searches at once and picks the only exact match by itself.
// A camera button does the same with WeChat's scanner (JS-SDK scanQRCode) inside WeChat, or with
// the browser's BarcodeDetector where it has one.
(function () {
  "use strict";

  function parts(picker) {
    return {
      value: picker.querySelector("[data-picker-value]"),
      input: picker.querySelector(".sdo-picker__input"),
      results: picker.querySelector(".sdo-picker__results"),
      chosen: picker.querySelector("[data-picker-chosen]")
    };
  }

  function pick(picker, button) {
    var p = parts(picker);
    p.value.value = button.dataset.sku;
    p.value.dataset.code = button.dataset.code;
    p.chosen.textContent = button.dataset.label + " · " + button.dataset.code;
    p.chosen.hidden = false;
    p.results.innerHTML = "";
    p.input.value = "";
    var form = picker.closest("form");
    var next = form && form.querySelector("[data-picker-next]");
    if (next) { next.focus(); if (next.select) { next.select(); } }
  }

  function search(input) {
    input.dataset.enter = "1";
    if (window.htmx) { window.htmx.trigger(input, "search"); }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-pick]");
    if (button) { pick(button.closest("[data-picker]"), button); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.matches || !event.target.matches(".sdo-picker__input")) { return; }
    var p = parts(event.target.closest("[data-picker]"));
    if (!event.target.value.trim() && p.value.value) { return; }  // nothing typed, a SKU chosen: submit
    event.preventDefault();
    search(event.target);
  });

  document.addEventListener("input", function (event) {
    if (!event.target.matches || !event.target.matches(".sdo-picker__input")) { return; }
    var p = parts(event.target.closest("[data-picker]"));
    p.value.value = "";
    p.chosen.hidden = true;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var results = event.detail && event.detail.target;
    if (!results || !results.classList || !results.classList.contains("sdo-picker__results")) { return; }
    var picker = results.closest("[data-picker]");
    var input = parts(picker).input;
    if (input.dataset.enter !== "1") { return; }
    input.dataset.enter = "";
    var exact = results.querySelectorAll("[data-exact]");
    var all = results.querySelectorAll("[data-pick]");
    if (exact.length === 1) { pick(picker, exact[0]); } else if (all.length === 1) { pick(picker, all[0]); }
  });

  // --- the transfer form: a picked SKU and its quantity become a "CODE qty" line of its list ---------
  function appendLine(box) {
    var picker = box.querySelector("[data-picker]");
    var p = parts(picker);
    var qty = box.querySelector("[data-transfer-qty]");
    var code = p.value.value ? p.value.dataset.code : "";
    if (!code) { p.input.focus(); return; }
    if (!/^[0-9]+$/.test(qty.value.trim()) || Number(qty.value) < 1) { qty.focus(); return; }
    var area = document.querySelector(box.dataset.target);
    var kept = area.value.split(/\r?\n/).filter(function (line) {
      return line.trim() && line.trim().split(/[\s,，]+/)[0] !== code;
    });
    kept.push(code + " " + qty.value.trim());
    area.value = kept.join("\n") + "\n";
    p.value.value = "";
    p.chosen.hidden = true;
    qty.value = "1";
    p.input.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-transfer-append]");
    if (button) { appendLine(button.closest("[data-transfer-add]")); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.matches || !event.target.matches("[data-transfer-qty]")) { return; }
    event.preventDefault();
    appendLine(event.target.closest("[data-transfer-add]"));
  });

  // the picker shows the available stock of the store the goods leave from
  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("[data-picker-store]") || !event.target.value) { return; }
    var input = document.querySelector(event.target.dataset.pickerStore + " .sdo-picker__input");
    if (input) { input.setAttribute("hx-vals", JSON.stringify({ store: event.target.value })); }
  });

  // --- the camera: WeChat's scanner inside WeChat (JS-SDK), else the browser's BarcodeDetector ---------
  var inWeChat = /MicroMessenger/i.test(navigator.userAgent);
  var canDetect = "BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  var wxReady = null;

  function viaWeChat(button) {
    return inWeChat && button.dataset.jssdkUrl && window.wx;
  }

  document.querySelectorAll("[data-picker-scan]").forEach(function (button) {
    if (viaWeChat(button) || canDetect) { button.hidden = false; }
  });

  function say(picker, text) {
    var results = parts(picker).results;
    results.innerHTML = "";
    var p = document.createElement("p");
    p.className = "sdo-picker__warn";
    p.textContent = text;
    results.appendChild(p);
  }

  function weChatReady(url) {
    if (wxReady) { return wxReady; }
    var pageUrl = window.location.href.split("#")[0];
    wxReady = fetch(url + "?url=" + encodeURIComponent(pageUrl), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("config"); } return r.json(); })
      .then(function (cfg) {
        return new Promise(function (resolve, reject) {
          window.wx.config({ debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
                             signature: cfg.signature, jsApiList: cfg.jsApiList });
          window.wx.ready(resolve);
          window.wx.error(reject);
        });
      });
    wxReady.catch(function () { wxReady = null; });
    return wxReady;
  }

  function scanWithWeChat(button, input) {
    var picker = button.closest("[data-picker]");
    weChatReady(button.dataset.jssdkUrl).then(function () {
      window.wx.scanQRCode({
        needResult: 1,
        scanType: ["barCode", "qrCode"],
        success: function (res) {
          var code = String(res.resultStr || "");  // a barcode comes as "EAN_13,6901234567892"
          input.value = code.indexOf(",") >= 0 ? code.split(",").pop() : code;
          search(input);
        },
        fail: function () { say(picker, button.dataset.labelDenied); }
      });
    }).catch(function () { say(picker, button.dataset.labelDenied); });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-picker-scan]");
    if (!button) { return; }
    var input = parts(button.closest("[data-picker]")).input;
    if (viaWeChat(button)) { scanWithWeChat(button, input); return; }
    if (!canDetect) { return; }
    var overlay = document.createElement("div");
    overlay.className = "sdo-scan";
    var video = document.createElement("video");
    video.setAttribute("playsinline", "");
    video.muted = true;
    var hint = document.createElement("p");
    hint.className = "sdo-scan__hint";
    hint.textContent = button.dataset.labelHint;
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "bo-btn";
    cancel.textContent = button.dataset.labelCancel;
    overlay.appendChild(video);
    overlay.appendChild(hint);
    overlay.appendChild(cancel);
    document.body.appendChild(overlay);
    var stream = null;
    var stopped = false;
    function stop() {
      stopped = true;
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
      overlay.remove();
    }
    cancel.addEventListener("click", stop);
    var detector = new window.BarcodeDetector();
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(function () {
      (function look() {
        if (stopped) { return; }
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            stop();
            input.value = codes[0].rawValue;
            search(input);
          } else {
            setTimeout(look, 250);
          }
        }).catch(function () { setTimeout(look, 500); });
      }());
    }).catch(function () {
      hint.textContent = button.dataset.labelDenied;
    });
  });
}());

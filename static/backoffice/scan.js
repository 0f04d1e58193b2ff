// Camera scanning for the back office (templates/backoffice/_scan.html): pickup codes, product
// barcodes, document lines. One control beside a typed field ([data-scan-field]); typing stays the
// way that always works.
//
// - Inside WeChat, where the page was given a JS-SDK config URL, WeChat's own scanner (wx.scanQRCode).
// - Elsewhere (or when WeChat refuses the config) the phone's camera (getUserMedia) decoded by
//   barcode-detector, the BarcodeDetector API on ZXing compiled to WebAssembly, both served by the
//   app (static/vendor/, scripts/build_assets.sh) and loaded on the first scan.
// - "拍照识别": a file input with capture, decoded by the same library: the path when the live camera
//   cannot be had (no camera, permission refused, a page served without HTTPS).
//
// What is read fills the field, which then goes on as if it had been typed and sent: a cancelable
// "bo:scanned" event on the field (the product picker takes it and searches), else the field's form
// is submitted. The server checks everything; nothing here decides what a code means.
(function () {
  "use strict";
  if (window.boScanLoaded) { return; }  // the control may be included twice on a page
  window.boScanLoaded = true;

  var FORMATS = ["qr_code", "ean_13", "ean_8", "upc_a", "upc_e", "code_128", "code_39"];
  var inWeChat = /MicroMessenger/i.test(navigator.userAgent);
  var library = null;
  var weChat = null;

  function fieldOf(root) {
    for (var el = root.parentElement; el; el = el.parentElement) {
      var field = el.querySelector("[data-scan-field]");
      if (field) { return field; }
    }
    return null;
  }

  function say(root, text) {
    var box = root.querySelector("[data-scan-message]");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function deliver(root, value) {
    var field = fieldOf(root);
    if (!field || !value) { return; }
    say(root, "");
    field.value = value.trim();
    var goOn = field.dispatchEvent(new CustomEvent("bo:scanned", { bubbles: true, cancelable: true,
                                                                 detail: { value: field.value } }));
    if (goOn && field.form) {
      if (field.form.requestSubmit) { field.form.requestSubmit(); } else { field.form.submit(); }
    }
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // --- the library: one detector for the page, its .wasm from this site --------------------------
  function detector(root) {
    if (!library) {
      var wasm = root.dataset.scanWasm;
      library = loadScript(root.dataset.scanLib).then(function () {
        var api = window.BarcodeDetectionAPI;
        return api.prepareZXingModule({
          overrides: { locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? wasm : prefix + path; } },
          fireImmediately: true
        }).then(function () { return new api.BarcodeDetector({ formats: FORMATS }); });
      });
      library.catch(function () { library = null; });
    }
    return library;
  }

  // --- WeChat's scanner ---------------------------------------------------------------------------
  function weChatReady(root) {
    if (weChat) { return weChat; }
    var url = root.dataset.jssdkUrl;
    var sdk = window.wx ? Promise.resolve() : loadScript(root.dataset.scanWx);
    weChat = sdk.then(function () {
      return fetch(url + "?url=" + encodeURIComponent(window.location.href.split("#")[0]), { credentials: "same-origin" });
    }).then(function (r) { if (!r.ok) { throw new Error("config"); } return r.json(); })
      .then(function (cfg) {
        return new Promise(function (resolve, reject) {
          window.wx.config({ debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
                             signature: cfg.signature, jsApiList: cfg.jsApiList });
          window.wx.ready(resolve);
          window.wx.error(reject);
        });
      });
    weChat.catch(function () { weChat = null; });
    return weChat;
  }

  function scanWithWeChat(root) {
    return weChatReady(root).then(function () {
      return new Promise(function (resolve, reject) {
        window.wx.scanQRCode({
          needResult: 1,
          scanType: ["barCode", "qrCode"],
          success: function (res) {
            var text = String(res.resultStr || "");  // a barcode comes as "EAN_13,6901234567892"
            deliver(root, text.indexOf(",") >= 0 ? text.split(",").pop() : text);
            resolve();
          },
          cancel: resolve,
          fail: reject
        });
      });
    });
  }

  // --- the live camera ------------------------------------------------------------------------------
  function cameraProblem(root, error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") { return root.dataset.labelDenied; }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError" || name === "NoCamera") {
      return root.dataset.labelNoCamera;
    }
    return root.dataset.labelFailed;
  }

  function scanWithCamera(root) {
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
      say(root, root.dataset.labelNoCamera);
      return;
    }
    var overlay = document.createElement("div");
    overlay.className = "bo-scanner";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("data-testid", "scanner");
    var view = document.createElement("div");
    view.className = "bo-scanner__view";
    var video = document.createElement("video");
    video.setAttribute("playsinline", "");
    video.muted = true;
    var frame = document.createElement("div");
    frame.className = "bo-scanner__frame";
    view.appendChild(video);
    view.appendChild(frame);
    var hint = document.createElement("p");
    hint.className = "bo-scanner__hint";
    hint.textContent = root.dataset.labelHint;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "bo-btn bo-scanner__close";
    close.textContent = root.dataset.labelClose;
    overlay.appendChild(view);
    overlay.appendChild(hint);
    overlay.appendChild(close);
    document.body.appendChild(overlay);

    var stream = null;
    var stopped = false;
    function stop() {
      stopped = true;
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
      overlay.remove();
      document.removeEventListener("keydown", onKey);
    }
    function onKey(event) { if (event.key === "Escape") { stop(); } }
    close.addEventListener("click", stop);
    document.addEventListener("keydown", onKey);

    var ready = detector(root);
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      if (stopped) { s.getTracks().forEach(function (track) { track.stop(); }); return null; }
      stream = s;
      video.srcObject = s;
      return Promise.all([ready, video.play()]);
    }).then(function (parts) {
      if (!parts) { return; }
      var reader = parts[0];
      (function look() {
        if (stopped) { return; }
        if (video.readyState < 2) { setTimeout(look, 200); return; }
        reader.detect(video).then(function (codes) {
          if (stopped) { return; }
          if (codes.length) { stop(); deliver(root, codes[0].rawValue); } else { setTimeout(look, 200); }
        }).catch(function () { setTimeout(look, 500); });
      }());
    }).catch(function (error) {
      stop();
      say(root, cameraProblem(root, error));
    });
  }

  // --- a photo --------------------------------------------------------------------------------------
  function scanPhoto(root, input) {
    var file = input.files && input.files[0];
    if (!file) { return; }
    say(root, root.dataset.labelReading);
    detector(root).then(function (reader) { return reader.detect(file); }).then(function (codes) {
      if (codes.length) { deliver(root, codes[0].rawValue); } else { say(root, root.dataset.labelNothing); }
    }).catch(function () {
      say(root, root.dataset.labelNothing);
    }).then(function () { input.value = ""; });  // the same photo may be chosen again
  }

  // --- wiring -------------------------------------------------------------------------------------
  function viaWeChat(root) { return inWeChat && !!root.dataset.jssdkUrl; }

  function show(root) {
    var live = viaWeChat(root) || !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    var decodes = typeof WebAssembly === "object" && !!window.fetch && !!window.Promise;
    root.querySelector("[data-scan-camera]").hidden = !(live && (decodes || viaWeChat(root)));
    root.querySelector("[data-scan-photo]").hidden = !decodes;
  }

  function showAll() { document.querySelectorAll("[data-scan]").forEach(show); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", showAll); } else { showAll(); }
  document.addEventListener("htmx:afterSwap", showAll);

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-scan-camera]");
    if (!button) { return; }
    var root = button.closest("[data-scan]");
    say(root, "");
    if (viaWeChat(root)) {
      scanWithWeChat(root).catch(function () { scanWithCamera(root); });  // WeChat said no: the browser's camera
      return;
    }
    scanWithCamera(root);
  });

  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("[data-scan-photo] input[type=file]")) { return; }
    scanPhoto(event.target.closest("[data-scan]"), event.target);
  });
}());

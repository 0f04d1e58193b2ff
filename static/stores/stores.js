// Store list: ask for the shopper's location (WeChat JS-SDK inside WeChat when the server is
// configured for it, else the browser), then reload the list nearest first. Denied or failed:
// show the hint and let the city picker do the work.
(function () {
  "use strict";

  function reload(list, lat, lng) {
    var base = list.dataset.listUrl;
    var url = base + (base.indexOf("?") < 0 ? "?" : "&") + "lat=" + encodeURIComponent(lat) + "&lng=" + encodeURIComponent(lng);
    var city = document.getElementById("stores-city");
    if (city) { city.value = ""; }
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: list, swap: "innerHTML" });
    } else {
      window.location.href = url;
    }
    list.dataset.located = "1";
  }

  function failed(button) {
    var hint = document.querySelector("[data-stores-hint]");
    if (hint) { hint.hidden = false; }
    if (button) { button.querySelector("span").textContent = button.dataset.retryLabel; }
  }

  function viaBrowser(list, button) {
    if (!navigator.geolocation) { failed(button); return; }
    navigator.geolocation.getCurrentPosition(
      function (pos) { reload(list, pos.coords.latitude.toFixed(6), pos.coords.longitude.toFixed(6)); done(button); },
      function () { failed(button); },
      { enableHighAccuracy: false, timeout: 8000, maximumAge: 300000 }
    );
  }

  function viaWeChat(list, button, configUrl) {
    var pageUrl = window.location.href.split("#")[0];
    var settled = false;
    function settle(next) { return function (arg) { if (!settled) { settled = true; next(arg); } }; }
    // Outside a real WeChat (no WeixinJSBridge) wx.ready and wx.error may never fire: do not wait.
    setTimeout(settle(function () { viaBrowser(list, button); }), 4000);
    fetch(configUrl + "?url=" + encodeURIComponent(pageUrl), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("config"); } return r.json(); })
      .then(function (cfg) {
        window.wx.config({ debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
                           signature: cfg.signature, jsApiList: cfg.jsApiList });
        window.wx.ready(function () {
          window.wx.getLocation({
            type: "wgs84",
            success: settle(function (res) { reload(list, res.latitude, res.longitude); done(button); }),
            fail: settle(function () { viaBrowser(list, button); }),
            cancel: settle(function () { failed(button); })
          });
        });
        window.wx.error(settle(function () { viaBrowser(list, button); }));
      })
      .catch(settle(function () { viaBrowser(list, button); }));
  }

  function done(button) {
    if (button) { button.querySelector("span").textContent = button.dataset.doneLabel; }
  }

  function locate(list, button) {
    var configUrl = button && button.dataset.jssdkUrl;
    var inWeChat = /MicroMessenger/i.test(navigator.userAgent);
    if (configUrl && inWeChat && window.wx) { viaWeChat(list, button, configUrl); } else { viaBrowser(list, button); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("store-list");
    var button = document.querySelector("[data-stores-locate]");
    if (!list) { return; }
    if (button) {
      button.addEventListener("click", function () { locate(list, button); });
    }
    if (list.dataset.located !== "1") { locate(list, button); }
  });
})();

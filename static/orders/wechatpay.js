// WeChat Pay inside WeChat (JSAPI): hands the parameters our server signed (json_script named by
// data-params) to WeixinJSBridge.invoke("getBrandWCPayRequest"), once the bridge is ready. The
// bridge's "ok" is not proof of payment: it only opens the result page, which asks our server.
// Cancel and failure leave the shopper here with "继续支付". Wired by data attributes, no inline script.
(function () {
  "use strict";

  function start(box) {
    var source = document.getElementById(box.getAttribute("data-params"));
    if (!source) { return; }
    var params = JSON.parse(source.textContent);
    var message = box.querySelector("[data-wechatpay-message]");
    var retry = box.querySelector("[data-wechatpay-retry]");
    var busy = false;

    function say(key) {
      if (message) { message.textContent = box.getAttribute(key) || ""; }
    }

    function invoke() {
      if (busy) { return; }
      if (!window.WeixinJSBridge) { say("data-text-outside"); return; }
      busy = true;
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
        busy = false;
        var result = res && res.err_msg;
        if (result === "get_brand_wcpay_request:ok") {
          window.location.href = box.getAttribute("data-result-url");
        } else if (result === "get_brand_wcpay_request:cancel") {
          say("data-text-cancel");
        } else {
          say("data-text-fail");
        }
      });
    }

    if (retry) { retry.addEventListener("click", invoke); }
    if (window.WeixinJSBridge) {
      invoke();
    } else {
      document.addEventListener("WeixinJSBridgeReady", invoke, false);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-wechatpay-bridge]");
    for (var i = 0; i < boxes.length; i += 1) { start(boxes[i]); }
  });
})();

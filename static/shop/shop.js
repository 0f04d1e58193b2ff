// Shopper pages: small behaviours wired by data attributes, no inline script.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // Top tips fade after a few seconds, as WeUI's own toptips do.
    document.querySelectorAll(".shop-toptip").forEach(function (tip) {
      setTimeout(function () { tip.style.display = "none"; }, 3000);
    });
    // A top bar's back arrow goes back when the shopper came from one of our pages; otherwise
    // (opened from a chat or a bookmark) it follows its link.
    document.querySelectorAll("[data-nav-back]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var referrer = document.referrer;
        if (window.history.length > 1 && referrer && referrer.indexOf(window.location.origin + "/") === 0
            && referrer !== window.location.href) {
          event.preventDefault();
          window.history.back();
        }
      });
    });
  });
  // An htmx request the server could not answer now (core.outages: 503 with one line of plain
  // text, nothing changed): show that line as a top tip instead of leaving the tap unanswered.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var type = (xhr && xhr.getResponseHeader("Content-Type")) || "";
    if (!xhr || xhr.status !== 503 || type.indexOf("text/plain") !== 0) { return; }
    var tip = document.createElement("div");
    tip.className = "weui-toptips weui-toptips_warn shop-busy-tip";
    tip.setAttribute("role", "alert");
    tip.textContent = xhr.responseText;
    document.body.appendChild(tip);
    setTimeout(function () { tip.remove(); }, 3000);
  });
})();

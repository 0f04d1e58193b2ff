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
})();

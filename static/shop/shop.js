// Shopper pages: small behaviours wired by data attributes, no inline script.
(function () {
  "use strict";
  // Top tips fade after a few seconds, as WeUI's own toptips do.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".shop-toptip").forEach(function (tip) {
      setTimeout(function () { tip.style.display = "none"; }, 3000);
    });
  });
})();

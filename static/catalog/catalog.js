// Catalogue pages: image carousel counter, the SKU sheet, quantity stepper. Wired by data attributes.
(function () {
  "use strict";

  function qs(root, selector) { return root.querySelector(selector); }

  function initCarousel(carousel) {
    var track = qs(carousel, "[data-carousel-track]");
    var count = qs(carousel, "[data-carousel-count]");
    if (!track || !count) { return; }
    var total = track.children.length;
    track.addEventListener("scroll", function () {
      var index = Math.round(track.scrollLeft / Math.max(1, track.clientWidth));
      count.textContent = (index + 1) + "/" + total;
    }, { passive: true });
  }

  function openSheet(sheet, mode) {
    sheet.hidden = false;
    sheet.dataset.mode = mode || "both";
    sheet.querySelectorAll("[data-sheet-action]").forEach(function (button) {
      var action = button.getAttribute("data-sheet-action");
      button.hidden = !(mode === "both" || !mode || mode === action);
    });
    document.body.style.overflow = "hidden";
    var checked = qs(sheet, "input[name=sku_id]:checked") || qs(sheet, "input[name=sku_id]:not(:disabled)");
    if (checked) { checked.focus({ preventScroll: true }); }
  }

  function closeSheet(sheet) {
    sheet.hidden = true;
    document.body.style.overflow = "";
  }

  function showSku(sheet, input) {
    var price = qs(sheet, "[data-sku-price]");
    var stock = qs(sheet, "[data-sku-stock]");
    if (price) {
      price.textContent = "";
      var small = document.createElement("small");
      small.textContent = "¥";
      price.appendChild(small);
      price.appendChild(document.createTextNode(input.dataset.price));
    }
    if (stock) { stock.textContent = input.dataset.stock; }
    var image = input.dataset.image;
    var thumb = qs(sheet, "[data-sku-image] img");
    if (image && thumb) { thumb.src = image; }
    var chosen = document.querySelector("[data-sku-chosen]");
    if (chosen) { chosen.textContent = input.dataset.spec; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-carousel]").forEach(initCarousel);

    document.querySelectorAll("[data-history-back]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (window.history.length > 1 && document.referrer.indexOf(window.location.host) !== -1) {
          event.preventDefault();
          window.history.back();
        }
      });
    });

    document.querySelectorAll("[data-sheet-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var sheet = document.getElementById(button.getAttribute("data-sheet-open"));
        if (sheet) { openSheet(sheet, button.getAttribute("data-sheet-mode")); }
      });
    });

    document.querySelectorAll("[data-sheet]").forEach(function (sheet) {
      sheet.querySelectorAll("[data-sheet-close]").forEach(function (closer) {
        closer.addEventListener("click", function () { closeSheet(sheet); });
      });
      sheet.addEventListener("change", function (event) {
        if (event.target.name === "sku_id") { showSku(sheet, event.target); }
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && !sheet.hidden) { closeSheet(sheet); }
      });
      sheet.querySelectorAll("[data-qty-step]").forEach(function (button) {
        button.addEventListener("click", function () {
          var input = qs(sheet, "input[name=quantity]");
          var value = parseInt(input.value, 10) || 1;
          value += parseInt(button.getAttribute("data-qty-step"), 10);
          var max = parseInt(input.max, 10) || 999;
          input.value = Math.min(max, Math.max(1, value));
        });
      });
    });
  });
})();

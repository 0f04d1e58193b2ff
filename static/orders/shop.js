// Orders' shopper pages (cart, checkout, pay, orders, after-sales): the cart badge and toasts that
// htmx responses announce (HX-Trigger "cart-changed" / "shop-toast"), the pay countdown, quantity
// steppers and the photo picker (the WeUI confirm dialogs of data-confirm and one submit per form,
// data-submit-once, are static/shop/confirm.js, on every shopper page). Wired by data attributes; no inline script. (WeChat Pay's JS
// bridge is static/orders/wechatpay.js.)
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // --- toasts (WeUI) ---------------------------------------------------------------------------
  var toastTimer = null;
  function showToast(text, kind) {
    var old = document.getElementById("od-toast");
    if (old) { old.remove(); }
    var wrap = el("div", "weui-toast__wrp od-toast");
    wrap.id = "od-toast";
    wrap.setAttribute("role", "alert");
    wrap.appendChild(el("div", "weui-mask_transparent"));
    var box = el("div", kind === "warn" ? "weui-toast weui-toast_text" : "weui-toast");
    if (kind !== "warn") {
      box.appendChild(el("i", "weui-icon-success-no-circle weui-icon_toast"));
    }
    box.appendChild(el("p", "weui-toast__content", text));
    wrap.appendChild(box);
    document.body.appendChild(wrap);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { wrap.remove(); }, kind === "warn" ? 2500 : 1500);
  }

  // --- the cart badge --------------------------------------------------------------------------
  function setBadge(count) {
    document.querySelectorAll("[data-cart-badge]").forEach(function (badge) {
      badge.textContent = count > 99 ? "99+" : String(count);
      badge.hidden = !count;
    });
  }

  document.addEventListener("cart-changed", function (event) {
    var detail = event.detail || {};
    if (typeof detail.count === "number") { setBadge(detail.count); }
  });
  document.addEventListener("shop-toast", function (event) {
    var detail = event.detail || {};
    if (detail.text) { showToast(detail.text, detail.kind); }
  });

  // --- behaviours on the page ------------------------------------------------------------------
  function initCountdowns(root) {
    root.querySelectorAll("[data-countdown]").forEach(function (box) {
      if (box.dataset.counting) { return; }
      box.dataset.counting = "1";
      var left = parseInt(box.getAttribute("data-countdown"), 10) || 0;
      var text = box.querySelector("[data-countdown-text]");
      var timer = setInterval(function () {
        left -= 1;
        if (left <= 0) {
          clearInterval(timer);
          box.textContent = box.getAttribute("data-expired-text") || "";
          return;
        }
        var minutes = Math.floor(left / 60);
        var seconds = left % 60;
        if (text) { text.textContent = (minutes < 10 ? "0" : "") + minutes + ":" + (seconds < 10 ? "0" : "") + seconds; }
      }, 1000);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-stepper] [data-step]");
    if (!button) { return; }
    var input = button.parentNode.querySelector("input[type=number]");
    if (!input) { return; }
    var min = parseInt(input.min, 10) || 0;
    var max = parseInt(input.max, 10) || 999;
    var value = (parseInt(input.value, 10) || 0) + parseInt(button.getAttribute("data-step"), 10);
    input.value = Math.min(max, Math.max(min, value));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input[type=file][data-max-files]")) {
      var max = parseInt(input.getAttribute("data-max-files"), 10);
      if (input.files && input.files.length > max) {
        showToast(input.getAttribute("data-max-files-text"), "warn");
        input.value = "";
      }
      previewPhotos(input);
    }
  });

  // the chosen pictures, shown beside the "+" box before they are sent
  function previewPhotos(input) {
    var uploader = input.closest("[data-uploader]");
    if (!uploader) { return; }
    uploader.querySelectorAll(".od-uploader__preview").forEach(function (img) {
      URL.revokeObjectURL(img.src);
      img.remove();
    });
    Array.prototype.forEach.call(input.files || [], function (file) {
      var img = el("img", "od-uploader__preview");
      img.alt = file.name;
      img.src = URL.createObjectURL(file);
      uploader.insertBefore(img, uploader.lastElementChild);
    });
  }

  // Enter in a text box of the checkout form re-prices instead of placing the order
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key === "Enter" && input.matches && input.matches("#checkout input[type=text]")) {
      event.preventDefault();
      input.blur();
    }
  });

  // --- the order tabs: a row that scrolls sideways when the labels are long (English) keeps the
  // current tab in view
  function showCurrentTab(root) {
    var current = root.querySelector && root.querySelector(".od-tabs a.is-on");
    var row = current && current.parentNode;
    if (row && row.scrollWidth > row.clientWidth) {
      row.scrollLeft = current.offsetLeft - (row.clientWidth - current.offsetWidth) / 2;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    initCountdowns(document);
    showCurrentTab(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) { initCountdowns(event.target); });
})();

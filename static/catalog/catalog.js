// Catalogue pages: image carousel counter, the SKU sheet (per-option picker), quantity stepper
// (its max is the chosen SKU's stock in the chosen store), the product page's store panel
// (reloaded for the chosen SKU). Wired by data attributes.
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
    var first = qs(sheet, "[data-sku-picker]:not([hidden]) .catalog-picker__value:not(:disabled)") ||
      qs(sheet, "input[name=sku_id]:checked") || qs(sheet, "input[name=sku_id]:not(:disabled)");
    if (first) { first.focus({ preventScroll: true }); }
  }

  function closeSheet(sheet) {
    sheet.hidden = true;
    document.body.style.overflow = "";
  }

  // The stepper stops at `max` (the SKU's stock in the chosen store; 999 when not known).
  function setMax(sheet, max) {
    var input = qs(sheet, "input[name=quantity]");
    if (!input) { return; }
    max = parseInt(max, 10) || 999;
    input.max = String(max);
    var value = parseInt(input.value, 10) || 1;
    if (value > max) { input.value = String(max); }
  }

  // The store panel under the product shows the chosen store's state and the nearby stores for
  // one SKU (or the whole product with none): ask the server for it again.
  function refreshStores(skuId) {
    var panel = document.querySelector("[data-store-panel]");
    if (!panel || !window.htmx) { return; }
    var key = skuId ? String(skuId) : "";
    if (panel.dataset.sku === key) { return; }
    panel.dataset.sku = key;
    // the server's panel carries data-sku of the SKU it was made for
    window.htmx.ajax("GET", panel.dataset.url + (key ? "?sku=" + encodeURIComponent(key) : ""),
      { target: panel, swap: "outerHTML" });
  }

  // sku: {id, price, market, stock, spec, image, max} of the chosen SKU
  function showSku(sheet, sku) {
    var price = qs(sheet, "[data-sku-price]");
    var stock = qs(sheet, "[data-sku-stock]");
    var market = qs(sheet, "[data-sku-market]");
    if (price) {
      price.textContent = "";
      var small = document.createElement("small");
      small.textContent = "¥";
      price.appendChild(small);
      price.appendChild(document.createTextNode(sku.price));
    }
    if (market) {
      market.textContent = sku.market ? "¥" + sku.market : "";
      market.hidden = !sku.market;
    }
    if (stock) { stock.textContent = sku.stock; }
    showImage(sheet, sku.image);
    setMax(sheet, sku.max);
    var chosen = document.querySelector("[data-sku-chosen]");
    if (chosen) { chosen.textContent = sku.spec; }
    refreshStores(sku.id);
  }

  function skuOfInput(input) {
    return {
      id: parseInt(input.value, 10), price: input.dataset.price, market: input.dataset.market,
      stock: input.dataset.stock, spec: input.dataset.spec, image: input.dataset.image || "",
      max: input.dataset.max
    };
  }

  // the SKU's own image, else the product cover the sheet was rendered with
  function showImage(sheet, url) {
    var box = qs(sheet, "[data-sku-image]");
    if (!box) { return; }
    if (box.dataset.coverHtml === undefined) { box.dataset.coverHtml = box.innerHTML; }
    if (!url) {
      if (box.innerHTML !== box.dataset.coverHtml) { box.innerHTML = box.dataset.coverHtml; }
      return;
    }
    var img = qs(box, "img");
    if (!img) {
      box.textContent = "";
      img = document.createElement("img");
      img.alt = "";
      box.appendChild(img);
    }
    img.removeAttribute("srcset");
    img.src = url;
  }

  // One row per option type (颜色, 尺码 …): the shopper picks one value per row; values that
  // lead to no enabled SKU, or only to out-of-stock ones, are disabled. The matching SKU's
  // radio in the (hidden) plain list is checked, so the form posts sku_id as without JS.
  function initPicker(sheet) {
    var picker = qs(sheet, "[data-sku-picker]");
    var source = document.getElementById("sku-picker-data");
    if (!picker || !source) { return; }
    var data = JSON.parse(source.textContent);
    var list = qs(sheet, "[data-sku-list]");
    var rows = Array.prototype.slice.call(picker.querySelectorAll("[data-option-type]"));
    var price = qs(sheet, "[data-sku-price]");
    var stock = qs(sheet, "[data-sku-stock]");
    var market = qs(sheet, "[data-sku-market]");
    var chosenCell = document.querySelector("[data-sku-chosen]");
    var initial = {
      price: price ? price.innerHTML : "", stock: stock ? stock.textContent : "",
      chosen: chosenCell ? chosenCell.textContent : ""
    };
    var selected = {};  // option type id -> value id

    function matches(sku, selection) {
      return Object.keys(selection).every(function (type) {
        return sku.values.indexOf(selection[type]) !== -1;
      });
    }

    function possible(selection) {
      return data.skus.some(function (sku) { return sku.state !== "out" && matches(sku, selection); });
    }

    function missingNames() {
      return rows.filter(function (row) { return !selected[row.dataset.optionType]; })
        .map(function (row) { return row.dataset.optionName; });
    }

    function render() {
      rows.forEach(function (row) {
        var type = row.dataset.optionType;
        row.querySelectorAll("[data-option-value]").forEach(function (button) {
          var value = parseInt(button.dataset.optionValue, 10);
          var trial = Object.assign({}, selected);
          trial[type] = value;
          var on = selected[type] === value;
          button.disabled = !on && !possible(trial);
          button.classList.toggle("is-on", on);
          button.setAttribute("aria-checked", on ? "true" : "false");
        });
      });
      var sku = null;
      if (missingNames().length === 0) {
        sku = data.skus.filter(function (candidate) { return matches(candidate, selected); })[0] || null;
      }
      sheet.querySelectorAll("input[name=sku_id]").forEach(function (input) {
        input.checked = !!sku && parseInt(input.value, 10) === sku.id;
      });
      if (sku) {
        showSku(sheet, sku);
        return;
      }
      if (price) { price.innerHTML = initial.price; }
      if (market) { market.hidden = true; }
      if (stock) { stock.textContent = picker.dataset.prompt + " " + missingNames().join(" "); }
      if (chosenCell) { chosenCell.textContent = initial.chosen; }
      showImage(sheet, "");
      setMax(sheet, 999);
      refreshStores(null);
    }

    picker.addEventListener("click", function (event) {
      var button = event.target.closest("[data-option-value]");
      if (!button || button.disabled) { return; }
      var type = button.closest("[data-option-type]").dataset.optionType;
      var value = parseInt(button.dataset.optionValue, 10);
      if (selected[type] === value) { delete selected[type]; } else { selected[type] = value; }
      render();
    });

    // a SKU selected by the page (?sku=, e.g. from a store's stock list) starts chosen
    var preset = data.selected && data.skus.filter(function (sku) {
      return sku.id === data.selected && sku.state !== "out";
    })[0];
    if (preset) {
      rows.forEach(function (row) {
        var type = row.dataset.optionType;
        row.querySelectorAll("[data-option-value]").forEach(function (button) {
          var value = parseInt(button.dataset.optionValue, 10);
          if (preset.values.indexOf(value) !== -1) { selected[type] = value; }
        });
      });
    }

    // a row whose only possible value is obvious is chosen for the shopper
    rows.forEach(function (row) {
      var open = Array.prototype.filter.call(row.querySelectorAll("[data-option-value]"), function (button) {
        var trial = {};
        trial[row.dataset.optionType] = parseInt(button.dataset.optionValue, 10);
        return possible(trial);
      });
      if (open.length === 1 && row.querySelectorAll("[data-option-value]").length === 1) {
        selected[row.dataset.optionType] = parseInt(open[0].dataset.optionValue, 10);
      }
    });

    sheet.querySelectorAll("input[name=sku_id]").forEach(function (input) { input.required = false; });
    var form = qs(sheet, "form");
    form.addEventListener("submit", function (event) {
      if (qs(sheet, "input[name=sku_id]:checked")) { return; }
      event.preventDefault();
      render();
      rows.forEach(function (row) {
        row.classList.toggle("is-missing", !selected[row.dataset.optionType]);
      });
    });
    picker.hidden = false;
    if (list) { list.hidden = true; }
    render();
  }

  // 加入购物车 posts through htmx (no reload): the orders app answers with the badge count and a
  // toast as htmx events (static/orders/shop.js shows the toast). 立即购买 and the no-JavaScript
  // form post as before. The picker's own submit check runs first (it cancels the event).
  function initCartAdd(sheet) {
    var form = qs(sheet, "form");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (event.defaultPrevented || !window.htmx || !submitter ||
          submitter.getAttribute("data-sheet-action") !== "cart") { return; }
      event.preventDefault();
      window.htmx.ajax("POST", form.getAttribute("action"), { source: form, swap: "none" });
    });
    document.addEventListener("cart-changed", function (event) {
      closeSheet(sheet);
      var count = (event.detail || {}).count;
      document.querySelectorAll(".catalog-actionbar__icon[href$='/orders/cart/']").forEach(function (link) {
        if (typeof count === "number") { link.setAttribute("data-count", count > 99 ? "99+" : String(count)); }
      });
    });
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
      button.addEventListener("click", function (event) {
        var sheet = document.getElementById(button.getAttribute("data-sheet-open"));
        if (sheet) {
          event.preventDefault();  // without JavaScript the link scrolls to the in-page sheet
          openSheet(sheet, button.getAttribute("data-sheet-mode"));
        }
      });
    });

    document.querySelectorAll("[data-sheet]").forEach(function (sheet) {
      sheet.hidden = true;
      sheet.classList.remove("is-static");
      initPicker(sheet);
      initCartAdd(sheet);
      sheet.querySelectorAll("[data-sheet-close]").forEach(function (closer) {
        closer.addEventListener("click", function () { closeSheet(sheet); });
      });
      sheet.addEventListener("change", function (event) {
        if (event.target.name === "sku_id") { showSku(sheet, skuOfInput(event.target)); }
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

// The product picker (templates/stores/backoffice/partials/_picker.html): htmx fetches the matches
// as you type; a tap on one fills the hidden "sku" field and moves to the quantity. Enter (what a
// scanner gun sends after the code) searches at once and picks the only exact match by itself.
// The camera (扫码, 拍照识别: static/backoffice/scan.js) fills the search and does the same.
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

  // --- the camera (static/backoffice/scan.js): what it read is searched as an Enter would -------
  document.addEventListener("bo:scanned", function (event) {
    if (!event.target.matches || !event.target.matches(".sdo-picker__input")) { return; }
    event.preventDefault();  // not the form's submit: pick the one exact match first
    var p = parts(event.target.closest("[data-picker]"));
    p.value.value = "";
    p.chosen.hidden = true;
    search(event.target);
  });
}());

/* 批量填充 above the SKU table of the product admin (templates/catalog/admin/sku_inline.html):
   the values typed in the fill row are copied into the same inputs of every SKU row; blank
   fill inputs leave the rows alone. A convenience only: nothing is saved until the form is, and
   the server validates each row as usual. */
(function () {
  "use strict";

  function rowsOf(group, prefix) {
    var rows = [];
    group.querySelectorAll("tr.form-row").forEach(function (row) {
      if (!row.classList.contains("empty-form") && new RegExp("^" + prefix + "-\\d+$").test(row.id)) rows.push(row);
    });
    return rows;
  }

  function fill(box) {
    var prefix = box.dataset.skuFill;
    var group = document.getElementById(prefix + "-group");
    var status = box.querySelector("[data-sku-fill-status]");
    var sources = Array.prototype.slice.call(box.querySelectorAll("[data-fill-field]"));
    var wanted = sources.filter(function (input) { return input.value.trim() !== ""; });
    if (!group || !wanted.length) return;
    for (var i = 0; i < wanted.length; i++) {
      if (!wanted[i].checkValidity()) { wanted[i].reportValidity(); return; }
    }
    var rows = rowsOf(group, prefix);
    rows.forEach(function (row) {
      wanted.forEach(function (source) {
        var target = row.querySelector('input[name="' + row.id + "-" + source.dataset.fillField + '"]');
        if (!target || target.disabled || target.readOnly) return;
        target.value = source.value.trim();
        target.dispatchEvent(new Event("input", { bubbles: true }));
        target.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
    if (status) status.textContent = (box.dataset.done || "").replace("%(n)s", String(rows.length));
  }

  function init() {
    document.querySelectorAll("[data-sku-fill]").forEach(function (box) {
      box.hidden = false;
      box.querySelector("[data-sku-fill-apply]").addEventListener("click", function () { fill(box); });
      box.querySelectorAll("[data-fill-field]").forEach(function (input) {
        input.addEventListener("keydown", function (event) {
          if (event.key === "Enter") {  // would submit the whole product form
            event.preventDefault();
            fill(box);
          }
        });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// Back office: draws every [data-chart] element with ECharts from a json_script data block.
(function () {
  "use strict";
  function draw(el) {
    var source = document.getElementById(el.dataset.source);
    if (!source || !window.echarts) { return; }
    var rows = JSON.parse(source.textContent);
    var x = el.dataset.x, y = el.dataset.y;
    var chart = window.echarts.init(el);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 16, top: 16, bottom: 32 },
      xAxis: { type: "category", data: rows.map(function (r) { return r[x]; }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: el.dataset.label || y, type: el.dataset.chart || "bar", data: rows.map(function (r) { return r[y]; }), itemStyle: { color: "#1677ff" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function drawAll(root) { (root || document).querySelectorAll("[data-chart]").forEach(draw); }
  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.target); });
  // core.outages answers an htmx request it cannot serve now with 503 and one line of plain text.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var type = (xhr && xhr.getResponseHeader("Content-Type")) || "";
    if (!xhr || xhr.status !== 503 || type.indexOf("text/plain") !== 0) { return; }
    var tip = document.createElement("div");
    tip.className = "bo-busy-tip";
    tip.setAttribute("role", "alert");
    tip.textContent = xhr.responseText;
    document.body.appendChild(tip);
    setTimeout(function () { tip.remove(); }, 4000);
  });
})();

// HQ's reconciliation page: money per channel and day as stacked bars (收款 and 退款 side by side,
// each stacked by channel), from the json_script block named by data-source. Amounts arrive as yuan
// strings (Decimal on the server); ECharts only draws them.
(function () {
  "use strict";
  function draw(el) {
    var source = document.getElementById(el.dataset.source);
    if (!source || !window.echarts) { return; }
    var figures = JSON.parse(source.textContent);
    var series = [];
    figures.series.forEach(function (s) {
      series.push({ name: s.label + " " + el.dataset.labelPaid, type: "bar", stack: "paid", data: s.paid.map(Number) });
    });
    figures.series.forEach(function (s) {
      series.push({ name: s.label + " " + el.dataset.labelRefunded, type: "bar", stack: "refunded", data: s.refunded.map(Number) });
    });
    var chart = window.echarts.init(el);
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { type: "scroll", top: 0 },
      grid: { left: 56, right: 16, top: 40, bottom: 32 },
      xAxis: { type: "category", data: figures.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value" },
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-stacked-chart]").forEach(draw);
  });
})();

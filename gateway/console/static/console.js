/* The console's own script: confirmations, "select all", charts. No inline script anywhere
   (the Content-Security-Policy allows scripts from the gateway only). */
(function () {
  "use strict";

  function confirmations(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.bound) return;
      form.dataset.bound = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    root.querySelectorAll("button[data-confirm]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) event.preventDefault();
      });
    });
    root.querySelectorAll("input[data-select-all]").forEach(function (box) {
      if (box.dataset.bound) return;
      box.dataset.bound = "1";
      box.addEventListener("change", function () {
        var form = box.closest("form");
        form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]')
          .forEach(function (other) { other.checked = box.checked; });
      });
    });
  }

  var palette = { in: "#1f6feb", out: "#2da44e", rejected: "#cf222e", durations: "#8250df",
                  read: "#1f6feb", written: "#2da44e", counts: "#cf222e" };

  var rulePalette = ["#cf222e", "#bf8700", "#8250df", "#1f6feb", "#2da44e", "#6e7781"];

  function dataset(label, values, color, type, fill) {
    return { label: label, data: values, borderColor: color, backgroundColor: color + "55",
             borderWidth: 1.5, pointRadius: type === "line" && !fill ? 2 : 0,
             fill: Boolean(fill), tension: 0.25, type: type };
  }

  function charts(root) {
    if (!window.Chart) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var source = document.getElementById(canvas.id + "-data");
      if (!source) return;
      var data = JSON.parse(source.textContent);
      var kind = canvas.dataset.chart, config;
      var zh = document.documentElement.lang === "zh-CN";
      if (kind === "hourly") {
        config = { type: "line", data: { labels: data.labels, datasets: [
          dataset(zh ? "接收" : "in", data["in"], palette["in"], "line", true),
          dataset(zh ? "发送" : "out", data.out, palette.out, "line", true),
          dataset(zh ? "拒收" : "rejected", data.rejected, palette.rejected, "line", true)] } };
      } else if (kind === "runs") {
        config = { type: "bar", data: { labels: data.labels, datasets: [
          dataset(zh ? "耗时（秒）" : "duration (s)", data.durations, palette.durations, "bar"),
          dataset(zh ? "读取" : "read", data.read, palette.read, "line"),
          dataset(zh ? "写入" : "written", data.written, palette.written, "line")] } };
      } else if (kind === "daily") {
        // one stacked bar per day, a colour per rule (the rules that reject most, then "other")
        config = { type: "bar", data: { labels: data.labels, datasets: data.datasets.map(
          function (d, i) {
            var label = d.rule === "other" ? (zh ? "其他" : "other") : d.rule;
            return dataset(label, d.counts, rulePalette[i % rulePalette.length], "bar");
          }) },
          options: { scales: { x: { stacked: true, ticks: { maxTicksLimit: 10, autoSkip: true } },
                               y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } };
      } else {
        config = { type: "bar", data: { labels: data.labels, datasets: [
          dataset(zh ? "拒收" : "rejections", data.counts, palette.counts, "bar")] },
          options: { indexAxis: "y" } };
      }
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { ticks: { maxTicksLimit: 8, autoSkip: true } }, y: { beginAtZero: true } },
        plugins: { legend: { position: "bottom" } } }, config.options || {});
      canvas.dataset.drawn = "1";
      new window.Chart(canvas, config);
    });
  }

  function setUp(root) { confirmations(root); charts(root); }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:afterSettle", function (event) { setUp(event.target); });
})();

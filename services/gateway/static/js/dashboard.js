/* The education bureau's dashboard: ECharts (vendored, static/vendor/echarts) over GET /api/reports/charts. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  var status = document.getElementById("dashboard-status");
  if (!root || !window.echarts) { return; }
  var names = JSON.parse(root.getAttribute("data-townships") || "{}");
  var charts = [];
  function chart(id, option) {
    var c = window.echarts.init(document.getElementById(id));
    c.setOption(option);
    charts.push(c);
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.sjFetch(root.getAttribute("data-source")).then(function (data) {
    var trend = data.academic_trend || [];
    chart("chart-trend", {
      tooltip: { trigger: "axis" }, legend: { data: ["正常营业学科类机构", "压减率（%）"] },
      xAxis: { type: "category", data: trend.map(function (p) { return p.date; }) },
      yAxis: [{ type: "value", name: "家" }, { type: "value", name: "%", max: 100 }],
      series: [
        { name: "正常营业学科类机构", type: "line", data: trend.map(function (p) { return p.academic_operating; }) },
        { name: "压减率（%）", type: "line", yAxisIndex: 1,
          data: trend.map(function (p) { return p.reduction_rate == null ? null : Math.round(p.reduction_rate * 1000) / 10; }) }
      ]
    });
    var weekly = data.weekly || { weeks: [], alerts_raised: [], complaints_received: [] };
    chart("chart-weekly", {
      tooltip: { trigger: "axis" }, legend: { data: ["资金预警", "举报"] },
      xAxis: { type: "category", data: weekly.weeks }, yAxis: { type: "value", minInterval: 1 },
      series: [{ name: "资金预警", type: "bar", data: weekly.alerts_raised },
               { name: "举报", type: "bar", data: weekly.complaints_received }]
    });
    var coverage = data.coverage_by_township || [];
    chart("chart-coverage", {
      tooltip: { trigger: "axis" }, legend: { data: ["机构检查覆盖率（%）", "学校督导覆盖率（%）"] },
      grid: { left: 90 },
      yAxis: { type: "category", data: coverage.map(function (t) { return names[t.township_code] || t.township_code; }) },
      xAxis: { type: "value", max: 100 },
      series: [
        { name: "机构检查覆盖率（%）", type: "bar", data: coverage.map(function (t) { return t.inspection_coverage == null ? 0 : Math.round(t.inspection_coverage * 1000) / 10; }) },
        { name: "学校督导覆盖率（%）", type: "bar", data: coverage.map(function (t) { return t.visit_coverage == null ? 0 : Math.round(t.visit_coverage * 1000) / 10; }) }
      ]
    });
    status.textContent = "数据期间：" + data.from + " 至 " + data.to;
  }).catch(function (error) { status.textContent = "加载失败：" + error.message; });
})();

// Draws the dashboard's two charts from the figures the page carries in
// <script type="application/json" id="dashboard-chart-data">, and again after htmx swaps them.
(function () {
  "use strict";

  const COLORS = { succeeded: "#067647", failed: "#b42318", running: "#b54708", synced: "#1f5eff" };

  function readData() {
    const node = document.getElementById("dashboard-chart-data");
    return node ? JSON.parse(node.textContent) : null;
  }

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return;
    const existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    new Chart(canvas, config);
  }

  function render() {
    const data = readData();
    if (!data) return;
    // Every number drills down: a click on a day opens that day's syncs.
    const openDay = (event, elements) => {
      if (elements.length && data.day_links) window.location.href = data.day_links[elements[0].index];
    };
    const common = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      onClick: openDay,
      interaction: { mode: "index", intersect: false },
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    };
    draw("chart-syncs", {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Succeeded", data: data.succeeded, backgroundColor: COLORS.succeeded },
          { label: "Failed", data: data.failed, backgroundColor: COLORS.failed },
          { label: "Running", data: data.running, backgroundColor: COLORS.running },
        ],
      },
      options: common,
    });
    draw("chart-expenses", {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: "Expenses synced",
            data: data.synced,
            borderColor: COLORS.synced,
            backgroundColor: "rgba(31, 94, 255, 0.15)",
            fill: true,
            tension: 0,
          },
        ],
      },
      options: { ...common, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  document.addEventListener("DOMContentLoaded", render);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "dashboard-body") render();
  });
})();

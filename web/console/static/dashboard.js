// Draws the dashboard's charts from the JSON the server put in #chart-data.
// Everything else on the page works without this script (the numbers are in the tables).
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var won = function (v) { return Number(v).toLocaleString("ko-KR") + "원"; };
  var palette = {
    pending: "#98a2b3", created: "#98a2b3", submitting: "#98a2b3", processing: "#7a9cf5",
    in_progress: "#2f5bea", completed: "#12805c", partial: "#f79009", canceled: "#d92d20",
    failed: "#912018", needs_review: "#b54708"
  };
  Chart.defaults.animation = false;  // drawn at once: no half-drawn screenshots
  Chart.defaults.maintainAspectRatio = false;
  new Chart(document.getElementById("chart-daily"), {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: data.names.sales, data: data.sales, backgroundColor: "#7a9cf5", order: 2 },
        { type: "bar", label: data.names.refunds, data: data.refunds, backgroundColor: "#fda29b", order: 3 },
        { type: "line", label: data.names.profit, data: data.profit, borderColor: "#12805c",
          backgroundColor: "#12805c", pointRadius: 2, tension: 0.2, order: 1 }
      ]
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: { y: { ticks: { callback: function (v) { return won(v); } } } },
      plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + won(c.parsed.y); } } } }
    }
  });
  var status = data.status;
  new Chart(document.getElementById("chart-status"), {
    type: "doughnut",
    data: {
      labels: status.labels,
      datasets: [{ data: status.values, backgroundColor: status.keys.map(function (k) { return palette[k] || "#667085"; }) }]
    },
    options: { plugins: { legend: { position: "bottom" } } }
  });
  document.body.setAttribute("data-charts", "drawn");
})();

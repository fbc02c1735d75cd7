// Live counts of a broadcast: polls its progress every 2 s until nothing is left.
// Without JavaScript the page refreshes itself instead (<noscript> meta refresh).
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || box.getAttribute("data-finished") === "1") { return; }
  var state = document.getElementById("progress-state");
  var doneText = document.getElementById("done-text").getAttribute("data-done");
  function show(counts) {
    ["queued", "sent", "failed", "left"].forEach(function (key) {
      var el = box.querySelector('[data-count="' + key + '"]');
      if (el) { el.textContent = Number(counts[key]).toLocaleString("ko-KR"); }
    });
    if (counts.finished) {
      box.setAttribute("data-finished", "1");
      state.textContent = doneText;
    }
  }
  function poll() {
    fetch(box.getAttribute("data-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (counts) { show(counts); }
        if (!counts || !counts.finished) { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();

// Live updates for bcsync pages, our own code (no library). A Run page's summary carries
// data-live-run="<server-sent events URL>" while the run is going: its status, phases, progress
// bar, rows/s, ETA and counts follow the stream's "progress" events until its "done" event.
"use strict";

(function () {
  function setText(root, name, text) {
    var node = root.querySelector('[data-live="' + name + '"]');
    if (node) node.textContent = text;
    return node;
  }

  function show(root, reading) {
    var status = setText(root, "status", reading.status);
    if (status) status.className = "status status-" + reading.status;
    setText(root, "api_calls", String(reading.api_calls));
    var bar = root.querySelector('[data-live="bar"]');
    if (bar) {
      bar.max = reading.planned || 1;
      bar.value = reading.done;
      bar.textContent = reading.percent + "%";
    }
    setText(root, "progress-text", reading.text);
    setText(root, "rate",
      reading.rows_per_second === null ? "" : reading.rows_per_second + " rows/s");
    setText(root, "eta", reading.eta ? "ETA " + reading.eta : "");
    Object.keys(reading.counts).forEach(function (key) {
      var cell = root.querySelector('[data-count="' + key + '"]');
      if (cell) cell.textContent = String(reading.counts[key]);
    });
    reading.phases.forEach(function (phase) {
      var item = root.querySelector('[data-phase="' + phase.name + '"]');
      if (!item) return;
      item.className = phase.at ? "reached" : "pending";
      var at = item.querySelector(".phase-at");
      if (at) at.textContent = phase.at ? phase.at.slice(0, 19).replace("T", " ") + " UTC" : "—";
      var duration = item.querySelector(".phase-duration");
      if (duration) duration.textContent = phase.duration;
    });
  }

  function follow(root) {
    if (!window.EventSource) return;
    var source = new EventSource(root.getAttribute("data-live-run"));
    var note = root.querySelector('[data-live="note"]');
    if (note) note.textContent = "This run is in progress: this page follows it live.";
    source.addEventListener("progress", function (event) {
      show(root, JSON.parse(event.data));
    });
    source.addEventListener("done", function (event) {
      source.close();
      var reading = JSON.parse(event.data);
      show(root, reading);
      root.removeAttribute("data-live-run");
      if (note) {
        note.textContent = "This run has finished (" + reading.status + "). ";
        var link = document.createElement("a");
        link.href = window.location.href;
        link.textContent = "Reload for its rows";
        note.appendChild(link);
      }
    });
  }

  document.querySelectorAll("[data-live-run]").forEach(follow);
})();

// Provider dashboard: waiting times tick in the browser between refreshes, and a failing refresh shows
// "reconnecting" and disables the queues instead of leaving a stale queue that looks live.
(function () {
  "use strict";

  // Each row's data-waited is its wait when the server rendered it; count on from when it arrived here,
  // so the browser's clock being off does not matter.
  function stamp(root) {
    var now = performance.now();
    root.querySelectorAll(".wait[data-waited]").forEach(function (el) {
      el.dataset.arrived = String(now);
    });
    root.querySelectorAll("[data-dismiss-after]").forEach(function (el) {
      setTimeout(function () { el.remove(); }, Number(el.dataset.dismissAfter) * 1000);
    });
  }

  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    var queues = document.getElementById("queues");
    if (!queues) return;
    var warn = Number(queues.dataset.warn || "0.75");
    var now = performance.now();
    queues.querySelectorAll(".wait[data-waited]").forEach(function (el) {
      var waited = Number(el.dataset.waited) + Math.floor((now - Number(el.dataset.arrived || now)) / 1000);
      el.querySelector(".wait-clock").textContent = clock(waited);
      var limit = Number(el.dataset.max);
      if (!limit) return;
      var row = el.closest(".queue-row");
      var level = waited >= limit ? "overdue" : waited >= limit * warn ? "warning" : "ok";
      row.classList.remove("wait-ok", "wait-warning", "wait-overdue");
      row.classList.add("wait-" + level);
      var bar = row.querySelector(".progress-bar");
      if (bar) bar.style.width = Math.min(100, Math.floor((waited * 100) / limit)) + "%";
    });
  }

  function setConnected(connected) {
    var banner = document.getElementById("connection-lost");
    var queues = document.getElementById("queues");
    if (banner) banner.classList.toggle("d-none", connected);
    if (queues) {
      queues.classList.toggle("queues-stale", !connected);
      queues.setAttribute("aria-busy", connected ? "false" : "true");
    }
  }

  function isPoll(evt) {
    return evt.detail && evt.detail.elt && evt.detail.elt.id === "queues-refresh";
  }

  document.addEventListener("DOMContentLoaded", function () {
    stamp(document);
    setInterval(tick, 1000);
  });
  // The queues' stream is open: what is shown is current (static/js/live.js polls while it is not).
  document.addEventListener("htmx:sseOpen", function (evt) {
    if (evt.target.id === "queues-refresh") setConnected(true);
  });
  document.addEventListener("htmx:load", function (evt) { stamp(evt.detail.elt); });
  ["htmx:sendError", "htmx:timeout", "htmx:responseError"].forEach(function (name) {
    document.addEventListener(name, function (evt) { if (isPoll(evt)) setConnected(false); });
  });
  // A 204 (nothing changed) is a success too: what is shown is current again.
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (isPoll(evt) && evt.detail.successful) setConnected(true);
  });
})();

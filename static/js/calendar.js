// Front desk calendar: drag an appointment onto a free cell to move it there. An enhancement only: every
// appointment also has "Move to next free slot" and a time field, and the booking service decides either
// way (a refusal comes back in the grid with the reason, and the block stays where it was).
(function () {
  "use strict";

  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var block = event.target.closest && event.target.closest(".block[data-move-url]");
    if (!block) return;
    dragged = block;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", block.id);
  });

  document.addEventListener("dragend", function () {
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (event) {
    var cell = dragged && event.target.closest && event.target.closest("td.cell.free");
    if (!cell) return;
    event.preventDefault();
    cell.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var cell = event.target.closest && event.target.closest("td.cell.free");
    if (cell) cell.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var cell = dragged && event.target.closest && event.target.closest("td.cell.free");
    if (!cell) return;
    event.preventDefault();
    var table = cell.closest("table.calendar");
    htmx.ajax("POST", dragged.dataset.moveUrl, {
      target: "#calendar",
      values: { start: cell.dataset.start, provider: cell.dataset.provider, view: table.dataset.view },
    });
  });
})();

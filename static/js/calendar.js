// Front desk calendar: drag an appointment onto a free cell to move it there. An enhancement only: every
// appointment also has "Move to next free slot" and a time field, and the booking service decides either
// way, once the move is confirmed (a refusal comes back in the grid with the reason, and the block
// stays where it was).
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

  // The filter form sits outside the swapped grid: after a day or week link, it shows the day shown
  // (left alone while someone is typing in it).
  document.addEventListener("htmx:afterSwap", function () {
    var shown = document.getElementById("calendar-shown");
    var form = document.getElementById("calendar-form");
    if (!shown || !form) return;
    [["day", shown.dataset.day], ["view", shown.dataset.view], ["room", shown.dataset.room]].forEach(function (pair) {
      var field = form.elements[pair[0]];
      if (field && field !== document.activeElement && pair[1]) field.value = pair[1];
    });
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

// Parts of a page that reload when the event stream says they changed (htmx's SSE extension, on the
// element with sse-connect). While that stream is not open (a proxy blocks it, it is reconnecting, or the
// server does not serve it), each element with data-poll-seconds polls instead: it is sent "poll" that
// often, which its hx-trigger lists. Those elements stay in place (they target what they reload), and the
// sse-connect element's data-stream says "open" or "closed".
// Their rows show long text on two lines (CSS .clamp) with a "more" button (`.more`, aria-controls naming
// the text), shown only where the text is cut.
(function () {
  "use strict";

  function pollers(root) {
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-poll-seconds]"));
    if (root.matches && root.matches("[data-poll-seconds]")) found.push(root);
    return found;
  }

  function poll(el) {
    var source = el.closest("[sse-connect]");
    if (!source || source.dataset.stream !== "open") htmx.trigger(el, "poll");
  }

  function setStream(source, open) {
    var wasOpen = source.dataset.stream === "open";
    source.dataset.stream = open ? "open" : "closed";
    if (wasOpen && !open) pollers(source).forEach(poll); // at once: the next change may not wait a period
  }

  function showMoreIfCut(root) {
    root.querySelectorAll(".more[aria-controls]").forEach(function (more) {
      var text = document.getElementById(more.getAttribute("aria-controls"));
      if (text) more.hidden = text.classList.contains("clamp") && text.scrollHeight <= text.clientHeight + 1;
    });
  }

  document.addEventListener("click", function (evt) {
    var more = evt.target.closest(".more[aria-controls]");
    var text = more && document.getElementById(more.getAttribute("aria-controls"));
    if (!text) return;
    var open = !text.classList.toggle("clamp");
    more.setAttribute("aria-expanded", String(open));
    more.textContent = open ? "less" : "more";
  });
  document.addEventListener("htmx:load", function (evt) { showMoreIfCut(evt.detail.elt); });

  document.addEventListener("DOMContentLoaded", function () {
    showMoreIfCut(document);
    pollers(document).forEach(function (el) {
      setInterval(function () { poll(el); }, Number(el.dataset.pollSeconds) * 1000);
    });
  });
  document.addEventListener("htmx:sseOpen", function (evt) { setStream(evt.target, true); });
  document.addEventListener("htmx:sseError", function (evt) { setStream(evt.target, false); });
})();

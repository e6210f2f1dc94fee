// Parts of a page that reload when the event stream says they changed (htmx's SSE extension, on the
// element with sse-connect). While that stream is not open (a proxy blocks it, it is reconnecting, or the
// server does not serve it), each element with data-poll-seconds polls instead: it is sent "poll" that
// often, which its hx-trigger lists. Those elements stay in place (they target what they reload), and the
// sse-connect element's data-stream says "open" or "closed".
// Their rows show long text on two lines (CSS .clamp, data-more) with a "more" button added where the
// text is cut.
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

  var cut = 0;

  // A "more" button after each text cut to two lines (data-more), made only where the text is cut.
  function showMoreIfCut(root) {
    root.querySelectorAll(".clamp[data-more]").forEach(function (text) {
      var next = text.nextElementSibling;
      if ((next && next.classList.contains("more")) || text.scrollHeight <= text.clientHeight + 1) return;
      text.id = text.id || "cut-" + ++cut;
      var more = document.createElement("button");
      more.type = "button";
      more.className = "btn btn-link btn-sm p-0 more";
      more.setAttribute("aria-controls", text.id);
      more.setAttribute("aria-expanded", "false");
      more.textContent = "more";
      text.after(more);
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

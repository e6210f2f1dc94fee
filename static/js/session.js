// Staff sessions end after a while without activity (and after a maximum lifetime). This warns before
// the end, offers "Stay logged in" for the idle limit, and goes to the login page once the session is
// over. Requests the page makes by itself (polls, refreshes after an event) are marked X-Background so
// that the server does not count them as activity.
(function () {
  "use strict";

  var box = document.getElementById("session-warning");
  if (!box) return;
  var warnBefore = Number(box.dataset.warn || "120");
  var timer = null;
  var ticker = null;

  document.addEventListener("htmx:configRequest", function (evt) {
    var trigger = evt.detail.triggeringEvent;
    if (!trigger || !trigger.isTrusted) evt.detail.headers["X-Background"] = "1";
  });

  function leave() {
    var here = window.location.pathname + window.location.search;
    window.location.assign(box.dataset.loginUrl + "?next=" + encodeURIComponent(here));
  }

  function clock(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function hide() {
    box.hidden = true;
    clearInterval(ticker);
  }

  function show(left, idleIsFirst) {
    box.querySelectorAll(".session-idle").forEach(function (el) { el.hidden = !idleIsFirst; });
    box.querySelectorAll(".session-absolute").forEach(function (el) { el.hidden = idleIsFirst; });
    var deadline = Date.now() + left * 1000;
    function paint() {
      var remaining = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      box.querySelectorAll(".session-countdown").forEach(function (el) { el.textContent = clock(remaining); });
      if (remaining <= 0) {
        clearInterval(ticker);
        check();  // another tab may have kept the session alive
      }
    }
    clearInterval(ticker);
    paint();
    ticker = setInterval(paint, 1000);
    box.hidden = false;
  }

  function schedule(idle, absolute) {
    clearTimeout(timer);
    var left = Math.min(idle, absolute);
    if (left <= 0) return leave();
    if (left > warnBefore) {
      hide();
      timer = setTimeout(check, (left - warnBefore) * 1000);
      return;
    }
    show(left, idle <= absolute);
    timer = setTimeout(check, left * 1000 + 500);
  }

  function check() {
    // Not following a redirect: once the session is over the server answers with one to the login page,
    // whose message ("you were logged out...") is for the page we go to, not for this request.
    fetch(box.dataset.statusUrl, { headers: { "X-Background": "1" }, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) return leave();
        return response.json().then(function (state) {
          schedule(state.idle_remaining, state.absolute_remaining);
        });
      })
      .catch(function () { clearTimeout(timer); timer = setTimeout(check, 30000); });
  }

  // A request the user made restarts the idle clock on the server: ask where it stands now.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var headers = evt.detail.requestConfig && evt.detail.requestConfig.headers;
    if (!headers || headers["X-Background"] !== "1") check();
  });

  schedule(Number(box.dataset.idleRemaining), Number(box.dataset.absoluteRemaining));
})();

// Provider dashboard: waiting times tick in the browser between refreshes, and a failing refresh shows
// "reconnecting" and disables the queues instead of leaving a stale queue that looks live. Also: a row's
// preview (all intake answers and files, fetched when expanded), new
// arrivals counted in the title and announced (screen readers; sound and desktop notification when the
// provider opts in), patients who left unseen shown as a notice, and the keys listed in the "?" dialog.
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

  function visitId(row) { return row.id.slice("visit-".length); }

  // --- the preview ----------------------------------------------------------------------------

  function previewBox(row) {
    var box = row.querySelector(".preview-box");
    if (!box) {
      box = document.createElement("div");
      box.className = "preview-box";
      box.id = "preview-" + visitId(row);
      row.querySelector(".row-main").appendChild(box);
      row.querySelector(".expand").setAttribute("aria-controls", box.id);
    }
    return box;
  }

  function setExpanded(row, open) {
    var button = row.querySelector(".expand");
    if (!button) return;
    var box = previewBox(row);
    button.setAttribute("aria-expanded", String(open));
    box.hidden = !open;
    // Fetched (and audited as a read) when first opened, not with every refresh of the queues.
    if (open && !box.dataset.loaded) {
      box.dataset.loaded = "1";
      htmx.ajax("GET", row.querySelector("a.open-visit").href + "preview/", { target: box, swap: "innerHTML" });
    }
  }

  function toggleExpanded(row) {
    var button = row.querySelector(".expand");
    if (button) setExpanded(row, button.getAttribute("aria-expanded") !== "true");
  }

  document.addEventListener("click", function (evt) {
    var expand = evt.target.closest("#queues .expand");
    if (expand) toggleExpanded(expand.closest(".queue-row"));
  });

  // --- what a refresh of the queues keeps, and what it tells ---------------------------------------------

  var previous = null; // what the queues showed before the refresh being swapped in
  var kept = null; // the open previews and reasons, and the focused row, carried over the swap

  function snapshot(queues) {
    function ids(list) {
      return Array.prototype.map.call(queues.querySelectorAll("#" + list + " .queue-row"), function (r) {
        return visitId(r);
      });
    }
    return {
      walkins: Number(queues.dataset.walkins || 0),
      econsults: Number(queues.dataset.econsults || 0),
      walkinIds: ids("walkin-queue"),
      econsultIds: ids("econsult-queue"),
      left: Array.prototype.map.call(queues.querySelectorAll("[data-left-id]"), function (li) {
        return li.dataset.leftId;
      }),
    };
  }

  function keep(queues) {
    var state = { previews: {}, reasons: [], focused: null, leftOpen: false };
    queues.querySelectorAll(".queue-row").forEach(function (row) {
      var box = row.querySelector(".preview-box");
      if (box && !box.hidden && box.dataset.loaded) state.previews[visitId(row)] = box.innerHTML;
      var reason = row.querySelector(".reason");
      if (reason && !reason.classList.contains("clamp")) state.reasons.push(visitId(row));
    });
    var focused = document.activeElement && document.activeElement.closest(".queue-row");
    if (focused && queues.contains(focused)) state.focused = visitId(focused);
    var left = queues.querySelector(".left-unseen details");
    state.leftOpen = !!(left && left.open);
    return state;
  }

  function restore(queues, state) {
    Object.keys(state.previews).forEach(function (id) {
      var row = document.getElementById("visit-" + id);
      if (!row || !row.querySelector(".expand")) return;
      var box = previewBox(row);
      box.innerHTML = state.previews[id];
      box.dataset.loaded = "1";
      setExpanded(row, true);
    });
    state.reasons.forEach(function (id) {
      var more = document.querySelector("#visit-" + id + " .reason + .more");
      if (more) more.click(); // static/js/live.js made it, and opens it
    });
    var left = queues.querySelector(".left-unseen details");
    if (left && state.leftOpen) left.open = true;
    var row = state.focused && document.getElementById("visit-" + state.focused);
    if (row) focusRow(row);
  }

  function countNew(before, after, key) {
    var known = new Set(before[key + "Ids"]);
    var appeared = after[key + "Ids"].filter(function (id) { return !known.has(id); }).length;
    // A newcomer beyond the rows shown still raises the count.
    return Math.max(appeared, after[key + "s"] - before[key + "s"]);
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function updateTitle(queues) {
    var waiting = Number(queues.dataset.walkins || 0) + Number(queues.dataset.econsults || 0);
    var base = document.title.replace(/^\(\d+\) /, "");
    document.title = (waiting ? "(" + waiting + ") " : "") + base;
  }

  function tell(before, after) {
    var walkins = countNew(before, after, "walkin"), econsults = countNew(before, after, "econsult");
    var parts = [];
    if (walkins > 0) parts.push(plural(walkins, "new walk-in", "new walk-ins"));
    if (econsults > 0) parts.push(plural(econsults, "new e-consult", "new e-consults"));
    if (parts.length) {
      var text = parts.join(" and ");
      document.getElementById("arrivals").textContent = text;
      alertArrival(text);
    }
    var knownLeft = new Set(before.left);
    var notices = document.getElementById("left-notices");
    document.querySelectorAll("#queues [data-left-id]").forEach(function (li) {
      if (knownLeft.has(li.dataset.leftId) || !notices) return;
      var notice = document.createElement("div");
      notice.className = "alert alert-warning alert-dismissible py-2 left-notice";
      notice.textContent = li.dataset.notice + ".";
      var close = document.createElement("button");
      close.type = "button";
      close.className = "btn-close";
      close.setAttribute("data-bs-dismiss", "alert");
      close.setAttribute("aria-label", "Dismiss");
      notice.appendChild(close);
      notices.appendChild(notice);
    });
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (target && target.id === "queues") {
      previous = snapshot(target);
      kept = keep(target);
    }
  });

  document.addEventListener("htmx:load", function (evt) {
    var elt = evt.detail.elt;
    stamp(elt);
    if (elt.id !== "queues") return;
    updateTitle(elt);
    if (kept) restore(elt, kept);
    if (previous) tell(previous, snapshot(elt));
    previous = kept = null;
    if (!elt.contains(document.activeElement)) rovingStart(elt);
  });

  // --- alerts for a provider in another tab (opt-in) -----------------------------------------------------
  // Remembered in this browser (localStorage), not on the server: the desktop notification's permission is
  // the browser's own, and a sound belongs to the machine it plays on (a shared workstation, a phone).

  var ALERTS_KEY = "clinic.arrivalAlerts";
  var audio = null;

  function alertsOn() {
    try { return localStorage.getItem(ALERTS_KEY) === "1"; } catch (e) { return false; }
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = audio || new Context();
    if (audio.state === "suspended") audio.resume();
    var tone = audio.createOscillator(), gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  function alertArrival(text) {
    if (!alertsOn()) return;
    beep();
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      new Notification("Queues: " + text, { tag: "clinic-queues" });
    }
  }

  function setUpAlerts() {
    var toggle = document.getElementById("arrival-alerts");
    if (!toggle) return;
    toggle.checked = alertsOn();
    toggle.addEventListener("change", function () {
      try { localStorage.setItem(ALERTS_KEY, toggle.checked ? "1" : "0"); } catch (e) { /* private mode */ }
      if (toggle.checked) {
        beep(); // inside the click, so the browser lets the page play sound from now on
        if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
      }
    });
  }

  // --- keys ------------------------------------------------------------------------------------------

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queues .queue-row")); }

  // Only a move by the keys scrolls: a refresh or an accept keeps the focus without moving the page.
  function focusRow(row, scroll) {
    rows().forEach(function (r) { r.tabIndex = r === row ? 0 : -1; });
    row.focus({ preventScroll: true });
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }

  // One row is reachable with Tab; the keys move from there.
  function rovingStart(queues) {
    var all = queues.querySelectorAll(".queue-row");
    all.forEach(function (r, i) { r.tabIndex = i === 0 ? 0 : -1; });
  }

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']") !== null;
  }

  var acceptedId = null; // the row accepted: its card is scrolled to when it appears
  var accepting = null; // the row whose Accept is on its way
  var focusAfterAccept = null; // the row the keys continue from once the accepted row has gone

  document.addEventListener("keydown", function (evt) {
    if (evt.defaultPrevented || evt.ctrlKey || evt.metaKey || evt.altKey || typing(evt.target)) return;
    var dialog = document.getElementById("keys-help");
    if (dialog && dialog.open) return;
    if (evt.key === "?") {
      evt.preventDefault();
      if (dialog) dialog.showModal();
      return;
    }
    var all = rows();
    if (!all.length) return;
    var row = evt.target.closest && evt.target.closest(".queue-row");
    var index = all.indexOf(row);
    var inQueues = index >= 0 || evt.target === document.body;
    switch (evt.key) {
      case "j":
      case "ArrowDown":
        if (evt.key === "ArrowDown" && !inQueues) return;
        evt.preventDefault();
        focusRow(all[Math.min(index + 1, all.length - 1)], true);
        return;
      case "k":
      case "ArrowUp":
        if (evt.key === "ArrowUp" && !inQueues) return;
        evt.preventDefault();
        focusRow(all[Math.max(index - 1, 0)], true);
        return;
    }
    if (!row) return;
    if (evt.key === "a") {
      var accept = row.querySelector("button.accept:not([disabled])");
      if (accept) { evt.preventDefault(); accept.click(); }
    } else if (evt.key === "e" || (evt.key === "Enter" && evt.target === row)) {
      evt.preventDefault();
      toggleExpanded(row);
    } else if (evt.key === "o") {
      var open = row.querySelector("a.open-visit");
      if (open) { evt.preventDefault(); window.location.assign(open.href); }
    }
  });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var button = evt.detail.elt;
    if (!button.classList || !button.classList.contains("accept")) return;
    var row = button.closest(".queue-row"), all = rows(), index = all.indexOf(row);
    // Where the keys continue once the accepted row has gone.
    focusAfterAccept = row.contains(document.activeElement) ? all[index + 1] || all[index - 1] : null;
    accepting = visitId(row);
  });

  // Accepted: the answer says the visits changed (a refusal answers with its message instead). Heard here,
  // not on the button's own events: the row, button and all, is gone once the answer is swapped in.
  document.addEventListener("visits-changed", function () {
    if (accepting) acceptedId = accepting;
    accepting = null;
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    if (isPoll(evt) && evt.detail.successful) setConnected(true); // a 204 (nothing changed) is current too
  });

  // After Accept the card appears in "In progress"; on a phone that is below the queues: go there.
  document.addEventListener("htmx:afterSettle", function () {
    if (focusAfterAccept && focusAfterAccept.isConnected && !document.activeElement.closest(".queue-row")) {
      focusRow(focusAfterAccept);
      focusAfterAccept = null;
    }
    var card = acceptedId && document.getElementById("in-progress-" + acceptedId);
    if (!card) return;
    acceptedId = null;
    var box = card.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) card.scrollIntoView({ block: "start" });
  });

  document.addEventListener("DOMContentLoaded", function () {
    stamp(document);
    setInterval(tick, 1000);
    setUpAlerts();
    var queues = document.getElementById("queues");
    if (queues) rovingStart(queues);
    var open = document.getElementById("keys-help-open");
    var dialog = document.getElementById("keys-help");
    if (open && dialog) open.addEventListener("click", function () { dialog.showModal(); });
  });
  // The queues' stream is open: what is shown is current (static/js/live.js polls while it is not).
  // It also says when a visit in progress in the provider's rooms changed: one of theirs may have been
  // ended by someone else (the patient hung up), so "In progress" asks at once rather than at its slow
  // poll (204 while nothing of theirs changed). The extension opens a new source on each reconnect.
  var heard = new WeakSet();
  document.addEventListener("htmx:sseOpen", function (evt) {
    if (evt.target.id !== "queues-refresh") return;
    setConnected(true);
    var source = evt.detail && evt.detail.source;
    if (!source || heard.has(source)) return;
    heard.add(source);
    source.addEventListener("in-progress", function () {
      var section = document.getElementById("in-progress");
      if (section) htmx.trigger(section, "in-progress-pushed");
    });
  });
  ["htmx:sendError", "htmx:timeout", "htmx:responseError"].forEach(function (name) {
    document.addEventListener(name, function (evt) { if (isPoll(evt)) setConnected(false); });
  });
})();

// Visit notes: saved as a draft as the provider types, so that a reload, a lost connection or the patient
// leaving loses nothing; Bold and List buttons insert the tags the notes keep.
//
// Each notes textarea carries data-draft-url (where its draft is saved) and data-draft-revision (the
// server's draft revision it was rendered with). What is typed and not yet saved is also kept in this
// tab's sessionStorage (never localStorage: it goes with the tab, and is removed once saved), so that a
// reload while the server cannot be reached puts it back. The newer copy wins: the tab's, unless the
// server's draft moved on since (saved from another tab or device).
(function () {
  "use strict";

  var DEBOUNCE_MS = 1000;
  var RETRY_MAX_MS = 15000;
  var states = new WeakMap();

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function storageKey(textarea) {
    return "notes-draft:" + textarea.dataset.draftUrl;
  }

  function readLocal(textarea) {
    try {
      return JSON.parse(sessionStorage.getItem(storageKey(textarea)) || "null");
    } catch (e) {
      return null;
    }
  }

  function writeLocal(textarea, state) {
    try {
      sessionStorage.setItem(storageKey(textarea), JSON.stringify({ text: textarea.value, revision: state.revision }));
    } catch (e) { /* storage full or disabled: the server's draft is the only copy */ }
  }

  function dropLocal(textarea) {
    try { sessionStorage.removeItem(storageKey(textarea)); } catch (e) { /* nothing kept */ }
  }

  function say(state, text, problem) {
    state.status.textContent = text;
    state.status.classList.toggle("text-danger", !!problem);
    state.status.classList.toggle("text-body-secondary", !problem);
  }

  function schedule(textarea, state, delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(function () { save(textarea, state); }, delay);
  }

  function save(textarea, state) {
    clearTimeout(state.timer);
    if (state.inFlight) { state.again = true; return; }
    if (!document.contains(textarea)) return;
    var sent = textarea.value;
    var body = new FormData();
    body.append("notes", sent);
    state.inFlight = true;
    fetch(textarea.dataset.draftUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (!json) throw { retry: false, message: "Draft not saved: log in again (your text is kept in this tab)." };
      return response.json().then(function (data) {
        if (response.ok) return data;
        // A refusal (the visit was completed elsewhere, the text is too long) will not change on retrying.
        throw { retry: response.status >= 500, message: "Draft not saved: " + (data.message || response.statusText) };
      });
    }).then(function (data) {
      state.inFlight = false;
      state.failures = 0;
      state.revision = data.revision;
      textarea.dataset.draftRevision = String(data.revision);
      if (textarea.value === sent) {
        dropLocal(textarea);
        say(state, "Draft saved " + data.saved);
      } else {
        writeLocal(textarea, state);
      }
      if (state.again || textarea.value !== sent) { state.again = false; schedule(textarea, state, DEBOUNCE_MS); }
    }).catch(function (problem) {
      state.inFlight = false;
      state.again = false;
      if (problem && problem.retry === false) { say(state, problem.message, true); return; }
      state.failures += 1;
      say(state, "Draft not saved, retrying", true);
      schedule(textarea, state, Math.min(RETRY_MAX_MS, 1000 * Math.pow(2, state.failures)));
    });
  }

  // Bold wraps the selection; List turns the selected lines (or a new empty item) into a list.
  function insert(textarea, kind) {
    var start = textarea.selectionStart, end = textarea.selectionEnd;
    var selected = textarea.value.slice(start, end);
    var text, caret;
    if (kind === "bold") {
      text = "<b>" + selected + "</b>";
      caret = start + 3 + selected.length;
    } else {
      var lines = selected ? selected.split("\n").filter(function (l) { return l.trim(); }) : [""];
      text = "<ul>\n" + lines.map(function (l) { return "<li>" + l.trim() + "</li>"; }).join("\n") + "\n</ul>";
      caret = start + text.length - (selected ? 0 : "</li>\n</ul>".length);
    }
    textarea.setRangeText(text, start, end, "end");
    textarea.setSelectionRange(caret, caret);
    textarea.focus();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function button(label, title, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-outline-secondary";
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", onClick);
    return b;
  }

  // The toolbar and the status line sit beside the textarea; a card reloading keeps the textarea itself
  // (hx-preserve) but not them, so they are put back whenever they are missing.
  function decorate(textarea, state) {
    var before = textarea.previousElementSibling;
    if (!before || !before.classList.contains("notes-toolbar")) {
      var bar = document.createElement("div");
      bar.className = "notes-toolbar btn-group btn-group-sm mb-1";
      bar.setAttribute("role", "toolbar");
      bar.setAttribute("aria-label", "Format the notes");
      bar.appendChild(button("Bold", "Bold the selected words", function () { insert(textarea, "bold"); }));
      bar.appendChild(button("List", "Make the selected lines a list", function () { insert(textarea, "list"); }));
      textarea.parentNode.insertBefore(bar, textarea);
    }
    var after = textarea.nextElementSibling;
    if (!after || !after.classList.contains("notes-status")) {
      var status = document.createElement("div");
      status.className = "notes-status small text-body-secondary";
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
      status.textContent = state ? state.status.textContent : "";
      textarea.parentNode.insertBefore(status, textarea.nextSibling);
      if (state) state.status = status;
      return status;
    }
    return after;
  }

  function init(textarea) {
    var known = states.get(textarea);
    if (known) { decorate(textarea, known); return; }
    var state = {
      revision: Number(textarea.dataset.draftRevision || "0"),
      timer: null, inFlight: false, again: false, failures: 0,
    };
    state.status = decorate(textarea, null);
    states.set(textarea, state);
    var local = readLocal(textarea);
    if (local && local.revision === state.revision && local.text !== textarea.value) {
      // Typed here after the server's newest draft, and never saved: it is the newer copy.
      textarea.value = local.text;
      say(state, "Unsaved text restored; saving…");
      schedule(textarea, state, 0);
    } else {
      if (local) dropLocal(textarea);
      if (textarea.dataset.draftSaved) say(state, "Draft saved " + textarea.dataset.draftSaved);
    }
    textarea.addEventListener("input", function () {
      writeLocal(textarea, state);
      if (!state.failures) say(state, "Saving…");
      schedule(textarea, state, DEBOUNCE_MS);
    });
  }

  function initAll(root) {
    root.querySelectorAll("textarea[data-draft-url]").forEach(init);
  }

  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:load", function (evt) { initAll(evt.detail.elt.parentNode || document); });
  // Back online: save what waits now rather than at the next back-off step.
  window.addEventListener("online", function () {
    document.querySelectorAll("textarea[data-draft-url]").forEach(function (textarea) {
      var state = states.get(textarea);
      if (state && state.failures) save(textarea, state);
    });
  });
  // Sending the form (Complete, Save notes) supersedes the draft: no save races it.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var form = evt.detail.elt;
    if (!form || form.tagName !== "FORM") return;
    form.querySelectorAll("textarea[data-draft-url]").forEach(function (textarea) {
      var state = states.get(textarea);
      if (state) clearTimeout(state.timer);
    });
  });
  // Once its card is gone (the notes were saved with the visit), the tab's copy goes too.
  document.addEventListener("htmx:afterSettle", function () {
    try {
      Object.keys(sessionStorage).forEach(function (key) {
        if (key.indexOf("notes-draft:") !== 0) return;
        var url = key.slice("notes-draft:".length);
        var still = Array.prototype.some.call(document.querySelectorAll("textarea[data-draft-url]"), function (t) {
          return t.dataset.draftUrl === url;
        });
        if (!still && document.getElementById("in-progress")) sessionStorage.removeItem(key);
      });
    } catch (e) { /* storage disabled */ }
  });
})();

/* The workspace's keyboard and list conveniences: shortcuts for the frequent moves (listed in a
   dialog on "?"), "select all on this page" for bulk actions, a canned response or an article
   inserted into the reply. A shortcut never fires while the reader types in a field. Loaded as a file (the
   Content-Security-Policy forbids inline scripts). */
(function () {
  "use strict";
  var pending = null; // the first key of a two-key move ("g" then "d")
  var pendingTimer = null;

  function typing(element) {
    if (!element || element === document.body) { return false; }
    if (element.isContentEditable) { return true; }
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    if (tag !== "INPUT") { return false; }
    var type = (element.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset"].indexOf(type) < 0;
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-ticket-list] tbody tr"));
  }
  function currentRow() {
    return document.querySelector("[data-ticket-list] tr.is-current");
  }
  function move(step) {
    var list = rows();
    if (!list.length) { return; }
    var at = list.indexOf(currentRow());
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1)
      : Math.min(list.length - 1, Math.max(0, at + step));
    list.forEach(function (row) { row.classList.remove("is-current"); });
    list[next].classList.add("is-current");
    var link = list[next].querySelector("[data-open]");
    if (link) { link.focus(); }
  }
  function openCurrent() {
    var row = currentRow();
    var link = row && row.querySelector("[data-open]");
    if (link) { window.location.assign(link.getAttribute("href")); return true; }
    return false;
  }
  function compose(visibility) {
    var choice = document.querySelector('input[name="visibility"][value="' + visibility + '"]');
    var body = document.getElementById("id_body");
    if (!choice || !body) { return false; }
    choice.checked = true;
    body.focus();
    return true;
  }
  function trigger(key) {
    var target = document.querySelector('[data-shortcut="' + key + '"]');
    if (!target) { return false; }
    if (target.tagName === "DETAILS") {
      target.open = true;
      var field = target.querySelector("textarea, input:not([type=hidden]), select");
      if (field) { field.focus(); }
      return true;
    }
    target.click();
    return true;
  }
  function dialog() { return document.getElementById("shortcuts"); }
  function showHelp() {
    var box = dialog();
    if (box && !box.open && box.showModal) { box.showModal(); return true; }
    return false;
  }
  function go(key) {
    var box = dialog();
    var url = box && box.getAttribute("data-go-" + key);
    if (url) { window.location.assign(url); return true; }
    return false;
  }
  function focusFilters() {
    var field = document.querySelector(".filters select, .filters input:not([type=hidden])");
    if (field) { field.focus(); return true; }
    return false;
  }
  function focusSearch() {
    var box = document.querySelector("[data-search-box]");
    if (!box) { return false; }
    box.focus();
    box.select();
    return true;
  }
  function tick() {
    var row = currentRow();
    var box = row && row.querySelector('input[name="tickets"]');
    if (box) { box.checked = !box.checked; return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target) || (dialog() && dialog().open)) { return; }
    var key = event.key;
    if (pending === "g") {
      pending = null;
      window.clearTimeout(pendingTimer);
      if (go(key)) { event.preventDefault(); }
      return;
    }
    var done = false;
    switch (key) {
      case "j": move(1); done = true; break;
      case "k": move(-1); done = true; break;
      case "o": done = openCurrent(); break;
      case "Enter":
        // A focused link or button keeps its own Enter; a chosen row opens on the page's Enter.
        if (event.target === document.body || event.target.id === "content") { done = openCurrent(); }
        break;
      case "x": done = tick(); break;
      case "r": done = compose("reply"); break;
      case "n": done = compose("note"); break;
      case "a": done = trigger("a"); break;
      case "e": done = trigger("e"); break;
      case "/": done = focusSearch(); break;
      case "f": done = focusFilters(); break;
      case "?": done = showHelp(); break;
      case "g":
        pending = "g";
        pendingTimer = window.setTimeout(function () { pending = null; }, 1500);
        done = true;
        break;
      default: break;
    }
    if (done) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcuts-open]")) { showHelp(); }
  });

  // "Select all on this page" ticks or unticks every row of the list it belongs to; "all
  // matching these filters" ticks them too (the server acts on every matching ticket), and
  // unticking a row leaves "all matching".
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form");
    if (!form) { return; }
    var matching = form.querySelector("[data-all-matching]");
    if (event.target.closest("[data-select-all], [data-all-matching]")) {
      var on = event.target.checked;
      form.querySelectorAll('input[name="tickets"], [data-select-all]').forEach(function (box) {
        box.checked = on;
      });
      if (matching && event.target !== matching && !on) { matching.checked = false; }
    } else if (event.target.name === "tickets" && !event.target.checked && matching) {
      matching.checked = false;
    }
  });

  // A canned response chosen in the composer's picker goes in where the cursor was (at the end
  // when the message was never touched), already filled in by the server; the picker closes.
  document.addEventListener("focusin", function (event) {
    if (event.target.id === "id_body") { event.target.setAttribute("data-touched", ""); }
  });
  function insertInReply(text, from) {
    var body = document.getElementById("id_body");
    if (!body) { return false; }
    var touched = body.hasAttribute("data-touched");
    var start = touched ? body.selectionStart : body.value.length;
    var end = touched ? body.selectionEnd : body.value.length;
    body.value = body.value.slice(0, start) + text + body.value.slice(end);
    body.focus();
    body.setSelectionRange(start + text.length, start + text.length);
    body.dispatchEvent(new Event("input", { bubbles: true }));
    var picker = from && from.closest("details");
    if (picker) { picker.open = false; }
    return true;
  }
  document.addEventListener("click", function (event) {
    var choice = event.target.closest("[data-canned-text]");
    if (choice) { insertInReply(choice.getAttribute("data-canned-text") || "", choice); }
  });

  // An article chosen in the composer's picker: htmx asks the server for its link or its text
  // (data-article-insert, no swap), which goes in where the cursor was; a refusal is said in
  // the picker's status line.
  document.addEventListener("htmx:afterRequest", function (event) {
    var source = event.detail.elt;
    if (!source || !source.hasAttribute || !source.hasAttribute("data-article-insert")) { return; }
    var status = document.getElementById("article-insert-status");
    var xhr = event.detail.xhr;
    if (event.detail.successful && xhr) {
      if (status) { status.textContent = source.getAttribute("data-inserted") || ""; }
      insertInReply(xhr.responseText, source);
    } else if (status) {
      status.textContent = (xhr && xhr.status && xhr.responseText) || status.getAttribute("data-failed") || "";
    }
  });

  // On the search page the box keeps the focus, its cursor after the words typed.
  var searchBox = document.querySelector("[data-search-box][autofocus]");
  if (searchBox) {
    searchBox.focus();
    searchBox.setSelectionRange(searchBox.value.length, searchBox.value.length);
  }

  // Enter in the caller search looks people up; it does not send the half-filled form.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.closest && event.target.closest("[data-no-submit]")) {
      event.preventDefault();
    }
  }, true);
})();

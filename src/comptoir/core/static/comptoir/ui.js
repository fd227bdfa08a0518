/* Comptoir's pages: the CSRF token on every htmx request, and a few keyboard conveniences.
   Loaded as a file (the Content-Security-Policy forbids inline scripts). */
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  // A list that htmx replaced keeps the keyboard where the reader was: on the new list.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "ticket-list") {
      var status = document.getElementById("list-status");
      if (status) { status.textContent = status.getAttribute("data-loaded") || ""; }
    }
  });
  // Changing a filter submits the filter form (htmx listens for the form's "change").
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();

// pamgate console: progressive enhancement only (every action works without it).
// A form marked data-once disables its buttons once sent, so a second click does not
// even reach the server (the server would pay once anyway: the form's idempotency key).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form || !form.hasAttribute || !form.hasAttribute("data-once")) return;
  if (form.getAttribute("data-sent") === "1") { event.preventDefault(); return; }
  form.setAttribute("data-sent", "1");
  window.setTimeout(function () {
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }, 0);
});

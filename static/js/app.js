// Behaviour every page shares; pages keep their own in their own files. No inline scripts or
// event handlers anywhere: the content security policy allows only these files.
(function () {
  "use strict";

  // <button data-copy="ID"> copies the value of the field #ID (delegated: htmx swaps content).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    navigator.clipboard.writeText(field.value).then(() => {
      button.textContent = "Copied";
    });
  });
})();

// The expense page: add and remove split lines with a live sum check, and drop receipts.
(function () {
  "use strict";

  const form = document.querySelector("[data-lines]");
  if (form) {
    const list = form.querySelector("[data-line-list]");
    const total = Number(form.dataset.total);
    const currency = form.dataset.currency;
    const sumOut = form.querySelector("[data-sum]");
    const totalForms = form.querySelector("input[name$='-TOTAL_FORMS']");
    // Amounts are added in the currency's minor units (none for JPY, thousandths for BHD).
    const digits = Number(form.dataset.minorUnits ?? 2);
    const scale = 10 ** digits;
    const minor = (value) => Math.round(Number(value || 0) * scale);
    const shownAmount = (units) =>
      (units / scale).toLocaleString("en-GB", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });

    function renumber() {
      const lines = Array.from(list.querySelectorAll("[data-line]"));
      lines.forEach((line, index) => {
        line.querySelector("[data-line-number]").textContent = String(index + 1);
        line.querySelectorAll("[name]").forEach((field) => {
          field.name = field.name.replace(/^lines-(\d+|__prefix__)-/, `lines-${index}-`);
        });
        line.querySelector("[data-remove-line]").hidden = lines.length === 1;
      });
      totalForms.value = String(lines.length);
      updateSum();
    }

    function updateSum() {
      const sum = Array.from(list.querySelectorAll("[data-amount]")).reduce(
        (acc, field) => acc + minor(field.value),
        0,
      );
      const diff = minor(total) - sum;
      const shown = shownAmount(sum);
      if (diff === 0) {
        sumOut.textContent = `Lines add up to ${shown} ${currency}, the expense's total.`;
        sumOut.className = "sum ok";
      } else {
        const word = diff > 0 ? "left to allocate" : "too much";
        sumOut.textContent = `Lines add up to ${shown} of ${shownAmount(minor(total))} ${currency}: ${shownAmount(Math.abs(diff))} ${word}.`;
        sumOut.className = "sum off";
      }
    }

    form.addEventListener("input", (event) => {
      if (event.target.matches("[data-amount]")) updateSum();
    });
    form.addEventListener("click", (event) => {
      if (event.target.matches("[data-remove-line]")) {
        event.target.closest("[data-line]").remove();
        renumber();
      }
      if (event.target.matches("[data-add-line]")) {
        const template = document.getElementById("line-template");
        list.appendChild(template.content.cloneNode(true));
        renumber();
        list.lastElementChild.querySelector("select")?.focus();
      }
    });
    renumber();
  }

  const zone = document.querySelector("[data-dropzone]");
  if (zone) {
    const input = zone.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach((name) =>
      zone.addEventListener(name, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      }),
    );
    ["dragleave", "drop"].forEach((name) =>
      zone.addEventListener(name, () => zone.classList.remove("over")),
    );
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      if (!event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      zone.requestSubmit();
    });
  }
})();

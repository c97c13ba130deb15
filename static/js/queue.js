// The queue's keyboard and selection behaviour: only what htmx attributes cannot say.
(function () {
  "use strict";

  // A change to any filter but the search boxes (they have their own debounced trigger)
  // refreshes the list; htmx runs no inline filter expressions under our CSP.
  const filters = document.querySelector("[data-filters]");
  if (filters) {
    filters.addEventListener("change", (event) => {
      if (event.target.type !== "search") htmx.trigger(filters, "filters-changed");
    });
  }

  let currentId = null;
  let lastChecked = null;

  const rows = () => Array.from(document.querySelectorAll("[data-queue] tr[data-row]"));
  const current = () => (currentId && document.getElementById(currentId)) || null;
  const typing = (el) =>
    el && (el.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName));

  function setCurrent(row, focus) {
    rows().forEach((r) => r.classList.remove("current"));
    if (!row) {
      currentId = null;
      return;
    }
    row.classList.add("current");
    currentId = row.id;
    if (focus !== false) row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(current());
    const next = index === -1 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    setCurrent(all[next]);
  }

  function nextToCode() {
    const all = rows();
    const start = all.indexOf(current());
    const found = all
      .slice(start + 1)
      .concat(all.slice(0, start + 1))
      .find((r) => r.classList.contains("status-uncategorized"));
    if (found) setCurrent(found);
  }

  function inCurrent(selector) {
    const row = current();
    return row ? row.querySelector(selector) : null;
  }

  function updateBulk() {
    const form = document.querySelector("[data-bulk]");
    if (!form) return;
    const checked = document.querySelectorAll("[data-select-row]:checked").length;
    const all = form.querySelector("[data-bulk-all]");
    const everything = all && all.checked;
    const matching = form.querySelector("[data-bulk-matching]");
    form.querySelector("[data-bulk-count]").textContent = everything
      ? (matching && matching.dataset.matching) || "all"
      : String(checked);
    form.hidden = !(checked || everything);
    // The matching count costs a query of its own: asked for once, when the bar first opens.
    if (!form.hidden) document.body.dispatchEvent(new Event("bulk-opened"));
  }

  document.addEventListener("keydown", (event) => {
    const dialog = document.getElementById("keys-help");
    if (event.key === "Escape") {
      if (dialog && dialog.open) return; // the dialog closes itself
      if (typing(document.activeElement)) {
        const row = document.activeElement.closest("tr[data-row]");
        document.activeElement.blur();
        if (row) setCurrent(row);
      }
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const actions = {
      j: () => move(1),
      ArrowDown: () => move(1),
      k: () => move(-1),
      ArrowUp: () => move(-1),
      n: nextToCode,
      o: () => inCurrent("[data-open]")?.click(),
      Enter: () => inCurrent("[data-open]")?.click(),
      a: () => inCurrent("[data-action=approve]")?.click(),
      e: () => inCurrent("[data-action=exclude]")?.click(),
      s: () => inCurrent("[data-action=accept-suggestion]")?.click(),
      c: () => inCurrent("select[data-field=account]")?.focus(),
      x: () => {
        const box = inCurrent("[data-select-row]");
        if (box) {
          box.checked = !box.checked;
          lastChecked = box;
          updateBulk();
        }
      },
      "/": () => document.querySelector("[data-key-search]")?.focus(),
      "]": () => document.querySelector("[data-key-next-page]")?.click(),
      "?": () => dialog?.showModal(),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  document.addEventListener("click", (event) => {
    const box = event.target.closest("[data-select-row]");
    if (box) {
      const boxes = Array.from(document.querySelectorAll("[data-select-row]"));
      if (event.shiftKey && lastChecked) {
        const [a, b] = [boxes.indexOf(lastChecked), boxes.indexOf(box)].sort((x, y) => x - y);
        boxes.slice(a, b + 1).forEach((other) => {
          other.checked = box.checked;
        });
      }
      lastChecked = box;
      updateBulk();
      return;
    }
    const pageBox = event.target.closest("[data-select-page]");
    if (pageBox) {
      document.querySelectorAll("[data-select-row]").forEach((b) => {
        b.checked = pageBox.checked;
      });
      updateBulk();
      return;
    }
    if (event.target.closest("[data-bulk-all]")) {
      updateBulk();
      return;
    }
    const row = event.target.closest("tr[data-row]");
    if (row) setCurrent(row, false);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("[data-bulk]");
    if (!form || !event.submitter) return;
    const count = form.querySelector("[data-bulk-count]").textContent;
    const verb = event.submitter.dataset.confirm || event.submitter.textContent;
    const plural = count === "1" ? "" : "s";
    if (!window.confirm(`${verb} ${count} expense${plural}?`)) event.preventDefault();
  });

  // A row re-rendered by htmx stays the current row and keeps focus on the field that was
  // just changed, so coding goes on from the keyboard. Each request remembers its own field:
  // a slow answer must not move the focus the user has since moved elsewhere.
  const focusByRequest = new WeakMap();
  document.addEventListener("htmx:beforeRequest", (event) => {
    const el = document.activeElement;
    const row = el && el.closest ? el.closest("tr[data-row]") : null;
    if (row) focusByRequest.set(event.detail.xhr, { row: row.id, name: el.name || "" });
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    const info = event.detail.xhr && focusByRequest.get(event.detail.xhr);
    const row = current();
    if (row) row.classList.add("current");
    if (info && info.row === currentId) {
      const again = document.getElementById(info.row);
      const field = again && info.name ? again.querySelector(`[name="${info.name}"]`) : null;
      const stillThere = document.activeElement === document.body || !document.activeElement;
      if (field && stillThere) field.focus();
      else if (again && stillThere) again.focus({ preventScroll: true });
    }
    updateBulk();
  });

  function start() {
    const first = rows()[0];
    if (first && !current()) setCurrent(first, false);
    updateBulk();
  }
  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "queue-body") {
      currentId = null;
      start();
    }
  });
})();

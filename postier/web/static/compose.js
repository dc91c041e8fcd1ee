// The compose form: address autocomplete from past correspondents, a size check of the chosen
// files before uploading, and Ctrl+Enter to send.
import { debounce, toast } from "./util.js";

let listCounter = 0;

function formatSize(size) {
  if (size < 1024 * 1024) {
    return `${Math.ceil(size / 1024)} KB`;
  }
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

function setupAutocomplete(input) {
  const list = document.createElement("ul");
  list.className = "suggestions";
  list.id = `suggestions-${++listCounter}`;
  list.setAttribute("role", "listbox");
  list.hidden = true;
  input.after(list);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  let items = [];
  let active = -1;

  function close() {
    list.hidden = true;
    items = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function currentPiece() {
    const value = input.value;
    const start = value.lastIndexOf(",") + 1;
    return { start, text: value.slice(start).trim() };
  }

  function choose(index) {
    const item = items[index];
    if (!item) {
      return;
    }
    const { start } = currentPiece();
    const name = item.name && !/[,;<>@"]/.test(item.name) ? `${item.name} ` : "";
    const entry = name ? `${name}<${item.address}>` : item.address;
    const before = input.value.slice(0, start);
    input.value = `${before}${before && !before.endsWith(" ") ? " " : ""}${entry}, `;
    close();
    input.focus();
  }

  function highlight(index) {
    active = index;
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", `${list.id}-${index}`);
    }
  }

  const lookup = debounce(async () => {
    const { text } = currentPiece();
    if (text.length < 1) {
      close();
      return;
    }
    let found = [];
    try {
      const response = await fetch(`/api/contacts?q=${encodeURIComponent(text)}`, {
        credentials: "same-origin", headers: { "X-Requested-With": "fetch" },
      });
      found = response.ok ? await response.json() : [];
    } catch {
      found = [];
    }
    if (!found.length || currentPiece().text !== text) {
      close();
      return;
    }
    items = found;
    list.replaceChildren(...found.map((item, i) => {
      const li = document.createElement("li");
      li.id = `${list.id}-${i}`;
      li.setAttribute("role", "option");
      li.textContent = item.name ? `${item.name} <${item.address}>` : item.address;
      li.addEventListener("mousedown", (event) => { event.preventDefault(); choose(i); });
      return li;
    }));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(0);
  }, 120);

  input.addEventListener("input", lookup);
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (event) => {
    if (list.hidden) {
      return;
    }
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight(Math.min(items.length - 1, active + 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(Math.max(0, active - 1));
    } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      close();
    }
  });
}

export function setupCompose() {
  const form = document.querySelector("form.compose");
  if (!form) {
    return;
  }
  for (const input of form.querySelectorAll("[data-autocomplete]")) {
    setupAutocomplete(input);
  }
  // Start where the writing starts: the address when there is none yet, else the text
  // (above the quote of a reply).
  const to = form.querySelector("#compose-to");
  const body = form.querySelector("#compose-body");
  if (!form.querySelector("#compose-error")) {
    if (!to.value.trim()) {
      to.focus();
    } else {
      body.focus();
      body.setSelectionRange(0, 0);
      body.scrollTop = 0;
    }
  }
  // Attachments are base64 encoded when sent: the raw files may use three quarters of the limit.
  const limit = Math.floor(Number(form.dataset.maxSize) * 3 / 4);
  const files = form.querySelector("#compose-files");
  const chosen = form.querySelector(".chosen-files");
  let tooBig = false;
  files.addEventListener("change", () => {
    let total = 0;
    chosen.replaceChildren(...[...files.files].map((file) => {
      total += file.size;
      const li = document.createElement("li");
      li.textContent = `${file.name} (${formatSize(file.size)})`;
      return li;
    }));
    tooBig = total > limit;
    if (tooBig) {
      const li = document.createElement("li");
      li.className = "too-big";
      li.textContent = `These files are too large together (${formatSize(total)}); the limit is ${formatSize(limit)}.`;
      chosen.append(li);
    }
  });
  form.addEventListener("submit", (event) => {
    if (tooBig) {
      event.preventDefault();
      toast("The attachments are too large to send. Remove some files first.");
    }
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.querySelector("button[value=send]").click();
    }
  });
}

// Small helpers shared by the page scripts.

export function csrfToken() {
  return document.body.dataset.csrf || "";
}

// POST with the session's CSRF token; resolves to the JSON answer, rejects with its message.
export async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken(), "X-Requested-With": "fetch" },
  });
  let payload = {};
  try {
    payload = await response.json();
  } catch {
    payload = {};
  }
  if (!response.ok) {
    throw new Error(payload.error || `The server answered ${response.status}.`);
  }
  return payload;
}

export async function fetchHtml(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { "X-Requested-With": "fetch" },
  });
  if (!response.ok) {
    throw new Error(`The server answered ${response.status}.`);
  }
  return response.text();
}

let toastTimer = null;
export function toast(text, milliseconds = 3500) {
  const box = document.getElementById("toast");
  if (!box || !text) {
    return;
  }
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, milliseconds);
}

// Dates arrive in UTC; show them in the reader's own time zone and language.
export function formatDates(root = document) {
  const now = new Date();
  for (const element of root.querySelectorAll("time[datetime]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) {
      continue;
    }
    let options;
    if (element.dataset.format === "long") {
      options = { dateStyle: "full", timeStyle: "short" };
    } else if (date.toDateString() === now.toDateString()) {
      options = { hour: "2-digit", minute: "2-digit" };
    } else if (date.getFullYear() === now.getFullYear()) {
      options = { day: "numeric", month: "short" };
    } else {
      options = { dateStyle: "medium" };
    }
    element.textContent = new Intl.DateTimeFormat(undefined, options).format(date);
    element.title = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" }).format(date);
  }
}

export function debounce(action, milliseconds) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => action(...args), milliseconds);
  };
}

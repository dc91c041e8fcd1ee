// Keyboard shortcuts (press ? for the list). They never fire while typing in a field.
import { post, toast } from "./util.js";

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable], dialog[open]") !== null;
}

function click(selector) {
  const element = document.querySelector(selector);
  if (element) {
    element.click();
    return true;
  }
  return false;
}

export function setupKeys(list) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented || typing(event.target)) {
      return;
    }
    const handled = handle(event.key, list);
    if (handled) {
      event.preventDefault();
    }
  });
}

function move(list, step) {
  const rows = list.rows();
  if (!rows.length) {
    return false;
  }
  const current = rows.findIndex((row) => row.dataset.uid === list.focusedUid);
  const index = current < 0 ? (step > 0 ? 0 : rows.length - 1)
    : Math.min(rows.length - 1, Math.max(0, current + step));
  const row = rows[index];
  if (list.article) {
    if (row.dataset.uid !== list.article.dataset.uid) {
      location.assign(row.querySelector(".row-link").href);
    }
    return true;
  }
  list.setFocus(row.dataset.uid);
  row.querySelector(".row-link").focus();
  row.scrollIntoView({ block: "nearest" });
  return true;
}

async function rowAction(list, action) {
  const uid = list.focusedUid;
  if (!uid || !list.mailbox) {
    return false;
  }
  const data = new FormData();
  data.append("uid", uid);
  if (action === "toggle_star") {
    data.append("toggle_star", uid);
  } else {
    data.append("action", action);
  }
  try {
    const result = await post(`/mail/${list.mailbox}/actions`, data);
    toast(result.message);
  } catch (error) {
    toast(error.message);
  }
  list.refreshList();
  list.refreshFolders();
  return true;
}

function handle(key, list) {
  switch (key) {
    case "j":
      return move(list, 1);
    case "k":
      return move(list, -1);
    case "o":
    case "Enter": {
      const row = list.rows().find((r) => r.dataset.uid === list.focusedUid);
      if (row && !list.article) {
        location.assign(row.querySelector(".row-link").href);
        return true;
      }
      return false;
    }
    case "u":
      return click(".back-link") || false;
    case "r":
      return click("[data-shortcut=reply]");
    case "a":
      return click("[data-shortcut=replyall]");
    case "f":
      return click("[data-shortcut=forward]");
    case "#":
      if (list.article) {
        return click("[data-shortcut=delete]");
      }
      rowAction(list, "delete");
      return true;
    case "e":
      if (list.article) {
        return click("[data-shortcut=archive]");
      }
      rowAction(list, "archive");
      return true;
    case "s":
      if (list.article) {
        return click("[data-shortcut=star]");
      }
      rowAction(list, "toggle_star");
      return true;
    case "x": {
      const row = list.rows().find((r) => r.dataset.uid === list.focusedUid);
      if (row) {
        const box = row.querySelector(".row-check");
        box.checked = !box.checked;
        return true;
      }
      return false;
    }
    case "c":
      location.assign("/compose");
      return true;
    case "/": {
      const search = document.getElementById("search-box");
      if (search) {
        search.focus();
        search.select();
        return true;
      }
      return false;
    }
    case "?": {
      const dialog = document.getElementById("shortcuts");
      if (dialog) {
        dialog.showModal();
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

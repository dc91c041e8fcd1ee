// Postier webmail: progressive enhancement of server-rendered pages. Everything works without
// scripts; with them, actions happen in place, changes from other devices appear live, and the
// keyboard shortcuts work.
import { setupCompose } from "./compose.js";
import { setupKeys } from "./keys.js";
import { setupList } from "./list.js";
import { startLive } from "./live.js";
import { formatDates } from "./util.js";

function setupMenu() {
  const toggle = document.querySelector(".menu-toggle");
  if (!toggle) {
    return;
  }
  toggle.addEventListener("click", () => {
    const open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("click", (event) => {
    if (document.body.classList.contains("nav-open") && !event.target.closest(".folders, .menu-toggle")) {
      document.body.classList.remove("nav-open");
      toggle.setAttribute("aria-expanded", "false");
    }
  });
}

function setupConfirmations() {
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
}

function setupShortcutsDialog() {
  const dialog = document.getElementById("shortcuts");
  for (const button of document.querySelectorAll(".shortcuts-open")) {
    button.addEventListener("click", () => dialog && dialog.showModal());
  }
}

function setupFlashes() {
  const box = document.querySelector(".flashes");
  if (box) {
    setTimeout(() => box.remove(), 6000);
  }
}

formatDates();
setupMenu();
setupConfirmations();
setupShortcutsDialog();
setupFlashes();
const list = setupList();
setupKeys(list);
setupCompose();
if (document.querySelector(".topbar")) {
  startLive(list);
}
document.body.dataset.ready = "1";

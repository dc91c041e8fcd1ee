// The message list and the reading pane: in-place actions, drag and drop to folders, the live
// refresh of the list and the folder counts, marking an opened message as read.
import { debounce, fetchHtml, formatDates, post, toast } from "./util.js";

const DRAG_TYPE = "application/x-postier-uids";

export function setupList() {
  const main = document.querySelector("main.mail");
  const nav = document.getElementById("folders");
  const listBox = document.getElementById("message-list");
  const article = document.querySelector("article.message");
  const mailbox = main ? main.dataset.mailbox : null;
  let focusedUid = article ? article.dataset.uid : null;

  function rows() {
    return listBox ? [...listBox.querySelectorAll(".message-row")] : [];
  }

  function checkedUids() {
    return rows().filter((row) => row.querySelector(".row-check").checked).map((row) => row.dataset.uid);
  }

  async function refreshList() {
    if (!main || !listBox) {
      return;
    }
    const url = new URL(main.dataset.listUrl, location.href);
    if (article) {
      url.searchParams.set("selected", article.dataset.uid);
    }
    let html;
    try {
      html = await fetchHtml(url);
    } catch {
      return;
    }
    const checked = new Set(checkedUids());  // as they are now, not when the fetch started
    listBox.innerHTML = html;
    for (const row of rows()) {
      row.querySelector(".row-check").checked = checked.has(row.dataset.uid);
      row.classList.toggle("kb-focus", row.dataset.uid === focusedUid);
    }
    formatDates(listBox);
  }

  async function refreshFolders() {
    if (!nav) {
      return;
    }
    try {
      nav.innerHTML = await fetchHtml(`/folders/nav?current=${encodeURIComponent(nav.dataset.current || "")}`);
    } catch {
      return;
    }
    const inbox = nav.querySelector(".folder .badge");
    const title = main ? main.dataset.title : null;
    if (title) {
      const unread = inbox ? Number(inbox.textContent) : 0;
      const subject = article ? `${article.querySelector("h2").textContent} – ` : "";
      document.title = `${subject}${title}${unread ? ` (${unread})` : ""} – Postier`;
    }
  }

  const refreshAll = debounce(() => { refreshList(); refreshFolders(); }, 120);

  async function act(form, submitter) {
    const data = new FormData(form, submitter);
    const action = data.get("action") || (data.get("toggle_star") ? "toggle_star" : "");
    const result = await post(form.getAttribute("action"), data);
    if (result.message) {
      toast(result.message);
    }
    return action;
  }

  if (listBox) {
    const form = document.getElementById("list-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await act(form, event.submitter);
      } catch (error) {
        toast(error.message);
        return;
      }
      refreshList();
      refreshFolders();
    });
    const all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", () => {
        for (const row of rows()) {
          row.querySelector(".row-check").checked = all.checked;
        }
      });
    }
    listBox.addEventListener("dragstart", (event) => {
      const row = event.target.closest(".message-row");
      if (!row) {
        return;
      }
      const checked = checkedUids();
      const uids = checked.includes(row.dataset.uid) ? checked : [row.dataset.uid];
      event.dataTransfer.setData(DRAG_TYPE, JSON.stringify({ mailbox, uids }));
      event.dataTransfer.effectAllowed = "move";
      row.classList.add("dragging");
    });
    listBox.addEventListener("dragend", (event) => {
      const row = event.target.closest(".message-row");
      if (row) {
        row.classList.remove("dragging");
      }
    });
  }

  if (nav) {
    nav.addEventListener("dragover", (event) => {
      const target = event.target.closest("[data-drop-target]");
      if (target && event.dataTransfer.types.includes(DRAG_TYPE)) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        target.classList.add("drop-over");
      }
    });
    nav.addEventListener("dragleave", (event) => {
      const target = event.target.closest("[data-drop-target]");
      if (target) {
        target.classList.remove("drop-over");
      }
    });
    nav.addEventListener("drop", async (event) => {
      const target = event.target.closest("[data-drop-target]");
      if (!target) {
        return;
      }
      event.preventDefault();
      target.classList.remove("drop-over");
      let payload;
      try {
        payload = JSON.parse(event.dataTransfer.getData(DRAG_TYPE));
      } catch {
        return;
      }
      await moveTo(payload.mailbox, payload.uids, target.dataset.dropTarget);
    });
  }

  async function moveTo(source, uids, destination) {
    const data = new FormData();
    for (const uid of uids) {
      data.append("uid", uid);
    }
    data.append("action", "move");
    data.append("destination", destination);
    try {
      const result = await post(`/mail/${source}/actions`, data);
      toast(result.message);
    } catch (error) {
      toast(error.message);
      return;
    }
    if (article && uids.includes(article.dataset.uid)) {
      location.assign(`/mail/${source}`);
      return;
    }
    refreshList();
    refreshFolders();
  }

  if (article) {
    const form = article.querySelector("form.message-actions");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const following = neighbourUrl();  // before the live refresh removes this row
      let action;
      try {
        action = await act(form, event.submitter);
      } catch (error) {
        toast(error.message);
        return;
      }
      if (action === "toggle_star") {
        const star = article.querySelector(".star-tool");
        const on = !star.classList.contains("on");
        star.classList.toggle("on", on);
        star.setAttribute("aria-pressed", String(on));
        refreshList();
        return;
      }
      location.assign(following || form.querySelector("[name=next]").value);
    });
    if (article.dataset.unseen === "1") {
      const data = new FormData();
      data.append("uid", article.dataset.uid);
      data.append("action", "read");
      post(`/mail/${article.dataset.mailbox}/actions`, data).then(() => {
        article.dataset.unseen = "0";
        refreshAll();
      }).catch(() => {});
    }
  }

  // After archiving or deleting the open message, show the next one (older), else the list.
  function neighbourUrl() {
    const all = rows();
    const index = all.findIndex((row) => row.dataset.uid === (article && article.dataset.uid));
    if (index < 0) {
      return null;
    }
    const next = all[index + 1] || all[index - 1];
    return next ? next.querySelector(".row-link").href : null;
  }

  function setFocus(uid) {
    focusedUid = uid;
    for (const row of rows()) {
      row.classList.toggle("kb-focus", row.dataset.uid === uid);
    }
  }

  return { main, article, mailbox, rows, refreshList, refreshFolders, refreshAll, setFocus,
    get focusedUid() { return focusedUid; } };
}

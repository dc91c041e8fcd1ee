// Live updates: the server streams every change to this account (new mail, flags, expunges,
// folders) over Server-Sent Events; refresh what it touches. On reconnect or overflow the
// server says "resync" and everything is refreshed.
export function startLive(list) {
  if (!window.EventSource) {
    return;
  }
  const source = new EventSource("/events");
  source.addEventListener("change", (event) => {
    let change;
    try {
      change = JSON.parse(event.data);
    } catch {
      return;
    }
    const article = list.article;
    if (article && change.type === "expunged" && String(change.mailbox) === article.dataset.mailbox
        && change.uids.map(String).includes(article.dataset.uid)) {
      showGone(article);
    }
    if (article && change.type === "flags" && String(change.mailbox) === article.dataset.mailbox
        && String(change.uid) === article.dataset.uid) {
      const star = article.querySelector(".star-tool");
      const on = change.flags.includes("\\Flagged");
      if (star) {
        star.classList.toggle("on", on);
        star.setAttribute("aria-pressed", String(on));
      }
    }
    list.refreshAll();
  });
}

function showGone(article) {
  if (article.querySelector(".gone-notice")) {
    return;
  }
  const notice = document.createElement("p");
  notice.className = "notice gone-notice";
  notice.setAttribute("role", "status");
  notice.textContent = "This message was moved or deleted on another device.";
  article.querySelector(".message-scroll").prepend(notice);
}

"""The data behind the mail screen: folders, one page of the list (or of search results),
conversations and delivery status. Routes render it; templates only display it.

List parameters travel in the query string so every link, the live refresh and the browser's
back button show the same page: ``before``/``after`` (UID cursors), ``order`` (``desc`` newest
first, ``asc`` oldest first), ``view=threads`` (group the page by conversation), ``q`` and
``field`` (search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from postier.store.interface import QueuedMessage, RecipientState, Store
from postier.types import INBOX, AccountId, Mailbox, SpecialUse
from postier.web.folders import Folder, folder_list, mailbox_by_id
from postier.web.listing import MessageItem, Order, load_page
from postier.web.search import FIELDS, Field, search

__all__ = ["DeliverySummary", "ListQuery", "MailView", "ThreadRow", "delivery_summary",
           "mail_view"]


def _cursor(params: QueryParams, name: str) -> int | None:
    value = params.get(name, "")
    return int(value) if value.isdigit() and len(value) < 11 else None


@dataclass(frozen=True, slots=True)
class ListQuery:
    before: int | None = None
    after: int | None = None
    order: Order = "desc"
    threads: bool = False
    q: str = ""
    field: Field = "all"

    @classmethod
    def from_params(cls, params: QueryParams) -> ListQuery:
        order: Order = "asc" if params.get("order") == "asc" else "desc"
        wanted = params.get("field", "all")
        search_field: Field = next((f for f in FIELDS if f == wanted), "all")
        return cls(_cursor(params, "before"), _cursor(params, "after"), order,
                   params.get("view") == "threads", params.get("q", "").strip()[:200],
                   search_field)

    def params(self, **changes: object) -> str:
        """The query string of this list with some parameters changed (None removes)."""
        values: dict[str, object] = {
            "before": self.before, "after": self.after,
            "order": self.order if self.order != "desc" else None,
            "view": "threads" if self.threads else None,
            "q": self.q or None, "field": self.field if self.q and self.field != "all" else None,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v is not None})


@dataclass(frozen=True, slots=True)
class ThreadRow:
    items: list[MessageItem]  # newest first

    @property
    def latest(self) -> MessageItem:
        return self.items[0]

    @property
    def unread(self) -> bool:
        return any(not item.seen for item in self.items)


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    state: str  # delivered, deferred, failed, sending
    label: str
    message: QueuedMessage


@dataclass
class MailView:
    mailbox: Mailbox
    folders: list[Folder]
    query: ListQuery
    items: list[MessageItem]
    newer: int | None
    older: int | None
    threads: list[ThreadRow] = field(default_factory=list)
    delivery: dict[str, DeliverySummary] = field(default_factory=dict)

    @property
    def folder(self) -> Folder | None:
        return next((f for f in self.folders if f.id == self.mailbox.id), None)

    @property
    def shows_recipients(self) -> bool:
        return self.mailbox.special_use in (SpecialUse.SENT, SpecialUse.DRAFTS)

    @property
    def is_trash(self) -> bool:
        return self.mailbox.special_use in (SpecialUse.TRASH, SpecialUse.JUNK)

    @property
    def unread_total(self) -> int:
        """Unread in INBOX, for the window title."""
        return next((f.unseen for f in self.folders if f.name == INBOX), 0)


def group_threads(items: Sequence[MessageItem]) -> list[ThreadRow]:
    rows: dict[str, list[MessageItem]] = {}
    for item in items:
        rows.setdefault(item.thread_key, []).append(item)
    return [ThreadRow(group) for group in rows.values()]


def delivery_summary(message: QueuedMessage) -> DeliverySummary:
    states = [r.state for r in message.recipients]
    if RecipientState.FAILED in states:
        state, label = "failed", "Not delivered"
    elif RecipientState.DEFERRED in states:
        state, label = "deferred", "Delayed, retrying"
    elif RecipientState.PENDING in states:
        state, label = "sending", "Sending"
    else:
        state, label = "delivered", "Delivered"
    return DeliverySummary(state, label, message)


async def delivery_for(store: Store, account: AccountId,
                       items: Sequence[MessageItem]) -> dict[str, DeliverySummary]:
    ids = [item.message_id for item in items if item.message_id]
    if not ids:
        return {}
    queued = await store.queue_status(account, ids, limit=len(ids) * 2)
    found: dict[str, DeliverySummary] = {}
    for message in queued:  # newest first: keep the latest submission of each Message-ID
        if message.message_id and message.message_id not in found:
            found[message.message_id] = delivery_summary(message)
    return found


async def mail_view(store: Store, account: AccountId, mailbox_id: int,
                    query: ListQuery) -> MailView:
    mailbox = await mailbox_by_id(store, account, mailbox_id)
    folders = await folder_list(store, account)
    if query.q:
        result = await search(store, account, mailbox, query.q, query.field, query.before)
        view = MailView(mailbox, folders, query, result.items, None, result.resume_before)
    else:
        page = await load_page(store, account, mailbox, order=query.order,
                               before=query.before, after=query.after)
        view = MailView(mailbox, folders, query, page.items, page.newer, page.older)
    if query.threads:
        view.threads = group_threads(view.items)
    if mailbox.special_use is SpecialUse.SENT:
        view.delivery = await delivery_for(store, account, view.items)
    return view

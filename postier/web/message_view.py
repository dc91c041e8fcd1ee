"""One message as the reading pane shows it: addresses, bodies, attachments, headers, its
conversation and, for sent mail, what became of it.

Conversations: the store has no index by Message-ID, so the conversation of a message is
looked for in bounded windows — the messages around it in its own folder and the newest ones
of INBOX and Sent — and matched by thread root and References/In-Reply-To (listing.py). That
finds the conversation a user is in the middle of; an old thread's distant messages may be
missed (see the report on store additions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postier.errors import NotFound
from postier.mime import Attachment, MessageTree
from postier.store.interface import QueuedRecipient, RecipientState, Store
from postier.types import INBOX, AccountId, Address, Mailbox, MessageRecord, SpecialUse, UidSet
from postier.web import bodies
from postier.web.listing import MAX_UID, MessageItem, scan_down, to_items
from postier.web.sanitize import sanitize_html
from postier.web.views import DeliverySummary, delivery_summary

__all__ = ["LoadedMessage", "MessageDetail", "RecipientStatus", "load_detail", "load_message"]

_AROUND = 150
_RECENT = 200
_MAX_CONVERSATION = 50


@dataclass(frozen=True, slots=True)
class LoadedMessage:
    record: MessageRecord
    item: MessageItem
    data: bytes
    tree: MessageTree


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    address: str
    state: str  # delivered, deferred, failed, sending, local, unknown
    detail: str = ""


@dataclass
class MessageDetail:
    mailbox: Mailbox
    item: MessageItem
    from_: list[Address]
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    text: str
    has_html: bool
    view: str  # "html" or "text"
    images: bool
    blocked_images: int
    attachments: tuple[Attachment, ...]
    headers: list[tuple[str, str]]
    conversation: list[MessageItem] = field(default_factory=list)
    delivery: DeliverySummary | None = None
    recipients: list[RecipientStatus] = field(default_factory=list)


async def load_message(store: Store, account: AccountId, mailbox: Mailbox,
                       uid: int) -> LoadedMessage:
    if not 0 < uid <= MAX_UID:
        raise NotFound("no such message")
    records = await store.get_messages(account, mailbox.id, UidSet.of([uid]))
    if not records:
        raise NotFound("This message does not exist (any more).")
    record = records[0]
    data = await store.read_message(account, record)
    return LoadedMessage(record, to_items([record])[0], data, bodies.load_tree(record, data))


def _addresses(entries: tuple[object, ...]) -> list[Address]:
    found = []
    for entry in entries:
        address = getattr(entry, "to_address", lambda: None)()
        if address is not None:
            found.append(address)
    return found


async def load_detail(store: Store, account: AccountId, mailbox: Mailbox, uid: int, *,
                      prefer_text: bool, images: bool) -> MessageDetail:
    loaded = await load_message(store, account, mailbox, uid)
    found = bodies.find_bodies(loaded.tree)
    envelope = loaded.item.summary.envelope
    blocked = 0
    if found.html is not None and not prefer_text:
        blocked = sanitize_html(bodies.html_source(loaded.data, found.html),
                                allow_remote_images=images).blocked_images
    detail = MessageDetail(
        mailbox=mailbox, item=loaded.item,
        from_=_addresses(envelope.from_), to=_addresses(envelope.to),
        cc=_addresses(envelope.cc), bcc=_addresses(envelope.bcc),
        reply_to=_addresses(envelope.reply_to),
        text=bodies.plain_text(loaded.data, found),
        has_html=found.html is not None,
        view="html" if found.html is not None and not prefer_text else "text",
        images=images, blocked_images=blocked,
        attachments=loaded.item.summary.attachments,
        headers=bodies.header_list(loaded.data, loaded.tree),
    )
    detail.conversation = await conversation(store, account, mailbox, loaded.item)
    if mailbox.special_use is SpecialUse.SENT and loaded.item.message_id:
        await _add_delivery(store, account, detail)
    return detail


async def conversation(store: Store, account: AccountId, mailbox: Mailbox,
                       item: MessageItem) -> list[MessageItem]:
    windows = [(mailbox, min(item.uid + _AROUND, mailbox.uidnext - 1), 2 * _AROUND)]
    for use in (SpecialUse.SENT, None):
        other = (await store.find_special_use(account, use) if use is not None
                 else await _inbox(store, account))
        if other is not None and other.id != mailbox.id:
            windows.append((other, other.uidnext - 1, _RECENT))
    related: dict[tuple[int, int], MessageItem] = {}
    for box, top, want in windows:
        for candidate in to_items(await scan_down(store, account, box.id, top, want)):
            if candidate.related_to(item):
                related[(candidate.mailbox, candidate.uid)] = candidate
    if len(related) <= 1:
        return []
    ordered = sorted(related.values(), key=lambda i: i.date)
    return ordered[-_MAX_CONVERSATION:]


async def _inbox(store: Store, account: AccountId) -> Mailbox | None:
    try:
        return await store.get_mailbox(account, INBOX)
    except NotFound:
        return None


async def _add_delivery(store: Store, account: AccountId, detail: MessageDetail) -> None:
    queued = await store.queue_status(account, [detail.item.message_id], limit=5)
    statuses: dict[str, RecipientStatus] = {}
    if queued:
        detail.delivery = delivery_summary(queued[0])
        for recipient in queued[0].recipients:
            statuses[recipient.address.lower()] = _recipient_status(recipient)
    for address in (*detail.to, *detail.cc, *detail.bcc):
        key = str(address).lower()
        if key in statuses:
            continue
        resolved = await store.resolve_recipient(str(address))
        if resolved.accounts:
            statuses[key] = RecipientStatus(str(address), "local",
                                            "Delivered to a mailbox on this server")
        else:
            statuses[key] = RecipientStatus(str(address), "unknown",
                                            "No delivery record (older than the retention)")
    detail.recipients = list(statuses.values())


def _recipient_status(recipient: QueuedRecipient) -> RecipientStatus:
    state = recipient.state
    if state is RecipientState.DELIVERED:
        return RecipientStatus(recipient.address, "delivered",
                               f"Accepted by {recipient.remote_mta or 'the receiving server'}"
                               + (f": {recipient.remote_reply}" if recipient.remote_reply else ""))
    if state is RecipientState.FAILED:
        return RecipientStatus(recipient.address, "failed",
                               recipient.last_error or "The receiving server refused it")
    if state is RecipientState.DEFERRED:
        when = recipient.next_attempt.strftime("%Y-%m-%d %H:%M UTC")
        return RecipientStatus(recipient.address, "deferred",
                               f"{recipient.last_error or 'Temporary failure'}; "
                               f"next try {when} (attempt {recipient.attempts})")
    return RecipientStatus(recipient.address, "sending", "Waiting to be sent")

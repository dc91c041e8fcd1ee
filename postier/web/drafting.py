"""The compose form's content: empty, a reply, a reply-all, a forward, or a saved draft.

``Draft`` is what the form shows and posts back. Attachments already stored in a message (the
draft being edited, or the message being forwarded) are not uploaded again: the form lists them
as ``kept`` part numbers of its ``source`` message, and sending extracts them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postier.mime import Attachment, decode_body, resolve
from postier.mime.compose import (
    OutgoingAttachment,
    forward_subject,
    quote_text,
    reply_all_recipients,
    reply_references,
    reply_subject,
)
from postier.store.interface import Store
from postier.types import AccountId, Address, Mailbox
from postier.web import bodies
from postier.web.filenames import safe_filename
from postier.web.formatting import full_date
from postier.web.message_view import LoadedMessage, load_message

__all__ = ["Draft", "format_addresses", "kept_attachments", "prefill"]


@dataclass
class Draft:
    sender: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    text: str = ""
    in_reply_to: str = ""
    references: str = ""  # space-separated Message-IDs
    source: tuple[int, int] | None = None  # (mailbox, uid) holding the kept attachments
    answering: tuple[int, int] | None = None  # (mailbox, uid) that gets \Answered when sent
    draft_uid: int | None = None  # the saved draft this form replaces
    available: list[Attachment] = field(default_factory=list)  # attachments of ``source``
    kept: set[tuple[int, ...]] = field(default_factory=set)  # ... the ones still attached
    heading: str = "New message"


def format_addresses(addresses: list[Address]) -> str:
    out = []
    for address in addresses:
        name = address.name.replace('"', "'")
        out.append(f'"{name}" <{address}>' if name and any(c in name for c in ",;<>@")
                   else (f"{name} <{address}>" if name else str(address)))
    return ", ".join(out)


def _addresses(entries: tuple[object, ...]) -> list[Address]:
    found = []
    for entry in entries:
        address = getattr(entry, "to_address", lambda: None)()
        if address is not None:
            found.append(address)
    return found


def _attribution(loaded: LoadedMessage) -> str:
    author = _addresses(loaded.item.summary.envelope.from_)
    who = (author[0].name or str(author[0])) if author else "someone"
    return f"On {full_date(loaded.item.date)}, {who} wrote:"


async def prefill(store: Store, account: AccountId, mode: str, mailbox: Mailbox, uid: int,
                  own: list[str]) -> Draft:
    loaded = await load_message(store, account, mailbox, uid)
    summary = loaded.item.summary
    envelope = summary.envelope
    text = bodies.plain_text(loaded.data, bodies.find_bodies(loaded.tree))
    source = (mailbox.id, loaded.item.uid)
    if mode == "draft":
        return Draft(
            to=format_addresses(_addresses(envelope.to)),
            cc=format_addresses(_addresses(envelope.cc)),
            bcc=format_addresses(_addresses(envelope.bcc)),
            subject=summary.subject, text=text,
            in_reply_to=summary.in_reply_to[0] if summary.in_reply_to else "",
            references=" ".join(summary.references), source=source, draft_uid=loaded.item.uid,
            available=list(summary.attachments),
            kept={a.path for a in summary.attachments}, heading="Draft")
    if mode == "forward":
        lines = ["", "", "---------- Forwarded message ----------",
                 f"From: {summary.from_}", f"Date: {full_date(loaded.item.date)}",
                 f"Subject: {summary.subject}", f"To: {summary.to}"]
        if summary.cc:
            lines.append(f"Cc: {summary.cc}")
        return Draft(subject=forward_subject(summary.subject),
                     text="\n".join(lines) + "\n\n" + text, source=source,
                     available=list(summary.attachments),
                     kept={a.path for a in summary.attachments}, heading="Forward")
    author = _addresses(envelope.reply_to) or _addresses(envelope.from_)
    pairs = [(a.name, str(a)) for a in author]
    if mode == "replyall":
        to, cc = reply_all_recipients(pairs, [(a.name, str(a)) for a in _addresses(envelope.to)],
                                      [(a.name, str(a)) for a in _addresses(envelope.cc)], own)
    else:
        to, cc = pairs, []
    return Draft(
        to=format_addresses([_pair_address(p) for p in to]),
        cc=format_addresses([_pair_address(p) for p in cc]),
        subject=reply_subject(summary.subject),
        text=quote_text(text, _attribution(loaded)),
        in_reply_to=summary.message_id,
        references=" ".join(reply_references(summary.references, summary.in_reply_to,
                                             summary.message_id)),
        answering=source, heading="Reply to all" if mode == "replyall" else "Reply")


def _pair_address(pair: tuple[str, str]) -> Address:
    name, address = pair
    local, _, domain = address.rpartition("@")
    return Address(local, domain, name)


async def kept_attachments(store: Store, account: AccountId, mailbox: Mailbox, uid: int,
                           paths: set[tuple[int, ...]]) -> list[OutgoingAttachment]:
    """The attachments numbered ``paths`` of one of the account's messages, decoded."""
    if not paths:
        return []
    loaded = await load_message(store, account, mailbox, uid)
    found = []
    for attachment in loaded.item.summary.attachments:
        if attachment.path not in paths:
            continue
        part = resolve(loaded.tree, attachment.path)
        if part is None or part.children:
            continue
        data = decode_body(loaded.data, part)
        found.append(OutgoingAttachment(safe_filename(attachment.filename),
                                        attachment.content_type,
                                        data if data is not None else b""))
    return found

"""Mailbox commands: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS.

How this works
--------------
Names arrive in the client's spelling and are converted once (``common.mailbox_name``); the
store checks them and creates missing parents itself (RFC 9051 §6.3.4). The RFC details:

* CREATE ignores one trailing separator (RFC 9051 §6.3.4); CREATE INBOX is ALREADYEXISTS;
  ``USE (\\Sent)`` sets a special use (RFC 6154 §3) — one per mailbox, and not the virtual
  \\All or \\Flagged, which this server cannot provide (``NO [USEATTR]``).
* DELETE refuses INBOX and a mailbox with children (``NO [HASCHILDREN]``, RFC 9051 §6.3.5
  lets a server refuse rather than leave a \\Noselect shell). Deleting the selected mailbox
  first closes it (``OK [CLOSED]``); other sessions that had it selected are told BYE.
* RENAME keeps the mailbox's UIDVALIDITY and messages; renaming INBOX moves its messages to
  the new mailbox and leaves INBOX empty (RFC 9051 §6.3.6). A selected mailbox stays selected.
* STATUS answers the items in the order asked (RFC 9051 §6.3.11) from one store query;
  SIZE is RFC 8438, APPENDLIMIT RFC 7889, RECENT only means something to IMAP4rev1.
"""

from __future__ import annotations

from postier.imap.commands import Create, Delete, Rename, Status, StatusItem, Subscribe, Unsubscribe
from postier.imap.context import Context
from postier.imap.errors import no
from postier.imap.handlers.common import mailbox_name
from postier.imap.responses import (
    AString,
    Atom,
    SimpleCode,
    Tagged,
    Untagged,
    UntaggedStatus,
    Value,
)
from postier.imap.responses import Status as ResponseStatus
from postier.types import HIERARCHY_SEPARATOR, INBOX, Mailbox, MailboxStatus, SpecialUse

__all__ = [
    "handle_create", "handle_delete", "handle_rename", "handle_status", "handle_subscribe",
    "handle_unsubscribe", "status_response",
]  # fmt: skip

_OK = ResponseStatus.OK
_CREATABLE_USES = {use.value: use for use in SpecialUse
                   if use not in (SpecialUse.ALL, SpecialUse.FLAGGED)}


def _strip_separator(name: str) -> str:
    return name[:-1] if name.endswith(HIERARCHY_SEPARATOR) and len(name) > 1 else name


async def handle_create(ctx: Context, tag: str, command: Create) -> Tagged:
    name = _strip_separator(mailbox_name(ctx, command.mailbox))
    if name == INBOX:
        raise no("INBOX always exists", SimpleCode.ALREADYEXISTS)
    use = None
    if command.special_use:
        if len(command.special_use) > 1:
            raise no("a mailbox can have only one special use", SimpleCode.USEATTR)
        use = _CREATABLE_USES.get(command.special_use[0])
        if use is None:
            raise no(f"special use {command.special_use[0]} is not supported",
                     SimpleCode.USEATTR)
    await ctx.store.create_mailbox(ctx.account, name, use)
    return Tagged(tag, _OK, "CREATE completed")


async def handle_delete(ctx: Context, tag: str, command: Delete) -> Tagged:
    name = mailbox_name(ctx, command.mailbox)
    if name == INBOX:
        raise no("INBOX cannot be deleted", SimpleCode.CANNOT)
    mailboxes = await ctx.store.list_mailboxes(ctx.account)
    target = next((m for m in mailboxes if m.name == name), None)
    if target is None:
        raise no(f"no mailbox named {command.mailbox!r}", SimpleCode.NONEXISTENT)
    if any(m.name.startswith(name + HIERARCHY_SEPARATOR) for m in mailboxes):
        raise no("the mailbox has child mailboxes: delete them first", SimpleCode.HASCHILDREN)
    await ctx.store.delete_mailbox(ctx.account, name)
    if ctx.selection is not None and ctx.selection.mailbox.id == target.id:
        ctx.close_selection()
        await ctx.send(UntaggedStatus(_OK, "the selected mailbox was deleted", SimpleCode.CLOSED))
    return Tagged(tag, _OK, "DELETE completed")


async def handle_rename(ctx: Context, tag: str, command: Rename) -> Tagged:
    old = mailbox_name(ctx, command.mailbox)
    new = _strip_separator(mailbox_name(ctx, command.new_name))
    if new == INBOX:
        raise no("INBOX already exists", SimpleCode.ALREADYEXISTS)
    await ctx.store.rename_mailbox(ctx.account, old, new)
    return Tagged(tag, _OK, "RENAME completed")


async def handle_subscribe(ctx: Context, tag: str, command: Subscribe) -> Tagged:
    name = _strip_separator(mailbox_name(ctx, command.mailbox))
    await ctx.store.set_subscribed(ctx.account, name, True)
    return Tagged(tag, _OK, "SUBSCRIBE completed")


async def handle_unsubscribe(ctx: Context, tag: str, command: Unsubscribe) -> Tagged:
    name = _strip_separator(mailbox_name(ctx, command.mailbox))
    await ctx.store.set_subscribed(ctx.account, name, False)
    return Tagged(tag, _OK, "UNSUBSCRIBE completed")


def status_response(ctx: Context, status: MailboxStatus,
                    items: tuple[StatusItem, ...]) -> Untagged:
    mailbox: Mailbox = status.mailbox
    values: dict[StatusItem, Value] = {
        StatusItem.MESSAGES: status.messages,
        StatusItem.UIDNEXT: mailbox.uidnext,
        StatusItem.UIDVALIDITY: mailbox.uidvalidity,
        StatusItem.UNSEEN: status.unseen,
        StatusItem.DELETED: status.deleted,
        StatusItem.SIZE: status.size,
        StatusItem.RECENT: status.recent,
        StatusItem.HIGHESTMODSEQ: mailbox.highest_modseq,
        StatusItem.APPENDLIMIT: ctx.config.limits.max_message_size,
        StatusItem.MAILBOXID: (Atom(f"M{mailbox.id}"),),
    }
    answer: list[Value] = []
    for item in dict.fromkeys(items):
        answer += [Atom(item.value), values[item]]
    return Untagged((Atom("STATUS"), AString(ctx.names.encode(mailbox.name)), tuple(answer)))


async def handle_status(ctx: Context, tag: str, command: Status) -> Tagged:
    name = mailbox_name(ctx, command.mailbox)
    if StatusItem.HIGHESTMODSEQ in command.items:
        await ctx.enable_condstore()  # RFC 7162 §3.1.6
    mailbox = await ctx.store.get_mailbox(ctx.account, name)
    status = await ctx.store.status(ctx.account, mailbox.id)
    await ctx.send(status_response(ctx, status, command.items))
    return Tagged(tag, _OK, "STATUS completed")

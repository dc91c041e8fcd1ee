"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8; RFC 6851; RFC 4315).

How this works
--------------
The destination must exist: a missing one is ``NO [TRYCREATE]`` (RFC 9051 §6.4.7) so the
client can CREATE it and retry. The store copies or moves a whole run of messages in one
transaction (all or nothing, RFC 9051 §6.4.7), in UID order, and returns source and
destination UIDs pairwise, which become the ``COPYUID`` code (RFC 4315 §3). The command is
split into several store calls only when the set is very fragmented (``common.spans``); each
call is still atomic, and one COPYUID code describes them all.

MOVE (RFC 6851 §3.3) sends ``* OK [COPYUID ...]`` first, then the EXPUNGE responses for the
moved messages (one VANISHED after ENABLE QRESYNC, RFC 7162 §3.2.10), then the tagged OK.
Moving out of a read-only selection is ``NO [READ-ONLY]``; COPY from one is fine.
"""

from __future__ import annotations

from postier.errors import NotFound
from postier.imap.commands import Copy, Move
from postier.imap.context import Context
from postier.imap.errors import no
from postier.imap.handlers.common import mailbox_name, require_writable, select_messages, spans
from postier.imap.responses import CopyUidCode, SimpleCode, Status, Tagged, UntaggedStatus
from postier.types import Mailbox, Uid, UidSet

__all__ = ["handle_copy", "handle_move"]


async def _destination(ctx: Context, client_name: str) -> Mailbox:
    name = mailbox_name(ctx, client_name)
    try:
        return await ctx.store.get_mailbox(ctx.account, name)
    except NotFound:
        raise no(f"no mailbox named {client_name!r}", SimpleCode.TRYCREATE) from None


async def handle_copy(ctx: Context, tag: str, command: Copy) -> Tagged:
    messages = select_messages(ctx, command.sequence, uid=command.uid)
    destination = await _destination(ctx, command.mailbox)
    source: list[Uid] = []
    target: list[Uid] = []
    for uids in spans(messages):
        result = await ctx.store.copy(ctx.account, ctx.selected.mailbox.id, uids,
                                      destination.id)
        source += result.source_uids
        target += result.destination_uids
    if not source:
        return Tagged(tag, Status.OK, "COPY completed; nothing to copy")
    code = CopyUidCode(destination.uidvalidity, UidSet.of(source), UidSet.of(target))
    return Tagged(tag, Status.OK, "COPY completed", code)


async def handle_move(ctx: Context, tag: str, command: Move) -> Tagged:
    messages = select_messages(ctx, command.sequence, uid=command.uid)
    require_writable(ctx)
    destination = await _destination(ctx, command.mailbox)
    if destination.id == ctx.selected.mailbox.id:
        raise no("cannot move messages into the mailbox they are in", SimpleCode.CANNOT)
    source: list[Uid] = []
    target: list[Uid] = []
    for uids in spans(messages):
        result = await ctx.store.move(ctx.account, ctx.selected.mailbox.id, uids,
                                      destination.id)
        source += result.source_uids
        target += result.destination_uids
    if source:
        code = CopyUidCode(destination.uidvalidity, UidSet.of(source), UidSet.of(target))
        await ctx.send(UntaggedStatus(Status.OK, "moved", code))
        await ctx.send(*ctx.view.expunge_now(source, vanished=ctx.qresync))
    return Tagged(tag, Status.OK, "MOVE completed")

"""APPEND, with MULTIAPPEND (RFC 9051 §6.3.12, RFC 3502, RFC 4315 APPENDUID).

How this works
--------------
The framer already refused literals over ``[limits] max_message_size`` (``NO [TOOBIG]`` before
the octets are sent, RFC 7889); this handler checks again, in case the limit is configured
below the framer's. A missing mailbox is ``NO [TRYCREATE]`` (RFC 9051 §6.3.12), an empty
message ``NO``, a full account ``NO [OVERQUOTA]`` (RFC 9208 §4.3.4, from the store).

MULTIAPPEND must be all or nothing (RFC 3502 §6.3.11). The store has no multi-message
transaction, so the messages are appended one by one and, when one fails, the ones already
appended are removed again before the NO goes out; other sessions may briefly see them come
and go. On success the tagged OK carries ``APPENDUID uidvalidity uid-set`` (RFC 4315 §3).
When the target is the selected mailbox, the new messages reach the client as EXISTS through
the change hub, at the end of the command like any other change.
"""

from __future__ import annotations

import logging

from postier.errors import NotFound
from postier.imap.commands import Append
from postier.imap.context import Context
from postier.imap.errors import no
from postier.imap.handlers.common import mailbox_name
from postier.imap.responses import AppendUidCode, SimpleCode, Status, Tagged
from postier.imap.selected import RECENT
from postier.types import Uid, UidSet, normalize_flags

__all__ = ["handle_append"]

log = logging.getLogger("postier.imap")


async def handle_append(ctx: Context, tag: str, command: Append) -> Tagged:
    limit = ctx.config.limits.max_message_size
    for message in command.messages:
        if len(message.data) > limit:
            raise no(f"message larger than the limit of {limit} octets", SimpleCode.TOOBIG)
        if not message.data:
            raise no("an empty message cannot be appended", SimpleCode.CANNOT)
    name = mailbox_name(ctx, command.mailbox)
    try:
        mailbox = await ctx.store.get_mailbox(ctx.account, name)
    except NotFound:
        raise no(f"no mailbox named {command.mailbox!r}", SimpleCode.TRYCREATE) from None
    appended: list[Uid] = []
    uidvalidity = mailbox.uidvalidity
    try:
        for message in command.messages:
            result = await ctx.store.append(ctx.account, mailbox.id, message.data,
                                            normalize_flags(message.flags) - {RECENT},
                                            message.internal_date)
            appended.append(result.record.uid)
            uidvalidity = result.uidvalidity
    except BaseException:
        if appended:
            await _undo(ctx, mailbox.id, appended)
        raise
    code = AppendUidCode(uidvalidity, UidSet.of(appended))
    return Tagged(tag, Status.OK, "APPEND completed", code)


async def _undo(ctx: Context, mailbox: int, uids: list[Uid]) -> None:
    try:
        await ctx.store.remove(ctx.account, mailbox, UidSet.of(uids))  # type: ignore[arg-type]
    except Exception:
        log.exception("could not remove the messages of a failed MULTIAPPEND")

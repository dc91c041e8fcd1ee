"""APPEND, with MULTIAPPEND (RFC 9051 §6.3.12, RFC 3502, RFC 4315 APPENDUID).

How this works
--------------
The framer already refused literals over ``[limits] max_message_size`` (``NO [TOOBIG]`` before
the octets are sent, RFC 7889); this handler checks again, in case the limit is configured
below the framer's. A missing mailbox is ``NO [TRYCREATE]`` (RFC 9051 §6.3.12), an empty
message ``NO``, a full account ``NO [OVERQUOTA]`` (RFC 9208 §4.3.4, from the store).

MULTIAPPEND must be all or nothing (RFC 3502 §6.3.11): ``store.append_many`` stores the whole
set in one transaction (consecutive UIDs, the quota charged for the set) or nothing, so no
other session ever sees part of a set, and a crash cannot leave one. On success the tagged OK
carries ``APPENDUID uidvalidity uid-set`` (RFC 4315 §3).
When the target is the selected mailbox, the new messages reach the client as EXISTS through
the change hub, at the end of the command like any other change.
"""

from __future__ import annotations

from postier.errors import NotFound
from postier.imap.commands import Append
from postier.imap.context import Context
from postier.imap.errors import no
from postier.imap.handlers.common import mailbox_name
from postier.imap.responses import AppendUidCode, SimpleCode, Status, Tagged
from postier.imap.selected import RECENT
from postier.store.interface import AppendedMessage
from postier.types import UidSet, normalize_flags

__all__ = ["handle_append"]


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
    results = await ctx.store.append_many(ctx.account, mailbox.id, [
        AppendedMessage(message.data, normalize_flags(message.flags) - {RECENT},
                        message.internal_date)
        for message in command.messages])
    code = AppendUidCode(results[0].uidvalidity, UidSet.of(r.record.uid for r in results))
    return Tagged(tag, Status.OK, "APPEND completed", code)

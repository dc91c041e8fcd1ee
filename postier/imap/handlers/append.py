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
Refused before the data: at the first message literal of a synchronizing APPEND the session
asks :func:`refuse_early` (the command so far is known: tag and mailbox), and a missing mailbox
or a full account is answered at once, without ``+``, so the client never uploads a message
bound to be refused (as Dovecot does). A non-synchronizing literal is on its way regardless:
it is read and the full command fails in the same way (RFC 7888 §4).

When the target is the selected mailbox, the new messages reach the client as EXISTS through
the change hub, at the end of the command like any other change.
"""

from __future__ import annotations

from postier.errors import NotFound
from postier.imap.commands import Append
from postier.imap.context import Context
from postier.imap.errors import no, to_tagged
from postier.imap.handlers.common import mailbox_name
from postier.imap.parsing import AppendPrefix
from postier.imap.responses import AppendUidCode, SimpleCode, Status, Tagged
from postier.imap.selected import RECENT
from postier.store.interface import AppendedMessage
from postier.types import UidSet, normalize_flags

__all__ = ["handle_append", "refuse_early"]


async def refuse_early(ctx: Context, prefix: AppendPrefix, size: int) -> Tagged | None:
    """The answer to an APPEND that fails whatever its message (the mailbox is missing, the
    account is full), given before its first message literal is sent; None to let it come."""
    if prefix.index > 0:
        return None  # MULTIAPPEND: the target was checked at the first message
    if size == 0:
        return Tagged(prefix.tag, Status.NO, "an empty message cannot be appended",
                      SimpleCode.CANNOT)
    try:
        name = mailbox_name(ctx, prefix.mailbox)
        try:
            await ctx.store.get_mailbox(ctx.account, name)
        except NotFound:
            raise no(f"no mailbox named {prefix.mailbox!r}", SimpleCode.TRYCREATE) from None
        quota = await ctx.store.quota(ctx.account)
        if quota.limit_bytes is not None and quota.used_bytes + size > quota.limit_bytes:
            raise no("the message would exceed the quota", SimpleCode.OVERQUOTA)
    except Exception as error:
        return to_tagged(prefix.tag, error)
    return None


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

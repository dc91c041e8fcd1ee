"""QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA.

How this works
--------------
Every account has at most one quota root, named ``""``, covering all its mailboxes: the
storage limit set with ``postier user quota``. STORAGE is reported in units of 1024 octets,
rounded up (RFC 9208 §5.1). Accounts have no message-count limit, so the MESSAGE resource
(advertised, RFC 9208 §5.2) never appears in a QUOTA response. An account without a limit has
no quota root at all: ``* QUOTAROOT mailbox`` names none and ``GETQUOTA ""`` is
``NO [NONEXISTENT]``. Limits are an administrator's business, so SETQUOTA is ``NO [NOPERM]``
(QUOTASET is not advertised).
"""

from __future__ import annotations

from postier.imap.commands import GetQuota, GetQuotaRoot, SetQuota
from postier.imap.context import Context
from postier.imap.errors import no
from postier.imap.handlers.common import mailbox_name
from postier.imap.responses import AString, Atom, SimpleCode, Status, Tagged, Untagged
from postier.types import Quota

__all__ = ["handle_getquota", "handle_getquotaroot", "handle_setquota"]

ROOT = ""


def _quota_response(quota: Quota) -> Untagged:
    assert quota.limit_bytes is not None
    used = -(-quota.used_bytes // 1024)
    limit = quota.limit_bytes // 1024
    return Untagged((Atom("QUOTA"), AString(ROOT), (Atom("STORAGE"), used, limit)))


async def handle_getquotaroot(ctx: Context, tag: str, command: GetQuotaRoot) -> Tagged:
    name = mailbox_name(ctx, command.mailbox)
    mailbox = await ctx.store.get_mailbox(ctx.account, name)
    quota = await ctx.store.quota(ctx.account)
    encoded = AString(ctx.names.encode(mailbox.name))
    if quota.limit_bytes is None:
        await ctx.send(Untagged((Atom("QUOTAROOT"), encoded)))
    else:
        await ctx.send(Untagged((Atom("QUOTAROOT"), encoded, AString(ROOT))),
                       _quota_response(quota))
    return Tagged(tag, Status.OK, "GETQUOTAROOT completed")


async def handle_getquota(ctx: Context, tag: str, command: GetQuota) -> Tagged:
    quota = await ctx.store.quota(ctx.account)
    if command.root != ROOT or quota.limit_bytes is None:
        raise no(f"no quota root named {command.root!r}", SimpleCode.NONEXISTENT)
    await ctx.send(_quota_response(quota))
    return Tagged(tag, Status.OK, "GETQUOTA completed")


async def handle_setquota(ctx: Context, tag: str, command: SetQuota) -> Tagged:
    raise no("quotas are set by the administrator", SimpleCode.NOPERM)

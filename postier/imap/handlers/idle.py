"""IDLE (RFC 2177, RFC 9051 §6.3.13).

How this works
--------------
After ``+ idling`` the machine expects one line, ``DONE``. Meanwhile the handler waits for
whichever comes first:

* bytes from the client — fed to the machine; ``DONE`` ends IDLE with OK, any other line with
  BAD (RFC 2177 §3);
* a change on the selected mailbox's subscription or the NOTIFY one — drained at once and
  sent (``notify.send_changes``), EXPUNGE included (RFC 2177 §3 allows it during IDLE);
  the waiting is done with callbacks on the subscriptions' ``ready`` futures and the read
  (``context.first_done``), not a task per subscription, as one delivery may wake hundreds of
  sessions of a shared mailbox;
* the keepalive timer — ``* OK still here`` every ``KEEPALIVE`` seconds, so NAT boxes and
  clients with read timeouts keep the connection;
* the IDLE limit, ``[limits] imap_idle_timeout``: then ``* BYE`` and the session ends
  (RFC 2177 §3 suggests clients re-issue IDLE at least every 29 minutes).

No task outlives the command: the pending read is cancelled when IDLE ends for another
reason (a StreamReader keeps the bytes it had not returned), and the wait on the subscription
is a plain event wait.
"""

from __future__ import annotations

import asyncio

from postier.imap.commands import Idle
from postier.imap.context import Context, SessionEnded, first_done
from postier.imap.handlers import notify
from postier.imap.protocol import (
    ConnectionClosed,
    Event,
    IdleDone,
    NeedData,
    ParseFailure,
    ProtocolViolation,
    answer,
)
from postier.imap.responses import Bye, Continuation, Status, Tagged, UntaggedStatus

__all__ = ["KEEPALIVE", "handle_idle"]

KEEPALIVE = 120.0  # seconds between "* OK still here" lines


async def handle_idle(ctx: Context, tag: str, command: Idle) -> Tagged | None:
    await ctx.send(Continuation("idling"))
    ctx.protocol.expect_idle_done(tag)
    await notify.send_changes(ctx, allow_expunge=True)
    await ctx.flush()
    event = await _wait_for_client(ctx)
    match event:
        case IdleDone():
            return Tagged(tag, Status.OK, "IDLE terminated")
        case ParseFailure() | ProtocolViolation():
            await ctx.send(answer(event))
            return None
        case ConnectionClosed():
            raise SessionEnded("connection closed during IDLE")
    return None  # the session is ending (BYE sent)


async def _wait_for_client(ctx: Context) -> Event | None:
    """The event that ends IDLE, or None after a BYE (IDLE limit, mailbox deleted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.config.limits.imap_idle_timeout
    keepalive_at = loop.time() + KEEPALIVE
    read: asyncio.Task[bytes] | None = None
    try:
        while True:
            event = ctx.protocol.next_event()
            if not isinstance(event, NeedData):
                return event
            if read is None:
                read = asyncio.ensure_future(ctx.conn.read())
            changes = [s.ready() for s in ctx.subscriptions()]
            await first_done([read, *changes], min(deadline, keepalive_at))
            if read.done():
                data = read.result()
                read = None
                ctx.protocol.receive_data(data)
            if any(change.done() for change in changes):
                await notify.send_changes(ctx, allow_expunge=True)
                if ctx.protocol.should_close:
                    return None
            now = loop.time()
            if now >= deadline:
                await ctx.send(Bye("IDLE for too long; reconnect and IDLE again"))
                return None
            if now >= keepalive_at:
                await ctx.send(UntaggedStatus(Status.OK, "still here"))
                keepalive_at = now + KEEPALIVE
            await ctx.flush()
    finally:
        if read is not None:
            read.cancel()


"""IDLE (RFC 2177, RFC 9051 §6.3.13).

How this works
--------------
After ``+ idling`` the machine expects one line, ``DONE``. Meanwhile the handler waits for
whichever comes first:

* bytes from the client — fed to the machine; ``DONE`` ends IDLE with OK, any other line with
  BAD (RFC 2177 §3);
* a change on the account's subscription — drained at once into the selected view and sent,
  EXPUNGE included (IDLE is a command in progress, RFC 9051 §7.5.1);
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
from typing import Any

from postier.imap.commands import Idle
from postier.imap.context import Context, SessionEnded
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
    await ctx.send_updates(allow_expunge=True)
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
            waiters: set[asyncio.Future[Any]] = {read}
            change: asyncio.Task[None] | None = None
            if ctx.selection is not None:
                change = asyncio.ensure_future(ctx.selection.subscription.wait())
                waiters.add(change)
            timeout = max(0.0, min(deadline, keepalive_at) - loop.time())
            done, _pending = await asyncio.wait(waiters, timeout=timeout,
                                                return_when=asyncio.FIRST_COMPLETED)
            if change is not None and change not in done:
                change.cancel()
            if read in done:
                data = read.result()
                read = None
                ctx.protocol.receive_data(data)
            if change is not None and change in done:
                await ctx.send_updates(allow_expunge=True)
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

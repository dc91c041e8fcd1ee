"""Live updates: Server-Sent Events fed by the store's change bus.

How this works: ``GET /events`` subscribes to ``store.hub`` for the logged-in account and
streams every committed change — new message, flags, expunge, folder created/renamed/deleted —
as one small JSON event, whichever protocol made it (SMTP delivery, IMAP, POP3, another tab).
The page's script refreshes what the event touches (the list, the folder counts) within a few
hundred milliseconds.

The subscription is the hub's bounded queue: a tab that cannot keep up overflows, and then the
stream says ``resync`` (reload everything) and starts a fresh subscription. Events carry ids; a
browser that reconnects sends ``Last-Event-ID``, and since changes made while it was away are
not kept, it is told to ``resync`` too. A comment line every ``KEEPALIVE`` seconds keeps
proxies from closing an idle stream. The stream ends when the browser disconnects (ASGI
http.disconnect) or the session ends.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from postier.store.changes import (
    Change,
    ChangeHub,
    FlagsChanged,
    MessageAdded,
    MessagesExpunged,
)
from postier.types import AccountId
from postier.web.context import web_context
from postier.web.pages import require_session
from postier.web.sessions import SessionStore

__all__ = ["KEEPALIVE", "change_event", "event_stream", "events"]

KEEPALIVE = 20.0
_STREAM = secrets.token_hex(4)  # this process: ids from an earlier run mean nothing


def change_event(change: Change) -> dict[str, Any]:
    if isinstance(change, MessageAdded):
        return {"type": "added", "mailbox": change.mailbox, "uid": change.uid,
                "flags": sorted(change.flags)}
    if isinstance(change, FlagsChanged):
        return {"type": "flags", "mailbox": change.mailbox, "uid": change.uid,
                "flags": sorted(change.flags)}
    if isinstance(change, MessagesExpunged):
        return {"type": "expunged", "mailbox": change.mailbox, "uids": list(change.uids)}
    return {"type": "folders"}


def _frame(event_id: int, data: dict[str, Any]) -> str:
    return f"id: {_STREAM}-{event_id}\nevent: change\ndata: {json.dumps(data)}\n\n"


async def event_stream(hub: ChangeHub, account: AccountId, *, resume: bool,
                       still_valid: Callable[[], bool] | None = None) -> AsyncIterator[str]:
    """``still_valid()`` is checked between events: the stream ends with the session."""
    counter = 0
    subscription = hub.subscribe(account)
    try:
        yield "retry: 2000\n\n"
        if resume:
            counter += 1
            yield _frame(counter, {"type": "resync"})
        while still_valid is None or still_valid():
            try:
                async with asyncio.timeout(KEEPALIVE):
                    await subscription.wait()
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if subscription.overflowed:
                subscription.close()
                subscription = hub.subscribe(account)
                counter += 1
                yield _frame(counter, {"type": "resync"})
                continue
            for change in subscription.drain():
                counter += 1
                yield _frame(counter, change_event(change))
    finally:
        subscription.close()


async def events(request: Request) -> Response:
    session = require_session(request)
    context = web_context(request)
    sessions: SessionStore = context.sessions
    token = session.token
    stream = event_stream(context.services.store.hub, session.principal.account_id,
                          resume=bool(request.headers.get("last-event-id")),
                          still_valid=lambda: sessions.get(token) is not None)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})

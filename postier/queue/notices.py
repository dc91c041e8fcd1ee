"""Send the delivery status notifications the queue owes (bounces, delays, success reports).

How this works: recording an attempt marks each recipient that needs a DSN (``notice``) in the
same commit as its new state — an outbox. ``send_notices`` then builds one DSN per message
covering all its marked recipients (dsn.py), delivers it, and only then clears the marks. A crash
in between sends the DSN again after restart: a duplicate notice, never a lost one.

Delivery: the DSN goes to the original envelope sender with the null reverse-path (RFC 5321
§4.5.5), so it can never cause another bounce. A sender in a local domain gets it in the
mailbox(es) the address resolves to (aliases included), with ``Return-Path: <>``; anyone else gets
it through the queue like any outbound mail.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from postier.errors import MailError, NotFound
from postier.queue.dsn import RecipientReport, build_dsn
from postier.queue.model import Notice, OutboundEnvelope, OutboundRecipient, QueuedMessage
from postier.queue.schedule import RetryPolicy, expires_at
from postier.store.interface import DeliveryTarget, OutboundCopy, Store

__all__ = ["deliver_dsn", "send_notices"]

log = logging.getLogger(__name__)
_BATCH = 50


async def send_notices(store: Store, *, hostname: str, policy: RetryPolicy,
                       clock: Callable[[], datetime]) -> int:
    """Send every owed DSN; returns how many were sent."""
    sent = 0
    while True:
        messages = await store.pending_notices(_BATCH)
        if not messages:
            return sent
        failed = 0
        for message in messages:
            try:
                await _notify(store, message, hostname, policy, clock())
            except Exception:
                # It stays owed and is tried again at the next run; the others go on.
                log.exception("queue %s: could not send a delivery status notification",
                              message.id)
                failed += 1
            else:
                sent += 1
        if len(messages) < _BATCH or failed:
            return sent


async def _notify(store: Store, message: QueuedMessage, hostname: str, policy: RetryPolicy,
                  now: datetime) -> None:
    ids = [r.id for r in message.recipients]
    sender = message.envelope.sender
    if not sender:  # never bounce a bounce; schedule.decide never asks, this is the backstop
        await store.clear_notices(message.id, ids)
        return
    try:
        original = await store.read_queued(message)
    except NotFound:
        original = b""
    reports = [RecipientReport(
        final_recipient=r.address, action=r.notice or Notice.FAILED,
        status=r.status or ("5.0.0" if r.notice is Notice.FAILED else "4.0.0"),
        original_recipient=r.orcpt, remote_mta=r.remote_mta,
        diagnostic=r.remote_reply,
        explanation=r.last_error if r.remote_reply is None else None,
        last_attempt=r.last_attempt,
        will_retry_until=(expires_at(policy, message.created_at)
                          if r.notice is Notice.DELAYED else None))
        for r in message.recipients]
    dsn = build_dsn(reporting_mta=hostname, sender=sender, reports=reports, original=original,
                    arrival_date=message.created_at, now=now,
                    message_id=f"{secrets.token_hex(12)}@{hostname}",
                    envid=message.envelope.envid, ret=message.envelope.ret,
                    original_message_id=message.message_id)
    await deliver_dsn(store, sender, dsn.data, eight_bit=dsn.eight_bit, smtputf8=dsn.smtputf8)
    await store.clear_notices(message.id, ids)
    log.info("queue %s: sent a delivery status notification (%s) to <%s>", message.id,
             ", ".join(sorted({r.action.value for r in reports})), sender)


async def deliver_dsn(store: Store, sender: str, data: bytes, *, eight_bit: bool,
                      smtputf8: bool) -> None:
    try:
        recipient = await store.resolve_recipient(sender)
    except MailError as exc:
        log.warning("dropping a delivery status notification to <%s>: %s", sender, exc)
        return
    remote = list(recipient.remote) if recipient.local_domain else [sender]
    envelope = OutboundEnvelope(
        sender="", recipients=tuple(OutboundRecipient(address) for address in remote),
        body_type="8BITMIME" if eight_bit else None, smtputf8=smtputf8)
    if recipient.local_domain and recipient.accounts:
        prefix = b"Return-Path: <>\r\n"
        targets = [DeliveryTarget(account, header_prefix=prefix)
                   for account in recipient.accounts]
        if remote:  # one commit for both: a failure leaves nothing to duplicate on the retry
            results, _ = await store.deliver_and_enqueue(data, targets, OutboundCopy(envelope))
        else:
            results = await store.deliver(data, targets)
        for result in results:
            if result.error is not None:
                log.warning("delivery status notification for <%s> not stored: %s", sender,
                            result.error)
    elif remote:
        await store.enqueue(data, envelope)
    else:
        log.warning("dropping a delivery status notification: <%s> no longer exists", sender)

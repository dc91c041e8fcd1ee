"""An accepted message → the store: local mailboxes and the outbound queue, then the reply.

How this works: ``deliver`` takes the routes policy.py accepted and the message data, and

1. builds the trace fields: a ``Received:`` field (RFC 5321 §4.4) for every copy, and for local
   mailboxes a ``Return-Path:`` before it (RFC 5321 §4.4: added at final delivery). They are kept
   beside the stored body as the target's ``header_prefix``, never rewritten into it;
2. stores one body for every local account at once (``store.deliver``: one parse, one file, one
   group commit). An account reached through several recipients (two aliases, ``user+a`` and
   ``user+b``) gets one copy;
3. queues one copy for every remote recipient with the DSN parameters, in the same transaction
   as the local copies when there are any (``store.deliver_and_enqueue``, else
   ``store.enqueue``);
4. only then returns ``250 2.0.0 OK queued as <id>``. The store calls return after commit, so
   the 250 is never sent for mail that is not durable.

Failures. Exceptions from the store (TryLater, anything unexpected) propagate: the caller maps
them to 451 4.3.0 and nothing is acknowledged. DATA has one reply for all recipients (RFC 5321
§4.2.5 leaves no per-recipient answer), so per-account failures (OverQuota, an account deleted
since RCPT) are decided like this: when every local copy failed and nothing was queued, the
reply is the failure's (452 4.2.2 for a full mailbox; a temporary failure wins over a permanent
one) and the client keeps the message; when anything succeeded, the reply is 250 and the failed
copies are logged. RFC 5321 §6.1 would then want a bounce; there is no bounce machinery yet,
which is why policy.py refuses full mailboxes at RCPT time, so this case needs a mailbox that
filled up during the transaction.

The local copies and the queued one commit together or not at all: when queueing fails, no
local copy is stored either, so the 451 that follows never makes local recipients get the
message twice when the client sends it again.

Inbound authentication (MX only; see postier/mailauth/verify.py): the session passes the
``Authentication-Results`` field as ``auth_field``; it goes into the local copies' prefix
between Return-Path and Received (RFC 8601 §2.1: a trace field, added at the top like
Received), so it is always above any field of the same name the sender wrote. ``quarantine``
delivers the local copies to each account's Junk folder (special-use \\Junk), or to the INBOX of
an account that has none. Forwarded (queued) copies get neither.

Trace details: ``from`` is the HELO name and the client's address literal (no reverse DNS is
looked up); ``with`` is the RFC 3848 protocol (ESMTP, ESMTPS, ESMTPA, ESMTPSA; SMTP after HELO)
or its UTF8 form for SMTPUTF8 transactions (RFC 6531 §4.3); ``for`` names the recipient only when
the transaction has exactly one, so copies never reveal other (Bcc) recipients; the date is in
RFC 5322 form.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from postier.smtp import replies as r
from postier.smtp.commands import MailFrom
from postier.smtp.errors import to_reply
from postier.smtp.policy import Route
from postier.smtp.replies import Reply
from postier.store.interface import (
    DeliveryResult,
    DeliveryTarget,
    OutboundCopy,
    OutboundEnvelope,
    OutboundRecipient,
    Store,
)
from postier.types import AccountId, Principal, SpecialUse

__all__ = ["ClientInfo", "deliver", "new_queue_id", "received_field", "return_path_field",
           "transmission_protocol"]

log = logging.getLogger(__name__)

# What may stand for the client's name in a trace field; anything else (a client can greet with
# any word, even non-ASCII) is replaced by its address literal.
_HELO_NAME = re.compile(r"[A-Za-z0-9._:\[\]-]{1,255}")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who handed us the message, for the Received field. ``ip`` None: an in-process caller."""

    helo: str | None
    ip: str | None
    protocol: str | None  # RFC 3848 "with" value; None for a local submission


def transmission_protocol(*, esmtp: bool, tls: bool, authenticated: bool,
                          smtputf8: bool = False) -> str:
    """RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA) and RFC 6531 §4.3 (UTF8SMTP...) names."""
    if not esmtp:
        return "SMTP"
    suffix = ("S" if tls else "") + ("A" if authenticated else "")
    return ("UTF8SMTP" if smtputf8 else "ESMTP") + suffix


def new_queue_id() -> str:
    return secrets.token_hex(8).upper()


def received_field(client: ClientInfo, hostname: str, queue_id: str, recipient: str | None,
                   now: datetime) -> bytes:
    """One folded ``Received:`` field, CRLF included (RFC 5321 §4.4 Stamp)."""
    lines = []
    if client.ip is not None:
        literal = _address_literal(client.ip)
        helo = client.helo if client.helo and _HELO_NAME.fullmatch(client.helo) else None
        if literal is None:
            lines.append(f"from {helo or 'unknown'}")
        else:
            lines.append(f"from {helo or literal} ({literal})")
    by = f"by {hostname}"
    by += f" with {client.protocol}" if client.protocol else " (Postier, local submission)"
    lines.append(f"{by} id {queue_id}")
    stamp = f"; {format_datetime(now.astimezone(UTC))}"
    if recipient is not None:
        lines.append(f"for <{recipient}>{stamp}")
    else:
        lines[-1] += stamp
    return ("Received: " + "\r\n\t".join(lines) + "\r\n").encode("utf-8")


def return_path_field(sender: str) -> bytes:
    return f"Return-Path: <{sender}>\r\n".encode()


async def deliver(
    store: Store,
    mail: MailFrom,
    routes: Sequence[Route],
    data: bytes,
    client: ClientInfo,
    *,
    hostname: str,
    principal: Principal | None = None,
    queue_id: str | None = None,
    now: datetime | None = None,
    auth_field: bytes = b"",
    quarantine: bool = False,
) -> Reply:
    """Store ``data`` for every route; the reply to send once this returns (see the module
    docstring). Raises what the store raises."""
    queue_id = queue_id or new_queue_id()
    now = now or datetime.now(UTC)
    accounts = list(dict.fromkeys(a for route in routes for a in route.accounts))
    remote = list({o.address.lower(): o for route in routes for o in route.remote}.values())
    if not accounts and not remote:
        return r.NO_VALID_RECIPIENTS
    single = routes[0].rcpt.address if len(routes) == 1 else None
    trace = received_field(client, hostname, queue_id, single, now)
    outbound = _outbound(mail, remote, trace, principal) if remote else None
    if accounts:
        failures = await _deliver_local(store, mail.address, accounts, data, auth_field + trace,
                                        now, queue_id, quarantine, outbound)
        if len(failures) == len(accounts) and not remote:
            return _failure_reply(failures)
    elif outbound is not None:
        await store.enqueue(outbound.header_prefix + data, outbound.envelope)
    return r.queued(queue_id)


async def _deliver_local(store: Store, sender: str, accounts: list[AccountId], data: bytes,
                         trace: bytes, now: datetime, queue_id: str,
                         quarantine: bool, outbound: OutboundCopy | None) -> list[DeliveryResult]:
    prefix = return_path_field(sender) + trace
    targets = []
    for account in accounts:
        junk = await store.find_special_use(account, SpecialUse.JUNK) if quarantine else None
        targets.append(DeliveryTarget(account, junk.name if junk else None, prefix))
    if outbound is None:
        results = await store.deliver(data, targets, internal_date=now)
    else:  # one commit for both: a queueing failure leaves no local copy either
        results, _ = await store.deliver_and_enqueue(data, targets, outbound, internal_date=now)
    failures = [result for result in results if result.error is not None]
    for failure in failures:
        log.warning("%s: not delivered to account %d: %s", queue_id, failure.target.account_id,
                    failure.error)
    return failures


def _outbound(mail: MailFrom, remote: list[OutboundRecipient], trace: bytes,
              principal: Principal | None) -> OutboundCopy:
    envelope = OutboundEnvelope(
        sender=mail.address,
        recipients=tuple(remote),
        account_id=principal.account_id if principal else None,
        envid=mail.envid,
        ret=mail.ret.value if mail.ret else None,
        body_type=mail.body.value if mail.body else None,
        smtputf8=mail.smtputf8,
    )
    return OutboundCopy(envelope, header_prefix=trace)


def _failure_reply(failures: list[DeliveryResult]) -> Reply:
    replies = [to_reply(f.error) for f in failures if f.error is not None]
    temporary = [reply for reply in replies if reply.code < 500]
    return (temporary or replies)[0]


def _address_literal(ip: str) -> str | None:
    """RFC 5321 §4.1.3: ``[192.0.2.1]`` or ``[IPv6:2001:db8::1]``."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"[{address.ipv4_mapped}]"
        return f"[IPv6:{address.compressed}]"
    return f"[{address}]"

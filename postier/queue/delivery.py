"""Deliver the claimed recipients of one destination: route, connect, send, record.

How this works: ``deliver_destination`` gets every claimed (message, recipients) pair for one
domain (or, with a smarthost, for all domains) and

1. finds the route (mx.py). A permanent DNS answer (NXDOMAIN, null MX) fails the recipients; a
   temporary one defers them;
2. turns the pairs into jobs of at most 100 recipients (one SMTP transaction each);
3. tries the hosts in order, each of its addresses in turn, until one session takes the jobs.
   A host that cannot be reached, refuses the session, or fails STARTTLS passes the untried jobs
   to the next host (RFC 5321 §5.1); a host that answered a transaction has decided it, and
   its 4xx is retried later, not elsewhere now;
4. records each transaction's outcome the moment the remote gave it (schedule.decide), and at
   the end defers whatever no host took, with the last host's reason.

TLS: MX hosts get opportunistic STARTTLS without certificate checks (RFC 7435: encryption is
better than none, and most MX certificates would not verify against the MX name anyway; MTA-STS
and DANE are not implemented). A failed handshake is not retried in plaintext on the same host:
that would let anyone who can break the handshake turn the encryption off. The smarthost is
verified (``[relay] verify_tls``), and TLS is required unless ``[relay] tls = "none"``.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from postier.dns import DnsError, Resolver
from postier.queue.connection import ConnectionFailed, SmtpConnection
from postier.queue.model import Attempt, Outcome, QueuedMessage, QueuedRecipient
from postier.queue.mx import Destination, RouteError, addresses_of, find_route
from postier.queue.schedule import RetryPolicy, batches, decide
from postier.queue.session import Timeouts, run_session
from postier.smtp.client import (
    ClientConfig,
    MailTransaction,
    OutgoingRecipient,
    TlsPolicy,
    TransactionDone,
    normalize_line_endings,
)
from postier.store.interface import QueueStore

__all__ = ["DeliveryContext", "Job", "RelayRoute", "deliver_destination"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelayRoute:
    """``[relay]``: everything goes to this host."""

    destination: Destination
    tls: str  # "starttls", "implicit" or "none"
    verify: bool
    username: str | None
    password: str | None


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    store: QueueStore
    resolver: Resolver
    policy: RetryPolicy
    timeouts: Timeouts
    hostname: str
    remote_port: int
    relay: RelayRoute | None
    sign: Callable[[bytes, str], Awaitable[bytes]]  # DKIM (signing.DkimSigner.sign)
    clock: Callable[[], datetime]


@dataclass(slots=True)
class Job:
    message: QueuedMessage
    recipients: tuple[QueuedRecipient, ...]


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def deliver_destination(context: DeliveryContext, domain: str,
                              pairs: Sequence[tuple[QueuedMessage, tuple[QueuedRecipient, ...]]]
                              ) -> None:
    jobs = [Job(message, batch) for message, recipients in pairs
            for batch in batches(recipients)]
    relay = context.relay
    try:
        route = await find_route(context.resolver, domain, port=context.remote_port,
                                 smarthost=relay.destination if relay else None)
    except RouteError as exc:
        outcome = Outcome.FAILED if exc.permanent else Outcome.DEFERRED
        for job in jobs:
            await _record(context, job, [Attempt(outcome, exc.status, str(exc))] *
                          len(job.recipients))
        return
    bodies = _BodyCache(context)
    last_error = "no mail server could be tried"
    for destination in route:
        if not jobs:
            break
        try:
            addresses = await addresses_of(context.resolver, destination)
        except DnsError as exc:
            last_error = str(exc)
            continue
        for address in addresses:
            remaining, error = await _try_host(context, destination, address, jobs, bodies)
            if error is not None:
                last_error = error
            if len(remaining) < len(jobs):
                jobs = remaining
                break  # this host took jobs; any it left untried go to the next host
            jobs = remaining
        if not jobs:
            break
    for job in jobs:
        await _record(context, job, [Attempt(Outcome.DEFERRED, "4.4.1", last_error)] *
                      len(job.recipients))


async def _try_host(context: DeliveryContext, destination: Destination, address: str,
                    jobs: list[Job], bodies: _BodyCache) -> tuple[list[Job], str | None]:
    relay = context.relay
    implicit = relay is not None and relay.tls == "implicit"
    verify = relay.verify if relay is not None else False
    tls_context = _tls_context(verify)
    try:
        connection = await SmtpConnection.open(destination.host, address, destination.port,
                                               timeout=context.timeouts.connect,
                                               tls=tls_context if implicit else None)
    except ConnectionFailed as exc:
        return jobs, str(exc)
    if relay is None:
        policy = TlsPolicy.OPPORTUNISTIC
    else:
        policy = TlsPolicy.REQUIRED if relay.tls == "starttls" else TlsPolicy.NONE
    config = ClientConfig(context.hostname, policy, tls_active=implicit,
                          username=relay.username if relay else None,
                          password=relay.password if relay else None)

    async def on_done(job: Job, done: TransactionDone) -> None:
        attempts = [Attempt(r.outcome, r.status,
                            r.text if r.reply is not None else f"{destination.host}: {r.text}",
                            destination.host, r.reply is not None, done.dsn_passed)
                    for r in done.results]
        await _record(context, job, attempts)

    try:
        end = await run_session(connection, config, jobs, prepare=bodies.transaction,
                                on_done=on_done, tls_context=tls_context,
                                server_hostname=destination.host, timeouts=context.timeouts)
    finally:
        await connection.close()
    return jobs[end.sent:], end.reason


class _BodyCache:
    """Reads and signs each message once per delivery run, keeping only the current one."""

    def __init__(self, context: DeliveryContext) -> None:
        self._context = context
        self._key: int | None = None
        self._body = b""

    async def transaction(self, job: Job) -> MailTransaction | None:
        message = job.message
        if self._key != message.id:
            try:
                data = await self._context.store.read_queued(message)
            except Exception as exc:  # deleted from the queue meanwhile (NotFound), or unreadable
                log.warning("queue %s: cannot read the message, skipping it: %s", message.id, exc)
                return None
            data = normalize_line_endings(data)
            self._body = await self._context.sign(data, message.envelope.sender)
            self._key = message.id
        envelope = message.envelope
        return MailTransaction(
            envelope.sender,
            tuple(OutgoingRecipient(r.address, r.notify, r.orcpt) for r in job.recipients),
            self._body, envid=envelope.envid, ret=envelope.ret, body_type=envelope.body_type,
            smtputf8=envelope.smtputf8)


async def _record(context: DeliveryContext, job: Job, attempts: Sequence[Attempt]) -> None:
    now = context.clock()
    updates = [decide(job.message, recipient, attempt, now, context.policy)
               for recipient, attempt in zip(job.recipients, attempts, strict=True)]
    await context.store.record_attempt(job.message.id, updates, now)
    for recipient, update in zip(job.recipients, updates, strict=True):
        log.info("queue %s: <%s> %s: %s", job.message.id, recipient.address, update.state.value,
                 update.remote_reply or update.last_error or "")

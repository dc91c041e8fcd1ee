"""The outbound queue's worker: due recipients from the store, out over SMTP, results back.

How this works: ``QueueRunner.run`` loops forever (``server.py`` runs it as a background task):

1. claim every due recipient (``store.claim_due``), leasing it for ``[queue] lease`` seconds;
2. group the claims per destination domain (all under one key with a smarthost) and start one
   delivery task per group: one connection carries all of a domain's recipients;
3. send the DSNs the recorded outcomes made due (notices.py);
4. now and then, purge finished entries older than ``[queue] retention``;
5. sleep until the next recipient is due, at most ``poll_interval`` (new mail is found by this
   poll; the SMTP side need not know the runner), or until a delivery task finishes.

Concurrency: at most ``domain_concurrency`` delivery tasks per domain and ``max_connections``
in all. A recipient already being delivered by this process is never handed out twice: claims
whose ids are in flight are dropped (the new claim merely extended the lease). A process that
dies leaves its leases, which expire, and the recipients are retried: nothing is lost, and only
a message whose remote already answered 250 but whose outcome was not yet committed can be sent
twice (the window is one store commit, the "lost reply" case of RFC 5321 §6.1's duty).

Cancellation (server stop) cancels the delivery tasks, which hand their leases back, so the
next start retries those recipients at once (a kill -9 leaves the leases to expire instead).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from postier.config import Config
from postier.dns import DnsResolver, Resolver
from postier.queue.delivery import DeliveryContext, RelayRoute, deliver_destination
from postier.queue.model import QueuedMessage, QueuedRecipient
from postier.queue.mx import Destination
from postier.queue.notices import send_notices
from postier.queue.schedule import RetryPolicy, group_by_destination
from postier.queue.session import Timeouts
from postier.queue.signing import DkimSigner
from postier.services import Services
from postier.store.interface import Store

__all__ = ["QueueRunner", "run_queue"]

log = logging.getLogger(__name__)
_CLAIM_LIMIT = 1000
_PURGE_EVERY = timedelta(minutes=10)


def _now() -> datetime:
    return datetime.now(UTC)


class QueueRunner:
    def __init__(self, store: Store, config: Config, *, resolver: Resolver | None = None,
                 clock: Callable[[], datetime] = _now) -> None:
        settings = config.queue
        self.store = store
        self.config = config
        self.clock = clock
        self.policy = RetryPolicy.from_seconds(settings.retry_schedule, settings.expire_after,
                                               settings.delay_notice_after)
        relay = config.relay
        route = None
        if relay.smarthost is not None:
            route = RelayRoute(Destination(relay.smarthost.host or "127.0.0.1",
                                           relay.smarthost.port, resolve=False),
                               relay.tls, relay.verify_tls, relay.username, relay.password)
        signer = DkimSigner(config.data_dir, settings.dkim_selector)
        self.context = DeliveryContext(
            store=store,
            resolver=resolver or DnsResolver(config.dns.nameservers,
                                             timeout=settings.dns_timeout),
            policy=self.policy,
            timeouts=Timeouts(settings.connect_timeout, settings.command_timeout,
                              settings.data_timeout),
            hostname=config.server.hostname, remote_port=settings.remote_port, relay=route,
            sign=signer.sign, clock=clock)
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._domains: dict[str, asyncio.Semaphore] = {}
        self._connections = asyncio.Semaphore(settings.max_connections)
        self._last_purge: datetime | None = None

    def wake(self) -> None:
        """Look at the queue now (after enqueueing, or from ``queue retry``)."""
        self._wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            while True:
                try:
                    await self.run_once(tasks)
                except Exception:
                    # The store is busy or broken: deliveries in flight go on, and the next
                    # poll tries again, rather than restarting the whole runner.
                    log.exception("queue run failed; trying again at the next poll")
                await self._sleep()

    async def run_once(self, tasks: asyncio.TaskGroup) -> None:
        self._wake.clear()
        now = self.clock()
        lease = now + timedelta(seconds=self.config.queue.lease)
        due = await self.store.next_due()  # a read: an idle queue costs no write per poll
        claimed = [] if due is None or due > now else await self.store.claim_due(
            now, lease, _CLAIM_LIMIT)
        fresh = [_without(message, self._in_flight) for message in claimed]
        groups = group_by_destination([m for m in fresh if m.recipients],
                                      one_route=self.context.relay is not None)
        for domain, pairs in groups.items():
            ids = {r.id for _message, recipients in pairs for r in recipients}
            self._in_flight |= ids
            tasks.create_task(self._deliver(domain, pairs, ids), name=f"postier-queue-{domain}")
        await send_notices(self.store, hostname=self.config.server.hostname,
                           policy=self.policy, clock=self.clock)
        if self._last_purge is None or now - self._last_purge >= _PURGE_EVERY:
            self._last_purge = now
            retention = timedelta(seconds=self.config.queue.retention)
            purged = await self.store.purge_queue(now - retention)
            if purged:
                log.info("removed %d finished message(s) from the queue", purged)

    async def _deliver(self, domain: str,
                       pairs: list[tuple[QueuedMessage, tuple[QueuedRecipient, ...]]],
                       ids: set[int]) -> None:
        limit = self.config.queue.domain_concurrency
        semaphore = self._domains.setdefault(domain, asyncio.Semaphore(limit))
        try:
            async with semaphore, self._connections:
                await deliver_destination(self.context, domain, pairs)
        except asyncio.CancelledError:
            await self._release(pairs)
            raise
        except Exception:
            # A bug or a store failure: the leases expire and the recipients are retried.
            log.exception("delivery to %s failed", domain or "the smarthost")
        finally:
            self._in_flight -= ids
            self._wake.set()  # outcomes may owe DSNs; send them now rather than at the next poll

    async def _release(self, pairs: list[tuple[QueuedMessage, tuple[QueuedRecipient, ...]]]
                       ) -> None:
        """On shutdown, hand back the leases at once so that a restart retries right away
        (outcomes already recorded are unaffected: their leases are gone)."""
        try:
            async with asyncio.timeout(2):
                for message, recipients in pairs:
                    await self.store.release(message.id, [r.id for r in recipients])
        except Exception:  # the store may be closing; the leases will simply expire
            log.debug("could not release queue leases on shutdown", exc_info=True)

    async def _sleep(self) -> None:
        timeout = self.config.queue.poll_interval
        try:
            due = await self.store.next_due()
        except Exception:
            due = None
        if due is not None:
            timeout = min(timeout, max((due - self.clock()).total_seconds(), 0.0) + 0.01)
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass


def _without(message: QueuedMessage, in_flight: set[int]) -> QueuedMessage:
    if not any(r.id in in_flight for r in message.recipients):
        return message
    kept = tuple(r for r in message.recipients if r.id not in in_flight)
    return QueuedMessage(message.id, message.envelope, message.blob_id, message.size,
                         message.created_at, kept, message.message_id)


async def run_queue(services: Services) -> None:
    """The background task ``server.py`` starts."""
    await QueueRunner(services.store, services.config).run()

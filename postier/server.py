"""Composition root: builds the store, authentication, TLS and listeners from a Config.

How this works: ``PostierServer.start`` opens the store (off the event loop), loads TLS, builds one
``Authenticator`` shared by every protocol, and binds a listener for each configured name whose
protocol is available. ``run`` installs signal handlers (SIGTERM/SIGINT stop cleanly, SIGHUP
reloads the certificate), prints the settings users type into their mail clients, and waits.
This is the only module besides ``cli`` that names a concrete store backend.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from postier.auth import Authenticator, FailureThrottle, MemoryThrottle, ThrottleLimits
from postier.config import Config
from postier.dns import DnsResolver
from postier.errors import ConfigError
from postier.net.listener import Bound, Listeners, ListenerSpec, TlsMode
from postier.net.tls import TlsManager
from postier.services import ConnectionHandler, Services
from postier.store.interface import Store

__all__ = ["PostierServer", "expunge_history_retention", "open_store"]

log = logging.getLogger("postier")


SessionFactory = Callable[[Services], ConnectionHandler]


@dataclass(frozen=True, slots=True)
class ProtocolEntry:
    """How one listener name is served: TLS mode, session handler, and the over-limit answer."""

    tls: TlsMode
    handler: SessionFactory
    refuse: SessionFactory | None = None


# Long-running maintenance tasks (queue runner, retention, ...): factories called after start.
BackgroundTask = Callable[[Services], Awaitable[None]]


def _background_tasks() -> list[tuple[str, BackgroundTask]]:
    from postier.pop3.retention import trash_retention
    from postier.queue.runner import run_queue

    return [("pop3-trash-retention", trash_retention), ("queue", run_queue),
            ("expunge-history-retention", expunge_history_retention)]


HISTORY_SWEEP_INTERVAL = 3600.0
HISTORY_FIRST_SWEEP = 60.0  # after start: out of the way of a busy start-up


async def expunge_history_retention(services: Services) -> None:
    """Background task: forget expunges older than ``[store] expunge_history`` (RFC 7162 QRESYNC
    clients away longer get a full VANISHED (EARLIER)), shortly after start and then hourly.
    Every node of a PostgreSQL cluster runs it; the store makes concurrent sweeps harmless."""
    keep = services.config.store.expunge_history
    if keep == 0:
        return
    # A retention shorter than the usual pauses (tests, experiments) is swept as often as it lasts.
    await asyncio.sleep(min(HISTORY_FIRST_SWEEP, keep))
    while True:
        before = datetime.now(UTC) - timedelta(seconds=keep)
        pruned = await services.store.prune_expunge_history(before)
        if pruned:
            log.info("expunge history: forgot %d expunge(s) older than %s", pruned,
                     before.isoformat(timespec="seconds"))
        await asyncio.sleep(min(HISTORY_SWEEP_INTERVAL, keep))


def _protocols() -> dict[str, ProtocolEntry]:
    """Listener name → how it is served."""
    from postier.smtp.session import smtp_handler, smtp_refuser

    def smtp(listener: str) -> SessionFactory:
        return lambda services: smtp_handler(services, listener)

    from collections.abc import Sequence

    from postier.imap.session import imap_handler
    from postier.pop3.session import pop3_handler, pop3_refuser
    from postier.smtp.delivery import ClientInfo
    from postier.smtp.submit import SubmitResult, submit_message
    from postier.types import Principal
    from postier.web.handler import web_handler, web_refuser

    def web(services: Services) -> ConnectionHandler:
        # The webmail sends through SMTP submission, handed in here: protocols do not import
        # each other.
        async def submit(principal: Principal, sender: str, recipients: Sequence[str],
                         data: bytes, *, client_ip: str, tls: bool) -> SubmitResult:
            client = ClientInfo(None, client_ip or None, "HTTPS" if tls else "HTTP")
            return await submit_message(services, principal, sender, recipients, data,
                                        client=client)

        return web_handler(services, submit)

    return {
        "imap": ProtocolEntry(TlsMode.STARTTLS, imap_handler),
        "imaps": ProtocolEntry(TlsMode.IMPLICIT, imap_handler),
        "smtp": ProtocolEntry(TlsMode.STARTTLS, smtp("smtp"), smtp_refuser),
        "submission": ProtocolEntry(TlsMode.STARTTLS, smtp("submission"), smtp_refuser),
        "submissions": ProtocolEntry(TlsMode.IMPLICIT, smtp("submissions"), smtp_refuser),
        "pop3": ProtocolEntry(TlsMode.STARTTLS, pop3_handler, pop3_refuser),
        "pop3s": ProtocolEntry(TlsMode.IMPLICIT, pop3_handler, pop3_refuser),
        "http": ProtocolEntry(TlsMode.NONE, web, web_refuser),
        "https": ProtocolEntry(TlsMode.IMPLICIT, web, web_refuser),
    }

_LABELS = {"smtp": "SMTP (incoming, MX)", "submission": "SMTP (sending)",
           "submissions": "SMTP (sending)", "imap": "IMAP", "imaps": "IMAP", "pop3": "POP3",
           "pop3s": "POP3", "http": "Webmail", "https": "Webmail"}
_SECURITY = {TlsMode.IMPLICIT: "SSL/TLS", TlsMode.STARTTLS: "STARTTLS", TlsMode.NONE: "none"}


async def open_store(config: Config) -> Store:
    """Open the configured backend: the embedded store, or PostgreSQL (migrated if needed)."""
    if config.store.backend == "sqlite":
        from postier.store.sqlite.store import SqliteStore

        return await asyncio.to_thread(SqliteStore.open, config.data_dir)
    if config.store.backend == "postgresql" and config.store.dsn:
        from postier.store.postgres.store import PostgresStore

        return await PostgresStore.open(config.store.dsn)
    raise ConfigError(f"[store] backend {config.store.backend!r} is not available in this version;"
                      " use \"sqlite\" or \"postgresql\" (with a dsn)")


def _throttle_for(store: Store, limits: ThrottleLimits) -> FailureThrottle:
    """Login failure counters: in memory, or in PostgreSQL where several nodes must share them."""
    from postier.store.postgres.store import PostgresStore

    if isinstance(store, PostgresStore):
        return store.failure_throttle(limits)
    return MemoryThrottle(limits)


async def _join_nodes(store: Store, services: Services) -> list[Callable[[], Awaitable[None]]]:
    """On PostgreSQL, other nodes' changes come in over LISTEN, and POP3's per-account lock
    must hold across nodes. Returns what to close on stop."""
    from postier.store.postgres.store import PostgresStore

    if not isinstance(store, PostgresStore):
        return []
    from postier.pop3.session import shared_state

    await store.start_listening()
    locks = store.maildrop_locks()
    shared_state(services).locks = locks
    return [locks.close]


class PostierServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store | None = None
        self.tls: TlsManager | None = None
        self.listeners: Listeners | None = None
        self.context: Services | None = None
        self._stopping = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        config = self.config
        if config.tls.cert is not None and config.tls.key is not None:
            self.tls = TlsManager(config.tls.cert, config.tls.key)
        self.store = await open_store(config)
        limits = ThrottleLimits(free_failures=config.auth.free_failures,
                                base_delay=config.auth.delay_base,
                                max_delay=config.auth.delay_max,
                                window=config.auth.failure_window)
        authenticator = Authenticator(self.store, _throttle_for(self.store, limits))
        resolver = DnsResolver(config.dns.nameservers, timeout=config.queue.dns_timeout)
        context = self.context = Services(config, self.store, authenticator, self.tls, resolver)
        try:
            self._closers = await _join_nodes(self.store, context)
        except BaseException:
            await self.store.close()
            raise
        specs: list[ListenerSpec] = []
        protocols = _protocols()
        for name in PROTOCOL_ORDER:
            addresses = config.listen.addresses(name)
            if not addresses:
                continue
            if name not in protocols:
                log.warning("%s: this protocol is not available in this version; not listening",
                            name)
                continue
            entry = protocols[name]
            mode = entry.tls
            if mode is not TlsMode.NONE and self.tls is None:
                if mode is TlsMode.IMPLICIT:
                    raise ConfigError(f"[listen] {name} needs [tls] cert and key")
                mode = TlsMode.NONE
            refuse = entry.refuse(context) if entry.refuse is not None else None
            specs.append(ListenerSpec(name, addresses, mode, entry.handler(context), refuse))
        self.listeners = Listeners(self.tls.context if self.tls else None,
                                   max_connections=config.limits.max_connections,
                                   max_per_ip=config.limits.max_connections_per_ip)
        try:
            await self.listeners.start(specs)
        except BaseException:
            await self.listeners.stop(grace=0)
            for close in self._closers:
                await close()
            await self.store.close()
            raise
        for bound in self.listeners.bound:
            log.info("%s listening on %s port %d (%s)", bound.name, bound.host or "*", bound.port,
                     _SECURITY[bound.tls])
        self._write_runtime_file(self.listeners.bound)
        self._start_background(context)

    def _write_runtime_file(self, bound: list[Bound]) -> None:
        """``data_dir/run/listeners.json``: what listens where, for scripts and tests."""
        run = self.config.data_dir / "run"
        run.mkdir(parents=True, exist_ok=True)
        data = {"pid": os.getpid(),
                "listeners": [{"name": b.name, "host": b.host, "port": b.port,
                               "tls": b.tls.value} for b in bound]}
        tmp = run / "listeners.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(run / "listeners.json")

    def port(self, name: str) -> int:
        assert self.listeners is not None
        return self.listeners.port_of(name)

    def client_settings(self) -> str:
        """The table users look for when they set up IMAP, POP3 and SMTP in a mail client."""
        assert self.listeners is not None
        host = self.config.server.hostname
        rows = [("Protocol", "Server", "Port", "Security")]
        seen: set[tuple[str, int]] = set()
        for bound in self.listeners.bound:
            if (bound.name, bound.port) in seen:
                continue
            seen.add((bound.name, bound.port))
            rows.append((_LABELS[bound.name], host, str(bound.port), _SECURITY[bound.tls]))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
                 for row in rows]
        return ("Mail client settings (user name: the full email address):\n  "
                + "\n  ".join(lines))

    def request_stop(self) -> None:
        self._stopping.set()

    def _start_background(self, services: Services) -> None:
        for name, task in _background_tasks():
            self._background.append(asyncio.create_task(
                _supervise(name, task, services), name=f"postier-{name}"))

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        if self._background:
            await asyncio.wait(self._background)
        self._background.clear()
        if self.listeners is not None:
            await self.listeners.stop()
        for close in self._closers:
            await close()
        self._closers.clear()
        if self.store is not None:
            await self.store.close()
        runtime = self.config.data_dir / "run" / "listeners.json"
        runtime.unlink(missing_ok=True)

    def reload_tls(self) -> None:
        if self.tls is None:
            return
        try:
            self.tls.reload()
            log.info("TLS certificate reloaded from %s", self.tls.cert)
        except ConfigError as exc:
            log.error("TLS reload failed, keeping the old certificate: %s", exc)

    async def run(self, announce: Callable[[str], None] | None = None) -> None:
        # Handlers first: a signal that arrives while starting must still stop us cleanly.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload_tls)
        try:
            await self.start()
            # Everything built at start-up (modules, config, caches) lives as long as the
            # process: move it out of the collector's reach, so the full collections that many
            # long-lived sessions trigger scan only what sessions made (CPython's gc.freeze).
            gc.collect()
            gc.freeze()
            if announce is not None:
                announce(self.client_settings())
            await self._stopping.wait()
            log.info("stopping")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.stop()


PROTOCOL_ORDER = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http",
                  "https")



async def _supervise(name: str, task: BackgroundTask, services: Services) -> None:
    """Run a background task; log and restart it (after a pause) if it fails."""
    while True:
        try:
            await task(services)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed; restarting in 30 s", name)
            await asyncio.sleep(30)

"""One POP3 connection: the machine (protocol.py) fed from a Connection, decisions answered from
the authenticator and the store.

How this works: ``Pop3Session.run`` loops on ``next_event``: NeedData writes the pending answers
and reads (a started command line must be complete within ``[limits] command_timeout``, else
``-ERR timeout`` and close: ``net/deadline.py``, against slow-loris clients;
``[limits] pop3_timeout`` is the autologout timer of RFC 1939 §3: when it expires the
connection is closed without a response and without entering UPDATE); FlushOutput writes;
TlsHandshakeRequired runs the handshake; decisions go to ``_login``, ``_retrieve`` and
``_update``, each with exactly one ``except`` mapping errors through errors.py.

Login: the authenticator checks the credentials (USER/PASS or SASL, with its throttle), then the
account's maildrop lock is taken ([IN-USE] when another POP3 session has it), LOGIN-DELAY is
checked when configured, and the INBOX snapshot is read. The lock is released on every way out
of ``run`` — QUIT, a dropped connection, a timeout, an error or cancellation — and nothing is
deleted unless the client sent QUIT in the TRANSACTION state.

SASL (RFC 5034 §4): challenges are "+ base64" lines. POP3 has no room for additional data with
success, so SCRAM's server-final message is sent as one more challenge, answered by an empty
line, before "+OK" (RFC 4422 §5 item 7).

State shared by all POP3 sessions of one server (the lock table, LOGIN-DELAY history and the
wire-size cache) is kept per store object, so the pop3 and pop3s listeners share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass, field

from postier.auth import MECHANISMS, SaslCancelled
from postier.net.connection import Connection
from postier.net.deadline import InputDeadline
from postier.pop3.errors import LoginTooSoon, MaildropInUse, to_response
from postier.pop3.events import (
    ConnectionClosed,
    FlushOutput,
    NeedData,
    PasswordLogin,
    ProtocolConfig,
    Retrieve,
    SaslLogin,
    SaslResponse,
    TlsHandshakeRequired,
    Update,
)
from postier.pop3.events import SaslCancelled as SaslCancelledEvent
from postier.pop3.locks import InProcessLocks, LoginHistory, MaildropLease, MaildropLocks
from postier.pop3.maildrop import Maildrop
from postier.pop3.protocol import Pop3ServerProtocol
from postier.pop3.readahead import ReadAhead
from postier.pop3.responses import BUSY, err
from postier.pop3.storage import Snapshot, WireSizeCache, apply_update, open_maildrop
from postier.services import ConnectionHandler, Services
from postier.types import AccountId, Principal

__all__ = ["Pop3Session", "SharedState", "pop3_handler", "pop3_refuser", "shared_state"]

_GOODBYE_WRITE_TIMEOUT = 5.0  # seconds for the "-ERR timeout" to a too-slow client

log = logging.getLogger(__name__)


@dataclass
class SharedState:
    locks: MaildropLocks = field(default_factory=InProcessLocks)
    logins: LoginHistory = field(default_factory=lambda: LoginHistory(0))
    sizes: WireSizeCache = field(default_factory=WireSizeCache)


_SHARED: weakref.WeakKeyDictionary[object, SharedState] = weakref.WeakKeyDictionary()


def shared_state(services: Services) -> SharedState:
    state = _SHARED.get(services.store)
    if state is None:
        state = _SHARED[services.store] = SharedState(
            logins=LoginHistory(services.config.pop3.login_delay))
    return state


def pop3_handler(services: Services) -> ConnectionHandler:
    """The connection handler for the pop3 (STLS) and pop3s (implicit TLS) listeners."""
    shared = shared_state(services)

    async def handle(connection: Connection) -> None:
        await Pop3Session(services, connection, shared).run()

    return handle


def pop3_refuser(services: Services) -> ConnectionHandler:
    """What a connection over the listener's limits gets instead of a session."""

    async def refuse(connection: Connection) -> None:
        # A negative greeting: the client gives up instead of logging in, and [SYS/TEMP]
        # (RFC 3206 §4) tells it that trying again later may work.
        await connection.write(BUSY.to_bytes())

    return refuse


class _SessionEnded(Exception):
    """The peer went away or the autologout timer expired in the middle of a decision."""


class Pop3Session:
    def __init__(self, services: Services, connection: Connection,
                 shared: SharedState | None = None) -> None:
        self._services = services
        self._conn = connection
        self._shared = shared or shared_state(services)
        config = services.config
        self._timeout = config.limits.pop3_timeout
        self._deadline = InputDeadline(config.limits.command_timeout, config.limits.min_upload_rate)
        self._protocol = Pop3ServerProtocol(ProtocolConfig(
            tls_available=services.tls is not None and not connection.tls_active,
            tls_active=connection.tls_active,
            allow_plaintext=config.auth.allow_plaintext,
            mechanisms=MECHANISMS,
            login_delay=config.pop3.login_delay,
            max_errors=config.limits.max_errors,
        ))
        self._lease: MaildropLease | None = None
        self._account: AccountId | None = None
        self._snapshot: Snapshot | None = None
        self._bodies: ReadAhead | None = None

    @property
    def protocol(self) -> Pop3ServerProtocol:
        return self._protocol

    async def run(self) -> None:
        try:
            await self._serve()
        except _SessionEnded:
            pass  # a vanished peer or autologout: close without UPDATE (RFC 1939 §3)
        except OSError as exc:  # TLS failures and other socket errors end only this session
            log.info("pop3: connection from %s ended: %s", self._conn.peer_ip, exc)
        finally:
            if self._bodies is not None:
                self._bodies.close()
            if self._lease is not None:
                await self._lease.release()
                self._lease = None
            await self._conn.close()

    async def _serve(self) -> None:
        protocol = self._protocol
        while True:
            event = protocol.next_event()
            if not isinstance(event, NeedData):
                self._deadline.reset()  # a command is complete: the next is timed afresh
            match event:
                case NeedData():
                    await self._flush()
                    protocol.receive_data(await self._read())
                case FlushOutput():
                    await self._flush()
                case TlsHandshakeRequired():
                    await self._flush()
                    await self._start_tls()
                case ConnectionClosed():
                    await self._flush()
                    return
                case PasswordLogin() | SaslLogin() as login:
                    await self._login(login)
                case Retrieve() as retrieve:
                    await self._retrieve(retrieve)
                case Update() as update:
                    await self._update(update)
                case SaslResponse() | SaslCancelledEvent():
                    raise AssertionError("SASL events come only inside an AUTH exchange")

    async def _read(self) -> bytes:
        timeout, slow = self._deadline.timeout(self._protocol.input_phase, self._timeout)
        try:
            data = await self._conn.read(timeout)
        except TimeoutError as exc:
            if slow:  # a command line started and not finished: slow-loris
                self._protocol.close(err("timeout"))
                with contextlib.suppress(TimeoutError, _SessionEnded, OSError):
                    async with asyncio.timeout(_GOODBYE_WRITE_TIMEOUT):
                        await self._flush()
            raise _SessionEnded("autologout") from exc
        self._deadline.received(len(data))
        return data

    async def _flush(self) -> None:
        data = self._protocol.data_to_send()
        if data:
            await self._write(data)

    async def _write(self, data: bytes) -> None:
        try:
            await self._conn.write(data)  # waits for the peer to drain: back-pressure
        except ConnectionError as exc:
            raise _SessionEnded("peer gone") from exc

    async def _start_tls(self) -> None:
        tls = self._services.tls
        assert tls is not None  # the machine offers STLS only when a certificate is loaded
        await self._conn.start_tls(tls.context)
        discarded = self._protocol.tls_started()
        if discarded:
            log.warning("pop3: %s pipelined %d octets after STLS; discarded",
                        self._conn.peer_ip, discarded)

    # Login ---------------------------------------------------------------------------------

    async def _login(self, login: PasswordLogin | SaslLogin) -> None:
        authenticator = self._services.authenticator
        ip = self._conn.peer_ip
        try:
            if isinstance(login, PasswordLogin):
                principal = await authenticator.authenticate_password(
                    login.username, login.password, ip)
            else:
                result = await authenticator.run_sasl(
                    login.mechanism, login.initial_response, self._sasl_exchange, ip)
                principal = result.principal
                if result.final_data is not None:
                    await self._sasl_exchange(result.final_data)
            maildrop = await self._open_maildrop(principal)
        except _SessionEnded:
            raise
        except Exception as exc:
            self._protocol.login_failed(to_response(exc))
            return
        log.info("pop3: %s logged in from %s", principal.address, ip)
        self._protocol.login_succeeded(maildrop)

    async def _sasl_exchange(self, challenge: bytes) -> bytes:
        """Send one challenge, return the client's decoded answer (authenticator.ReadResponse)."""
        protocol = self._protocol
        protocol.send_challenge(challenge)
        while True:
            event = protocol.next_event()
            if not isinstance(event, NeedData):
                self._deadline.reset()  # a command is complete: the next is timed afresh
            match event:
                case NeedData():
                    await self._flush()
                    protocol.receive_data(await self._read())
                case FlushOutput():
                    await self._flush()
                case SaslResponse(data=data):
                    return data
                case SaslCancelledEvent(reason=reason):
                    raise SaslCancelled(reason)
                case _:
                    raise _SessionEnded()

    async def _open_maildrop(self, principal: Principal) -> Maildrop:
        account = principal.account_id
        shared = self._shared
        now = time.monotonic()
        wait = shared.logins.too_soon(account, now)
        if wait:
            raise LoginTooSoon(f"logged in too recently; try again in {int(wait) + 1} seconds")
        lease = await shared.locks.try_acquire(account)
        if lease is None:
            raise MaildropInUse("maildrop is in use by another POP3 session")
        try:
            snapshot = await open_maildrop(self._services.store, account, shared.sizes)
        except BaseException:
            await lease.release()
            raise
        self._lease, self._account, self._snapshot = lease, account, snapshot
        self._bodies = ReadAhead(self._services.store, account, snapshot.records)
        shared.logins.record(account, now)
        return snapshot.maildrop

    # Transaction and update ----------------------------------------------------------------

    async def _retrieve(self, retrieve: Retrieve) -> None:
        assert self._bodies is not None
        try:
            content = await self._bodies.body(retrieve.message.number)
        except Exception as exc:
            self._protocol.retrieve_failed(to_response(exc))
            return
        for chunk in self._protocol.send_message(content):
            await self._write(chunk)

    async def _update(self, update: Update) -> None:
        assert self._snapshot is not None and self._account is not None
        store = self._services.store
        try:
            account = await store.get_account_by_id(self._account)
            await apply_update(store, self._account, self._snapshot.mailbox_id,
                               account.pop3_delete_policy, update.deleted, update.retrieved)
        except Exception as exc:
            log.error("pop3: update failed for account %s", self._account, exc_info=exc)
            self._protocol.update_done(err("some deleted messages not removed", "SYS/TEMP"))
            return
        self._protocol.update_done()


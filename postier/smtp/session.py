"""SmtpSession: one per SMTP connection; drives the sans-I/O machine over a Connection.

How this works: the loop pulls events from SmtpServerProtocol (protocol.py) and does what each
asks: NeedData → write the pending replies, read with the idle timeout, feed;
TlsHandshakeRequired → write the 220, upgrade the connection, ``tls_started()``;
ConnectionClosed → write what is left and stop; a Decision → ask policy.py, the authenticator or
delivery.py and answer it with ``accept()`` or a Reply. Exactly one ``try`` around each decision
maps exceptions to replies (errors.py), so a failing store never leaves a command unanswered.

Listeners (``smtp_handler``): ``smtp`` is the MX (mail from other servers: local recipients only,
STARTTLS offered when a certificate is configured, no AUTH: MX does not authenticate users);
``submission`` (587, STARTTLS) and ``submissions`` (465, implicit TLS, RFC 8314) require AUTH
before MAIL; AUTH is offered only under TLS unless ``[auth] allow_plaintext``, and they accept
the DSN parameters (RFC 3461) for the outbound queue. Mail on the MX listener is checked
(SPF, DKIM, DMARC: ``_verify``, ``[mailauth]``) after DATA and before delivery: a DMARC
``p=reject`` failure is answered 550, a quarantine goes to Junk, every result is recorded in an
Authentication-Results field.

AUTH (RFC 4954): the exchange runs inside ``Authenticator.run_sasl``, which calls back
``_sasl_round`` to send each 334 challenge through the machine and read the decoded answer. If
the client cancels ("*") or sends a bad line, the machine answers by itself and leaves the
exchange; ``_sasl_round`` keeps whatever event came next for the main loop and raises
SaslCancelled. SCRAM's server-final message is additional data with success, which RFC 4954 §4
does not carry in the 235: it is sent as one last 334 challenge, the client answers with an
empty line, then comes the 235.

A started command line must be complete within ``[limits] command_timeout`` and DATA/BDAT
payloads must average ``[limits] min_upload_rate`` (``net/deadline.py``, against slow-loris
clients); the same 421 answers a late one.
The idle timeout (``[limits] smtp_timeout``, RFC 5321 §4.5.3.2) covers every read; when it
expires the client gets 421 4.4.2 and the connection closes. Nothing is logged that a client
typed as a secret: the authenticator never hands passwords back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import random
from collections.abc import Awaitable, Callable

from postier.auth import SaslCancelled, sasl
from postier.errors import AuthFailed
from postier.mailauth.verify import Action, InboundPolicy, Verdict, authenticate, unavailable
from postier.net.connection import Connection
from postier.net.deadline import InputDeadline
from postier.services import ConnectionHandler, Services
from postier.smtp import delivery
from postier.smtp import replies as r
from postier.smtp.commands import Auth, Ehlo, Helo, MailFrom, RcptTo, StartTls
from postier.smtp.errors import to_reply
from postier.smtp.events import (
    AuthResponse,
    ClientConnected,
    ConnectionClosed,
    Decision,
    Event,
    MessageReceived,
    NeedData,
    ProtocolConfig,
    State,
    TlsHandshakeRequired,
)
from postier.smtp.policy import Mode, Policy, Route
from postier.smtp.protocol import LocalProtocolError, SmtpServerProtocol
from postier.smtp.replies import Reply
from postier.types import Principal

__all__ = ["ListenerSettings", "SmtpSession", "listener_settings", "smtp_handler",
           "smtp_refuser"]

log = logging.getLogger(__name__)

_MODES = {"smtp": Mode.MX, "submission": Mode.SUBMISSION, "submissions": Mode.SUBMISSION}
_SHUTDOWN_WRITE_TIMEOUT = 1.0
_session_ids = itertools.count(1)


@dataclasses.dataclass(frozen=True, slots=True)
class ListenerSettings:
    name: str
    mode: Mode
    protocol: ProtocolConfig  # for a plaintext connection; implicit TLS sets tls_active
    timeout: float
    allow_plaintext_auth: bool


def listener_settings(services: Services, listener: str) -> ListenerSettings:
    """What a listener offers, from the configuration. Raises KeyError for a non-SMTP name."""
    mode = _MODES[listener]
    config = services.config
    limits = config.limits
    submission = mode is Mode.SUBMISSION
    protocol = ProtocolConfig(
        hostname=config.server.hostname,
        max_line_length=limits.smtp_line_length,
        max_message_size=limits.max_message_size,
        max_recipients=limits.max_recipients,
        max_errors=limits.max_errors,
        tls_available=services.tls is not None,
        auth_mechanisms=sasl.MECHANISMS if submission else (),
        allow_plaintext_auth=config.auth.allow_plaintext,
        require_auth_for_mail=submission,
        # No delivery status notifications are generated yet, so DSN is offered only where
        # the parameters are kept for the outbound queue.
        dsn=submission,
    )
    return ListenerSettings(listener, mode, protocol, limits.smtp_timeout,
                            config.auth.allow_plaintext)


def smtp_handler(services: Services, listener: str) -> ConnectionHandler:
    """The connection handler of the ``smtp``, ``submission`` or ``submissions`` listener."""
    settings = listener_settings(services, listener)

    async def handle(conn: Connection) -> None:
        await SmtpSession(services, settings, conn).run()

    return handle


def smtp_refuser(services: Services) -> Callable[[Connection], Awaitable[None]]:
    """For ListenerSpec.refuse: the line sent instead of a greeting when over the connection
    limits (RFC 5321 §3.1 lets a server close with 421 at once)."""
    reply = r.too_many_connections(services.config.server.hostname).to_bytes()

    async def refuse(conn: Connection) -> None:
        try:
            await conn.write(reply)
        except OSError:
            pass

    return refuse


class _ConnectionLost(Exception):
    pass


class _TimedOut(Exception):
    def __init__(self, slow: bool = False) -> None:
        super().__init__()
        self.slow = slow  # a started command line or a payload was too slow (slow-loris)


class SmtpSession:
    def __init__(self, services: Services, settings: ListenerSettings, conn: Connection) -> None:
        config = settings.protocol
        if conn.tls_active:
            config = dataclasses.replace(config, tls_active=True)
        self._services = services
        self._settings = settings
        self._conn = conn
        self._hostname = config.hostname
        self._protocol = SmtpServerProtocol(config)
        self._policy = Policy(services.store, settings.mode, config.hostname)
        self._prefix = f"smtp#{next(_session_ids)} {settings.name} {conn.peer_ip}:"
        self._principal: Principal | None = None
        self._mail: MailFrom | None = None
        self._routes: list[Route] = []
        self._stashed: Event | None = None  # an event pulled during SASL, for the main loop
        self._pending = False  # a Decision awaits our answer
        limits = services.config.limits
        self._deadline = InputDeadline(limits.command_timeout, limits.min_upload_rate)

    async def run(self) -> None:
        self._log(logging.INFO, "connected")
        try:
            await self._serve()
        except _TimedOut as timed_out:
            self._log(logging.INFO, "command too slow" if timed_out.slow else "idle timeout")
            self._protocol.close(r.timeout(self._hostname))
            await self._flush_quietly()
        except _ConnectionLost as exc:
            self._log(logging.INFO, "connection lost: %s", exc)
        except asyncio.CancelledError:
            self._protocol.close(r.shutting_down(self._hostname))
            await self._flush_quietly()
            raise
        finally:
            await self._conn.close()

    async def _serve(self) -> None:
        while True:
            event = self._next_event()
            match event:
                case NeedData():
                    await self._flush()
                    self._protocol.receive_data(await self._read())
                case TlsHandshakeRequired():
                    await self._flush()
                    await self._start_tls()
                case ConnectionClosed(reason=reason, state=state):
                    await self._flush()
                    self._log(logging.INFO, "closed (%s, in %s)", reason.value, state.value)
                    return
                case _:
                    await self._decide(event)

    def _next_event(self) -> Event:
        if self._stashed is not None:
            event, self._stashed = self._stashed, None
            return event
        event = self._protocol.next_event()
        if not isinstance(event, NeedData):
            self._deadline.reset()  # a command or payload is complete: the next is timed afresh
        if isinstance(event, Decision):
            self._pending = True
        return event

    async def _decide(self, decision: Decision) -> None:
        try:
            await self._execute(decision)
        except (_ConnectionLost, _TimedOut):
            raise
        except SaslCancelled:
            self._log(logging.INFO, "AUTH cancelled")  # the machine has answered
        except Exception as exc:
            if not self._pending:
                raise  # nothing left to answer: the machine's state is in doubt, end it
            self._answer(to_reply(exc, authenticating=isinstance(decision, Auth)))

    async def _execute(self, decision: Decision) -> None:
        match decision:
            case ClientConnected() | StartTls():
                self._accept()
            case Helo() | Ehlo():
                self._mail, self._routes = None, []
                self._accept()
            case MailFrom():
                await self._mail_from(decision)
            case RcptTo():
                await self._rcpt_to(decision)
            case Auth():
                await self._authenticate(decision)
            case MessageReceived():
                await self._deliver(decision)
            case AuthResponse():
                raise LocalProtocolError("SASL response outside an exchange")

    async def _mail_from(self, mail: MailFrom) -> None:
        refusal = await self._policy.check_sender(mail, self._principal)
        if refusal is not None:
            self._log(logging.INFO, "sender <%s> refused: %s", mail.address, refusal.code)
            self._answer(refusal)
            return
        self._mail, self._routes = mail, []
        self._accept()

    async def _rcpt_to(self, rcpt: RcptTo) -> None:
        size = self._mail.size if self._mail is not None else None
        route = await self._policy.route_recipient(rcpt, self._principal, size)
        if isinstance(route, Reply):
            self._log(logging.INFO, "recipient <%s> refused: %s %s", rcpt.address, route.code,
                      route.enhanced)
            self._answer(route)
            return
        self._routes.append(route)
        self._accept()

    async def _deliver(self, message: MessageReceived) -> None:
        envelope = message.envelope
        routes, self._routes = self._routes, []
        if [route.rcpt for route in routes] != list(envelope.recipients):
            raise LocalProtocolError("recipients out of step with the machine")
        protocol = delivery.transmission_protocol(
            esmtp=envelope.esmtp, tls=envelope.tls, authenticated=envelope.authenticated,
            smtputf8=envelope.mail_from.smtputf8)
        client = delivery.ClientInfo(envelope.helo, self._conn.peer_ip, protocol)
        verdict = await self._verify(message)
        if verdict is not None and verdict.action in (Action.REJECT, Action.DEFER):
            self._log(logging.INFO, "message from <%s> refused: %s", envelope.mail_from.address,
                      verdict.reason)
            self._answer(r.authentication_refused(verdict.reason)
                         if verdict.action is Action.REJECT
                         else r.authentication_deferred(verdict.reason))
            return
        reply = await delivery.deliver(
            self._services.store, envelope.mail_from, routes, message.data, client,
            hostname=self._hostname, principal=self._principal,
            auth_field=verdict.header_field(self._hostname) if verdict else b"",
            quarantine=verdict is not None and verdict.action is Action.QUARANTINE)
        self._log(logging.INFO, "message from <%s>, %d octets, %d recipient(s): %d %s",
                  envelope.mail_from.address, len(message.data), len(routes), reply.code,
                  reply.lines[-1])
        self._answer(reply)

    async def _verify(self, message: MessageReceived) -> Verdict | None:
        """SPF, DKIM and DMARC of mail on the MX listener (postier/mailauth/verify.py)."""
        settings = self._services.config.mailauth
        resolver = self._services.resolver
        peer = self._conn.peer_ip
        if self._settings.mode is not Mode.MX or not settings.verify or resolver is None \
                or not peer:
            return None
        envelope = message.envelope
        policy = InboundPolicy(settings.dmarc_reject, settings.spf_fail_reject)
        try:
            async with asyncio.timeout(settings.timeout):
                return await authenticate(
                    message.data, client_ip=peer, helo=envelope.helo,
                    mail_from=envelope.mail_from.address, resolver=resolver,
                    offload=asyncio.to_thread, policy=policy, sample=random.random())
        except TimeoutError:
            self._log(logging.WARNING, "authentication checks timed out")
            reason = "checks timed out"
        except Exception:  # a fault here must not keep mail out: deliver, say temperror
            log.exception("%s authentication checks failed", self._prefix)
            reason = "internal error"
        return unavailable(envelope.mail_from.address, envelope.helo, reason)

    async def _authenticate(self, command: Auth) -> None:
        allowed = sasl.allowed_mechanisms(self._protocol.tls_active,
                                          self._settings.allow_plaintext_auth)
        if command.mechanism not in allowed:
            self._answer(r.ENCRYPTION_REQUIRED)
            return
        authenticator = self._services.authenticator
        try:
            result = await authenticator.run_sasl(command.mechanism, command.initial_response,
                                                  self._sasl_round, self._conn.peer_ip)
        except AuthFailed as exc:
            if not isinstance(exc, SaslCancelled):
                self._log(logging.WARNING, "AUTH %s failed", command.mechanism)
            raise
        if result.final_data is not None and await self._sasl_round(result.final_data):
            self._answer(r.AUTH_FAILED)  # RFC 4954 §4: the answer to final data is empty
            return
        self._principal = result.principal
        self._accept()
        self._log(logging.INFO, "authenticated as %s (%s)", result.principal.address,
                  command.mechanism)

    async def _sasl_round(self, challenge: bytes) -> bytes:
        """Send one 334 challenge and return the client's decoded answer."""
        self._answer(r.auth_challenge(challenge))
        while True:
            event = self._protocol.next_event()
            if isinstance(event, AuthResponse):
                self._pending = True
                return event.data
            if isinstance(event, NeedData) and self._protocol.state is State.AUTH:
                await self._flush()
                self._protocol.receive_data(await self._read())
                continue
            # "*", a bad line or a closed connection: the exchange is over.
            self._pending = isinstance(event, Decision)
            self._stashed = event
            raise SaslCancelled("authentication cancelled")

    async def _start_tls(self) -> None:
        tls = self._services.tls
        if tls is None:
            raise LocalProtocolError("STARTTLS accepted without a certificate")
        try:
            async with asyncio.timeout(self._settings.timeout):
                await self._conn.start_tls(tls.context)
        except (TimeoutError, OSError) as exc:  # ssl.SSLError is an OSError
            raise _ConnectionLost(f"TLS handshake failed: {exc!r}") from exc
        self._principal = None
        self._mail, self._routes = None, []
        discarded = self._protocol.tls_started()
        if discarded:
            self._log(logging.WARNING, "discarded %d octets sent before the TLS handshake",
                      discarded)

    def _accept(self) -> None:
        self._pending = False
        self._protocol.accept()

    def _answer(self, reply: Reply) -> None:
        self._pending = False
        self._protocol.send(reply)

    async def _read(self) -> bytes:
        timeout, slow = self._deadline.timeout(self._protocol.input_phase,
                                               self._settings.timeout)
        try:
            data = await self._conn.read(timeout)
        except TimeoutError:
            raise _TimedOut(slow) from None
        except OSError as exc:
            raise _ConnectionLost(repr(exc)) from exc
        self._deadline.received(len(data))
        return data

    async def _flush(self) -> None:
        data = self._protocol.data_to_send()
        if data:
            try:
                await self._conn.write(data)
            except OSError as exc:
                raise _ConnectionLost(repr(exc)) from exc

    async def _flush_quietly(self) -> None:
        try:
            async with asyncio.timeout(_SHUTDOWN_WRITE_TIMEOUT):
                await self._flush()
        except (TimeoutError, _ConnectionLost):
            pass

    def _log(self, level: int, message: str, *args: object) -> None:
        log.log(level, "%s " + message, self._prefix, *args)

"""Authentication: LOGIN, AUTHENTICATE, UNAUTHENTICATE.

How this works
--------------
Both commands go through the shared :class:`~postier.auth.Authenticator` (which throttles
failures) and end in :func:`_logged_in`, whose OK carries the new capability list
(RFC 9051 §6.2.2: clients need not ask again).

* LOGIN (RFC 9051 §6.2.3) sends the password itself: refused with ``NO [PRIVACYREQUIRED]``
  on a connection without TLS unless ``[auth] allow_plaintext`` (the capability list says
  LOGINDISABLED then).
* AUTHENTICATE (RFC 9051 §6.2.2) runs the SASL machine; each challenge is a ``+ base64``
  continuation and the machine switches to single-line mode for the client's answer. ``*``
  cancels the exchange (``BAD``); an initial response may come with the command (SASL-IR,
  RFC 4959). SCRAM's server-final data goes out as one last challenge, answered by an empty
  line, because IMAP has no "success with data" (RFC 4422 §5).
* UNAUTHENTICATE (RFC 8437) drops the login and the selected mailbox.
"""

from __future__ import annotations

from postier.auth import SaslCancelled, sasl
from postier.errors import AuthFailed
from postier.imap.commands import Authenticate, Login, Unauthenticate
from postier.imap.context import Context, SessionEnded, SessionState
from postier.imap.errors import bad, no
from postier.imap.protocol import (
    AuthenticateCancelled,
    AuthenticateData,
    ConnectionClosed,
    ParseFailure,
    ProtocolViolation,
    answer,
)
from postier.imap.responses import CapabilityCode, Continuation, SimpleCode, Status, Tagged
from postier.types import Principal

__all__ = ["handle_authenticate", "handle_login", "handle_unauthenticate"]


def _logged_in(ctx: Context, tag: str, principal: Principal) -> Tagged:
    ctx.principal = principal
    ctx.state = SessionState.AUTHENTICATED
    return Tagged(tag, Status.OK, "logged in", CapabilityCode(ctx.capabilities()))


def _privacy_required() -> Exception:
    return no("plaintext authentication is disallowed without TLS; use STARTTLS",
              SimpleCode.PRIVACYREQUIRED)


async def handle_login(ctx: Context, tag: str, command: Login) -> Tagged:
    if not ctx.plaintext_allowed:
        raise _privacy_required()
    principal = await ctx.services.authenticator.authenticate_password(
        command.user, command.password, ctx.conn.peer_ip)
    return _logged_in(ctx, tag, principal)


class _SaslAborted(AuthFailed):
    """The client's answer was not base64: the command fails with BAD."""


async def handle_authenticate(ctx: Context, tag: str, command: Authenticate) -> Tagged:
    mechanism = command.mechanism
    if mechanism not in ctx.mechanisms():
        if mechanism in sasl.MECHANISMS:
            raise _privacy_required()
        raise no(f"unsupported authentication mechanism {mechanism}", SimpleCode.CANNOT)

    async def read_response(challenge: bytes) -> bytes:
        await ctx.send(Continuation(data=challenge))
        ctx.protocol.expect_sasl_response(tag)
        event = await ctx.next_event()
        match event:
            case AuthenticateData(data):
                return data
            case AuthenticateCancelled():
                raise SaslCancelled("authentication cancelled")
            case ParseFailure(message=message):
                raise _SaslAborted(message)
            case ProtocolViolation(message=message):
                await ctx.send(answer(event))  # "* BYE line too long", as outside AUTHENTICATE
                await ctx.flush()
                raise SessionEnded(message)
            case ConnectionClosed():
                raise SessionEnded("connection closed during authentication")
        raise SessionEnded(f"unexpected event during authentication: {event!r}")

    try:
        result = await ctx.services.authenticator.run_sasl(
            mechanism, command.initial_response, read_response, ctx.conn.peer_ip)
        if result.final_data is not None:
            await read_response(result.final_data)
    except SaslCancelled:
        raise bad("authentication cancelled") from None
    except _SaslAborted as error:
        raise bad(f"invalid authentication response: {error}") from None
    except AuthFailed as error:
        raise no(str(error) or "authentication failed",
                 SimpleCode.AUTHENTICATIONFAILED) from None
    return _logged_in(ctx, tag, result.principal)


async def handle_unauthenticate(ctx: Context, tag: str, command: Unauthenticate) -> Tagged:
    ctx.close_selection()
    ctx.principal = None
    ctx.state = SessionState.NOT_AUTHENTICATED
    return Tagged(tag, Status.OK, "UNAUTHENTICATE completed")

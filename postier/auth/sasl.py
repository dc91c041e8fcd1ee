"""Sans-I/O SASL server mechanisms: PLAIN (RFC 4616), LOGIN and SCRAM-SHA-256 (RFC 7677).

How this works: ``start(name, initial_response)`` returns a SaslExchange; ``begin()`` yields the
first event and each later event comes from feeding the exchange what that event asks for:

    Challenge(data)             send ``data`` to the client, feed its answer to ``step()``
    CheckPassword(user, pw)     verify (argon2: slow, off the loop), feed ``password_checked()``
    NeedScramCredentials(user)  look up the stored verifier, feed it to ``provide_scram()``
    Success(user, final_data)   authenticated; ``final_data`` (SCRAM's "v=...") goes with the reply
    Failure(reason)             over; ``reason`` is safe to show the client

Phases, per mechanism (every path may also end in Failure)::

    PLAIN  START → PLAIN_MESSAGE → PASSWORD_CHECK → DONE
    LOGIN  START → LOGIN_USERNAME → LOGIN_PASSWORD → PASSWORD_CHECK → DONE
    SCRAM  START → SCRAM_CLIENT_FIRST → SCRAM_CREDENTIALS → SCRAM_CLIENT_FINAL → DONE

An initial response skips the first phase that waits for client data. Data is raw bytes: base64,
continuation lines and the client's "*" cancel belong to the protocol layer (which then calls
``cancel()``). Client data never raises: anything malformed or out of turn is a Failure.
Calling ``password_checked``/``provide_scram`` out of turn is a caller bug: RuntimeError.

Unknown SCRAM users get a made-up salt (stable per user within the process) and fail only at the
proof, so the server-first message does not reveal which accounts exist (RFC 5802 §9).
The machine knows nothing of stores, sockets or clocks; which mechanisms a listener offers is
``allowed_mechanisms``' business, and the protocol layer checks it before calling ``start``.
"""

from __future__ import annotations

import enum
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import TypeAlias

from postier.auth import scram
from postier.errors import InvalidArgument

PLAIN = "PLAIN"
LOGIN = "LOGIN"
SCRAM_SHA_256 = "SCRAM-SHA-256"
MECHANISMS: tuple[str, ...] = (SCRAM_SHA_256, PLAIN, LOGIN)  # in order of preference
_PASSWORD_MECHANISMS = frozenset({PLAIN, LOGIN})

MAX_CLIENT_DATA = 4096  # one response; RFC 4616 only requires 255 octets per PLAIN field

_INVALID = "invalid credentials"  # the same words for unknown users and wrong passwords
_NONCE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_MOCK_SALT_KEY = secrets.token_bytes(32)


class UnsupportedMechanism(InvalidArgument):
    """The client named a mechanism this server does not implement."""


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes


@dataclass(frozen=True, slots=True)
class CheckPassword:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NeedScramCredentials:
    username: str


@dataclass(frozen=True, slots=True)
class Success:
    username: str
    final_data: bytes | None = None  # additional data with success (RFC 4422 §5 item 7)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str


SaslEvent: TypeAlias = Challenge | CheckPassword | NeedScramCredentials | Success | Failure


def allowed_mechanisms(tls_active: bool, allow_plaintext: bool = False) -> tuple[str, ...]:
    """Mechanisms to advertise: PLAIN and LOGIN send the password itself, so only under TLS
    (RFC 4616 §6, RFC 4954 §4) unless the operator explicitly allows it."""
    if tls_active or allow_plaintext:
        return MECHANISMS
    return tuple(name for name in MECHANISMS if name not in _PASSWORD_MECHANISMS)


def start(
    mechanism: str, initial_response: bytes | None = None, *, server_nonce: str | None = None
) -> SaslExchange:
    """Begin an exchange; ``server_nonce`` is for tests, production draws one from ``secrets``."""
    name = mechanism.upper()
    if name not in MECHANISMS:
        raise UnsupportedMechanism("unsupported authentication mechanism")
    if server_nonce is None:
        server_nonce = secrets.token_urlsafe(18)
    elif not _NONCE.fullmatch(server_nonce):
        raise ValueError("a SCRAM nonce is printable ASCII without ','")
    return SaslExchange(name, initial_response, server_nonce)


class _Phase(enum.Enum):
    START = enum.auto()
    PLAIN_MESSAGE = enum.auto()
    LOGIN_USERNAME = enum.auto()
    LOGIN_PASSWORD = enum.auto()
    PASSWORD_CHECK = enum.auto()
    SCRAM_CLIENT_FIRST = enum.auto()
    SCRAM_CREDENTIALS = enum.auto()
    SCRAM_CLIENT_FINAL = enum.auto()
    DONE = enum.auto()


class SaslExchange:
    """One authentication exchange on one connection; see the module docstring."""

    def __init__(self, mechanism: str, initial_response: bytes | None, server_nonce: str) -> None:
        self.mechanism = mechanism
        self._initial_response = initial_response
        self._server_nonce = server_nonce
        self._phase = _Phase.START
        self._username = ""
        self._client_first: scram.ClientFirst | None = None
        self._credentials: scram.ScramCredentials | None = None
        self._unknown_user = False
        self._nonce = ""
        self._server_first = ""

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    def begin(self) -> SaslEvent:
        self._expect(_Phase.START)
        first_phase = {
            PLAIN: (_Phase.PLAIN_MESSAGE, b""),
            LOGIN: (_Phase.LOGIN_USERNAME, b"Username:"),
            SCRAM_SHA_256: (_Phase.SCRAM_CLIENT_FIRST, b""),
        }
        self._phase, challenge = first_phase[self.mechanism]
        if self._initial_response is None:
            return Challenge(challenge)
        return self.step(self._initial_response)

    def step(self, client_data: bytes) -> SaslEvent:
        if len(client_data) > MAX_CLIENT_DATA:
            return self._fail("response too long")
        match self._phase:
            case _Phase.PLAIN_MESSAGE:
                return self._plain(client_data)
            case _Phase.LOGIN_USERNAME:
                return self._login_username(client_data)
            case _Phase.LOGIN_PASSWORD:
                return self._login_password(client_data)
            case _Phase.SCRAM_CLIENT_FIRST:
                return self._scram_client_first(client_data)
            case _Phase.SCRAM_CLIENT_FINAL:
                return self._scram_client_final(client_data)
            case _:
                return self._fail("unexpected data")

    def password_checked(self, valid: bool) -> Success | Failure:
        """The caller's verdict on the last CheckPassword."""
        self._expect(_Phase.PASSWORD_CHECK)
        return self._succeed(None) if valid else self._fail(_INVALID)

    def provide_scram(self, verifier: str | None) -> Challenge | Failure:
        """The stored verifier for the NeedScramCredentials user; None if there is none."""
        self._expect(_Phase.SCRAM_CREDENTIALS)
        assert self._client_first is not None
        credentials = scram.parse_credentials(verifier) if verifier else None
        if credentials is None:
            credentials = _made_up_credentials(self._username)
            self._unknown_user = True
        self._credentials = credentials
        self._nonce = self._client_first.client_nonce + self._server_nonce
        self._server_first = scram.server_first_message(self._nonce, credentials)
        self._phase = _Phase.SCRAM_CLIENT_FINAL
        return Challenge(self._server_first.encode())

    def cancel(self) -> Failure:
        return self._fail("authentication cancelled")

    def _plain(self, message: bytes) -> SaslEvent:
        # message = [authzid] NUL authcid NUL passwd (RFC 4616 §2)
        parts = [_text(part) for part in message.split(b"\x00")]
        if len(parts) != 3:
            return self._fail("malformed PLAIN message")
        authzid, authcid, password = parts
        if authzid is None or not authcid or not password:
            return self._fail("malformed PLAIN message")
        # Acting as someone else is not offered; case is ignored like in addresses.
        if authzid and authzid.lower() != authcid.lower():
            return self._fail("authorization identity must be empty or equal the username")
        return self._check_password(authcid, password)

    def _login_username(self, data: bytes) -> SaslEvent:
        username = _text(data)
        if not username:
            return self._fail("malformed username")
        self._username = username
        self._phase = _Phase.LOGIN_PASSWORD
        return Challenge(b"Password:")

    def _login_password(self, data: bytes) -> SaslEvent:
        password = _text(data)
        if not password:
            return self._fail("malformed password")
        return self._check_password(self._username, password)

    def _check_password(self, username: str, password: str) -> CheckPassword:
        self._username = username
        self._phase = _Phase.PASSWORD_CHECK
        return CheckPassword(username, password)

    def _scram_client_first(self, data: bytes) -> SaslEvent:
        try:
            first = scram.parse_client_first(data)
        except scram.ScramError as exc:
            return self._fail(str(exc))
        self._client_first = first
        self._username = first.username
        self._phase = _Phase.SCRAM_CREDENTIALS
        return NeedScramCredentials(first.username)

    def _scram_client_final(self, data: bytes) -> SaslEvent:
        first, credentials = self._client_first, self._credentials
        assert first is not None and credentials is not None
        try:
            final = scram.parse_client_final(data)
        except scram.ScramError as exc:
            return self._fail(str(exc))
        # Without channel binding, c= carries back exactly the gs2 header (RFC 5802 §7).
        if final.channel_binding != first.gs2_header.encode():
            return self._fail("channel binding data does not match the gs2 header")
        if final.nonce != self._nonce:
            return self._fail("nonce mismatch")
        auth_message = f"{first.bare},{self._server_first},{final.without_proof}".encode()
        valid = scram.verify_client_proof(credentials, auth_message, final.proof)
        if not valid or self._unknown_user:
            return self._fail(_INVALID)
        return self._succeed(scram.server_final_message(credentials, auth_message).encode())

    def _succeed(self, final_data: bytes | None) -> Success:
        self._phase = _Phase.DONE
        return Success(self._username, final_data)

    def _fail(self, reason: str) -> Failure:
        self._phase = _Phase.DONE
        return Failure(reason)

    def _expect(self, phase: _Phase) -> None:
        if self._phase is not phase:
            raise RuntimeError(f"SASL exchange is in phase {self._phase.name}, not {phase.name}")


def _text(data: bytes) -> str | None:
    """UTF-8 text without NUL, or None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def _made_up_credentials(username: str) -> scram.ScramCredentials:
    # Same salt for the same name on every attempt, like a real account; random keys never match.
    salt = hmac.digest(_MOCK_SALT_KEY, username.lower().encode(), "sha256")[:16]
    return scram.ScramCredentials(
        iterations=scram.DEFAULT_ITERATIONS,
        salt=salt,
        stored_key=secrets.token_bytes(scram.KEY_BYTES),
        server_key=secrets.token_bytes(scram.KEY_BYTES),
    )

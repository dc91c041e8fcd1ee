"""SCRAM-SHA-256 (RFC 5802, RFC 7677): stored credentials and the client messages' grammar.

How this works: the server never stores the password, only what RFC 5802 §3 derives from it::

    SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations)
    StoredKey      = SHA-256(HMAC(SaltedPassword, "Client Key"))
    ServerKey      = HMAC(SaltedPassword, "Server Key")

kept as the text ``iterations$salt_b64$stored_key_b64$server_key_b64`` in
``Credentials.scram_sha256``. During an exchange the client proves it knows ``ClientKey`` by
sending ``ClientKey XOR HMAC(StoredKey, AuthMessage)``; the server recovers ``ClientKey``, hashes
it and compares with ``StoredKey``. The server proves itself with ``HMAC(ServerKey, AuthMessage)``.

This module is pure functions: parsing raises ScramError (its text is safe to show the client),
the state machine that sequences the messages lives in ``sasl.py``. Channel binding is not
offered (no SCRAM-SHA-256-PLUS), so the gs2 header must be "n" or "y" (RFC 5802 §6).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field

DEFAULT_ITERATIONS = 4096  # RFC 7677 §4: at least 4096
MAX_ITERATIONS = 10_000_000  # a stored count above this is corrupt, not paranoid
KEY_BYTES = 32  # SHA-256 output

_SALTED_NAME = re.compile(r"(?:[^=,\x00]|=2C|=3D)+")  # RFC 5802 §7 saslname
_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")  # nonce characters: printable ASCII but ","
_EXTENSION = re.compile(r"[A-Za-z]=[^\x00]*")


class ScramError(ValueError):
    """A client message broke RFC 5802; the text says how, and is safe to show."""


@dataclass(frozen=True, slots=True)
class ScramCredentials:
    iterations: int
    salt: bytes
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)

    def encode(self) -> str:
        parts = (self.salt, self.stored_key, self.server_key)
        return "$".join([str(self.iterations), *(_b64(part) for part in parts)])


@dataclass(frozen=True, slots=True)
class ClientFirst:
    gs2_header: str  # "n,," or "y,,", or with "a=authzid"; echoed back base64-encoded in c=
    username: str  # saslname with =2C and =3D decoded
    client_nonce: str
    bare: str  # client-first-message-bare, the first part of AuthMessage


@dataclass(frozen=True, slots=True)
class ClientFinal:
    channel_binding: bytes  # decoded c= attribute
    nonce: str
    without_proof: str  # client-final-message-without-proof, the last part of AuthMessage
    proof: bytes


def derive_credentials(normalized_password: str, iterations: int, salt: bytes) -> ScramCredentials:
    """RFC 5802 §3; the password must already be SASLprep-normalised."""
    salted = hashlib.pbkdf2_hmac("sha256", normalized_password.encode(), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return ScramCredentials(
        iterations=iterations,
        salt=salt,
        stored_key=hashlib.sha256(client_key).digest(),
        server_key=_hmac(salted, b"Server Key"),
    )


def parse_credentials(text: str) -> ScramCredentials | None:
    """Parse the stored form; None when it is malformed (the account then cannot use SCRAM)."""
    parts = text.split("$")
    if len(parts) != 4 or not parts[0].isdigit():
        return None
    iterations = int(parts[0])
    try:
        salt, stored_key, server_key = (_unb64(part) for part in parts[1:])
    except ScramError:
        return None
    if not 1 <= iterations <= MAX_ITERATIONS or not salt:
        return None
    if len(stored_key) != KEY_BYTES or len(server_key) != KEY_BYTES:
        return None
    return ScramCredentials(iterations, salt, stored_key, server_key)


def parse_client_first(data: bytes) -> ClientFirst:
    """client-first-message = gs2-header client-first-message-bare (RFC 5802 §7)."""
    fields = _decode(data).split(",")
    if len(fields) < 4:
        raise ScramError("malformed client-first-message")
    flag, authzid, *bare_fields = fields
    if flag.startswith("p="):
        raise ScramError("channel binding is not supported; use SCRAM-SHA-256 with gs2 flag n")
    # "y" (client could bind, thinks we cannot) is honest while no -PLUS variant is advertised;
    # once one is, "y" signals a downgrade and must be refused (RFC 5802 §6).
    if flag not in ("n", "y"):
        raise ScramError("malformed gs2 header")
    if bare_fields[0].startswith("m="):
        raise ScramError("mandatory extension not supported")  # RFC 5802 §5.1
    username = _attribute(bare_fields[0], "n")
    # Acting for another identity is not offered; the comparison ignores case like addresses do.
    if authzid and _saslname(_attribute(authzid, "a")).lower() != _saslname(username).lower():
        raise ScramError("authorization identity must equal the username")
    nonce = _attribute(bare_fields[1], "r")
    if not _PRINTABLE.fullmatch(nonce):
        raise ScramError("malformed nonce")
    _check_extensions(bare_fields[2:])
    return ClientFirst(
        gs2_header=f"{flag},{authzid},",
        username=_saslname(username),
        client_nonce=nonce,
        bare=",".join(bare_fields),
    )


def parse_client_final(data: bytes) -> ClientFinal:
    """client-final-message = channel-binding "," nonce ["," extensions] "," proof."""
    fields = _decode(data).split(",")
    if len(fields) < 3:
        raise ScramError("malformed client-final-message")
    proof = _unb64(_attribute(fields[-1], "p"))
    if len(proof) != KEY_BYTES:
        raise ScramError("malformed proof")
    _check_extensions(fields[2:-1])
    return ClientFinal(
        channel_binding=_unb64(_attribute(fields[0], "c")),
        nonce=_attribute(fields[1], "r"),
        without_proof=",".join(fields[:-1]),
        proof=proof,
    )


def server_first_message(nonce: str, credentials: ScramCredentials) -> str:
    return f"r={nonce},s={_b64(credentials.salt)},i={credentials.iterations}"


def verify_client_proof(credentials: ScramCredentials, auth_message: bytes, proof: bytes) -> bool:
    signature = _hmac(credentials.stored_key, auth_message)
    client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), credentials.stored_key)


def server_final_message(credentials: ScramCredentials, auth_message: bytes) -> str:
    return "v=" + _b64(_hmac(credentials.server_key, auth_message))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScramError("message is not UTF-8") from None


def _attribute(text: str, name: str) -> str:
    prefix = name + "="
    if not text.startswith(prefix) or len(text) == len(prefix):
        raise ScramError(f"expected attribute {name}=")
    return text[len(prefix) :]


def _saslname(text: str) -> str:
    if not _SALTED_NAME.fullmatch(text):
        raise ScramError("malformed username")
    return text.replace("=2C", ",").replace("=3D", "=")


def _check_extensions(fields: list[str]) -> None:
    # Optional extensions are ignored (RFC 5802 §5.1) but must still look like attributes.
    if not all(_EXTENSION.fullmatch(item) for item in fields):
        raise ScramError("malformed attribute")


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ScramError("malformed base64") from None

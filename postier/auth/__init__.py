"""Authentication for every protocol: SASL mechanisms, password hashes, throttling.

``sasl``, ``scram``, ``saslprep``, ``passwords`` and ``throttle`` are pure (no asyncio, no store,
no sockets); ``authenticator`` ties them to a CredentialsSource and runs argon2 off the loop.
Exchanges are begun with ``postier.auth.sasl.start``.
"""

from __future__ import annotations

from postier.auth.authenticator import (
    Authenticator,
    CredentialsSource,
    ReadResponse,
    SaslCancelled,
    SaslResult,
)
from postier.auth.passwords import (
    DEFAULT_HASH_PARAMETERS,
    HashParameters,
    hash_password,
    needs_rehash,
    parse_scram_credentials,
    scram_credentials,
    verify_password,
)
from postier.auth.sasl import (
    LOGIN,
    MECHANISMS,
    PLAIN,
    SCRAM_SHA_256,
    Challenge,
    CheckPassword,
    Failure,
    NeedScramCredentials,
    SaslEvent,
    SaslExchange,
    Success,
    UnsupportedMechanism,
    allowed_mechanisms,
)
from postier.auth.saslprep import saslprep
from postier.auth.scram import ScramCredentials
from postier.auth.throttle import FailureThrottle, MemoryThrottle, ThrottleLimits

__all__ = [
    "DEFAULT_HASH_PARAMETERS",
    "LOGIN",
    "MECHANISMS",
    "PLAIN",
    "SCRAM_SHA_256",
    "Authenticator",
    "Challenge",
    "CheckPassword",
    "CredentialsSource",
    "Failure",
    "FailureThrottle",
    "HashParameters",
    "MemoryThrottle",
    "NeedScramCredentials",
    "ReadResponse",
    "SaslCancelled",
    "SaslEvent",
    "SaslExchange",
    "SaslResult",
    "ScramCredentials",
    "Success",
    "ThrottleLimits",
    "UnsupportedMechanism",
    "allowed_mechanisms",
    "hash_password",
    "needs_rehash",
    "parse_scram_credentials",
    "saslprep",
    "scram_credentials",
    "verify_password",
]

"""Password hashing (Argon2id) and SCRAM-SHA-256 verifier derivation.

How this works: every password is SASLprep-normalised (``saslprep.py``) before it is hashed or
checked, so the argon2 hash, the SCRAM verifier and whatever a SCRAM client computes all agree
on the same bytes. An account stores both: the argon2 hash serves PLAIN, LOGIN, IMAP LOGIN, POP3
PASS and webmail; the SCRAM verifier serves SCRAM-SHA-256, which needs a salted PBKDF2 value the
server can compute proofs from, something an argon2 hash cannot provide.

Argon2 costs are a ``HashParameters`` value. The default is OWASP's recommended minimum for
Argon2id (t=2, 19 MiB, p=1): about 30 ms per check here, which keeps guessing slow while a
mail server with many logins per minute (phones reconnecting all day) stays responsive; RFC
9106's heavier profile took 120 ms. Tests and benchmarks pass cheaper ones. Verification
reads the costs from the hash itself, so raising the defaults later only
makes ``needs_rehash`` true for old hashes.

Verifying is CPU-bound for tens of milliseconds: callers on an event loop run it in a thread
(``authenticator.py`` does).
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import Argon2Error

from postier.auth.saslprep import saslprep
from postier.auth.scram import (
    DEFAULT_ITERATIONS,
    MAX_ITERATIONS,
    ScramCredentials,
    derive_credentials,
    parse_credentials,
)
from postier.errors import InvalidArgument

_SCRAM_SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class HashParameters:
    time_cost: int = 2
    memory_cost_kib: int = 19 * 1024
    parallelism: int = 1


DEFAULT_HASH_PARAMETERS = HashParameters()


def hash_password(password: str, parameters: HashParameters = DEFAULT_HASH_PARAMETERS) -> str:
    """Argon2id hash of the SASLprep form; InvalidArgument if the password cannot be used."""
    return _hasher(parameters).hash(_normalize(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password or any malformed hash."""
    try:
        normalized = saslprep(password)
    except ValueError:
        return False  # hash_password refuses such passwords, so no hash can match one
    try:
        return _hasher(DEFAULT_HASH_PARAMETERS).verify(password_hash, normalized)
    except (Argon2Error, ValueError):  # mismatch, undecodable hash, non-ASCII hash text
        return False


def needs_rehash(password_hash: str, parameters: HashParameters = DEFAULT_HASH_PARAMETERS) -> bool:
    """True when the hash was made with other costs, or is not an argon2 hash at all."""
    try:
        return _hasher(parameters).check_needs_rehash(password_hash)
    except ValueError:
        return True


def scram_credentials(
    password: str, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """The stored SCRAM-SHA-256 verifier: "iterations$salt_b64$stored_key_b64$server_key_b64"."""
    if not DEFAULT_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"SCRAM iterations must be in [{DEFAULT_ITERATIONS}, {MAX_ITERATIONS}]")
    if salt is None:
        salt = secrets.token_bytes(_SCRAM_SALT_BYTES)
    return derive_credentials(_normalize(password), iterations, salt).encode()


def parse_scram_credentials(text: str) -> ScramCredentials | None:
    """Parse a stored verifier; None when it is malformed."""
    return parse_credentials(text)


def _normalize(password: str) -> str:
    try:
        normalized = saslprep(password)
    except ValueError as exc:
        raise InvalidArgument(f"password not allowed: {exc}") from None
    if not normalized:
        raise InvalidArgument("password must not be empty")
    return normalized


@functools.lru_cache(maxsize=8)
def _hasher(parameters: HashParameters) -> PasswordHasher:
    return PasswordHasher(
        time_cost=parameters.time_cost,
        memory_cost=parameters.memory_cost_kib,
        parallelism=parameters.parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )

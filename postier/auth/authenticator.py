"""Credentials → Principal for every protocol: SMTP AUTH, IMAP, POP3 and webmail.

How this works: every attempt goes through the same three steps.

1. Wait: sleep the throttle's delay for this IP and typed username *before* looking at the
   credentials, so a guesser pays the delay whether or not the guess is right.
2. Check: fetch the Credentials from the CredentialsSource (the store) and verify. Argon2 runs
   in a hashing pool of its own, one thread per core (at least two), so the event loop keeps
   serving other connections; a burst of logins queues there rather than running dozens of
   memory-hard hashes at once, which would take the cores from the store's threads and the
   event loop (and slow every login down as much). An unknown user still
   costs one verification against a dummy hash, and a disabled account is verified before it is
   refused, so response times do not tell which accounts exist or are disabled.
3. Record: a failure bumps the throttle counters and raises AuthFailed with a generic message;
   a success resets the account's counter and returns the Principal.

``run_sasl`` drives a ``sasl.SaslExchange`` through these steps: the pure machine decides what
the messages mean, this class does the waiting, the lookups and the slow verification. The
protocol layer supplies ``read_response`` (send a challenge, return the client's decoded answer;
it raises SaslCancelled when the client answers "*") and checks the mechanism against
``sasl.allowed_mechanisms`` first. The Principal comes back with SCRAM's server-final data;
the protocol sends it with its success reply or as one last challenge, as its RFC prescribes.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from postier.auth import sasl
from postier.auth.passwords import DEFAULT_HASH_PARAMETERS, HashParameters, hash_password
from postier.auth.passwords import verify_password as _verify_password
from postier.auth.throttle import FailureThrottle
from postier.errors import AuthFailed
from postier.types import Credentials, Principal

_GENERIC_FAILURE = "invalid credentials"


@functools.cache
def _hashing_pool() -> ThreadPoolExecutor:
    """Shared by every Authenticator of the process: the cores are too."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2),
                              thread_name_prefix="postier-hash")


async def _in_hashing_pool(function: Callable[[str, str], bool], stored: str,
                           password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_pool(), function, stored, password)

ReadResponse = Callable[[bytes], Awaitable[bytes]]


class CredentialsSource(Protocol):
    async def get_credentials(self, address: str) -> Credentials | None:
        """The account's credentials, or None. ``address`` is what the user typed; the domain
        part is matched case-insensitively."""
        ...


class SaslCancelled(AuthFailed):
    """The client cancelled the exchange ("*"); raised by the protocol's ``read_response``."""


@dataclass(frozen=True, slots=True)
class SaslResult:
    principal: Principal
    final_data: bytes | None  # to send with the success reply; None when the mechanism has none


class Authenticator:
    """One per server; shared by all connections and protocols."""

    def __init__(
        self,
        credentials: CredentialsSource,
        throttle: FailureThrottle,
        *,
        hash_parameters: HashParameters = DEFAULT_HASH_PARAMETERS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._credentials = credentials
        self._throttle = throttle
        self._hash_parameters = hash_parameters  # of the dummy hash: same cost as real ones
        self._clock = clock
        self._sleep = sleep
        self._dummy_hash: str | None = None

    async def authenticate_password(self, username: str, password: str, ip: str) -> Principal:
        """IMAP LOGIN, POP3 USER/PASS, webmail. Raises AuthFailed."""
        await self._wait(ip, username)
        credentials = await self._check_password(username, password)
        return await self._finish(ip, username, credentials)

    async def scram_verifier(self, username: str, ip: str) -> str | None:
        """The stored SCRAM verifier after the throttle delay; None for unknown, disabled or
        SCRAM-less accounts (feed it to ``SaslExchange.provide_scram`` either way)."""
        await self._wait(ip, username)
        credentials = await self._usable_credentials(username)
        return credentials.scram_sha256 if credentials else None

    async def record_scram_result(self, username: str, ip: str, succeeded: bool) -> None:
        """For callers that drive a SCRAM exchange themselves instead of using ``run_sasl``."""
        if succeeded:
            await self._throttle.record_success(ip, username, self._clock())
        else:
            await self._throttle.record_failure(ip, username, self._clock())

    async def run_sasl(
        self, mechanism: str, initial: bytes | None, read_response: ReadResponse, ip: str
    ) -> SaslResult:
        """Run one SASL exchange to the end. Raises sasl.UnsupportedMechanism, SaslCancelled
        (from ``read_response``) or AuthFailed (its text is safe to show)."""
        exchange = sasl.start(mechanism, initial)
        event = exchange.begin()
        username = ""  # unknown until the mechanism has parsed it; then it keys the throttle
        credentials: Credentials | None = None
        while True:
            match event:
                case sasl.Challenge(data=data):
                    try:
                        response = await read_response(data)
                    except SaslCancelled:
                        exchange.cancel()
                        raise
                    event = exchange.step(response)
                case sasl.CheckPassword(username=username, password=password):
                    await self._wait(ip, username)
                    credentials = await self._check_password(username, password)
                    event = exchange.password_checked(credentials is not None)
                case sasl.NeedScramCredentials(username=username):
                    await self._wait(ip, username)
                    credentials = await self._usable_credentials(username)
                    verifier = credentials.scram_sha256 if credentials else None
                    event = exchange.provide_scram(verifier)
                case sasl.Success(final_data=final_data):
                    # The machine only succeeds after a check that found the credentials.
                    assert credentials is not None
                    return SaslResult(await self._finish(ip, username, credentials), final_data)
                case sasl.Failure(reason=reason):
                    await self._throttle.record_failure(ip, username, self._clock())
                    raise AuthFailed(reason)

    async def _wait(self, ip: str, username: str) -> None:
        delay = await self._throttle.delay_for(ip, username, self._clock())
        if delay > 0:
            await self._sleep(delay)

    async def _check_password(self, username: str, password: str) -> Credentials | None:
        credentials = await self._credentials.get_credentials(username)
        if credentials is None:
            await _in_hashing_pool(_verify_password, await self._get_dummy_hash(), password)
            return None
        valid = await _in_hashing_pool(_verify_password, credentials.password_hash, password)
        return credentials if valid and not credentials.disabled else None

    async def _usable_credentials(self, username: str) -> Credentials | None:
        credentials = await self._credentials.get_credentials(username)
        return None if credentials is None or credentials.disabled else credentials

    async def _finish(self, ip: str, username: str, credentials: Credentials | None) -> Principal:
        if credentials is None:
            await self._throttle.record_failure(ip, username, self._clock())
            raise AuthFailed(_GENERIC_FAILURE)
        await self._throttle.record_success(ip, username, self._clock())
        return Principal(credentials.account_id, credentials.address)

    async def _get_dummy_hash(self) -> str:
        # Made lazily in a thread: hashing at construction would block the loop at startup.
        # Two first callers racing both compute one; either result serves.
        if self._dummy_hash is None:
            password = secrets.token_urlsafe(16)
            self._dummy_hash = await asyncio.to_thread(
                hash_password, password, self._hash_parameters
            )
        return self._dummy_hash

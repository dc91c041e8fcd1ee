"""The Authenticator over a small dict-backed CredentialsSource, with an injected clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable

import pytest

from postier.auth.authenticator import Authenticator, SaslCancelled, SaslResult
from postier.auth.passwords import (
    HashParameters,
    hash_password,
    scram_credentials,
    verify_password,
)
from postier.auth.sasl import UnsupportedMechanism
from postier.auth.throttle import MemoryThrottle, ThrottleLimits
from postier.errors import AuthFailed
from postier.types import AccountId, Credentials, Principal

CHEAP = HashParameters(time_cost=1, memory_cost_kib=8, parallelism=1)
LIMITS = ThrottleLimits(free_failures=1, base_delay=0.01, max_delay=0.04, window=60.0)
IP = "192.0.2.1"
TIM = Principal(AccountId(1), "tim@example.com")


class DictCredentials:
    """Accounts by address; the domain part matches case-insensitively, like the store's."""

    def __init__(self, *accounts: Credentials) -> None:
        self._accounts = {_key(c.address): c for c in accounts}

    async def get_credentials(self, address: str) -> Credentials | None:
        return self._accounts.get(_key(address))


def _key(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


class Clock:
    """A clock that only moves when the authenticator sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


def account(
    account_id: int, address: str, password: str, *, disabled: bool = False, scram: bool = True
) -> Credentials:
    return Credentials(
        account_id=AccountId(account_id),
        address=address,
        password_hash=hash_password(password, CHEAP),
        scram_sha256=scram_credentials(password) if scram else None,
        disabled=disabled,
    )


ACCOUNTS = (
    account(1, "tim@example.com", "tanstaaf"),
    account(2, "gone@example.com", "tanstaaf", disabled=True),
    account(3, "old@example.com", "tanstaaf", scram=False),
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle() -> MemoryThrottle:
    return MemoryThrottle(LIMITS)


@pytest.fixture
def auth(clock: Clock, throttle: MemoryThrottle) -> Authenticator:
    return Authenticator(
        DictCredentials(*ACCOUNTS), throttle, hash_parameters=CHEAP, clock=clock, sleep=clock.sleep
    )


async def test_good_password(auth: Authenticator) -> None:
    assert await auth.authenticate_password("tim@EXAMPLE.com", "tanstaaf", IP) == TIM


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("tim@example.com", "wrong"),
        ("nobody@example.com", "tanstaaf"),
        ("gone@example.com", "tanstaaf"),  # disabled
    ],
)
async def test_refusals_all_look_the_same(
    auth: Authenticator, username: str, password: str
) -> None:
    with pytest.raises(AuthFailed, match=r"^invalid credentials$"):
        await auth.authenticate_password(username, password, IP)


async def test_unknown_user_still_costs_a_verification(
    auth: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []

    def counting_verify(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return verify_password(password_hash, password)

    monkeypatch.setattr("postier.auth.authenticator._verify_password", counting_verify)
    for username in ("nobody@example.com", "gone@example.com"):
        with pytest.raises(AuthFailed):
            await auth.authenticate_password(username, "tanstaaf", IP)
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$v=19$m=8,t=1,p=1$") for h in verified)


async def test_delay_grows_and_is_paid_before_checking(auth: Authenticator, clock: Clock) -> None:
    for _ in range(6):  # one free failure: the 3rd attempt is the first to wait
        with pytest.raises(AuthFailed):
            await auth.authenticate_password("tim@example.com", "wrong", IP)
    assert clock.sleeps == [0.01, 0.02, 0.04, 0.04]
    # The right password pays the same delay: the wait never depends on the guess.
    assert await auth.authenticate_password("tim@example.com", "tanstaaf", IP) == TIM
    assert clock.sleeps[-1] == 0.04


async def test_success_resets_the_account_not_the_ip(auth: Authenticator, clock: Clock) -> None:
    for _ in range(3):
        with pytest.raises(AuthFailed):
            await auth.authenticate_password("tim@example.com", "wrong", IP)
    await auth.authenticate_password("tim@example.com", "tanstaaf", IP)
    sleeps = len(clock.sleeps)
    await auth.authenticate_password("tim@example.com", "tanstaaf", "198.51.100.7")
    assert len(clock.sleeps) == sleeps  # other IP, account forgiven: no wait
    await auth.authenticate_password("tim@example.com", "tanstaaf", IP)
    assert len(clock.sleeps) == sleeps + 1  # the guessing IP still waits


async def test_counters_decay_with_the_injected_clock(auth: Authenticator, clock: Clock) -> None:
    for _ in range(3):
        with pytest.raises(AuthFailed):
            await auth.authenticate_password("tim@example.com", "wrong", IP)
    clock.now += LIMITS.window
    sleeps = len(clock.sleeps)
    await auth.authenticate_password("tim@example.com", "tanstaaf", IP)
    assert len(clock.sleeps) == sleeps


def scripted(*responses: bytes) -> tuple[Callable[[bytes], Awaitable[bytes]], list[bytes]]:
    challenges: list[bytes] = []
    pending = list(responses)

    async def read_response(challenge: bytes) -> bytes:
        challenges.append(challenge)
        return pending.pop(0)

    return read_response, challenges


async def test_sasl_plain(auth: Authenticator) -> None:
    read, challenges = scripted()
    result = await auth.run_sasl("PLAIN", b"\x00tim@example.com\x00tanstaaf", read, IP)
    assert result == SaslResult(TIM, None)
    assert challenges == []


async def test_sasl_login(auth: Authenticator) -> None:
    read, challenges = scripted(b"tim@example.com", b"tanstaaf")
    assert await auth.run_sasl("LOGIN", None, read, IP) == SaslResult(TIM, None)
    assert challenges == [b"Username:", b"Password:"]


async def test_sasl_plain_wrong_password_is_counted(
    auth: Authenticator, throttle: MemoryThrottle
) -> None:
    read, _ = scripted()
    with pytest.raises(AuthFailed, match="invalid credentials"):
        await auth.run_sasl("PLAIN", b"\x00tim@example.com\x00nope", read, IP)
    assert throttle.sizes == (1, 1)


async def test_sasl_malformed_counts_against_the_ip_only(
    auth: Authenticator, throttle: MemoryThrottle
) -> None:
    read, _ = scripted()
    with pytest.raises(AuthFailed, match="malformed"):
        await auth.run_sasl("PLAIN", b"no separators", read, IP)
    assert throttle.sizes == (1, 0)


async def test_sasl_cancel_propagates_uncounted(
    auth: Authenticator, throttle: MemoryThrottle
) -> None:
    async def cancel(challenge: bytes) -> bytes:
        raise SaslCancelled("authentication cancelled")

    with pytest.raises(SaslCancelled):
        await auth.run_sasl("LOGIN", None, cancel, IP)
    assert throttle.sizes == (0, 0)


async def test_sasl_unknown_mechanism(auth: Authenticator) -> None:
    read, _ = scripted()
    with pytest.raises(UnsupportedMechanism):
        await auth.run_sasl("GSSAPI", None, read, IP)


class ScramClient:
    """The client half of RFC 5802, enough to talk to the server."""

    def __init__(self, username: str, password: str) -> None:
        self.password = password
        self.bare = f"n={username},r=clientnonce"
        self.expected_final = b""

    @property
    def first(self) -> bytes:
        return b"n,," + self.bare.encode()

    def final(self, server_first: bytes) -> bytes:
        attributes = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac(
            "sha256",
            self.password.encode(),
            base64.b64decode(attributes["s"]),
            int(attributes["i"]),
        )
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={attributes['r']}"
        auth_message = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        server_signature = hmac.digest(server_key, auth_message, "sha256")
        self.expected_final = b"v=" + base64.b64encode(server_signature)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


async def run_scram(auth: Authenticator, client: ScramClient) -> SaslResult:
    return await auth.run_sasl("SCRAM-SHA-256", client.first, _as_async(client.final), IP)


def _as_async(function: Callable[[bytes], bytes]) -> Callable[[bytes], Awaitable[bytes]]:
    async def wrapper(data: bytes) -> bytes:
        return function(data)

    return wrapper


async def test_sasl_scram_returns_server_final(auth: Authenticator) -> None:
    client = ScramClient("tim@example.com", "tanstaaf")
    result = await run_scram(auth, client)
    assert result == SaslResult(TIM, client.expected_final)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("tim@example.com", "wrong"),
        ("nobody@example.com", "tanstaaf"),
        ("gone@example.com", "tanstaaf"),
        ("old@example.com", "tanstaaf"),  # no SCRAM verifier stored
    ],
)
async def test_sasl_scram_refusals(
    auth: Authenticator, throttle: MemoryThrottle, username: str, password: str
) -> None:
    with pytest.raises(AuthFailed, match=r"^invalid credentials$"):
        await run_scram(auth, ScramClient(username, password))
    assert throttle.sizes == (1, 1)


async def test_scram_building_blocks(auth: Authenticator, throttle: MemoryThrottle) -> None:
    assert await auth.scram_verifier("tim@example.com", IP) == ACCOUNTS[0].scram_sha256
    assert await auth.scram_verifier("gone@example.com", IP) is None
    assert await auth.scram_verifier("nobody@example.com", IP) is None
    await auth.record_scram_result("tim@example.com", IP, succeeded=False)
    assert throttle.sizes == (1, 1)
    await auth.record_scram_result("tim@example.com", IP, succeeded=True)
    assert throttle.sizes == (1, 0)

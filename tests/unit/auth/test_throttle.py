"""Failure throttling with an explicit clock (async only because FailureThrottle is)."""

from __future__ import annotations

import pytest

from postier.auth.throttle import FailureThrottle, MemoryThrottle, ThrottleLimits

LIMITS = ThrottleLimits(
    free_failures=3, base_delay=1.0, max_delay=30.0, window=900.0, max_entries=100
)
IP = "192.0.2.1"


async def fail(throttle: MemoryThrottle, times: int, ip: str = IP, account: str = "a@x") -> None:
    for _ in range(times):
        await throttle.record_failure(ip, account, now=0.0)


def test_delay_policy_grows_after_the_free_failures_and_is_capped() -> None:
    delays = [LIMITS.delay_after(failures) for failures in range(10)]
    assert delays == [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert LIMITS.delay_after(100_000) == 30.0  # no float overflow


@pytest.mark.parametrize("free", [0, 1])
def test_limits_are_configurable(free: int) -> None:
    limits = ThrottleLimits(free_failures=free, base_delay=0.5, max_delay=1.0)
    assert [limits.delay_after(n) for n in range(free, free + 4)] == [0.0, 0.5, 1.0, 1.0]


async def test_delay_grows_with_each_failure() -> None:
    throttle = MemoryThrottle(LIMITS)
    delays = []
    for _ in range(6):
        delays.append(await throttle.delay_for(IP, "a@x", now=0.0))
        await fail(throttle, 1)
    assert delays == [0.0, 0.0, 0.0, 0.0, 1.0, 2.0]


async def test_ip_counter_spans_accounts() -> None:
    throttle = MemoryThrottle(LIMITS)
    for number in range(5):
        await throttle.record_failure(IP, f"user{number}@x", now=0.0)
    assert await throttle.delay_for(IP, "fresh@x", now=0.0) == 2.0
    assert await throttle.delay_for("198.51.100.7", "fresh@x", now=0.0) == 0.0


async def test_account_counter_spans_ips_and_ignores_case() -> None:
    throttle = MemoryThrottle(LIMITS)
    for number in range(5):
        await throttle.record_failure(f"192.0.2.{number}", "Tim@Example.COM", now=0.0)
    assert await throttle.delay_for("198.51.100.7", "tim@example.com", now=0.0) == 2.0


async def test_counters_are_forgotten_after_a_quiet_window() -> None:
    throttle = MemoryThrottle(LIMITS)
    await fail(throttle, 6)
    assert await throttle.delay_for(IP, "a@x", now=899.0) == 4.0
    assert await throttle.delay_for(IP, "a@x", now=900.0) == 0.0
    await throttle.record_failure(IP, "a@x", now=900.0)  # counts again from one
    assert await throttle.delay_for(IP, "a@x", now=900.0) == 0.0


async def test_success_resets_the_account_but_not_the_ip() -> None:
    throttle = MemoryThrottle(LIMITS)
    await fail(throttle, 5)
    await throttle.record_success(IP, "A@X", now=1.0)
    assert await throttle.delay_for("198.51.100.7", "a@x", now=1.0) == 0.0
    assert await throttle.delay_for(IP, "other@x", now=1.0) == 2.0


async def test_memory_is_capped_by_evicting_the_oldest() -> None:
    throttle = MemoryThrottle(LIMITS)
    await fail(throttle, 6)
    assert await throttle.delay_for(IP, "a@x", now=1.0) == 4.0
    for number in range(1000):  # a distributed attack: every failure from a new IP and name
        await throttle.record_failure(f"10.0.{number // 256}.{number % 256}", f"u{number}", 1.0)
    assert throttle.sizes == (100, 100)
    assert await throttle.delay_for(IP, "a@x", now=1.0) == 0.0  # evicted, so forgotten


async def test_expired_counters_are_dropped_as_new_failures_arrive() -> None:
    throttle = MemoryThrottle(LIMITS)
    for number in range(50):
        await throttle.record_failure(f"10.0.0.{number}", f"u{number}", now=0.0)
    await throttle.record_failure("10.0.1.1", "late", now=1000.0)
    assert throttle.sizes == (1, 1)


async def test_empty_keys_are_not_counted() -> None:
    throttle = MemoryThrottle(LIMITS)
    await throttle.record_failure(IP, "", now=0.0)
    await throttle.record_failure("", "a@x", now=0.0)
    assert throttle.sizes == (1, 1)


def test_memory_throttle_is_a_failure_throttle() -> None:
    throttle: FailureThrottle = MemoryThrottle()  # checked by mypy
    assert throttle is not None

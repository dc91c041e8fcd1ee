"""InputDeadline: read timeouts for idle clients, command lines and payloads (a fake clock)."""

from __future__ import annotations

from postier.net.deadline import InputDeadline, Phase


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_uses_the_idle_timeout() -> None:
    deadline = InputDeadline(60, 1024, Clock())
    assert deadline.timeout(Phase.IDLE, 1800) == (1800, False)


def test_a_line_must_end_within_command_timeout_of_its_start() -> None:
    clock = Clock()
    deadline = InputDeadline(60, 1024, clock)
    assert deadline.timeout(Phase.LINE, 1800) == (60, True)
    clock.now += 45  # bytes keep coming, the line does not end: the clock does not restart
    deadline.received(1)
    assert deadline.timeout(Phase.LINE, 1800) == (15, True)
    clock.now += 20
    assert deadline.timeout(Phase.LINE, 1800) == (0, True)
    deadline.reset()  # the line ended; the next one has its own time
    assert deadline.timeout(Phase.LINE, 1800) == (60, True)


def test_a_short_idle_timeout_stays_an_idle_timeout() -> None:
    deadline = InputDeadline(60, 1024, Clock())
    assert deadline.timeout(Phase.LINE, 10) == (10, False)


def test_a_payload_may_outlast_command_timeout_at_the_minimum_rate() -> None:
    clock = Clock()
    deadline = InputDeadline(60, 1000, clock)
    assert deadline.timeout(Phase.PAYLOAD, 1800) == (60, True)
    clock.now += 59
    deadline.received(100_000)  # 100 s worth at the minimum rate
    assert deadline.timeout(Phase.PAYLOAD, 1800) == (41, True)
    clock.now += 41
    assert deadline.timeout(Phase.PAYLOAD, 1800) == (0, True)


def test_a_phase_change_restarts_the_count() -> None:
    clock = Clock()
    deadline = InputDeadline(60, 1000, clock)
    deadline.timeout(Phase.LINE, 1800)
    clock.now += 50
    assert deadline.timeout(Phase.PAYLOAD, 1800) == (60, True)

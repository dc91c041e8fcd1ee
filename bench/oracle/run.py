"""Replay the scenarios on Postier and on Dovecot and collect the normalised differences."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.oracle.client import ImapWire, Pop3Wire, ServerGone
from bench.oracle.corpus import MESSAGES
from bench.oracle.normalize import Pop3Normalizer, normalize_imap_lines, normalize_pop3
from bench.oracle.scenarios import IMAP_SCENARIOS, POP3_SCENARIOS, Scenario, append

__all__ = ["Difference", "Target", "compare", "run_scenario", "start_targets"]

PASSWORD = "bench"


@dataclass
class Target:
    name: str
    imap: int
    pop3: int


@dataclass
class Difference:
    scenario: str
    step: int
    command: str
    postier: list[str]
    dovecot: list[str]

    @property
    def key(self) -> str:
        return f"{self.scenario}#{self.step}"

    def render(self) -> str:
        lines = [f"== {self.scenario} step {self.step}: {self.command}"]
        for line in difflib.ndiff(self.postier, self.dovecot):
            if line.startswith("- "):
                lines.append("  postier: " + line[2:])
            elif line.startswith("+ "):
                lines.append("  dovecot: " + line[2:])
        return "\n".join(lines)


@dataclass
class Transcript:
    steps: list[tuple[str, list[str]]] = field(default_factory=list)


def user_for(index: int) -> str:
    return f"bench{index + 1}@bench.test"


def _label(step: str | bytes) -> str:
    text = step.decode("utf-8", "replace") if isinstance(step, bytes) else step
    first = text.split("\r\n", 1)[0]
    return first if len(first) < 160 else first[:157] + "..."


def _imap_login(wire: ImapWire, user: str) -> None:
    wire.line()  # greeting
    lines = wire.command("L", f"LOGIN {user} {PASSWORD}".encode())
    if b"L OK" not in lines[-1]:
        raise RuntimeError(f"login as {user} failed: {lines!r}")


def setup_corpus(target: Target, user: str) -> None:
    wire = ImapWire(target.imap)
    try:
        _imap_login(wire, user)
        for number, (message, flags, date) in enumerate(MESSAGES):
            lines = wire.command(f"S{number}", append("INBOX", message, flags, date))
            if not lines[-1].startswith(f"S{number} OK".encode()):
                raise RuntimeError(f"setup APPEND failed on {target.name}: {lines!r}")
        wire.command("S", b"LOGOUT")
    finally:
        wire.close()


def _run_imap(target: Target, scenario: Scenario, user: str) -> Transcript:
    transcript = Transcript()
    wires: dict[int, ImapWire] = {}
    idle_tag: str | None = None

    def wire_for(number: int) -> ImapWire:
        if number not in wires:
            wire = ImapWire(target.imap)
            if scenario.login or number != 1:
                _imap_login(wire, user)
            else:
                wire.line()
            wires[number] = wire
        return wires[number]

    for counter, step in enumerate(scenario.steps, start=1):
        tag = f"T{counter}"
        number = 1
        text = step if isinstance(step, bytes) else step.encode()
        if text[:2] == b"2:":
            number, text = 2, text[2:]
        wire = wire_for(number)
        try:
            if text.startswith(b"RAW:"):
                if text == b"RAW:DONE" and idle_tag is None:
                    pass
                wire.send(text[4:] + b"\r\n")
                lines = wire.command(f"Z{counter}", b"NOOP")
            elif text == b"IDLE" and number == 1:
                lines = wire.idle(tag)
                if lines[-1].startswith(b"+"):
                    idle_tag = tag
            elif text == b"DONE" and idle_tag is not None:
                wire.send(b"DONE\r\n")
                lines = wire.until_tagged(idle_tag.encode(), [])
                idle_tag = None
            else:
                lines = wire.command(tag, text)
        except ServerGone as gone:
            lines = [*gone.lines, b"<connection closed>"]
            wires.pop(number).close()
        except TimeoutError:
            lines = [b"<timeout>"]
            wires.pop(number).close()
        normal = normalize_imap_lines(lines)
        transcript.steps.append((_label(step), normal))
    for wire in wires.values():
        wire.close()
    return transcript


def _run_pop3(target: Target, scenario: Scenario, user: str) -> Transcript:
    transcript = Transcript()
    state = Pop3Normalizer()
    wire: Pop3Wire | None = None
    for step in scenario.steps:
        assert isinstance(step, str)
        if wire is None:
            wire = Pop3Wire(target.pop3)
            wire.line()
            if scenario.login:
                wire.command(f"USER {user}")
                wire.command(f"PASS {PASSWORD}")
        command = step.replace("USER bench1@bench.test", f"USER {user}")
        command = re.sub(r"^APOP bench1@bench.test", f"APOP {user}", command)
        try:
            lines = wire.command(command)
            if command.upper() == "QUIT":
                wire.close()
                wire = None
        except ServerGone as gone:
            lines = [*gone.lines, b"<connection closed>"]
            wire.close()
            wire = None
        except TimeoutError:
            lines = [b"<timeout>"]
            wire.close()
            wire = None
        transcript.steps.append((step, normalize_pop3(command, lines, state)))
    if wire is not None:
        wire.close()
    return transcript


def run_scenario(target: Target, scenario: Scenario, index: int) -> Transcript:
    user = user_for(index)
    if scenario.corpus:
        setup_corpus(target, user)
    if scenario.protocol == "pop3":
        return _run_pop3(target, scenario, user)
    return _run_imap(target, scenario, user)


def all_scenarios() -> list[Scenario]:
    return [*IMAP_SCENARIOS, *POP3_SCENARIOS]


def compare(postier: Target, dovecot: Target, names: list[str] | None = None
            ) -> tuple[list[Difference], int]:
    """Run the scenarios (all, or those named) on both; the differences and the step count."""
    differences: list[Difference] = []
    steps = 0
    for index, scenario in enumerate(all_scenarios()):
        if names and scenario.name not in names:
            continue
        ours = run_scenario(postier, scenario, index)
        theirs = run_scenario(dovecot, scenario, index)
        for number, ((label, mine), (_, reference)) in enumerate(
                zip(ours.steps, theirs.steps, strict=True), start=1):
            steps += 1
            if mine != reference:
                differences.append(Difference(scenario.name, number, label, mine, reference))
    return differences, steps


def start_targets(workdir: Path):  # type: ignore[no-untyped-def]
    """Start both servers with one account per scenario; returns (postier, dovecot, stop)."""
    from bench.common import PostierProcess
    from bench.oracle.dovecot import start_dovecot, stop_dovecot

    users = [user_for(index) for index in range(len(all_scenarios()))]
    dovecot = start_dovecot(workdir / "reference", users, PASSWORD)
    server = PostierProcess(workdir / "postier")
    try:
        server.create(len(users), PASSWORD)
        ports = server.start()
    except BaseException:
        stop_dovecot(dovecot)
        raise

    def stop() -> None:
        server.stop()
        stop_dovecot(dovecot)

    return (Target("postier", ports["imap"], ports["pop3"]),
            Target("dovecot", dovecot.imap, dovecot.pop3), stop)

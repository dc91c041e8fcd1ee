"""Command lines → command values, and the lines that are refused."""

from __future__ import annotations

import pytest

from postier.pop3.commands import (
    Auth,
    Capa,
    CommandError,
    Dele,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
    parse_command,
)


@pytest.mark.parametrize(("line", "command"), [
    (b"CAPA", Capa()),
    (b"capa", Capa()),
    (b"StLs", Stls()),
    (b"UTF8", Utf8()),
    (b"QUIT", Quit()),
    (b"STAT", Stat()),
    (b"NOOP", Noop()),
    (b"RSET", Rset()),
    (b"LIST", List()),
    (b"LIST 3", List(3)),
    (b"UIDL", Uidl()),
    (b"uidl 12", Uidl(12)),
    (b"RETR 1", Retr(1)),
    (b"DELE 999999999", Dele(999999999)),
    (b"TOP 2 0", Top(2, 0)),
    (b"TOP 2  10", Top(2, 10)),
    (b"USER alice@example.test", User("alice@example.test")),
    (b"USER  alice ", User("alice")),
    ("USER jos\u00e9@example.test".encode(), User("jos\u00e9@example.test")),
    (b"PASS secret with spaces ", Pass("secret with spaces ")),
    (b"AUTH", Auth(None)),
    (b"AUTH plain", Auth("PLAIN")),
    (b"AUTH PLAIN =", Auth("PLAIN", b"")),
    (b"AUTH PLAIN AGFsaWNlAHB3", Auth("PLAIN", b"\x00alice\x00pw")),
])
def test_valid_commands(line: bytes, command: object) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize(("line", "reason"), [
    (b"", "unknown command"),
    (b"HELO", "unknown command"),
    (b"LAST", "unknown command"),
    (b"ST\xffAT", "unknown command"),
    (b"STAT\x00", "control characters"),
    (b"PASS a\x00b", "control characters"),
    (b"USER a\tb", "control characters"),
    (b"STAT 1", "takes no arguments"),
    (b"RETR", "message number is required"),
    (b"RETR 1 2", "message number is required"),
    (b"RETR -1", "invalid number"),
    (b"RETR +1", "invalid number"),
    (b"RETR 1234567890", "invalid number"),
    (b"RETR x", "invalid number"),
    (b"LIST 1 2", "at most one"),
    (b"TOP 1", "usage: TOP"),
    (b"TOP 1 -1", "invalid number"),
    (b"USER", "needs an argument"),
    (b"USER ", "needs an argument"),
    (b"USER   ", "needs an argument"),
    (b"PASS", "needs an argument"),
    (b"PASS \xff", "UTF-8"),
    (b"AUTH PLAIN not*base64", "malformed base64"),
    (b"AUTH PLAIN a b", "usage: AUTH"),
    (b"AUTH PL\xc3\xa9", "invalid mechanism"),
    (b"APOP alice 0123456789abcdef", "APOP is not supported"),
])
def test_invalid_commands(line: bytes, reason: str) -> None:
    with pytest.raises(CommandError, match=reason):
        parse_command(line)


def test_password_is_not_in_repr() -> None:
    assert "hunter2" not in repr(parse_command(b"PASS hunter2"))
    assert "AGFs" not in repr(parse_command(b"AUTH PLAIN AGFsaWNlAHB3"))

"""What every command shares: tags, names, the end of the line, and error tags."""

from __future__ import annotations

import pytest

from postier.imap.commands import Noop
from postier.imap.parsing import parse_command

from ._support import frame, parse, parse_error


@pytest.mark.parametrize(
    ("line", "tag", "message"),
    [
        ("a1 XYZZY", "a1", "unknown command XYZZY"),
        ("a1 UID", "a1", "expected space"),
        ("a1 UID XYZZY 1", "a1", "unknown UID command XYZZY"),
        ("a1", "a1", "expected space"),  # a line that is only a tag: "a1 BAD", as Dovecot
        ("a1 ", "a1", "expected command name"),
        ("+a NOOP", None, "missing or invalid tag"),
        ("* NOOP", None, "missing or invalid tag"),
        ("(a) NOOP", None, "missing or invalid tag"),
        ("a  NOOP", "a", "expected command name"),
        ("a NOOP ", "a", "unexpected characters at end of command"),
        ("a\tNOOP", None, "expected space"),
        ("a LOGIN {5-}", "a", "expected user name"),
    ],
)
def test_errors_carry_the_tag_when_one_was_read(line: str, tag: str | None, message: str) -> None:
    error = parse_error(line)
    assert (error.tag, error.message) == (tag, message)


def test_tag_characters() -> None:
    assert parse_command(frame(b"A.b]c-1~ NOOP")) == ("A.b]c-1~", Noop())


def test_command_names_are_case_insensitive() -> None:
    assert parse("a nOoP") == Noop()


def test_control_characters_are_refused() -> None:
    assert parse_error(b"a NOOP\rb NOOP").message == "unexpected characters at end of command"
    assert parse_error(b'a LOGIN "x\ry" z').message == "invalid character in quoted string"
    assert parse_error(b'a LOGIN "x\x00y" z').message == "invalid character in quoted string"
    assert parse_error(b"a LOGIN {3+}\r\nx\x00y z").message == "NUL in literal"


def test_literal_cannot_stand_for_an_atom_or_a_number() -> None:
    assert parse_error(b"a {4}\r\nNOOP").message == "expected command name"
    assert parse_error(b"a FETCH {1}\r\n1 FLAGS").message == "invalid sequence set"


def test_long_input_is_not_echoed_in_full() -> None:
    assert len(parse_error("a " + "X" * 5000).message) <= 200

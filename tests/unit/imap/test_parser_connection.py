"""Parsing of the connection commands, with the strings real clients send."""

from __future__ import annotations

import pytest

from postier.imap.commands import (
    Authenticate,
    Capability,
    Check,
    Close,
    Compress,
    Enable,
    Expunge,
    Id,
    Idle,
    Login,
    Logout,
    Namespace,
    Noop,
    StartTls,
    Unauthenticate,
    Unselect,
)
from postier.imap.parsing import parse_command

from ._support import frame, parse, parse_error


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("a1 CAPABILITY", Capability()),
        ("1 capability", Capability()),  # Thunderbird writes commands in lower case
        ("a NOOP", Noop()),
        ("a LOGOUT", Logout()),
        ("a STARTTLS", StartTls()),
        ("a NAMESPACE", Namespace()),
        ("a CHECK", Check()),
        ("a CLOSE", Close()),
        ("a UNSELECT", Unselect()),
        ("a EXPUNGE", Expunge()),
        ("a idle", Idle()),
        ("a UNAUTHENTICATE", Unauthenticate()),
    ],
)
def test_commands_without_arguments(line: str, command: object) -> None:
    assert parse(line) == command


def test_tag_is_returned_apart_from_the_command() -> None:
    assert parse_command(frame(b"LKGJ1 CAPABILITY")) == ("LKGJ1", Capability())  # imaplib


def test_arguments_after_bare_command_are_refused() -> None:
    assert parse_error("a NOOP now").message == "unexpected characters at end of command"


def test_login_with_atoms_and_quoted_strings() -> None:
    assert parse("a0002 LOGIN alice secret") == Login("alice", "secret")
    assert parse(r'2 login "alice@example.org" "p\"a\\ss w]rd"') == Login(
        "alice@example.org", 'p"a\\ss w]rd'
    )


def test_login_with_literals_as_imaplib_sends_them() -> None:
    assert parse(b'a LOGIN {5}\r\nalice {11}\r\nsp ace"pass') == Login("alice", 'sp ace"pass')


def test_login_with_utf8_password() -> None:
    assert parse('a LOGIN "jörg" "pässwörd"') == Login("jörg", "pässwörd")


def test_login_errors() -> None:
    assert parse_error("a LOGIN alice").message == "expected space"
    assert parse_error(b'a LOGIN alice "\xff"').message == "invalid UTF-8 in string"
    assert parse_error('a LOGIN alice "unterminated').message == "unterminated quoted string"
    assert parse_error(r'a LOGIN alice "bad\escape"').message == "invalid escape in quoted string"
    assert parse_error("a LOGIN alice pa*ss").message == "unexpected characters at end of command"


def test_authenticate() -> None:
    assert parse("a AUTHENTICATE PLAIN") == Authenticate("PLAIN")
    assert parse("a authenticate xoauth2") == Authenticate("XOAUTH2")


def test_authenticate_with_initial_response() -> None:
    # SASL-IR (RFC 4959), as Thunderbird and Apple Mail send PLAIN.
    command = parse("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==")
    assert command == Authenticate("PLAIN", b"\x00alice\x00secret")
    assert parse("a AUTHENTICATE EXTERNAL =") == Authenticate("EXTERNAL", b"")


def test_authenticate_rejects_bad_base64() -> None:
    assert parse_error("a AUTHENTICATE PLAIN AGFsaWNl=AA").message == "invalid base64"
    assert parse_error("a AUTHENTICATE PLAIN AGF").message == "invalid base64"


def test_enable() -> None:
    assert parse("a ENABLE QRESYNC") == Enable(("QRESYNC",))
    assert parse("a enable condstore utf8=accept") == Enable(("CONDSTORE", "UTF8=ACCEPT"))
    assert parse_error("a ENABLE").message == "expected space"


def test_id_as_thunderbird_and_apple_mail_send_it() -> None:
    assert parse('a ID ("name" "Thunderbird" "version" "115")') == Id(
        (("name", "Thunderbird"), ("version", "115"))
    )
    apple = (
        'a ID ("name" "Mac OS X Mail" "version" "16.0 (3731.500.231)" "os" "Mac OS X" '
        '"os-version" "13.4 (22F66)" "vendor" "Apple Inc.")'
    )
    command = parse(apple)
    assert isinstance(command, Id) and command.parameters is not None
    assert command.parameters[1] == ("version", "16.0 (3731.500.231)")


def test_id_nil_forms() -> None:
    assert parse("a ID NIL") == Id(None)
    assert parse("a ID ()") == Id(())
    assert parse('a ID ("name" NIL)') == Id((("name", None),))
    assert parse('a ID ("name" "NIL")') == Id((("name", "NIL"),))
    assert parse_error("a ID (name x)").message == "expected string"


def test_compress() -> None:
    assert parse("a COMPRESS DEFLATE") == Compress("DEFLATE")

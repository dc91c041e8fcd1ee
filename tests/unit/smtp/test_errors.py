"""The one exception → reply mapping: codes, no leaked text, tracebacks in the log."""

from __future__ import annotations

import logging

import pytest

from postier.auth.sasl import UnsupportedMechanism
from postier.errors import (
    AuthFailed,
    InvalidArgument,
    NotFound,
    OverQuota,
    PermissionDenied,
    TooBig,
    TryLater,
)
from postier.smtp.errors import to_reply


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OverQuota("full"), (452, "4.2.2")),
        (NotFound("who"), (550, "5.1.1")),
        (TryLater("busy"), (451, "4.3.0")),
        (TooBig("big"), (552, "5.3.4")),
        (AuthFailed("no"), (535, "5.7.8")),
        (PermissionDenied("no"), (550, "5.7.1")),
        (UnsupportedMechanism("x"), (504, "5.5.4")),
        (InvalidArgument("x"), (501, "5.5.4")),
    ],
)
def test_mail_errors(exc: Exception, expected: tuple[int, str]) -> None:
    reply = to_reply(exc)
    assert (reply.code, reply.enhanced) == expected


def test_temporary_failure_while_authenticating_is_454() -> None:
    reply = to_reply(TryLater("busy"), authenticating=True)
    assert (reply.code, reply.enhanced) == (454, "4.7.0")
    assert to_reply(AuthFailed("no"), authenticating=True).code == 535


def test_unexpected_errors_are_logged_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise RuntimeError("secret internal detail")
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR):
            reply = to_reply(exc)
    assert (reply.code, reply.enhanced) == (451, "4.3.0")
    assert b"secret" not in reply.to_bytes()
    [record] = caplog.records
    assert record.exc_info is not None and "secret internal detail" in caplog.text

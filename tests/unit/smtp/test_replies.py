"""Reply rendering (RFC 5321 §4.2, RFC 2034) and the invariants a Reply enforces."""

from __future__ import annotations

import pytest

from postier.smtp import replies
from postier.smtp.replies import Reply


def test_single_line_with_enhanced_code() -> None:
    assert replies.NO_SUCH_USER.to_bytes() == b"550 5.1.1 No such user\r\n"


def test_multi_line_prefixes_every_line() -> None:
    reply = Reply(452, "4.2.2", ("Mailbox full", "try again later"))
    assert reply.to_bytes() == b"452-4.2.2 Mailbox full\r\n452 4.2.2 try again later\r\n"


def test_ehlo_reply_has_no_enhanced_codes() -> None:
    reply = replies.ehlo("mx.example.org", ["PIPELINING", "SIZE 100"])
    assert reply.to_bytes() == b"250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 100\r\n"


def test_auth_challenge_is_base64_and_may_be_empty() -> None:
    assert replies.auth_challenge(b"Username:").to_bytes() == b"334 VXNlcm5hbWU6\r\n"
    assert replies.auth_challenge(b"").to_bytes() == b"334 \r\n"


def test_utf8_text_is_allowed_for_smtputf8_addresses() -> None:
    reply = Reply(550, "5.1.1", "<jöran@x> unknown")
    assert reply.to_bytes() == "550 5.1.1 <jöran@x> unknown\r\n".encode()


@pytest.mark.parametrize(
    ("code", "enhanced", "text"),
    [
        (199, None, "x"),
        (600, None, "x"),
        (250, "5.0.0", "class differs from the code"),
        (354, "2.0.0", "intermediate replies have no enhanced code"),
        (250, "2.0", "too short"),
        (250, None, ()),
        (250, None, "injected\r\n250 fake"),
        (250, None, ("ok", "bare\nLF")),
        (250, None, "nul\0"),
    ],
)
def test_invalid_replies_are_refused(code: int, enhanced: str | None, text: str) -> None:
    with pytest.raises(ValueError):
        Reply(code, enhanced, text)


def test_classification() -> None:
    assert replies.OK.is_positive and not replies.OK.is_permanent_failure
    assert replies.TOO_MANY_RECIPIENTS.code == 452 and not replies.TOO_MANY_RECIPIENTS.is_positive
    assert replies.MESSAGE_TOO_BIG.is_permanent_failure

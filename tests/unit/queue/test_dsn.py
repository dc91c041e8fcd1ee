"""DSN structure (RFC 3464 §2.2, §2.3; RFC 6522), parsed back with the standard library."""

from __future__ import annotations

import email
import email.message
import email.policy
from datetime import UTC, datetime

import pytest

from postier.queue.dsn import RecipientReport, build_dsn, split_header
from postier.queue.model import Notice

NOW = datetime(2024, 1, 2, 9, 30, tzinfo=UTC)
ARRIVED = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
ORIGINAL = (b"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: Hi\r\n"
            b"Message-ID: <m1@example.test>\r\n\r\nHello Bob\r\n")


def build(*reports: RecipientReport, original: bytes = ORIGINAL, **options: object) -> bytes:
    arguments: dict[str, object] = {
        "reporting_mta": "mail.example.test", "sender": "alice@example.test",
        "reports": reports, "original": original, "arrival_date": ARRIVED, "now": NOW,
        "message_id": "dsn1@mail.example.test", "original_message_id": "m1@example.test"}
    arguments.update(options)
    return build_dsn(**arguments).data  # type: ignore[arg-type]


def parts(data: bytes) -> tuple[email.message.EmailMessage, list[email.message.Message]]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "delivery-status"
    return message, list(message.iter_parts())


FAILED = RecipientReport("nobody@example.org", Notice.FAILED, "5.1.1",
                         original_recipient="rfc822;Nobody@example.org",
                         remote_mta="mx.example.org", diagnostic="550 5.1.1 no such user",
                         last_attempt=NOW)


def test_bounce_fields_per_rfc_3464() -> None:
    data = build(FAILED, envid="ENV 1")
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF everywhere
    message, (human, status, returned) = parts(data)
    assert message["From"] == "Mail Delivery System <MAILER-DAEMON@mail.example.test>"
    assert message["To"].addresses[0].addr_spec == "alice@example.test"
    assert message["Subject"] == "Undelivered mail returned to sender"
    assert message["Message-ID"] == "<dsn1@mail.example.test>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["References"] == "<m1@example.test>"
    assert human.get_content_type() == "text/plain"
    text = human.get_content()
    assert "<nobody@example.org>" in text and "mx.example.org said: 550 5.1.1 no such user" in text
    assert status.get_content_type() == "message/delivery-status"
    per_message, per_recipient = status.get_payload()
    assert per_message["Reporting-MTA"] == "dns; mail.example.test"
    assert per_message["Original-Envelope-Id"] == "ENV 1"
    assert per_message["Arrival-Date"] == "Mon, 01 Jan 2024 09:00:00 +0000"
    assert per_recipient["Original-Recipient"] == "rfc822;Nobody@example.org"
    assert per_recipient["Final-Recipient"] == "rfc822; nobody@example.org"
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"] == "5.1.1"
    assert per_recipient["Remote-MTA"] == "dns; mx.example.org"
    assert per_recipient["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user"
    assert per_recipient["Last-Attempt-Date"] == "Tue, 02 Jan 2024 09:30:00 +0000"
    assert returned.get_content_type() == "message/rfc822"
    inner = returned.get_payload()[0]
    assert inner["Subject"] == "Hi" and inner.get_payload().strip() == "Hello Bob"


@pytest.mark.parametrize(("ret", "size", "kind"), [
    ("FULL", 10, "message/rfc822"), ("HDRS", 10, "text/rfc822-headers"),
    (None, 10, "message/rfc822"), (None, 10_000, "text/rfc822-headers"),
    ("FULL", 10_000, "message/rfc822")])
def test_what_is_returned(ret: str | None, size: int, kind: str) -> None:
    original = ORIGINAL + b"x" * size + b"\r\n"
    _message, (_human, _status, returned) = parts(build(FAILED, original=original, ret=ret,
                                                        full_limit=1000))
    assert returned.get_content_type() == kind
    if kind == "text/rfc822-headers":
        assert returned.get_payload().startswith("From: Alice <alice@example.test>")
        assert "Hello Bob" not in returned.get_payload()


def test_delay_and_success_reports_carry_headers_only() -> None:
    delayed = RecipientReport("bob@example.org", Notice.DELAYED, "4.4.1",
                              explanation="mx.example.org[192.0.2.1]:25: connection refused",
                              will_retry_until=datetime(2024, 1, 5, 9, 0, tzinfo=UTC))
    relayed = RecipientReport("carol@example.org", Notice.RELAYED, "2.0.0",
                              remote_mta="mx.example.org", diagnostic="250 2.0.0 ok")
    message, (human, status, returned) = parts(build(delayed, relayed, ret="FULL"))
    assert message["Subject"] == "Delayed mail (still being retried)"
    _per_message, first, second = status.get_payload()
    assert (first["Action"], first["Will-Retry-Until"]) == (
        "delayed", "Fri, 05 Jan 2024 09:00:00 +0000")
    assert first["Diagnostic-Code"] is None
    assert first["X-Postier-Diagnostic"] == "mx.example.org[192.0.2.1]:25: connection refused"
    assert second["Action"] == "relayed"
    assert returned.get_content_type() == "text/rfc822-headers"
    assert "you need not send it again" in human.get_content()


def test_internationalised_originals_use_the_global_types() -> None:
    original = "From: Jörg <jörg@example.test>\r\nSubject: é\r\n\r\nhi\r\n".encode()
    dsn = build_dsn(reporting_mta="mail.example.test", sender="jörg@example.test",
                    reports=[FAILED], original=original, arrival_date=ARRIVED, now=NOW,
                    message_id="d@x")
    assert dsn.smtputf8 and dsn.eight_bit
    assert b"message/global-delivery-status" in dsn.data
    assert b"Content-Type: message/global\r\n" in dsn.data


def test_diagnostics_cannot_inject_fields() -> None:
    nasty = RecipientReport("b@example.org", Notice.FAILED, "5.0.0",
                            diagnostic="550 oops\r\nAction: delivered")
    _message, (_human, status, _returned) = parts(build(nasty))
    _per_message, report = status.get_payload()
    assert report["Action"] == "failed"
    assert report["Diagnostic-Code"] == "smtp; 550 oops Action: delivered"


def test_split_header() -> None:
    assert split_header(b"A: 1\nB: 2\n\nbody") == b"A: 1\r\nB: 2\r\n\r\n"
    assert split_header(b"A: 1\r\n") == b"A: 1\r\n\r\n"
    with pytest.raises(ValueError):
        build()

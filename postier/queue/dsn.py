"""Delivery status notifications (RFC 3464): the bounce, delay and success reports. Pure.

How this works: ``build_dsn`` takes what the queue knows about one message — its envelope, the
recipients being reported with their RFC 3464 §2.3.3 action (failed, delayed, delivered,
relayed), status and diagnostic — and returns the notification as bytes, ready to be delivered to
the original sender with the null reverse-path (RFC 3461 §6.1, RFC 5321 §4.5.5). The caller
supplies the clock and the new Message-ID, so the output depends only on the arguments.

The message is ``multipart/report; report-type=delivery-status`` (RFC 6522) with three parts:

1. ``text/plain``: what happened, for people;
2. ``message/delivery-status``: per-message fields (Reporting-MTA, Original-Envelope-Id from
   ENVID, Arrival-Date; RFC 3464 §2.2), then one block per recipient (Original-Recipient from
   ORCPT, Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date,
   Will-Retry-Until for delays; §2.3);
3. the original: ``message/rfc822`` (the whole message) or ``text/rfc822-headers`` (its header).
   RET=FULL and RET=HDRS decide (RFC 3461 §4.3); without RET a bounce carries the whole message
   up to ``full_limit`` octets and only the header above it. Delay and success reports carry only
   the header: the sender has the message, and it may still be on its way.

Internationalised mail (RFC 6533): when the original header or an address is not ASCII, the
report and original parts become ``message/global-delivery-status``, ``message/global`` and
``message/global-headers``, and the result says the DSN itself needs SMTPUTF8.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from postier.queue.model import Notice

__all__ = ["FULL_LIMIT", "Dsn", "RecipientReport", "build_dsn", "split_header"]

FULL_LIMIT = 256 * 1024
_DIAGNOSTIC_LIMIT = 900  # stay well under the 998-octet line limit of RFC 5322 §2.1.1
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")

_SUBJECTS = {
    Notice.FAILED: "Undelivered mail returned to sender",
    Notice.DELAYED: "Delayed mail (still being retried)",
    Notice.RELAYED: "Successful mail delivery report",
    Notice.DELIVERED: "Successful mail delivery report",
}
_EXPLANATIONS = {
    Notice.FAILED: "could not be delivered to the following recipients; Postier has given up:",
    Notice.DELAYED: "has not yet been delivered to the following recipients. Postier will keep "
                    "trying; you need not send it again:",
    Notice.RELAYED: "was handed to the recipients' mail server, which does not send delivery "
                    "reports of its own:",
    Notice.DELIVERED: "was delivered to the following recipients:",
}


@dataclass(frozen=True, slots=True)
class RecipientReport:
    final_recipient: str
    action: Notice
    status: str  # RFC 3463, e.g. "5.1.1"
    original_recipient: str | None = None  # ORCPT, "type;address"
    remote_mta: str | None = None
    diagnostic: str | None = None  # the remote's SMTP reply (Diagnostic-Code: smtp; ...)
    explanation: str | None = None  # what went wrong in words, when there was no reply
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Dsn:
    data: bytes
    eight_bit: bool  # send with BODY=8BITMIME
    smtputf8: bool  # the report is internationalised (RFC 6533)


def split_header(message: bytes) -> bytes:
    """The header section, ending with its empty line (CRLF CRLF)."""
    match = re.search(rb"\r?\n\r?\n", message)
    header = message if match is None else message[:match.start()]
    header = re.sub(rb"\r?\n", b"\r\n", header).rstrip(b"\r\n")
    return header + b"\r\n\r\n" if header else b"\r\n"


def build_dsn(*, reporting_mta: str, sender: str, reports: Sequence[RecipientReport],
              original: bytes, arrival_date: datetime, now: datetime, message_id: str,
              envid: str | None = None, ret: str | None = None,
              original_message_id: str | None = None, full_limit: int = FULL_LIMIT) -> Dsn:
    if not reports:
        raise ValueError("a DSN reports at least one recipient")
    actions = {report.action for report in reports}
    main = next(a for a in (Notice.FAILED, Notice.DELAYED, Notice.RELAYED, Notice.DELIVERED)
                if a in actions)
    header = split_header(original)
    utf8 = not header.isascii() or not sender.isascii() or any(
        not r.final_recipient.isascii() for r in reports)
    full = (main is Notice.FAILED and ret != "HDRS"
            and (ret == "FULL" or len(original) <= full_limit))
    returned = original if full else header
    eight_bit = not returned.isascii() or utf8
    boundary = "=_" + hashlib.sha256(message_id.encode() + original[:4096]).hexdigest()[:32]

    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{sender}>",
        f"Subject: {_SUBJECTS[main]}",
        f"Date: {format_datetime(now)}",
        f"Message-ID: <{message_id}>",
    ]
    if original_message_id:
        lines += [f"In-Reply-To: <{original_message_id}>",
                  f"References: <{original_message_id}>"]
    lines += [
        "Auto-Submitted: auto-replied",  # RFC 3834 §5: no vacation reply to a bounce
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a delivery status notification in MIME format (RFC 3464).",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        *_human_text(reporting_mta, reports, original_message_id),
        "",
        f"--{boundary}",
        f"Content-Type: message/{'global-' if utf8 else ''}delivery-status",
        "",
        *_status_fields(reporting_mta, envid, arrival_date, reports, utf8),
        f"--{boundary}",
    ]
    if full:
        lines.append(f"Content-Type: message/{'global' if utf8 else 'rfc822'}")
    else:
        lines.append(f"Content-Type: {'message/global-headers' if utf8 else 'text/rfc822-headers'}")
    if eight_bit:
        lines.append("Content-Transfer-Encoding: 8bit")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    body = returned if returned.endswith(b"\r\n") else returned + b"\r\n"
    tail = f"--{boundary}--\r\n".encode()
    return Dsn(head + body + tail, eight_bit, utf8)


def _human_text(reporting_mta: str, reports: Sequence[RecipientReport],
                original_message_id: str | None) -> list[str]:
    what = f"Your message <{original_message_id}>" if original_message_id else "Your message"
    lines = [f"This is the mail system at {reporting_mta}.", ""]
    for action in (Notice.FAILED, Notice.DELAYED, Notice.RELAYED, Notice.DELIVERED):
        chosen = [r for r in reports if r.action is action]
        if not chosen:
            continue
        lines += [*textwrap.wrap(f"{what} {_EXPLANATIONS[action]}", 76), ""]
        for report in chosen:
            lines.append(f"  <{report.final_recipient}>")
            reason = report.diagnostic or report.explanation
            if reason:
                source = f"{report.remote_mta} said" if report.diagnostic and report.remote_mta \
                    else "reason"
                lines += textwrap.wrap(f"{source}: {_clean(reason)}", 72,
                                       initial_indent="    ", subsequent_indent="    ")
            if report.will_retry_until is not None:
                lines.append(f"    will retry until {format_datetime(report.will_retry_until)}")
            lines.append("")
    return lines


def _status_fields(reporting_mta: str, envid: str | None, arrival_date: datetime,
                   reports: Sequence[RecipientReport], utf8: bool) -> list[str]:
    fields = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envid:
        fields.append(f"Original-Envelope-Id: {_clean(envid)}")
    fields += [f"Arrival-Date: {format_datetime(arrival_date)}", ""]
    for report in reports:
        address_type = "utf-8" if utf8 and not report.final_recipient.isascii() else "rfc822"
        if report.original_recipient:
            fields.append(f"Original-Recipient: {_clean(report.original_recipient)}")
        fields += [f"Final-Recipient: {address_type}; {report.final_recipient}",
                   f"Action: {report.action.value}",
                   f"Status: {report.status}"]
        if report.remote_mta:
            fields.append(f"Remote-MTA: dns; {report.remote_mta}")
        if report.diagnostic:
            fields.append(f"Diagnostic-Code: smtp; {_clean(report.diagnostic)}")
        elif report.explanation:
            fields.append(f"X-Postier-Diagnostic: {_clean(report.explanation)}")
        if report.last_attempt is not None:
            fields.append(f"Last-Attempt-Date: {format_datetime(report.last_attempt)}")
        if report.will_retry_until is not None:
            fields.append(f"Will-Retry-Until: {format_datetime(report.will_retry_until)}")
        fields.append("")
    return fields


def _clean(text: str) -> str:
    return _UNSAFE.sub(" ", text).strip()[:_DIAGNOSTIC_LIMIT]

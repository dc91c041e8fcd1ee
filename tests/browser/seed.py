"""Realistic mail for browser tests and screenshots, delivered straight into the store."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from postier.store.interface import DeliveryTarget, Store
from postier.types import INBOX, SEEN, AccountId

PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def plain(sender: str, to: str, subject: str, body: str, when: datetime, *,
          message_id: str, references: str = "") -> bytes:
    extra = f"In-Reply-To: {references.split()[-1]}\r\nReferences: {references}\r\n" \
        if references else ""
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
            f"Message-ID: {message_id}\r\n{extra}MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + body.replace("\n", "\r\n") + "\r\n").encode()


def html_mail(sender: str, to: str, subject: str, html: str, text: str, when: datetime, *,
              message_id: str) -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
            f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
            "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + text.replace("\n", "\r\n") + "\r\n"
            "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + html.replace("\n", "\r\n") + "\r\n--alt--\r\n").encode()


def with_attachment(sender: str, to: str, subject: str, text: str, filename: str,
                    content_type: str, data: bytes, when: datetime, *, message_id: str) -> bytes:
    encoded = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
            f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n'
            "--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + text.replace("\n", "\r\n") + "\r\n"
            f"--mix\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
            + encoded + "--mix--\r\n").encode()


NEWSLETTER = """<html><head><style>.x{color:red}</style></head><body>
<table width="100%" style="background-color:#f3f4f6;padding:16px"><tr><td>
<h1 style="color:#1e3a8a;font-family:Georgia,serif">Spring collection</h1>
<p>Fresh arrivals for the new season, picked for you.</p>
<p><img src="https://images.shop.example/banner.jpg" alt="Spring banner" width="480"></p>
<p><a href="https://shop.example/spring">Browse the collection</a></p>
<img src="https://track.shop.example/open.gif?u=alice" width="1" height="1" alt="">
</td></tr></table></body></html>"""


async def seed_mailbox(store: Store, account_address: str, now: datetime | None = None) -> None:
    """Fill the account's INBOX with a dozen messages of every kind."""
    now = now or datetime.now(UTC)
    account = await store.get_account(account_address)
    assert account is not None
    to = account_address
    messages: list[tuple[bytes, bool]] = [
        (plain("Bob Martin <bob@example.test>", to, "Lunch on Thursday?",
               "Hi!\n\nAre you free for lunch on Thursday? The new place near the station "
               "does a great risotto.\n\nBob", now - timedelta(minutes=12),
               message_id="<lunch@example.test>"), False),
        (with_attachment("Camille Laurent <camille@partner.example>", to, "Quarterly report",
                         "Hello,\n\nPlease find the Q1 figures attached.\n\nBest regards,\n"
                         "Camille", "Q1 report.pdf", "application/pdf",
                         b"%PDF-1.4\n% demo report\n", now - timedelta(hours=2),
                         message_id="<q1@partner.example>"), False),
        (html_mail("Shop <news@shop.example>", to, "Spring collection is here", NEWSLETTER,
                   "Spring collection: https://shop.example/spring",
                   now - timedelta(hours=5), message_id="<spring@shop.example>"), True),
        (plain("Dana Kim <dana@example.test>", to, "Project kickoff",
               "Team,\n\nThe kickoff is on Monday at 10:00 in room 4.\n\nDana",
               now - timedelta(days=1, hours=3), message_id="<kickoff@example.test>"), True),
        (plain("Bob Martin <bob@example.test>", to, "Re: Project kickoff",
               "I'll bring the slides.\n\n> The kickoff is on Monday at 10:00 in room 4.",
               now - timedelta(days=1, hours=1), message_id="<kickoff-re@example.test>",
               references="<kickoff@example.test>"), True),
    ]
    topics = ["Invoice 2024-031", "Your parcel is on its way", "Book club: next title",
              "Photos from the weekend", "Reminder: dentist appointment",
              "Welcome to the community garden", "Flight confirmation LX 1643"]
    for index, subject in enumerate(topics):
        messages.append((plain(f"Service {index} <service{index}@example.org>", to, subject,
                               f"This is message number {index} about {subject.lower()}.",
                               now - timedelta(days=3 + index),
                               message_id=f"<bulk{index}@example.org>"), True))
    for data, seen in sorted(messages, key=lambda m: _date_of(m[0])):
        flags = frozenset({SEEN}) if seen else frozenset()
        await store.deliver(data, [DeliveryTarget(AccountId(account.id), INBOX, flags=flags)])


def _date_of(data: bytes) -> datetime:
    from email.utils import parsedate_to_datetime

    line = data.split(b"Date: ", 1)[1].split(b"\r\n", 1)[0].decode()
    return parsedate_to_datetime(line)

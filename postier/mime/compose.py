"""Build messages a user writes (webmail compose, replies, forwards, drafts) with stdlib email.

How this works: ``build_message`` turns an ``Outgoing`` value into RFC 5322 bytes with CRLF line
endings, ready for ``smtp.submit.submit_message`` (which refuses bare CR or LF) or for the store:
a text/plain body (quoted-printable unless it is short-lined ASCII), and with attachments a
multipart/mixed whose attachments are base64 with RFC 2231 file names. Header fields with
non-ASCII text are RFC 2047 encoded; an address with a non-ASCII local part switches the whole
message to the SMTPUTF8 policy (RFC 6532). Bcc is written only when ``include_bcc`` is set: the
sender's own copy and drafts keep it, the copy that travels never does.

The helpers around it are the small rules of replying: "Re:"/"Fwd:" prefixes that do not pile
up, References that keep the thread (RFC 5322 §3.6.4), quoting, and who gets a reply-all.
Pure: no I/O, no clock (the caller passes the date).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

__all__ = [
    "Outgoing",
    "OutgoingAttachment",
    "build_message",
    "forward_subject",
    "new_message_id",
    "parse_recipients",
    "quote_text",
    "reply_all_recipients",
    "reply_references",
    "reply_subject",
]

MAX_REFERENCES = 20  # keep the first and the newest ones; headers stay a sane size
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_FORWARD_PREFIX = re.compile(r"^\s*((fwd?|wg|tr)\s*:\s*)+", re.IGNORECASE)
_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+")
_SAFE_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


@dataclass(frozen=True, slots=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    sender: tuple[str, str]  # (display name, address)
    date: datetime
    message_id: str  # without angle brackets
    to: tuple[tuple[str, str], ...] = ()
    cc: tuple[tuple[str, str], ...] = ()
    bcc: tuple[tuple[str, str], ...] = ()
    subject: str = ""
    text: str = ""
    attachments: tuple[OutgoingAttachment, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = field(default=())

    def recipients(self) -> list[str]:
        """Every envelope recipient, each once, in order."""
        seen: dict[str, None] = {}
        for _, address in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(address, None)
        return list(seen)


def new_message_id(domain: str) -> str:
    return f"{secrets.token_hex(16)}@{domain or 'localhost'}"


def _header_address(name: str, address: str) -> HeaderAddress:
    local, _, domain = address.rpartition("@")
    return HeaderAddress(display_name=_one_line(name), username=local, domain=domain)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _needs_utf8(message: Outgoing) -> bool:
    addresses = [message.sender, *message.to, *message.cc, *message.bcc]
    return not all(address.isascii() for _, address in addresses)


def _text_encoding(text: str) -> str:
    lines = text.split("\n")
    if text.isascii() and all(len(line) <= 76 for line in lines):
        return "7bit"
    return "quoted-printable"


def _media_type(content_type: str) -> tuple[str, str]:
    value = content_type.strip().lower()
    if not _SAFE_MEDIA_TYPE.fullmatch(value) or value.startswith("multipart/") \
            or value.startswith("message/"):
        value = "application/octet-stream"
    main, _, sub = value.partition("/")
    return main, sub


def build_message(message: Outgoing, *, include_bcc: bool) -> bytes:
    policy = (email_policy.SMTPUTF8 if _needs_utf8(message) else email_policy.SMTP).clone(
        max_line_length=78)
    mail = EmailMessage(policy=policy)
    mail["Date"] = format_datetime(message.date)
    mail["From"] = _header_address(*message.sender)
    if message.to:
        mail["To"] = [_header_address(n, a) for n, a in message.to]
    if message.cc:
        mail["Cc"] = [_header_address(n, a) for n, a in message.cc]
    if include_bcc and message.bcc:
        mail["Bcc"] = [_header_address(n, a) for n, a in message.bcc]
    mail["Subject"] = _one_line(message.subject)
    mail["Message-ID"] = f"<{message.message_id}>"
    if message.in_reply_to:
        mail["In-Reply-To"] = f"<{message.in_reply_to}>"
    if message.references:
        mail["References"] = " ".join(f"<{ref}>" for ref in message.references)
    text = message.text.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    mail.set_content(text, subtype="plain", charset="utf-8", cte=_text_encoding(text))
    for attachment in message.attachments:
        main, sub = _media_type(attachment.content_type)
        mail.add_attachment(attachment.data, maintype=main, subtype=sub,
                            filename=_one_line(attachment.filename) or "attachment")
    for part in mail.iter_attachments():
        del part["MIME-Version"]  # EmailMessage adds it to each part; only the top needs it
    return mail.as_bytes(policy=policy)


def parse_recipients(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """"Ann <ann@example.org>, bob@example.org" → ([(name, address)], [invalid pieces])."""
    good: list[tuple[str, str]] = []
    bad: list[str] = []
    for piece in _split_list(text):
        parsed = getaddresses([piece])
        name, address = parsed[0] if len(parsed) == 1 else ("", "")
        if not address or not _ADDRESS.fullmatch(address) or "\r" in piece or "\n" in piece:
            bad.append(piece)
            continue
        if address.lower() not in {a.lower() for _, a in good}:
            good.append((_one_line(name), address))
    return good, bad


def _split_list(text: str) -> list[str]:
    """Split at commas, semicolons and line breaks outside quotes and angle brackets."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = angle = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"' and not angle:
            quoted = not quoted
        elif char == "<" and not quoted:
            angle = True
        elif char == ">" and not quoted:
            angle = False
        elif char in ",;\n" and not quoted and not angle:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return [piece.strip() for piece in pieces if piece.strip()]


def reply_subject(subject: str) -> str:
    return "Re: " + _REPLY_PREFIX.sub("", subject).strip()


def forward_subject(subject: str) -> str:
    return "Fwd: " + _FORWARD_PREFIX.sub("", subject).strip()


def reply_references(references: Sequence[str], in_reply_to: Sequence[str],
                     message_id: str) -> tuple[str, ...]:
    """RFC 5322 §3.6.4: the parent's References (or In-Reply-To) followed by its Message-ID."""
    chain = list(references) or list(in_reply_to[:1])
    if message_id:
        chain.append(message_id)
    unique = list(dict.fromkeys(chain))
    if len(unique) > MAX_REFERENCES:
        unique = unique[:1] + unique[-(MAX_REFERENCES - 1):]
    return tuple(unique)


def quote_text(text: str, attribution: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    quoted = "\n".join(">" + (" " + line if line and not line.startswith(">") else line)
                       for line in lines)
    return f"\n\n{attribution}\n{quoted}\n"


def reply_all_recipients(
    author: Iterable[tuple[str, str]], to: Iterable[tuple[str, str]],
    cc: Iterable[tuple[str, str]], own_addresses: Iterable[str],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(To, Cc) of a reply-all: the author (Reply-To) in To, everyone else in Cc, never the
    user's own addresses, nobody twice."""
    own = {a.lower() for a in own_addresses}
    seen: set[str] = set()

    def pick(addresses: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        chosen = []
        for name, address in addresses:
            key = address.lower()
            if key in own or key in seen or not address:
                continue
            seen.add(key)
            chosen.append((name, address))
        return chosen

    first = pick(author)
    rest = pick([*to, *cc])
    if not first and rest:  # replying to one's own message: its recipients become To
        return rest, []
    return first, rest

"""Header fields: splitting, unfolding, RFC 2047 encoded-words, addresses, Message-IDs, dates.

How this works: ``header_fields`` splits a header block into fields, keeping each field's raw
bytes (IMAP HEADER.FIELDS returns them verbatim) and stopping at the blank line. A field's
``value`` is the unfolded text after the colon, 8-bit bytes read as UTF-8 (RFC 6532) or else
Windows-1252, but RFC 2047 words still encoded: that raw form is what IMAP ENVELOPE carries.
The other functions turn raw values into meaning and never raise on any input:

- ``decode_words``: RFC 2047 encoded-words, Q and B, any charset Python knows (unknown ones
  decode as UTF-8 with replacement). Whitespace between adjacent encoded-words is dropped
  (RFC 2047 §6.2) and adjacent words in one charset are joined before decoding, which repairs
  multi-byte characters that a sender split across words. Words inside quoted strings and
  glued to other text are decoded too, as every mail reader does.
- ``parse_addresses``: the flat list of mailboxes; groups are flattened (their members are
  listed, their names dropped), which is what search, reply and display want. IMAP ENVELOPE
  keeps group markers: see ``envelope.py``.
- ``parse_message_ids``: ids without their angle brackets, as JMAP stores them.
- ``parse_date``: timezone-aware datetimes; "-0000" and zone-less dates count as UTC.

Encoded-words are decoded here because ``email.header.decode_header`` raises HeaderParseError
on a bad base64 word and ``make_header`` raises LookupError on an unknown charset; patching
around both would leave little of them. Dates use ``email.utils.parsedate_to_datetime``.
"""

from __future__ import annotations

import binascii
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from postier.mime.address_list import RawMailbox, parse_address_list
from postier.mime.charsets import clean_text, decode_header_bytes, decode_text
from postier.mime.transfer import decode_base64
from postier.types import Address

__all__ = [
    "HeaderField",
    "decode_words",
    "first_values",
    "header_fields",
    "parse_addresses",
    "parse_date",
    "parse_message_ids",
    "unfold",
]

_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*)\?=")
_LINE_BREAKS = re.compile(r"[\r\n]+")
_MESSAGE_ID = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One header field as it appears in the message."""

    name: str  # as written; "" for a line without a colon
    raw: bytes  # name, colon, value, folds and final line break, byte for byte

    @property
    def value(self) -> str:
        """Unfolded value, surrounding whitespace removed; RFC 2047 words not decoded."""
        colon = self.raw.find(b":") if self.name else -1
        return unfold(decode_header_bytes(self.raw[colon + 1:]))


def header_fields(block: bytes) -> list[HeaderField]:
    """Split a header block into fields, stopping at the first empty line.

    A line starting with space or tab continues the previous field (RFC 5322 §2.2.3); one at the
    very start of the block, or a line without a colon, becomes a field named "".
    """
    spans: list[list[int]] = []
    pos, size = 0, len(block)
    while pos < size:
        newline = block.find(b"\n", pos)
        line_end = size if newline < 0 else newline + 1
        if block[pos] == 0x0A or block.startswith(b"\r\n", pos):
            break
        if block[pos] in (0x20, 0x09) and spans:
            spans[-1][1] = line_end
        else:
            spans.append([pos, line_end])
        pos = line_end
    fields: list[HeaderField] = []
    for start, end in spans:
        first_line_end = block.find(b"\n", start, end)
        colon = block.find(b":", start, end if first_line_end < 0 else first_line_end)
        name = decode_header_bytes(block[start:colon]).strip() if colon >= 0 else ""
        fields.append(HeaderField(name, block[start:end]))
    return fields


def first_values(fields: Iterable[HeaderField]) -> dict[str, str]:
    """Lower-cased name → value of the first field with that name."""
    values: dict[str, str] = {}
    for field in fields:
        key = field.name.lower()
        if key and key not in values:
            values[key] = field.value
    return values


def unfold(value: str) -> str:
    """Remove the line breaks of folded lines (RFC 5322 §2.2.3) and surrounding whitespace."""
    return _LINE_BREAKS.sub("", value).strip(" \t")


def _decode_payload(encoding: str, text: str) -> bytes:
    payload = text.encode("utf-8")
    if encoding in "bB":
        return decode_base64(payload)
    return binascii.a2b_qp(payload, header=True)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words in an (unfolded or folded) header value."""
    value = unfold(value)
    if "=?" not in value:
        return clean_text(value)
    out: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            out.append(decode_text(bytes(pending), pending_charset))
            pending.clear()
            pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos:match.start()]
        if pending_charset is None or gap.strip(" \t"):
            flush()
            out.append(gap)
        charset = match.group(1).lower()
        if charset != pending_charset:
            flush()
            pending_charset = charset
        pending += _decode_payload(match.group(2), match.group(3))
        pos = match.end()
    flush()
    out.append(value[pos:])
    return clean_text("".join(out))


def parse_addresses(value: str) -> list[Address]:
    """Mailboxes of an address-list, display names decoded; groups flattened."""
    return [
        Address(item.local, item.domain or "", decode_words(item.name) if item.name else "")
        for item in parse_address_list(unfold(value))
        if isinstance(item, RawMailbox)
    ]


def parse_message_ids(value: str) -> list[str]:
    """Message-IDs in a Message-ID, In-Reply-To or References value, without angle brackets.

    Folding inside an id (broken mailers do it) is removed. A value without brackets falls back
    to its whitespace-separated words that contain "@".
    """
    ids = ["".join(m.group(1).split()) for m in _MESSAGE_ID.finditer(value)]
    ids = [i for i in ids if i]
    if not ids and "<" not in value:
        ids = [w for w in value.replace(",", " ").split() if "@" in w]
    return ids


def parse_date(value: str) -> datetime | None:
    """An RFC 5322 date-time as an aware datetime, or None when it cannot be read."""
    text = unfold(value)
    if not text or len(text) > 200:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (ValueError, TypeError, OverflowError, IndexError):
        return None  # impossible dates (Feb 31, offsets beyond a day) are simply absent
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

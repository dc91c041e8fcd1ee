"""The IMAP ENVELOPE of a message header (RFC 9051 §7.5.2), protocol-neutral.

How this works: ``build_envelope`` takes the header fields of one message (the top-level one, or
one embedded as message/rfc822) and keeps, for the first occurrence of each field, exactly what
ENVELOPE carries: raw (unfolded, not RFC 2047-decoded) strings for Date, Subject, In-Reply-To
and Message-ID, and address lists as ``(name, route, mailbox, host)`` with RFC 3501 group
markers. IMAP clients decode encoded-words themselves; the renderer only quotes.

Choices made here rather than in the renderer:

- None means "field absent" (IMAP NIL); a present but empty field is "".
- Sender and Reply-To fall back to From when absent or empty (RFC 3501 §7.4.2 says the server
  does this), so every renderer and the webmail's "reply" agree.
- A mailbox without a domain gets host "" (never None, which would mark a group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from postier.mime.address_list import GroupEnd, GroupStart, parse_address_list
from postier.mime.headers import HeaderField, decode_words, first_values
from postier.mime.jsondata import JsonObject, read_list, read_optional_str
from postier.types import Address

__all__ = ["Envelope", "EnvelopeAddress", "build_envelope"]


@dataclass(frozen=True, slots=True)
class EnvelopeAddress:
    """One ENVELOPE address structure; ``host is None`` marks a group start or end."""

    name: str | None  # raw display name, RFC 2047 words still encoded
    route: str | None  # obsolete source route ("@a,@b")
    mailbox: str | None  # local part; the group name at a group start; None at a group end
    host: str | None

    @property
    def is_group_start(self) -> bool:
        return self.host is None and self.mailbox is not None

    @property
    def is_group_end(self) -> bool:
        return self.host is None and self.mailbox is None

    def to_address(self) -> Address | None:
        """The mailbox as an Address with a decoded name; None for group markers."""
        if self.host is None:
            return None
        return Address(self.mailbox or "", self.host, decode_words(self.name or ""))

    def to_json(self) -> list[str | None]:
        return [self.name, self.route, self.mailbox, self.host]

    @classmethod
    def from_json(cls, data: object) -> EnvelopeAddress:
        if not isinstance(data, list) or len(data) != 4 or \
                not all(v is None or isinstance(v, str) for v in data):
            raise ValueError("envelope address: expected four strings or nulls")
        return cls(data[0], data[1], data[2], data[3])


# attribute → JSON key
_ADDRESS_FIELDS = {"from_": "from", "sender": "sender", "reply_to": "reply_to", "to": "to",
                   "cc": "cc", "bcc": "bcc"}


@dataclass(frozen=True, slots=True)
class Envelope:
    date: str | None = None
    subject: str | None = None
    from_: tuple[EnvelopeAddress, ...] = ()
    sender: tuple[EnvelopeAddress, ...] = ()
    reply_to: tuple[EnvelopeAddress, ...] = ()
    to: tuple[EnvelopeAddress, ...] = ()
    cc: tuple[EnvelopeAddress, ...] = ()
    bcc: tuple[EnvelopeAddress, ...] = ()
    in_reply_to: str | None = None
    message_id: str | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {}
        for key in ("date", "subject", "in_reply_to", "message_id"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        for attribute, key in _ADDRESS_FIELDS.items():
            addresses: tuple[EnvelopeAddress, ...] = getattr(self, attribute)
            if addresses:
                data[key] = [a.to_json() for a in addresses]
        return data

    @classmethod
    def from_json(cls, data: JsonObject) -> Envelope:
        def addresses(key: str) -> tuple[EnvelopeAddress, ...]:
            return tuple(EnvelopeAddress.from_json(a) for a in read_list(data, key))

        return cls(
            date=read_optional_str(data, "date"),
            subject=read_optional_str(data, "subject"),
            from_=addresses("from"),
            sender=addresses("sender"),
            reply_to=addresses("reply_to"),
            to=addresses("to"),
            cc=addresses("cc"),
            bcc=addresses("bcc"),
            in_reply_to=read_optional_str(data, "in_reply_to"),
            message_id=read_optional_str(data, "message_id"),
        )


def _envelope_addresses(value: str | None) -> tuple[EnvelopeAddress, ...]:
    if not value:
        return ()
    out: list[EnvelopeAddress] = []
    for item in parse_address_list(value):
        if isinstance(item, GroupStart):
            out.append(EnvelopeAddress(None, None, item.name, None))
        elif isinstance(item, GroupEnd):
            out.append(EnvelopeAddress(None, None, None, None))
        else:
            out.append(EnvelopeAddress(item.name, item.route, item.local, item.domain or ""))
    return tuple(out)


def build_envelope(fields: Sequence[HeaderField]) -> Envelope:
    values = first_values(fields)
    from_ = _envelope_addresses(values.get("from"))
    return Envelope(
        date=values.get("date"),
        subject=values.get("subject"),
        from_=from_,
        sender=_envelope_addresses(values.get("sender")) or from_,
        reply_to=_envelope_addresses(values.get("reply-to")) or from_,
        to=_envelope_addresses(values.get("to")),
        cc=_envelope_addresses(values.get("cc")),
        bcc=_envelope_addresses(values.get("bcc")),
        in_reply_to=values.get("in-reply-to"),
        message_id=values.get("message-id"),
    )

"""ENVELOPE, BODY and BODYSTRUCTURE values (RFC 9051 §7.5.2, RFC 3501 §7.4.2) as response atoms.

How this works
--------------
The text is rendered by ``mime/imap_text.py`` (pure, so delivery can pre-encode it into the
summary JSON); here it becomes one :class:`Atom`, written verbatim by the serializer, because
the grammar writes some lists without a space between their items. See that module for the
choices made (quoting, 8-bit text for IMAP4rev1 clients, NIL stand-ins).
"""

from __future__ import annotations

from collections.abc import Mapping

from postier.imap.responses import Atom
from postier.mime import Envelope, Part
from postier.mime.imap_text import (
    ascii_text,
    body_structure_text,
    envelope_text,
    stored_envelope_text,
)

__all__ = ["ascii_text", "body_structure", "envelope_value", "stored_envelope_value"]


def envelope_value(envelope: Envelope, utf8: bool) -> Atom:
    """ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, message-id."""
    return Atom(envelope_text(envelope, utf8))


def stored_envelope_value(data: Mapping[str, object], utf8: bool) -> Atom:
    """``envelope_value(Envelope.from_json(data), utf8)`` without building the objects.

    Raises ValueError on data that ``Envelope.from_json`` refuses.
    """
    return Atom(stored_envelope_text(data, utf8))


def body_structure(part: Part, *, extensible: bool, utf8: bool) -> Atom:
    """BODYSTRUCTURE (``extensible``) or BODY of the message whose root part is ``part``."""
    return Atom(body_structure_text(part, extensible=extensible, utf8=utf8))

"""What the store keeps about a message besides its bytes: envelope, search fields, preview,
attachments, and the text for the full-text index. Computed once, at delivery.

How this works: ``summarize`` reads the top-level header once (envelope.py keeps the raw ENVELOPE
strings; the search fields are the same headers RFC 2047-decoded) and walks the top-level
message's parts without entering attached messages:

- preview (RFC 8970): the first text/plain body part, else the first text/html one converted to
  text, whitespace collapsed, at most PREVIEW_LENGTH characters.
- attachments: leaf parts the user would call attachments: anything with
  ``Content-Disposition: attachment``, anything with a file name, and any non-text part, except
  signatures (their parts only prove the rest) and the inline resources of a multipart/related
  (images referenced from its HTML root, RFC 2387). Numbered like IMAP sections, so the webmail
  fetches one with ``extract(data, tree, attachment.path)``.

``search_text`` is separate because it is large: the decoded text of every text/* part,
attached messages included, capped at SEARCH_TEXT_LIMIT characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from postier.mime.envelope import Envelope, build_envelope
from postier.mime.headers import (
    decode_words,
    first_values,
    header_fields,
    parse_date,
    parse_message_ids,
)
from postier.mime.imap_text import ImapForms, imap_forms
from postier.mime.jsondata import (
    JsonObject,
    read_int,
    read_list,
    read_object,
    read_optional_str,
    read_str,
)
from postier.mime.parse import MAX_HEADER_BYTES
from postier.mime.text import collapse_whitespace, part_text
from postier.mime.tree import MessageTree, Part

__all__ = ["PREVIEW_LENGTH", "SEARCH_TEXT_LIMIT", "Attachment", "MessageSummary", "search_text",
           "summarize"]

PREVIEW_LENGTH = 200  # RFC 8970 allows up to 256
SEARCH_TEXT_LIMIT = 1_000_000  # characters
_PREVIEW_SOURCE_BYTES = {"plain": 16 * 1024, "html": 256 * 1024}
_SIGNATURE_TYPES = frozenset({
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-encrypted",  # only the version line of a multipart/encrypted
})
_PATH_SEPARATORS = re.compile(r"[/\\]")


@dataclass(frozen=True, slots=True)
class Attachment:
    path: tuple[int, ...]  # IMAP section numbering
    filename: str  # decoded, directory part removed; "" when the sender gave none
    content_type: str
    size: int  # decoded size in octets, estimated from the stored size for base64

    def to_json(self) -> dict[str, object]:
        return {"path": list(self.path), "filename": self.filename,
                "content_type": self.content_type, "size": self.size}

    @classmethod
    def from_json(cls, data: JsonObject) -> Attachment:
        path: list[int] = []
        for number in read_list(data, "path"):
            if not isinstance(number, int):
                raise ValueError("'path': expected integers")
            path.append(number)
        return cls(tuple(path), read_str(data, "filename"),
                   read_str(data, "content_type"), read_int(data, "size"))


@dataclass(frozen=True, slots=True)
class MessageSummary:
    envelope: Envelope
    subject: str = ""  # decoded
    from_: str = ""  # decoded header text: names and addresses, for SEARCH FROM and display
    to: str = ""
    cc: str = ""
    bcc: str = ""
    date: datetime | None = None
    message_id: str = ""  # without angle brackets
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    preview: str = ""
    attachments: tuple[Attachment, ...] = ()
    imap: ImapForms | None = None  # ENVELOPE/BODYSTRUCTURE wire text, pre-encoded at delivery

    @property
    def has_attachments(self) -> bool:
        return bool(self.attachments)

    def to_json(self) -> dict[str, object]:
        # The IMAP texts come first: FETCH reads them without parsing the rest (stored_message.py).
        return {
            **(self.imap.to_json() if self.imap is not None else {}),
            "envelope": self.envelope.to_json(),
            "subject": self.subject,
            "from": self.from_,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "date": self.date.isoformat() if self.date is not None else None,
            "message_id": self.message_id,
            "in_reply_to": list(self.in_reply_to),
            "references": list(self.references),
            "preview": self.preview,
            "attachments": [a.to_json() for a in self.attachments],
            "has_attachments": self.has_attachments,  # for queries; ignored when read back
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> MessageSummary:
        def strings(key: str) -> tuple[str, ...]:
            values = read_list(data, key)
            if not all(isinstance(v, str) for v in values):
                raise ValueError(f"{key!r}: expected strings")
            return tuple(str(v) for v in values)

        date = read_optional_str(data, "date")
        return cls(
            envelope=Envelope.from_json(read_object(data.get("envelope", {}))),
            subject=read_str(data, "subject", ""),
            from_=read_str(data, "from", ""),
            to=read_str(data, "to", ""),
            cc=read_str(data, "cc", ""),
            bcc=read_str(data, "bcc", ""),
            date=datetime.fromisoformat(date) if date is not None else None,
            message_id=read_str(data, "message_id", ""),
            in_reply_to=strings("in_reply_to"),
            references=strings("references"),
            preview=read_str(data, "preview", ""),
            attachments=tuple(Attachment.from_json(read_object(a))
                              for a in read_list(data, "attachments")),
            imap=_imap_forms_from_json(data),
        )


def _imap_forms_from_json(data: JsonObject) -> ImapForms | None:
    envelope = read_optional_str(data, "imap_envelope")
    structure = read_optional_str(data, "imap_bodystructure")
    if envelope is None or structure is None:
        return None
    return ImapForms(envelope, read_optional_str(data, "imap_envelope_utf8"), structure,
                     read_optional_str(data, "imap_bodystructure_utf8"))


def _leaves(root: Part) -> Iterator[tuple[tuple[int, ...], Part, Part | None]]:
    """(section path, part, parent) of the top-level message's leaf parts, in order."""
    if not root.children:
        yield (1,), root, None
        return
    stack: list[tuple[tuple[int, ...], Part, Part]] = [
        ((n,), child, root) for n, child in reversed(list(enumerate(root.children, 1)))]
    while stack:
        path, part, parent = stack.pop()
        if part.children:
            stack.extend(((*path, n), child, part)
                         for n, child in reversed(list(enumerate(part.children, 1))))
        else:
            yield path, part, parent


def _filename(part: Part) -> str:
    raw = part.disposition_params.get("filename") or part.params.get("name") or ""
    return _PATH_SEPARATORS.split(decode_words(raw))[-1].strip()


def _is_attachment(part: Part, parent: Part | None, filename: str) -> bool:
    if part.media_type == "multipart" or part.content_type in _SIGNATURE_TYPES:
        return False
    if part.disposition == "attachment":
        return True
    if parent is not None and parent.subtype == "related" and part is not parent.children[0]:
        return False
    return bool(filename) or part.media_type != "text"


def _decoded_size(data: bytes, part: Part) -> int:
    if part.encoding != "base64":
        return part.size
    line_breaks = (data.count(b"\n", part.body_start, part.end)
                   + data.count(b"\r", part.body_start, part.end))
    return max(part.size - line_breaks, 0) * 3 // 4


def _preview(data: bytes, bodies: list[Part]) -> str:
    for subtype in ("plain", "html"):
        part = next((p for p in bodies if p.subtype == subtype), None)
        if part is not None:
            text = _collapsed_prefix(part_text(data, part, _PREVIEW_SOURCE_BYTES[subtype]))
            return text[:PREVIEW_LENGTH].rstrip()
    return ""


def _collapsed_prefix(text: str) -> str:
    """``collapse_whitespace(text)`` as far as the preview needs it. Collapsing only shrinks
    text, so a prefix that still yields more than PREVIEW_LENGTH characters gives the same
    preview; this runs once per delivery, where the whole body was a measurable cost."""
    window = PREVIEW_LENGTH * 4
    while True:
        collapsed = collapse_whitespace(text[:window])
        if len(collapsed) > PREVIEW_LENGTH or window >= len(text):
            return collapsed
        window *= 4


def summarize(data: bytes, tree: MessageTree) -> MessageSummary:
    root = tree.root
    fields = header_fields(data[root.start:min(root.body_start, root.start + MAX_HEADER_BYTES)])
    values = first_values(fields)
    attachments: list[Attachment] = []
    bodies: list[Part] = []  # text parts that are not attachments, candidates for the preview
    for path, part, parent in _leaves(root):
        filename = _filename(part)
        if _is_attachment(part, parent, filename):
            attachments.append(
                Attachment(path, filename, part.content_type, _decoded_size(data, part)))
        elif part.media_type == "text":
            bodies.append(part)
    envelope = build_envelope(fields)
    return MessageSummary(
        envelope=envelope,
        subject=decode_words(values.get("subject", "")),
        from_=decode_words(values.get("from", "")),
        to=decode_words(values.get("to", "")),
        cc=decode_words(values.get("cc", "")),
        bcc=decode_words(values.get("bcc", "")),
        date=parse_date(values.get("date", "")),
        message_id=next(iter(parse_message_ids(values.get("message-id", ""))), ""),
        in_reply_to=tuple(parse_message_ids(values.get("in-reply-to", ""))),
        references=tuple(parse_message_ids(values.get("references", ""))),
        preview=_preview(data, bodies),
        attachments=tuple(attachments),
        imap=imap_forms(envelope, root),
    )


def search_text(data: bytes, tree: MessageTree) -> str:
    """Decoded text of every text/* part, attached messages included, for a full-text index."""
    pieces: list[str] = []
    budget = SEARCH_TEXT_LIMIT
    for part in tree.walk():
        if budget <= 0:
            break
        if part.media_type != "text" or part.children:
            continue
        # Markup and transfer encoding shrink on decoding; four bytes per character left is
        # plenty and bounds the work on huge parts.
        text = part_text(data, part, budget * 4)[:budget]
        if text:
            pieces.append(text)
            budget -= len(text) + 1
    return "\n".join(pieces)

"""The MIME part tree: byte offsets plus parsed MIME fields, storable as JSON.

How this works: a ``Part`` is one MIME entity inside the original message bytes::

    start            first byte of the entity's header
    body_start       first byte of its body (just after the blank line; == end if none)
    end              one past its last body byte; for a part of a multipart, the line break
                     before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1)

Invariants: ``start <= body_start <= end``; children lie inside the body, in order, without
overlap; an embedded message (``message``, for message/rfc822 and message/global) spans the
whole body of its container. Sections (sections.py) and IMAP BODYSTRUCTURE are computed from
these fields alone, so a stored tree answers them without re-parsing. For the same reason the
envelope of an embedded message is kept on its message/rfc822 container part (``envelope``);
the top-level envelope is in the message summary.

Types and parameter names are lower-case; parameter values are RFC 2231-decoded text. A
multipart whose parts could not be found (no boundary, boundary never seen) has no children:
treat it as a leaf (Dovecot renders it as an empty text/plain in BODYSTRUCTURE).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from postier.mime.envelope import Envelope
from postier.mime.jsondata import (
    JsonObject,
    read_int,
    read_list,
    read_object,
    read_optional_str,
    read_str,
    read_str_map,
)

__all__ = ["MessageTree", "Part"]


@dataclass(frozen=True, slots=True)
class Part:
    start: int
    body_start: int
    end: int
    media_type: str = "text"
    subtype: str = "plain"
    params: dict[str, str] = field(default_factory=dict)  # read-only by convention
    content_id: str | None = None
    description: str | None = None  # raw: RFC 2047 words still encoded, as IMAP wants it
    encoding: str = "7bit"  # Content-Transfer-Encoding, lower-cased
    disposition: str | None = None
    disposition_params: dict[str, str] = field(default_factory=dict)
    language: tuple[str, ...] = ()
    location: str | None = None
    md5: str | None = None
    lines: int = 0  # body lines; a last line without a line break counts
    children: tuple[Part, ...] = ()
    message: Part | None = None  # the embedded message of a message/rfc822 or message/global part
    envelope: Envelope | None = None  # ... and its envelope

    @property
    def content_type(self) -> str:
        return f"{self.media_type}/{self.subtype}"

    @property
    def size(self) -> int:
        """Body size in octets, as stored (still transfer-encoded)."""
        return self.end - self.body_start

    @property
    def is_multipart(self) -> bool:
        """A multipart with parts; one without parts is a leaf for numbering and structure."""
        return bool(self.children)

    def walk(self) -> Iterator[Part]:
        """This part and everything below it, depth first, embedded messages included."""
        yield self
        for child in self.children:
            yield from child.walk()
        if self.message is not None:
            yield from self.message.walk()

    def shifted(self, offset: int) -> Part:
        return dataclasses.replace(
            self,
            start=self.start + offset,
            body_start=self.body_start + offset,
            end=self.end + offset,
            children=tuple(child.shifted(offset) for child in self.children),
            message=self.message.shifted(offset) if self.message is not None else None,
        )

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "start": self.start,
            "body_start": self.body_start,
            "end": self.end,
            "type": self.media_type,
            "subtype": self.subtype,
            "lines": self.lines,
        }
        if self.encoding != "7bit":
            data["encoding"] = self.encoding
        optional: dict[str, object] = {
            "params": self.params,
            "id": self.content_id,
            "description": self.description,
            "disposition": self.disposition,
            "disposition_params": self.disposition_params,
            "language": list(self.language),
            "location": self.location,
            "md5": self.md5,
            "children": [child.to_json() for child in self.children],
            "message": self.message.to_json() if self.message is not None else None,
        }
        data.update((key, value) for key, value in optional.items() if value or value == "")
        if self.envelope is not None:  # an empty envelope ({}) is still an envelope
            data["envelope"] = self.envelope.to_json()
        return data

    @classmethod
    def from_json(cls, data: JsonObject) -> Part:
        message = data.get("message")
        envelope = data.get("envelope")
        language = read_list(data, "language")
        if not all(isinstance(tag, str) for tag in language):
            raise ValueError("'language': expected strings")
        return cls(
            start=read_int(data, "start"),
            body_start=read_int(data, "body_start"),
            end=read_int(data, "end"),
            media_type=read_str(data, "type"),
            subtype=read_str(data, "subtype"),
            params=read_str_map(data, "params"),
            content_id=read_optional_str(data, "id"),
            description=read_optional_str(data, "description"),
            encoding=read_str(data, "encoding", "7bit"),
            disposition=read_optional_str(data, "disposition"),
            disposition_params=read_str_map(data, "disposition_params"),
            language=tuple(str(tag) for tag in language),
            location=read_optional_str(data, "location"),
            md5=read_optional_str(data, "md5"),
            lines=read_int(data, "lines", 0),
            children=tuple(cls.from_json(read_object(c)) for c in read_list(data, "children")),
            message=cls.from_json(read_object(message)) if message is not None else None,
            envelope=Envelope.from_json(read_object(envelope)) if envelope is not None else None,
        )


@dataclass(frozen=True, slots=True)
class MessageTree:
    """The parsed structure of one message; ``root`` spans all of its bytes."""

    root: Part
    FORMAT: ClassVar[int] = 1  # bumped when the JSON shape changes: stored trees are re-parsed

    def walk(self) -> Iterator[Part]:
        return self.root.walk()

    def shifted(self, offset: int) -> MessageTree:
        """The tree of ``prefix + data`` where ``prefix`` is ``offset`` bytes of header lines.

        The top-level part still starts at 0 (the prefix joins its header); everything else
        moves by ``offset``. Exact as long as the prefix holds no MIME fields and the header
        stays under the parser's MAX_HEADER_BYTES.
        """
        if offset == 0:
            return self
        return MessageTree(dataclasses.replace(self.root.shifted(offset), start=self.root.start))

    def to_json(self) -> dict[str, object]:
        return {"format": self.FORMAT, "root": self.root.to_json()}

    @classmethod
    def from_json(cls, data: JsonObject) -> MessageTree:
        """Rebuild a tree from ``to_json`` data; ValueError on anything else or an old format."""
        if read_int(data, "format", 0) != cls.FORMAT:
            raise ValueError("unsupported message tree format")
        return cls(Part.from_json(read_object(data.get("root"))))

"""One message as FETCH sees it: the record, maybe its bytes, and its stored JSON parsed lazily.

How this works
--------------
``StoredMessage`` reads ``structure_json`` (the part tree) and ``summary_json`` (envelope,
preview) only when an item asks for them, once each. A :class:`StructureCache` keeps the parsed
JSON of the last few messages, keyed by record id and blob, so a client fetching
BODYSTRUCTURE and then the parts of the same message parses it once; it is bounded by entries,
not by bytes, so it belongs to one session.

Stored data that cannot be read (corrupt, or from an older format) is rebuilt from the message
bytes when they are at hand; otherwise the message counts as a single text/plain body of
RFC822.SIZE octets with an empty envelope. Such stand-ins are never cached, so a later FETCH
that does read the body gets the real structure.

ENVELOPE and BODYSTRUCTURE are usually not rendered at all: delivery pre-encoded their wire text
and ``mime.summarize`` put it at the start of the summary JSON (``"imap_envelope"``, then
``"imap_envelope_utf8"`` when it differs, ``"imap_bodystructure"``, ...).
:func:`pre_encoded` reads those leading keys with the JSON string scanner and stops there,
without parsing the rest of the summary: a mailbox-wide FETCH ENVELOPE costs a few
microseconds a message. Text that could break the response line (CR, LF, NUL; 8-bit text for
an IMAP4rev1 client) is not trusted: the caller renders from the parsed JSON instead, as it
does for messages stored before the pre-encoded forms existed.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from json.decoder import scanstring  # type: ignore[attr-defined]  # C, not in the stubs

from postier.imap.bodystructure import body_structure, envelope_value, stored_envelope_value
from postier.imap.responses import Atom
from postier.mime import Envelope, MessageTree, Part, parse_message, summarize
from postier.types import MessageRecord

__all__ = ["ParsedJson", "StoredMessage", "StructureCache", "pre_encoded"]

_EMPTY_ENVELOPE = Envelope()
_FORMS_START = '{"imap_'
_ENVELOPE_START = '{"imap_envelope":"'
_UTF8_ENVELOPE_NEXT = ',"imap_envelope_utf8":"'


def pre_encoded(summary_json: str, key: str, utf8: bool) -> str | None:
    """The pre-encoded text ``key`` (``"imap_envelope"``, ``"imap_bodystructure"``) for this
    client from the start of a summary JSON, or None when it is not there or not safe to send.
    A UTF-8 client gets ``key + "_utf8"`` when stored (the plain form otherwise)."""
    if key == "imap_envelope" and summary_json.startswith(_ENVELOPE_START):
        # What delivery writes: the envelope first, its UTF-8 form (if any) right after.
        try:
            text, end = scanstring(summary_json, len(_ENVELOPE_START))
            if utf8 and summary_json.startswith(_UTF8_ENVELOPE_NEXT, end):
                text = scanstring(summary_json, end + len(_UTF8_ENVELOPE_NEXT))[0]
        except ValueError:
            return None
        return _safe(text, utf8)
    if not summary_json.startswith(_FORMS_START):
        return None
    utf8_key = key + "_utf8"
    found: str | None = None
    position = 1
    try:
        while summary_json.startswith('"imap_', position):
            name, position = scanstring(summary_json, position + 1)
            position = _after(summary_json, position, ":")
            if position < 0 or summary_json[position] != '"':
                return None
            value, position = scanstring(summary_json, position + 1)
            if name == key:
                found = value
                if not utf8:
                    break
            elif name == utf8_key:
                if utf8:
                    found = value
                break
            elif found is not None:
                break
            position = _after(summary_json, position, ",")
            if position < 0:
                break
    except (ValueError, IndexError):
        return None
    return None if found is None else _safe(found, utf8)


def _safe(text: str, utf8: bool) -> str | None:
    """``text`` unless it could break the response line or is 8-bit for an IMAP4rev1 client."""
    if "\r" in text or "\n" in text or "\x00" in text or not (utf8 or text.isascii()):
        return None
    return text


def _after(text: str, position: int, separator: str) -> int:
    """The position after ``separator`` and the JSON whitespace around it, or -1 when
    something else is there (IndexError at the end of the text)."""
    while text[position] in " \t\r\n":
        position += 1
    if text[position] != separator:
        return -1
    position += 1
    while text[position] in " \t\r\n":
        position += 1
    return position


def _stored_root_span(structure_json: str) -> tuple[int, int, int] | None:
    try:
        data = json.loads(structure_json)
        if data.get("format") != MessageTree.FORMAT:
            return None
        root = data["root"]
        start, body_start, end = root["start"], root["body_start"], root["end"]
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    if type(start) is int and type(body_start) is int and type(end) is int \
            and 0 <= start <= body_start <= end:
        return start, body_start, end
    return None


class ParsedJson:
    """What was read from one record's JSON columns; None until first read."""

    __slots__ = ("summary", "tree")

    def __init__(self) -> None:
        self.tree: MessageTree | None = None
        self.summary: Mapping[str, object] | None = None


class StructureCache:
    """The parsed JSON of the last ``size`` messages rendered; bounded, so safe per session."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, str], ParsedJson] = OrderedDict()

    def entry(self, record: MessageRecord) -> ParsedJson:
        key = (record.id, record.blob_id)
        parsed = self._entries.get(key)
        if parsed is None:
            parsed = self._entries[key] = ParsedJson()
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return parsed


class StoredMessage:
    __slots__ = ("_fallback_summary", "_fallback_tree", "_parsed", "body", "record")

    def __init__(self, record: MessageRecord, body: bytes | None,
                 cache: StructureCache | None = None) -> None:
        self.record = record
        self.body = body
        self._parsed = cache.entry(record) if cache is not None else ParsedJson()
        self._fallback_tree: MessageTree | None = None
        self._fallback_summary: Mapping[str, object] | None = None

    def data(self) -> bytes:
        if self.body is None:
            raise ValueError("this FETCH needs the message body (see needs_body)")
        return self.body

    def tree(self) -> MessageTree:
        if self._parsed.tree is not None:
            return self._parsed.tree
        if self._fallback_tree is not None:
            return self._fallback_tree
        try:
            self._parsed.tree = MessageTree.from_json(json.loads(self.record.structure_json))
            return self._parsed.tree
        except (ValueError, TypeError, AttributeError, RecursionError):
            pass
        if self.body is not None:
            self._fallback_tree = parse_message(self.body)
        else:
            self._fallback_tree = MessageTree(Part(start=0, body_start=0, end=self.record.size))
        return self._fallback_tree

    def root_span(self) -> tuple[int, int, int]:
        """(start, body_start, end) of the whole message: BODY[HEADER] and BODY[TEXT] need no
        more, so the offsets are taken from the stored JSON without rebuilding the part tree."""
        tree = self._parsed.tree or self._fallback_tree
        if tree is None:
            span = _stored_root_span(self.record.structure_json)
            if span is not None and (self.body is None or span[2] <= len(self.body)):
                return span
            tree = self.tree()
        return tree.root.start, tree.root.body_start, tree.root.end

    def summary(self) -> Mapping[str, object]:
        if self._parsed.summary is not None:
            return self._parsed.summary
        if self._fallback_summary is not None:
            return self._fallback_summary
        try:
            loaded = json.loads(self.record.summary_json)
        except (ValueError, RecursionError):
            loaded = None
        if isinstance(loaded, Mapping):
            self._parsed.summary = loaded
            return loaded
        self._fallback_summary = (summarize(self.body, parse_message(self.body)).to_json()
                                  if self.body is not None else {})
        return self._fallback_summary

    def envelope_value(self, utf8: bool) -> Atom:
        text = pre_encoded(self.record.summary_json, "imap_envelope", utf8)
        if text is not None:
            return Atom(text)
        raw = self.summary().get("envelope")
        if isinstance(raw, Mapping):
            try:
                return stored_envelope_value(raw, utf8)
            except ValueError:
                pass
        return envelope_value(_EMPTY_ENVELOPE, utf8)

    def body_structure_value(self, extensible: bool, utf8: bool) -> Atom:
        """BODYSTRUCTURE (``extensible``) or BODY."""
        if extensible:
            text = pre_encoded(self.record.summary_json, "imap_bodystructure", utf8)
            if text is not None:
                return Atom(text)
        return body_structure(self.tree().root, extensible=extensible, utf8=utf8)

    def preview(self) -> str:
        preview = self.summary().get("preview")
        return preview if isinstance(preview, str) else ""

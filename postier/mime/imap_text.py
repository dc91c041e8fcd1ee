"""ENVELOPE, BODY and BODYSTRUCTURE as IMAP wire text (RFC 9051 §7.5.2, RFC 3501 §7.4.2).

How this works
--------------
Both come from what delivery parsed, never from the message bytes: the envelope from the
summary (``mime.Envelope``, which already keeps NIL apart from "" and defaults Sender and
Reply-To to From, RFC 3501 §7.4.2), the structure from the part tree (``mime.Part``).

Both are the finished text (imap/bodystructure.py wraps it as one ``Atom``), because the grammar
writes some lists without a space between their items (``env-from = "(" 1*address ")"``,
``body-type-mpart = 1*body SP media-subtype``, RFC 9051 §9) while the IMAP serializer separates
list items with a space. The text can always use quoted strings: stored header values are
unfolded (no CR/LF) and NUL-free, and 8-bit text is either allowed (``utf8``) or encoded away
as below.

The renderer lives here, below the protocols, because delivery pre-encodes what FETCH sends:
:func:`imap_forms` is called by ``summarize`` and its texts are kept at the start of the
summary JSON (``ImapForms.to_json``), for IMAP4rev1 clients and, when they differ, for UTF-8
ones. ``stored_envelope_text`` renders the envelope straight from the summary JSON, for
messages stored before the pre-encoded forms existed.

Choices, mostly as Dovecot and Cyrus make them:

- Media types, subtypes, encodings, parameter names and disposition types are upper-cased, as
  in the RFC examples; values are sent as stored. No Content-Transfer-Encoding is "7BIT".
- Every text/* part carries a charset parameter, "US-ASCII" when the message named none
  (RFC 2045 §5.2, RFC 2046 §4.1.2).
- A message/rfc822 or message/global part whose content was not parsed (it was base64 or
  quoted-printable encoded) gets an all-NIL envelope and an empty text/plain body, so a
  client's parser still finds the fields the grammar promises. A multipart without parts gets
  one empty text/plain part: ``1*body`` cannot be empty.
- For IMAP4rev1 clients without UTF8=ACCEPT, 8-bit text must not appear in quoted strings.
  Non-ASCII parameter values are sent RFC 2231-encoded (``NAME*`` ``UTF-8''%E2%82%AC``), host
  names as IDNA A-labels, and any other non-ASCII header text as RFC 2047 encoded-words, which
  is what RFC 6857 §3 does when it downgrades a message for such a client.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from postier.mime.envelope import Envelope, EnvelopeAddress
from postier.mime.tree import Part

__all__ = ["ImapForms", "ascii_text", "body_structure_text", "envelope_text", "imap_forms",
           "stored_envelope_text"]

_EMPTY_ENVELOPE = Envelope()
_EMPTY_BODY = '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0'
_EMBEDDED = frozenset({"rfc822", "global"})
_ATTRIBUTE_SAFE = "!#$&+-.^_`|~"  # RFC 2231 attribute-char besides letters and digits
_WORD_OCTETS = 45  # UTF-8 octets per encoded-word: 60 base64 characters, 72 in all (max 75)
# The JSON shape of mime.Envelope.to_json; a test pins stored_envelope_value to envelope_value.
_JSON_TEXT_KEYS = ("date", "subject")
_JSON_ADDRESS_KEYS = ("from", "sender", "reply_to", "to", "cc", "bcc")
_JSON_ID_KEYS = ("in_reply_to", "message_id")

_SPECIAL = re.compile(r'["\\\r\n\x00]')
_Address = tuple[str | None, str | None, str | None, str | None]  # name, route, mailbox, host


def ascii_text(text: str, utf8: bool) -> str:
    """``text`` as it may appear in a quoted string for this client (see the docstring)."""
    if utf8 or text.isascii():
        return text
    words: list[str] = []
    chunk = ""
    for char in text:  # split on character boundaries, never inside a UTF-8 sequence
        if len((chunk + char).encode("utf-8")) > _WORD_OCTETS:
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return " ".join("=?UTF-8?B?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?="
                    for w in words)


def _host(host: str, utf8: bool) -> str:
    if utf8 or host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return ascii_text(host, utf8)


def _quote(text: str) -> str:
    if _SPECIAL.search(text) is None:  # the common case: nothing to escape or drop
        return f'"{text}"'
    if "\r" in text or "\n" in text or "\x00" in text:  # not in stored data; never break a line
        text = text.replace("\r", " ").replace("\n", " ").replace("\x00", "")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _nstring(text: str | None, utf8: bool) -> str:
    if text is None:
        return "NIL"
    return _quote(text if utf8 or text.isascii() else ascii_text(text, utf8))


# -- ENVELOPE ------------------------------------------------------------------------------------


def _address_list(addresses: list[_Address], utf8: bool) -> str:
    if not addresses:
        return "NIL"
    return "(" + "".join(
        f"({_nstring(name, utf8)} {_nstring(route, utf8)} {_nstring(mailbox, utf8)} "
        f"{'NIL' if host is None else _quote(_host(host, utf8))})"
        for name, route, mailbox, host in addresses) + ")"


def _envelope_text(texts: list[str | None], lists: list[list[_Address]], ids: list[str | None],
                   utf8: bool) -> str:
    return "(" + " ".join([*(_nstring(text, utf8) for text in texts),
                           *(_address_list(addresses, utf8) for addresses in lists),
                           *(_nstring(text, utf8) for text in ids)]) + ")"


def _tuples(addresses: tuple[EnvelopeAddress, ...]) -> list[_Address]:
    return [(a.name, a.route, a.mailbox, a.host) for a in addresses]


def envelope_text(envelope: Envelope, utf8: bool) -> str:
    """ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, message-id."""
    return _envelope_text(
        [envelope.date, envelope.subject],
        [_tuples(envelope.from_), _tuples(envelope.sender), _tuples(envelope.reply_to),
         _tuples(envelope.to), _tuples(envelope.cc), _tuples(envelope.bcc)],
        [envelope.in_reply_to, envelope.message_id], utf8)


def _json_text(value: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise ValueError("envelope: expected a string or null")


def _json_addresses(value: object) -> list[_Address]:
    if value is None:
        return []
    if type(value) is not list:
        raise ValueError("envelope: expected a list of addresses")
    out: list[_Address] = []
    for address in value:
        if type(address) is not list or len(address) != 4:
            raise ValueError("envelope: expected four strings or nulls")
        name, route, mailbox, host = address
        out.append((_json_text(name), _json_text(route), _json_text(mailbox), _json_text(host)))
    return out


def stored_envelope_text(data: Mapping[str, object], utf8: bool) -> str:
    """``envelope_text(Envelope.from_json(data), utf8)`` without building the objects.

    Raises ValueError on data that ``Envelope.from_json`` refuses.
    """
    get = data.get
    rendered: list[tuple[object, str]] = []  # Sender and Reply-To are usually From again
    lists: list[str] = []
    for key in _JSON_ADDRESS_KEYS:
        raw = get(key)
        text = "NIL" if not raw else next((t for r, t in rendered if r == raw), None)
        if text is None:
            text = _address_list(_json_addresses(raw), utf8)
            rendered.append((raw, text))
        lists.append(text)
    texts = [_nstring(_json_text(get(key)), utf8) for key in _JSON_TEXT_KEYS]
    ids = [_nstring(_json_text(get(key)), utf8) for key in _JSON_ID_KEYS]
    return "(" + " ".join(texts + lists + ids) + ")"


# -- BODY and BODYSTRUCTURE ----------------------------------------------------------------------


def _params(params: Mapping[str, str], utf8: bool, default_charset: bool = False) -> str:
    """body-fld-param: NIL, or ("NAME" "value" ...)."""
    items: list[str] = []
    for name, value in params.items():
        if utf8 or value.isascii():
            items += (_quote(ascii_text(name.upper(), utf8)), _quote(value))
        else:  # RFC 2231 §4: charset''percent-encoded octets
            encoded = urllib.parse.quote(value.encode("utf-8"), safe=_ATTRIBUTE_SAFE)
            items += (_quote(ascii_text(name.upper(), utf8) + "*"), _quote("UTF-8''" + encoded))
    if default_charset and "charset" not in params:
        items += ('"CHARSET"', '"US-ASCII"')
    return "(" + " ".join(items) + ")" if items else "NIL"


def _extension(part: Part, utf8: bool) -> str:
    """body-fld-dsp SP body-fld-lang SP body-fld-loc, shared by both kinds of body."""
    if part.disposition is None:
        disposition = "NIL"
    else:
        disposition = (f"({_quote(ascii_text(part.disposition.upper(), utf8))} "
                       f"{_params(part.disposition_params, utf8)})")
    if part.language:
        language = "(" + " ".join(_quote(ascii_text(t, utf8)) for t in part.language) + ")"
    else:
        language = "NIL"
    return f"{disposition} {language} {_nstring(part.location, utf8)}"


def _write_multipart(part: Part, extensible: bool, utf8: bool, out: list[str]) -> None:
    out.append("(")
    if part.children:
        for child in part.children:
            _write_part(child, extensible, utf8, out)
    else:
        out.append(_EMPTY_BODY + (" NIL NIL NIL NIL)" if extensible else ")"))
    out.append(" " + _quote(part.subtype.upper()))
    if extensible:
        out.append(f" {_params(part.params, utf8)} {_extension(part, utf8)}")
    out.append(")")


def _write_part(part: Part, extensible: bool, utf8: bool, out: list[str]) -> None:
    if part.media_type == "multipart":
        _write_multipart(part, extensible, utf8, out)
        return
    is_text = part.media_type == "text"
    out.append(
        f"({_quote(part.media_type.upper())} {_quote(part.subtype.upper())} "
        f"{_params(part.params, utf8, default_charset=is_text)} "
        f"{_nstring(part.content_id, utf8)} {_nstring(part.description, utf8)} "
        f"{_quote(part.encoding.upper() or '7BIT')} {part.size}"
    )
    if part.media_type == "message" and part.subtype in _EMBEDDED:
        out.append(" " + envelope_text(part.envelope or _EMPTY_ENVELOPE, utf8) + " ")
        if part.message is not None:
            _write_part(part.message, extensible, utf8, out)
        else:
            out.append(_EMPTY_BODY + (" NIL NIL NIL NIL)" if extensible else ")"))
        out.append(f" {part.lines}")
    elif is_text:
        out.append(f" {part.lines}")
    if extensible:
        out.append(f" {_nstring(part.md5, utf8)} {_extension(part, utf8)}")
    out.append(")")


def body_structure_text(part: Part, *, extensible: bool, utf8: bool) -> str:
    """BODYSTRUCTURE (``extensible``) or BODY of the message whose root part is ``part``."""
    out: list[str] = []
    _write_part(part, extensible, utf8, out)
    return "".join(out)


# -- pre-encoded at delivery ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImapForms:
    """What FETCH ENVELOPE and FETCH BODYSTRUCTURE send for one message, for both kinds of
    client; a ``*_utf8`` form is None when it is the same text as the plain one (ASCII data)."""

    envelope: str
    envelope_utf8: str | None
    bodystructure: str
    bodystructure_utf8: str | None

    def to_json(self) -> dict[str, str]:
        data = {"imap_envelope": self.envelope}
        if self.envelope_utf8 is not None:
            data["imap_envelope_utf8"] = self.envelope_utf8
        data["imap_bodystructure"] = self.bodystructure
        if self.bodystructure_utf8 is not None:
            data["imap_bodystructure_utf8"] = self.bodystructure_utf8
        return data


def imap_forms(envelope: Envelope, root: Part) -> ImapForms:
    """The ENVELOPE and BODYSTRUCTURE texts of a message with this envelope and part tree.
    BODYSTRUCTURE holds sizes and line counts, no offsets, so a header prefix added per
    recipient (which shifts offsets) does not change it."""
    # With utf8 every text is sent as it is, so an ASCII UTF-8 form means ASCII data: the
    # IMAP4rev1 form is the same text and need not be rendered again.
    utf8_envelope = envelope_text(envelope, True)
    plain_envelope = (utf8_envelope if utf8_envelope.isascii()
                      else envelope_text(envelope, False))
    utf8_structure = body_structure_text(root, extensible=True, utf8=True)
    plain_structure = (utf8_structure if utf8_structure.isascii()
                       else body_structure_text(root, extensible=True, utf8=False))
    return ImapForms(plain_envelope, None if utf8_envelope == plain_envelope else utf8_envelope,
                     plain_structure,
                     None if utf8_structure == plain_structure else utf8_structure)

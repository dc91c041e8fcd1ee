"""Lenient bytes → text decoding for header values and text bodies.

How this works: a declared charset is looked up (with a few labels mail software uses that Python
does not know), replaced by the superset browsers decode it as, and the bytes are decoded with
replacement characters. An unknown, missing or unusable charset falls back to UTF-8 with
replacement. "us-ascii" is the charset everybody declares and nobody checks: 8-bit bytes under
it are tried as UTF-8 first, then as Windows-1252.

Every string leaving this module is safe to store anywhere (SQLite, PostgreSQL text and jsonb):
NULs are removed and lone surrogates, which some codecs (UTF-7, unicode-escape) can produce,
are replaced.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["clean_text", "decode_header_bytes", "decode_text"]

_CHARSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+()-]{0,63}")

# Labels in use in mail that Python does not know.
_EXTRA_NAMES = {
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "x-mac-roman": "mac-roman",
}
# Python codec → the superset browsers use for it (WHATWG Encoding Standard): mail labelled with
# the narrow name routinely contains the superset's extra characters.
_SUPERSETS = {
    "iso8859-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "tis-620": "cp874",
    "iso8859-11": "cp874",
    "big5": "big5hkscs",
}
# Labels that mean "no idea": decoding them as a codec would only mislead.
_UNKNOWN = frozenset({"unknown-8bit", "x-unknown", "unknown", "default", "x-user-defined"})
# Codecs Python treats as text that are never a message charset and misbehave on hostile input
# (idna refuses "replace", unicode-escape interprets backslashes).
_REFUSED = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})
_ASCII = "ascii"


def _codec_for(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    if not _CHARSET_NAME.fullmatch(name) or name in _UNKNOWN:
        return None
    try:
        info = codecs.lookup(_EXTRA_NAMES.get(name, name))
    except LookupError:
        return None
    if info.name in _REFUSED:
        return None
    return _SUPERSETS.get(info.name, info.name)


def clean_text(text: str) -> str:
    """Remove NULs and replace lone surrogates, so the text can be stored and JSON-encoded."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _utf8_or_cp1252(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def decode_text(raw: bytes, charset: str | None) -> str:
    """Decode ``raw`` as ``charset`` without ever raising; see the module docstring."""
    codec = _codec_for(charset)
    if codec is None:
        return clean_text(raw.decode("utf-8", "replace"))
    if codec == _ASCII:
        return clean_text(raw.decode("ascii") if raw.isascii() else _utf8_or_cp1252(raw))
    try:
        text = raw.decode(codec, "replace")
    except (LookupError, UnicodeError, ValueError):
        text = raw.decode("utf-8", "replace")
    return clean_text(text)


def decode_header_bytes(raw: bytes) -> str:
    """Raw 8-bit header text: UTF-8 (RFC 6532) when it is valid UTF-8, else Windows-1252."""
    return clean_text(raw.decode("ascii") if raw.isascii() else _utf8_or_cp1252(raw))

"""Parameterised MIME header values: Content-Type and Content-Disposition (RFC 2045, RFC 2183).

How this works: the value before the first ";" is the type; each "; name=value" after it is read
by one linear regex (quoted strings may contain ";", an unclosed quote runs to the end). Names
are lower-cased and the first occurrence wins. RFC 2231 then reassembles continuations
(``name*0``, ``name*1*``...) in numeric order, percent-decodes the segments marked with "*" and
decodes the whole in the charset named by the first segment (``charset'language'text``);
an extended value replaces a plain one of the same name.

Written by hand rather than with ``email.message.Message.get_params``: that tokenizer is
quadratic on semicolons inside an open quote, and ``email.utils.decode_params`` raises TypeError
on ``name*=a; name*0=b`` and ValueError on a 5,000-digit continuation number.
"""

from __future__ import annotations

import re
import urllib.parse

from postier.mime.charsets import decode_text

__all__ = ["parse_parameterized"]

MAX_VALUE = 64 * 1024  # characters of one header value considered; longer is hostile
MAX_SEGMENTS = 100  # RFC 2231 continuations per parameter

_PARAM = re.compile(
    r"""
    ;[ \t]*
    (?P<name>[^\s=;"]+)[ \t]*
    (?:=[ \t]*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"?|(?P<token>[^;]*)))?
    """,
    re.VERBOSE | re.DOTALL,
)
_EXTENDED = re.compile(r"(?P<base>[^*]+)\*(?:(?P<number>[0-9]{1,3})(?P<encoded>\*)?)?")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _assemble(segments: list[tuple[int, str, bool]]) -> str:
    """Join RFC 2231 segments (number, text, percent-encoded) into one decoded value."""
    segments.sort(key=lambda s: s[0])
    charset: str | None = None
    raw = bytearray()
    seen: set[int] = set()
    for index, (number, text, encoded) in enumerate(segments):
        if number in seen:
            continue
        seen.add(number)
        if encoded:
            if index == 0:
                parts = text.split("'", 2)
                if len(parts) == 3:
                    charset, text = parts[0] or None, parts[2]
            raw += urllib.parse.unquote_to_bytes(text)
        else:
            raw += text.encode("utf-8")
    return decode_text(bytes(raw), charset)


def parse_parameterized(value: str) -> tuple[str, dict[str, str]]:
    """``'text/plain; charset="utf-8"'`` → ``('text/plain', {'charset': 'utf-8'})``.

    The type is stripped and lower-cased; it may be empty or malformed, callers validate it.
    """
    value = value[:MAX_VALUE]
    semicolon = value.find(";")
    kind = (value if semicolon < 0 else value[:semicolon]).strip().lower()
    params: dict[str, str] = {}
    extended: dict[str, list[tuple[int, str, bool]]] = {}
    if semicolon < 0:
        return kind, params
    for match in _PARAM.finditer(value, semicolon):
        name = match.group("name").lower()
        quoted = match.group("quoted")
        text = _ESCAPE.sub(r"\1", quoted) if quoted is not None else \
            (match.group("token") or "").strip()
        star = _EXTENDED.fullmatch(name)
        if star is None:
            params.setdefault(name, text)
            continue
        segments = extended.setdefault(star.group("base"), [])
        if len(segments) < MAX_SEGMENTS:
            number = star.group("number")
            is_encoded = number is None or star.group("encoded") is not None
            segments.append((int(number) if number is not None else 0, text, is_encoded))
    for base, segments in extended.items():
        params[base] = _assemble(segments)
    return kind, params

"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3), for IMAP4rev1 clients.

How this works
--------------
Printable US-ASCII (0x20-0x7E) stands for itself, except ``&`` which is written ``&-``. Any
other run of characters is UTF-16BE, base64-encoded with ``,`` instead of ``/`` and no
padding, between ``&`` and ``-``. IMAP4rev2 and UTF8=ACCEPT clients (RFC 9051 §5.1, RFC 6855)
send UTF-8 instead, so the session decides whether a name goes through here.

:func:`decode` is strict, because two spellings of one name would be two mailboxes: it refuses
raw non-printable or 8-bit characters, an unterminated or empty shift, base64 outside the
modified alphabet, non-zero padding bits, a UTF-16 sequence cut in half or a lone surrogate,
encoded characters that could have stood for themselves, and two encoded runs back to back
(which :func:`encode` would have joined). So ``encode(decode(name)) == name`` for every name
that decodes, and ``decode(encode(text)) == text`` for every text without lone surrogates.
"""

from __future__ import annotations

import binascii

__all__ = ["decode", "encode"]


def _is_direct(char: str) -> bool:
    return 0x20 <= ord(char) <= 0x7E


def encode(text: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            encoded = binascii.b2a_base64(raw, newline=False).rstrip(b"=")
            out.append("&" + encoded.decode("ascii").replace("/", ",") + "-")
            pending.clear()

    for char in text:
        if _is_direct(char):
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


_MODIFIED_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


def decode(name: str) -> str:
    """Raise ValueError if ``name`` is not a canonical modified UTF-7 string."""
    out: list[str] = []
    i = 0
    after_run = False  # just closed an encoded run: another one right here is not canonical
    while i < len(name):
        char = name[i]
        if not _is_direct(char):
            raise ValueError(f"invalid character {char!r} in modified UTF-7")
        if char != "&":
            out.append(char)
            i += 1
            after_run = False
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ValueError("unterminated '&' in modified UTF-7")
        if end == i + 1:
            out.append("&")
            i = end + 1
            after_run = False
            continue
        if after_run:
            raise ValueError("adjacent encoded runs in modified UTF-7")
        out.append(_decode_run(name[i + 1 : end]))
        i = end + 1
        after_run = True
    return "".join(out)


def _decode_run(run: str) -> str:
    if not set(run) <= _MODIFIED_BASE64:
        raise ValueError("invalid base64 in modified UTF-7")
    bits = len(run) * 6
    if bits % 16 >= 6:
        raise ValueError("truncated UTF-16 in modified UTF-7")
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    raw = binascii.a2b_base64(padded.encode("ascii"))
    if len(raw) % 2:
        raise ValueError("truncated UTF-16 in modified UTF-7")
    # The bits after the last full octet must be zero, or two runs would decode alike.
    spare = bits % 8
    if spare and _MODIFIED_BASE64_INDEX[run[-1]] & ((1 << spare) - 1):
        raise ValueError("non-zero padding bits in modified UTF-7")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError:
        raise ValueError("invalid UTF-16 in modified UTF-7") from None
    if any(_is_direct(c) for c in text):
        raise ValueError("encoded printable ASCII in modified UTF-7")
    return text


_MODIFIED_BASE64_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
}

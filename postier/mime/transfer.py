"""Content-Transfer-Encoding decoders (RFC 2045 §6) that never raise.

How this works: identity encodings return the bytes unchanged; quoted-printable goes through
``binascii.a2b_qp``, which already passes malformed escapes through; base64 first deletes every
byte outside the alphabet (line breaks, spaces, padding, garbage: RFC 2045 §6.8 says decoders
must ignore them), then drops a dangling sixth bit group and pads, so truncated bodies decode
to what they hold. Concatenated, separately padded base64 blocks decode as one stream, which is
what most mail readers do too.
"""

from __future__ import annotations

import binascii

__all__ = ["IDENTITY_ENCODINGS", "decode_base64", "decode_transfer", "normalize_encoding"]

IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(_BASE64_ALPHABET)))


def normalize_encoding(value: str | None) -> str:
    """The encoding token in lower case; missing or empty means 7bit (RFC 2045 §6.1)."""
    if not value:
        return "7bit"
    token = value.replace("(", " ").replace(";", " ").split(None, 1)
    return token[0].strip('"').lower() if token else "7bit"


def decode_base64(raw: bytes) -> bytes:
    alphabet_only = raw.translate(None, _NOT_BASE64)
    usable = len(alphabet_only) - len(alphabet_only) % 4
    if len(alphabet_only) % 4 == 1:  # six bits cannot make a byte: drop them
        alphabet_only = alphabet_only[:usable]
    padded = alphabet_only + b"=" * (-len(alphabet_only) % 4)
    return binascii.a2b_base64(padded)


def decode_transfer(raw: bytes, encoding: str) -> bytes | None:
    """Decode ``raw`` per its normalised transfer encoding; None when the encoding is unknown."""
    if encoding in IDENTITY_ENCODINGS:
        return raw
    if encoding == "base64":
        return decode_base64(raw)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(raw)
    return None

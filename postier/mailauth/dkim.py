"""DKIM (RFC 6376): key generation, the DNS record to publish, and signing. No I/O.

How this works: ``generate_key`` makes a 2048-bit RSA key (RFC 8301 §3.2: at least 1024, 2048
recommended) as PKCS#8 PEM; ``dns_record`` derives the TXT record ``v=DKIM1; k=rsa; p=...`` that
goes at ``<selector>._domainkey.<domain>``. ``sign`` returns the ``DKIM-Signature`` field to put
in front of the message, computed by dkimpy with rsa-sha256 and relaxed/relaxed
canonicalisation (RFC 6376 §3.4.2 and §3.4.4: survives the header refolding and trailing-space
changes some relays make). Callers read and write key files; this module never touches disk or
the network.

Signed fields: From (required, RFC 6376 §5.4) and those of ``SIGNED_HEADERS`` that the message
has. Absent fields are not listed, so a mailing list adding, say, Reply-To does not break the
signature; From, Subject and the rest are what a forger would want to change.
"""

from __future__ import annotations

import base64
import re

import dkim  # type: ignore[import-untyped]  # dkimpy ships no type information
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from postier.errors import InvalidArgument

__all__ = ["SIGNED_HEADERS", "dns_name", "dns_record", "generate_key", "sign"]

SIGNED_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version",
                  "Content-Type", "Reply-To", "In-Reply-To", "References")
_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def generate_key(bits: int = 2048) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def dns_name(domain: str, selector: str) -> str:
    if not _SELECTOR.match(selector):
        raise InvalidArgument(f"invalid DKIM selector {selector!r}: use letters, digits and -")
    return f"{selector}._domainkey.{domain}"


def dns_record(private_key_pem: bytes) -> str:
    """The TXT record value (RFC 6376 §3.6.1) for the public half of ``private_key_pem``."""
    try:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"not a PEM private key: {exc}") from exc
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode('ascii')}"


def sign(message: bytes, *, domain: str, selector: str, private_key_pem: bytes) -> bytes:
    """The ``DKIM-Signature: ...\\r\\n`` field for ``message`` (CRLF line endings)."""
    header_end = message.find(b"\r\n\r\n")
    header = message if header_end < 0 else message[:header_end + 2]
    present = {name.decode("ascii").lower() for name in _FIELD_NAME.findall(header)}
    if "from" not in present:
        raise InvalidArgument("a message without From cannot be DKIM-signed")
    include = [name.encode("ascii") for name in SIGNED_HEADERS if name.lower() in present]
    try:
        field = dkim.sign(message, selector.encode("ascii"), domain.encode("ascii"),
                          private_key_pem, canonicalize=(b"relaxed", b"relaxed"),
                          include_headers=include, linesep=b"\r\n")
    except dkim.DKIMException as exc:
        raise InvalidArgument(f"cannot DKIM-sign: {exc}") from exc
    return bytes(field)

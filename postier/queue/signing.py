"""DKIM keys on disk, and signing outbound mail with them (RFC 6376).

How this works: each local domain has its key in ``DATA_DIR/dkim/<domain>.<selector>.key``
(PEM, mode 0600), made by ``postier init`` and ``postier domain add`` through ``ensure_key``.
``DkimSigner.sign`` runs at delivery time, not at enqueue time: the SMTP side only queues, keys
can be added or rotated while mail waits, and a signature is always fresh (its ``t=`` is the
time it was sent). The signing domain is the From field's domain (what DMARC aligns with), else
the envelope sender's; mail from a domain without a key file goes unsigned. Signing hashes the
whole body, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from email.utils import getaddresses
from pathlib import Path

from postier.errors import InvalidArgument
from postier.mailauth import dkim

__all__ = ["DkimSigner", "dkim_instructions", "ensure_key", "key_path"]

log = logging.getLogger(__name__)
_FROM = re.compile(rb"^From[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def key_path(data_dir: Path, domain: str, selector: str) -> Path:
    return data_dir / "dkim" / f"{domain}.{selector}.key"


def ensure_key(data_dir: Path, domain: str, selector: str) -> tuple[Path, bool]:
    """Create the domain's key unless it exists; returns (path, created)."""
    dkim.dns_name(domain, selector)  # validates the selector
    path = key_path(data_dir, domain, selector)
    if path.exists():
        return path, False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, dkim.generate_key())
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    return path, True


def dkim_instructions(data_dir: Path, domain: str, selector: str) -> str:
    """The TXT record to publish (RFC 6376 §3.6.2.1), creating the key if it is missing. Zone
    files split the value into strings of at most 255 octets (RFC 1035 §3.3.14)."""
    path, _created = ensure_key(data_dir, domain, selector)
    record = dkim.dns_record(path.read_bytes())
    owner = dkim.dns_name(domain, selector)
    chunks = " ".join(f'"{record[i:i + 255]}"' for i in range(0, len(record), 255))
    return (f"name:  {owner}\ntype:  TXT\nvalue: {record}\n\nas a zone file line:\n"
            f"{owner}. 3600 IN TXT {chunks}")


def _signing_domain(message: bytes, sender: str) -> list[str]:
    header_end = message.find(b"\r\n\r\n")
    header = message if header_end < 0 else message[:header_end + 2]
    candidates: list[str] = []
    match = _FROM.search(header)
    if match:
        value = match.group(1).decode("utf-8", errors="replace")
        for _name, address in getaddresses([value]):
            candidates.append(address.rpartition("@")[2].lower())
    if sender:
        candidates.append(sender.rpartition("@")[2].lower())
    return [c for c in dict.fromkeys(candidates) if c]


class DkimSigner:
    def __init__(self, data_dir: Path, selector: str) -> None:
        self.data_dir = data_dir
        self.selector = selector

    def _key(self, domain: str) -> bytes | None:
        if "/" in domain or domain.startswith("."):
            return None
        try:
            return key_path(self.data_dir, domain, self.selector).read_bytes()
        except OSError:
            return None

    def sign_blocking(self, message: bytes, sender: str) -> bytes:
        for domain in _signing_domain(message, sender):
            key = self._key(domain)
            if key is None:
                continue
            try:
                return dkim.sign(message, domain=domain, selector=self.selector,
                                 private_key_pem=key) + message
            except InvalidArgument as exc:
                log.warning("not DKIM-signing mail from %s: %s", domain, exc)
                return message
        return message

    async def sign(self, message: bytes, sender: str) -> bytes:
        return await asyncio.to_thread(self.sign_blocking, message, sender)

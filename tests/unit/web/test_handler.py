"""The over-the-limit answer of the http listeners."""

from __future__ import annotations

from typing import Any

from postier.net.memory import MemoryConnection
from postier.web.handler import web_refuser


async def test_refuser_answers_a_complete_503() -> None:
    conn = MemoryConnection("http", "192.0.2.1", False)
    services: Any = None
    await web_refuser(services)(conn)
    head, _, body = bytes(conn.outbound).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ")
    assert b"content-security-policy: default-src 'none'" in head
    length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    assert len(body) == length

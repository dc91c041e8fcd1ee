"""web/http.py: HTTP/1.1 on a Connection into ASGI, over in-memory connections."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from postier.net.memory import MemoryConnection, MemoryPeer
from postier.web.http import HttpLimits, Receive, Send, serve_http

Scope = MutableMapping[str, Any]


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    text = (f"{scope['method']} {scope['path']} q={scope['query_string'].decode()} "
            f"scheme={scope['scheme']} client={scope['client'][0]} body={body.decode()}").encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": text})


def pair(tls: bool = False) -> tuple[MemoryConnection, MemoryPeer]:
    conn = MemoryConnection("http", "192.0.2.7", tls)
    return conn, MemoryPeer(conn)


async def run(app: Any, conn: MemoryConnection,
              limits: HttpLimits | None = None) -> asyncio.Task[None]:
    return asyncio.create_task(serve_http(conn, app, limits))


async def test_request_and_keep_alive() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn)
    peer.send(b"GET /a%20b?x=1 HTTP/1.1\r\nHost: mail.example\r\n\r\n")
    first = await peer.read_until(b"body=")
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"GET /a b q=x=1 scheme=http client=192.0.2.7" in first
    peer.send(b"POST /p HTTP/1.1\r\nHost: mail.example\r\nContent-Length: 5\r\n\r\nhello")
    second = await peer.read_until(b"body=hello")
    assert b"POST /p" in second
    peer.close()
    await asyncio.wait_for(task, 2)


async def test_pipelined_requests_are_answered_in_order() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn)
    peer.send(b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n")
    await peer.read_until(b"GET /one")
    await peer.read_until(b"GET /two")
    peer.close()
    await asyncio.wait_for(task, 2)


async def test_scheme_is_https_over_tls() -> None:
    conn, peer = pair(tls=True)
    task = await run(echo_app, conn)
    peer.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert b"scheme=https" in await peer.read_until(b"body=")
    peer.close()
    await asyncio.wait_for(task, 2)


async def test_chunked_body() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn)
    peer.send(b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert b"body=abcde" in await peer.read_until(b"body=abcde")
    peer.close()
    await asyncio.wait_for(task, 2)


async def test_head_sends_no_body() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn)
    peer.send(b"HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n")
    data = await peer.read_until(b"GET /after")
    head_response, _, rest = data.partition(b"\r\n\r\n")
    assert b"content-length" in head_response.lower()
    assert rest.startswith(b"HTTP/1.1 200")  # no HEAD body between the two responses
    peer.close()
    await asyncio.wait_for(task, 2)


async def test_expect_100_continue() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn)
    peer.send(b"POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    assert (await peer.read_until(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
    peer.send(b"ok")
    assert b"body=ok" in await peer.read_until(b"body=ok")
    peer.close()
    await asyncio.wait_for(task, 2)


async def test_garbage_gets_400_and_close() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn)
    peer.send(b"NOT HTTP AT ALL\r\n\r\n")
    assert (await peer.read_until(b"\r\n")).startswith(b"HTTP/1.1 400")
    await asyncio.wait_for(task, 2)
    assert conn.outbound.endswith(b"400 Bad Request\n")


async def test_oversized_head_is_refused() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn, HttpLimits(max_head_bytes=1024))
    peer.send(b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
    assert (await peer.read_until(b"\r\n")).startswith(b"HTTP/1.1 431")
    await asyncio.wait_for(task, 2)


async def test_absolute_form_target() -> None:
    conn, peer = pair()
    task = await run(echo_app, conn)
    peer.send(b"GET http://h/x?y=2 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert b"GET /x q=y=2" in await peer.read_until(b"body=")
    peer.close()
    await asyncio.wait_for(task, 2)


async def test_app_error_becomes_500_without_details() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("secret detail")

    conn, peer = pair()
    task = await run(broken, conn)
    peer.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    data = await peer.read_until(b"Internal server error\n")
    assert data.startswith(b"HTTP/1.1 500") and b"secret" not in data
    await asyncio.wait_for(task, 2)


async def test_idle_connection_times_out() -> None:
    conn, _peer = pair()
    task = await run(echo_app, conn, HttpLimits(first_request_timeout=0.05))
    await asyncio.wait_for(task, 2)


async def test_streaming_response_ends_when_the_client_leaves() -> None:
    finished = asyncio.Event()

    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) body
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        message = await receive()  # blocks until the client disconnects
        assert message["type"] == "http.disconnect"
        finished.set()

    conn, peer = pair()
    task = await run(stream, conn)
    peer.send(b"GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
    data = await peer.read_until(b"data: 1\n\n")
    assert b"transfer-encoding: chunked" in data.lower()
    peer.close()
    await asyncio.wait_for(finished.wait(), 2)
    await asyncio.wait_for(task, 2)


async def test_early_answer_reads_the_unread_body() -> None:
    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-length", b"3")]})
        await send({"type": "http.response.body", "body": b"big"})

    conn, peer = pair()
    task = await run(refuse, conn)
    peer.send(b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345")
    assert (await peer.read_until(b"big")).startswith(b"HTTP/1.1 413")
    peer.send(b"67890")  # the rest is read and dropped; the connection serves the next request
    peer.send(b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
    assert (await peer.read_until(b"big")).startswith(b"HTTP/1.1 413")
    peer.close()
    await asyncio.wait_for(task, 2)


@pytest.mark.parametrize("status", [200, 404])
async def test_content_length_framing(status: int) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"def"})

    conn, peer = pair()
    task = await run(app, conn)
    peer.send(b"GET / HTTP/1.0\r\n\r\n")  # HTTP/1.0: close-delimited, then closed
    await asyncio.wait_for(task, 2)
    assert bytes(conn.outbound).endswith(b"abcdef")

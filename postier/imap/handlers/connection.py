"""Connection commands: CAPABILITY, NOOP, CHECK, LOGOUT, ID, ENABLE, NAMESPACE, STARTTLS,
COMPRESS.

How this works
--------------
Most of these only answer. Three change the connection:

* ENABLE IMAP4rev2 (RFC 9051 §6.3.1, RFC 5161) switches the rest of the session to rev2 rules:
  UTF-8 names and quoted strings, ESEARCH answers to SEARCH, no \\Recent. ENABLE CONDSTORE
  (RFC 7162 §3.1) adds MODSEQ to every FETCH that reports flags; ENABLE QRESYNC (RFC 7162
  §3.2.3) implies CONDSTORE and turns expunge reports into VANISHED.
* STARTTLS (RFC 9051 §6.2.1) writes its OK, then tells the machine to drop whatever plaintext
  the client pipelined after the command (the STARTTLS injection class of bugs) and upgrades
  the connection in place. A failed handshake ends the session.
* COMPRESS DEFLATE (RFC 4978) writes its OK uncompressed, then wraps the connection; bytes the
  client sent after the command are already compressed and are inflated first.
"""

from __future__ import annotations

import ssl

from postier import __version__
from postier.imap.commands import (
    Capability,
    Check,
    Compress,
    Enable,
    Id,
    Logout,
    Namespace,
    Noop,
    StartTls,
)
from postier.imap.compress import DeflateConnection
from postier.imap.context import Context, SessionEnded, SessionState
from postier.imap.errors import bad, no
from postier.imap.responses import Atom, Bye, SimpleCode, Status, Tagged, Untagged

__all__ = [
    "handle_capability", "handle_check", "handle_compress", "handle_enable", "handle_id",
    "handle_logout", "handle_namespace", "handle_noop", "handle_starttls",
]  # fmt: skip

_MAX_ID_FIELDS = 30  # RFC 2971 §3.3


async def handle_capability(ctx: Context, tag: str, command: Capability) -> Tagged:
    await ctx.send(Untagged((Atom("CAPABILITY"), *(Atom(c) for c in ctx.capabilities()))))
    return Tagged(tag, Status.OK, "CAPABILITY completed")


async def handle_noop(ctx: Context, tag: str, command: Noop) -> Tagged:
    return Tagged(tag, Status.OK, "NOOP completed")


async def handle_check(ctx: Context, tag: str, command: Check) -> Tagged:
    # Every change is durable when its command answers: there is nothing to checkpoint.
    return Tagged(tag, Status.OK, "CHECK completed")


async def handle_logout(ctx: Context, tag: str, command: Logout) -> Tagged:
    ctx.close_selection()
    ctx.state = SessionState.LOGOUT
    await ctx.send(Bye("logging out"))
    return Tagged(tag, Status.OK, "LOGOUT completed")


async def handle_id(ctx: Context, tag: str, command: Id) -> Tagged:
    if command.parameters is not None:
        if len(command.parameters) > _MAX_ID_FIELDS:
            raise bad("too many ID fields")
        ctx.client_id = {key[:30]: (value or "")[:1024] for key, value in command.parameters}
    await ctx.send(Untagged((Atom("ID"), ("name", "Postier", "version", __version__))))
    return Tagged(tag, Status.OK, "ID completed")


async def handle_enable(ctx: Context, tag: str, command: Enable) -> Tagged:
    enabled: list[Atom] = []
    for name in command.capabilities:
        if name == "IMAP4REV2" and not ctx.rev2:
            ctx.rev2 = True
            ctx.protocol.enable_utf8()
            enabled.append(Atom("IMAP4rev2"))
        elif name == "CONDSTORE" and not ctx.condstore:
            await ctx.enable_condstore()
            enabled.append(Atom("CONDSTORE"))
        elif name == "QRESYNC" and not ctx.qresync:
            await ctx.enable_qresync()  # implies CONDSTORE (RFC 7162 §3.2.3)
            enabled.append(Atom("QRESYNC"))
    await ctx.send(Untagged((Atom("ENABLED"), *enabled)))
    return Tagged(tag, Status.OK, "ENABLE completed")


async def handle_namespace(ctx: Context, tag: str, command: Namespace) -> Tagged:
    # One personal namespace with no prefix; no other users' or shared ones (RFC 2342).
    await ctx.send(Untagged((Atom("NAMESPACE"), (("", "/"),), None, None)))
    return Tagged(tag, Status.OK, "NAMESPACE completed")


async def handle_starttls(ctx: Context, tag: str, command: StartTls) -> Tagged | None:
    tls = ctx.services.tls
    if ctx.conn.tls_active:
        raise bad("TLS is already active")
    if not ctx.starttls_available or tls is None:
        raise bad("STARTTLS is not available on this port")
    await ctx.send(Tagged(tag, Status.OK, "begin TLS negotiation now"))
    await ctx.flush()
    ctx.protocol.start_tls()  # plaintext pipelined after STARTTLS is dropped, never executed
    try:
        await ctx.conn.start_tls(tls.context)
    except (OSError, ssl.SSLError, TimeoutError) as error:
        raise SessionEnded(f"TLS handshake failed: {error}") from None
    return None


async def handle_compress(ctx: Context, tag: str, command: Compress) -> Tagged | None:
    if ctx.compression_active:
        raise no("compression is already active", SimpleCode.COMPRESSIONACTIVE)
    if command.mechanism != "DEFLATE":
        raise bad(f"unknown compression mechanism {command.mechanism}")
    await ctx.send(Tagged(tag, Status.OK, "DEFLATE active"))
    await ctx.flush()
    pending = ctx.protocol.start_compression()
    ctx.conn = DeflateConnection(ctx.conn, pending)
    ctx.compression_active = True
    return None

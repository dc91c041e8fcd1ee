"""fetchmail (the Debian package) downloads from Postier over STLS and implicit TLS."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from postier.types import INBOX, Pop3DeletePolicy, SpecialUse
from tests.harness import RunningServer

pytestmark = pytest.mark.skipif(shutil.which("fetchmail") is None,
                                reason="fetchmail is not installed (./scripts/test installs it)")

ALICE = ("alice@example.test", "alice-password")


def message(subject: str, body: bytes) -> bytes:
    return (b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: "
            + subject.encode() + b"\r\nMessage-ID: <" + subject.encode()
            + b"@example.test>\r\n\r\n" + body)


BODIES = [
    message("plain", b"hello\r\n"),
    message("dots", b".\r\n..\r\n.leading dot\r\n...three\r\nend.\r\n"),
    message("long", b"".join(b"line %05d " % n + b"x" * 60 + b"\r\n" for n in range(3000))),
]


async def deliver_all(server: RunningServer) -> None:
    account = await server.store.get_account(ALICE[0])
    assert account is not None
    inbox = await server.store.get_mailbox(account.id, INBOX)
    for body in BODIES:
        await server.store.append(account.id, inbox.id, body)


def certificate_with_common_name(server: RunningServer, tmp_path: Path) -> Path:
    """fetchmail's name check wants a subject CN, which the harness certificate lacks: serve
    one that has it (reloaded in place, as SIGHUP would) and return its CA file."""
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1", common_name="localhost")
    leaf.private_key_and_cert_chain_pem.write_to_path(str(server.directory / "server.pem"))
    server.server.reload_tls()
    ca_file = tmp_path / "fetchmail-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca_file


async def fetchmail(server: RunningServer, tmp_path: Path, *, implicit: bool,
                    keep: bool) -> list[bytes]:
    """Run fetchmail once; return the messages its MDA received, in order."""
    ca_file = certificate_with_common_name(server, tmp_path)
    out = tmp_path / "delivered"
    out.mkdir()
    mda = tmp_path / "mda.sh"
    # One file per message, numbered in delivery order.
    mda.write_text(f'#!/bin/sh\nn=$(ls "{out}" | wc -l)\ncat > "{out}/$(printf %04d $n)"\n')
    mda.chmod(0o755)
    port = server.port("pop3s" if implicit else "pop3")
    tls = "ssl" if implicit else "sslproto TLS1.2+"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'set no syslog\nset invisible\n'
        f'poll 127.0.0.1 with proto POP3 port {port} auth password\n'
        f'  user "{ALICE[0]}" there with password "{ALICE[1]}" is "root" here\n'
        f'  {tls} sslcertck sslcertfile "{ca_file}"'
        f' sslcommonname "localhost"\n'
        f'  {"keep" if keep else "no keep"} no rewrite mda "{mda}"\n')
    rc.chmod(0o600)
    process = await asyncio.create_subprocess_exec(
        "fetchmail", "--fetchmailrc", str(rc), "--nodetach", "-v",
        env={**os.environ, "FETCHMAILHOME": str(tmp_path), "HOME": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode(errors="replace")
    return [path.read_bytes() for path in sorted(out.iterdir())]


def as_delivered(body: bytes) -> bytes:
    """fetchmail hands its MDA Unix line ends."""
    return body.replace(b"\r\n", b"\n")


async def inbox_count(server: RunningServer, name: str = INBOX) -> int:
    account = await server.store.get_account(ALICE[0])
    assert account is not None
    box = (await server.store.find_special_use(account.id, SpecialUse.TRASH) if name == "Trash"
           else await server.store.get_mailbox(account.id, name))
    assert box is not None
    return len(await server.store.message_states(account.id, box.id))


async def test_fetchmail_keep_over_stls(server: RunningServer, tmp_path: Path) -> None:
    await deliver_all(server)
    delivered = await fetchmail(server, tmp_path, implicit=False, keep=True)
    assert delivered == [as_delivered(body) for body in BODIES]
    assert await inbox_count(server) == len(BODIES)


async def test_fetchmail_without_keep_over_implicit_tls(server: RunningServer,
                                                        tmp_path: Path) -> None:
    await server.store.set_pop3_delete_policy(ALICE[0], Pop3DeletePolicy.EXPUNGE)
    await deliver_all(server)
    delivered = await fetchmail(server, tmp_path, implicit=True, keep=False)
    assert delivered == [as_delivered(body) for body in BODIES]
    assert await inbox_count(server) == 0
    assert await inbox_count(server, "Trash") == 0


async def test_fetchmail_default_policy_leaves_a_copy_in_trash(server: RunningServer,
                                                               tmp_path: Path) -> None:
    await deliver_all(server)
    await fetchmail(server, tmp_path, implicit=True, keep=False)
    assert await inbox_count(server) == 0
    assert await inbox_count(server, "Trash") == len(BODIES)

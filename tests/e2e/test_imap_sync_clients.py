"""Real synchronisation clients against Postier: mbsync (isync) and offlineimap.

Each test syncs an account both ways twice: first a message that exists only on the server and
one that exists only in the local Maildir; then a flag changed on each side. After each run
both sides must hold both messages with the same flags.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import trustme

from postier.types import INBOX, FlagOp, UidSet
from tests.harness import RunningServer

pytestmark = pytest.mark.slow

ALICE, PASSWORD = "alice@example.test", "alice-password"
FROM_SERVER = b"Subject: from the server\r\nMessage-ID: <server@example.test>\r\n\r\nserver\r\n"
FROM_LOCAL = b"Subject: from the laptop\r\nMessage-ID: <local@example.test>\r\n\r\nlaptop\r\n"


def _maildir(root: Path) -> Path:
    inbox = root / "INBOX"
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    (inbox / "cur" / "1700000000.1.laptop:2,S").write_bytes(FROM_LOCAL)
    return inbox


def _local_flags(inbox: Path, marker: bytes) -> str:
    """The Maildir info flags ("FS") of the one local file whose content has ``marker``."""
    found = [p for sub in ("cur", "new") for p in (inbox / sub).iterdir()
             if marker in p.read_bytes()]
    assert len(found) == 1, found
    name = found[0].name
    return name.split(":2,", 1)[1] if ":2," in name else ""


def _set_local_flags(inbox: Path, marker: bytes, flags: str) -> None:
    for sub in ("cur", "new"):
        for path in (inbox / sub).iterdir():
            if marker in path.read_bytes():
                base = path.name.split(":2,", 1)[0]
                path.rename(inbox / "cur" / f"{base}:2,{flags}")


async def _server_state(server: RunningServer) -> dict[bytes, frozenset[str]]:
    account = await server.store.get_account(ALICE)
    assert account is not None
    box = await server.store.get_mailbox(account.id, INBOX)
    state = {}
    for record in await server.store.get_messages(account.id, box.id):
        data = await server.store.read_message(account.id, record)
        state[b"server" if b"<server@" in data else b"local"] = record.flags
    return state


async def _set_server_flag(server: RunningServer, marker: bytes, flag: str) -> None:
    account = await server.store.get_account(ALICE)
    assert account is not None
    box = await server.store.get_mailbox(account.id, INBOX)
    for record in await server.store.get_messages(account.id, box.id):
        if marker in await server.store.read_message(account.id, record):
            await server.store.set_flags(account.id, box.id, UidSet.of([record.uid]),
                                         FlagOp.ADD, frozenset({flag}))


async def _seed_server(server: RunningServer) -> None:
    account = await server.store.get_account(ALICE)
    assert account is not None
    box = await server.store.get_mailbox(account.id, INBOX)
    await server.store.append(account.id, box.id, FROM_SERVER, frozenset({"\\Flagged"}))


async def _run(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    return text


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (isync) is not installed")
async def test_mbsync_syncs_both_ways(server: RunningServer, tmp_path: Path) -> None:
    await _seed_server(server)
    inbox = _maildir(tmp_path / "mail")
    config = tmp_path / "mbsyncrc"
    # mbsync matches the certificate against DNS names only: connect as "localhost".
    config.write_text(f"""IMAPAccount postier
Host localhost
Port {server.port("imap")}
User {ALICE}
Pass {PASSWORD}
SSLType STARTTLS
CertificateFile {server.directory / "ca.pem"}

IMAPStore remote
Account postier

MaildirStore local
Path {tmp_path / "mail"}/
Inbox {inbox}
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""")
    await _run("mbsync", "-c", str(config), "-a")
    state = await _server_state(server)
    assert state == {b"server": frozenset({"\\Flagged"}), b"local": frozenset({"\\Seen"})}
    assert _local_flags(inbox, b"<server@") == "F"
    assert (tmp_path / "mail" / "Sent" / "cur").is_dir()  # every folder came down

    await _set_server_flag(server, b"<local@", "\\Answered")
    _set_local_flags(inbox, b"<server@", "FS")
    await _run("mbsync", "-c", str(config), "-a")
    state = await _server_state(server)
    assert state == {b"server": frozenset({"\\Flagged", "\\Seen"}),
                     b"local": frozenset({"\\Seen", "\\Answered"})}
    assert _local_flags(inbox, b"<local@") == "RS"


def _certificate_with_common_name(server: RunningServer, directory: Path) -> Path:
    """offlineimap's imaplib2 insists on a commonName: serve a certificate that has one."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1", common_name="localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(server.directory / "server.pem"))
    ca.cert_pem.write_to_path(str(directory / "ca-cn.pem"))
    server.server.reload_tls()
    return directory / "ca-cn.pem"


@pytest.mark.skipif(shutil.which("offlineimap") is None, reason="offlineimap is not installed")
async def test_offlineimap_syncs_both_ways(server: RunningServer, tmp_path: Path) -> None:
    await _seed_server(server)
    inbox = _maildir(tmp_path / "mail")
    ca = _certificate_with_common_name(server, tmp_path)
    config = tmp_path / "offlineimaprc"
    config.write_text(f"""[general]
accounts = test
metadata = {tmp_path / "metadata"}

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {tmp_path / "mail"}

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = {server.port("imaps")}
remoteuser = {ALICE}
remotepass = {PASSWORD}
ssl = yes
sslcacertfile = {ca}
""")
    command = ("offlineimap", "-c", str(config), "-o", "-u", "basic")
    await _run(*command)
    state = await _server_state(server)
    assert state == {b"server": frozenset({"\\Flagged"}), b"local": frozenset({"\\Seen"})}
    assert _local_flags(inbox, b"<server@") == "F"

    await _set_server_flag(server, b"<local@", "\\Answered")
    _set_local_flags(inbox, b"<server@", "FS")
    await _run(*command)
    state = await _server_state(server)
    assert state == {b"server": frozenset({"\\Flagged", "\\Seen"}),
                     b"local": frozenset({"\\Seen", "\\Answered"})}
    assert _local_flags(inbox, b"<local@") == "RS"

"""Replay the checked-in corpus of known-nasty inputs (tests/fuzz/corpus/README.md).

Every input goes through the pure machine or parser, and the protocol inputs also through a real
session over net.memory on a SQLite store: the answer is an error response, never a traceback,
a hang or a ``[SERVERBUG]``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postier.config import load_config
from postier.errors import ConfigError
from postier.imap.protocol import ConnectionClosed, ProtocolViolation
from postier.imap.session import ImapSession
from postier.net.memory import memory_pair
from postier.pop3.session import Pop3Session, shared_state
from postier.services import Services
from postier.smtp.protocol import ConnectionClosed as SmtpClosed
from postier.smtp.session import SmtpSession, listener_settings
from postier.store.interface import Store
from tests.fuzz.test_imap_fuzz import run as imap_events
from tests.fuzz.test_mime_fuzz import check_everything
from tests.fuzz.test_pop3_fuzz import drive as pop3_events
from tests.fuzz.test_smtp_fuzz import REPLY_LINE, converse
from tests.harness import add_users
from tests.session.imap.client import make_services, message

CORPUS = Path(__file__).parent / "corpus"


def corpus(kind: str) -> list[Path]:
    return sorted(path for path in (CORPUS / kind).iterdir() if not path.name.startswith("."))


def ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def error_due(path: Path) -> bool:
    """Inputs named ``*-eof`` end the conversation (the client leaves inside a literal or a
    message, or the server has said goodbye): no error reply is due, only a clean end."""
    return not path.stem.endswith("-eof")


IMAP, SMTP, POP3 = corpus("imap"), corpus("smtp"), corpus("pop3")
MIME, CONFIG = corpus("mime"), corpus("config")

# -- the pure machines and parsers ---------------------------------------------------------------


@pytest.mark.parametrize("path", IMAP, ids=ids(IMAP))
def test_imap_machine(path: Path) -> None:
    data = path.read_bytes()
    whole = imap_events(data, len(data))
    assert isinstance(whole[-1], ConnectionClosed | ProtocolViolation)
    assert imap_events(data, 1) == whole


@pytest.mark.parametrize("path", SMTP, ids=ids(SMTP))
def test_smtp_machine(path: Path) -> None:
    data = path.read_bytes()
    events, out = converse(data, len(data))
    assert isinstance(events[-1], SmtpClosed)
    lines = out.split(b"\r\n")[:-1]
    assert all(REPLY_LINE.fullmatch(line) for line in lines), out
    assert converse(data, 1) == (events, out)


@pytest.mark.parametrize("path", POP3, ids=ids(POP3))
def test_pop3_machine(path: Path) -> None:
    data = path.read_bytes()
    events, out = pop3_events(data, len(data))
    assert pop3_events(data, 1) == (events, out)


@pytest.mark.parametrize("path", MIME, ids=ids(MIME))
def test_mime_parser(path: Path) -> None:
    check_everything(path.read_bytes(), [(), (1,), (1, 1), (2,), (1, 1, 1, 1), (0,), (-1,)])


@pytest.mark.parametrize("path", CONFIG, ids=ids(CONFIG))
def test_config_loader(path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: ")


# -- real sessions ----------------------------------------------------------------------------


@pytest.fixture
async def services(store: Store) -> AsyncIterator[Services]:
    await add_users(store, {"alice@example.test": "alice-password"})
    account = await store.get_account("alice@example.test")
    assert account is not None
    inbox = await store.get_mailbox(account.id, "INBOX")
    nested = message("nested", "--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b\r\n"
                     "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n"
                     "--b--\r\n", extra="MIME-Version: 1.0\r\n"
                     "Content-Type: multipart/mixed; boundary=b\r\n")
    for body in (message("hello"), nested, message("again")):
        await store.append(account.id, inbox.id, body,
                           internal_date=datetime(2024, 1, 1, tzinfo=UTC))
    yield make_services(store)


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    broken = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not broken, [r.getMessage() for r in broken]



IMAP_LOGIN = b"p1 LOGIN alice@example.test alice-password\r\np2 SELECT INBOX\r\n"
IMAP_ERROR = re.compile(rb"^(\* BYE|\* (BAD|NO)|[^\s*+]+ (BAD|NO)) ", re.MULTILINE)


async def imap_session(services: Services, data: bytes) -> bytes:
    conn, peer = memory_pair("imaps", tls=True)
    task = asyncio.create_task(ImapSession(services, conn).run())
    for start in range(0, len(data), 4096):
        peer.send(data[start:start + 4096])
        await asyncio.sleep(0)
    peer.close()
    async with asyncio.timeout(30):
        await task  # run() handles every error itself: nothing may escape
    return bytes(conn.outbound)


@pytest.mark.parametrize("login", [False, True], ids=["before-login", "selected"])
@pytest.mark.parametrize("path", IMAP, ids=ids(IMAP))
async def test_imap_session(path: Path, login: bool, services: Services,
                            caplog: pytest.LogCaptureFixture) -> None:
    output = await imap_session(services, (IMAP_LOGIN if login else b"") + path.read_bytes())
    assert b"[SERVERBUG]" not in output, output[-2000:]
    if login:
        assert b"p2 OK" in output, output[:2000]
    # After login, a corrupt COMPRESS stream is dropped without a word: the server cannot
    # say anything the client could decode.
    if error_due(path) and not (login and path.stem == "compress-then-garbage"):
        assert IMAP_ERROR.search(output), output[-2000:]
    no_tracebacks(caplog)


@pytest.mark.parametrize("path", SMTP, ids=ids(SMTP))
async def test_smtp_session(path: Path, services: Services,
                            caplog: pytest.LogCaptureFixture) -> None:
    conn, peer = memory_pair("smtp", peer_ip="192.0.2.7", tls=False)
    session = SmtpSession(services, listener_settings(services, "smtp"), conn)
    task = asyncio.create_task(session.run())
    peer.send(path.read_bytes())
    peer.close()
    async with asyncio.timeout(30):
        await task
    output = bytes(conn.outbound)
    lines = output.split(b"\r\n")
    assert lines.pop() == b"", output[-500:]
    assert all(REPLY_LINE.fullmatch(line) for line in lines), output[-2000:]
    if error_due(path):
        assert any(line[:1] in (b"4", b"5") for line in lines), output[-2000:]
    assert not any(line.startswith(b"451 4.3.0") for line in lines), output[-2000:]
    no_tracebacks(caplog)


POP3_LOGIN = b"USER alice@example.test\r\nPASS alice-password\r\n"


@pytest.mark.parametrize("login", [False, True], ids=["before-login", "transaction"])
@pytest.mark.parametrize("path", POP3, ids=ids(POP3))
async def test_pop3_session(path: Path, login: bool, services: Services,
                            caplog: pytest.LogCaptureFixture) -> None:
    conn, peer = memory_pair("pop3s", peer_ip="192.0.2.7", tls=True)
    task = asyncio.create_task(Pop3Session(services, conn, shared_state(services)).run())
    peer.send((POP3_LOGIN if login else b"") + path.read_bytes())
    peer.close()
    async with asyncio.timeout(30):
        await task
    output = bytes(conn.outbound)
    if login:
        assert output.split(b"\r\n")[2].startswith(b"+OK"), output[:500]
    assert b"\r\n-ERR" in output, output[-2000:]
    assert b"[SYS/TEMP]" not in output, output[-2000:]
    no_tracebacks(caplog)


MIME_FETCHES = [
    b"FETCH 4 (BODYSTRUCTURE ENVELOPE FLAGS RFC822.SIZE)", b"FETCH 4 (BODY[] BINARY.SIZE[1])",
    b"FETCH 4 (BODY[1] BODY[1.1] BODY[1.1.1.1] BODY[2.MIME] BODY[HEADER.FIELDS (Subject)])",
    b"FETCH 4 (BINARY[1] BINARY[1.1] BINARY[2])", b"FETCH 4 (PREVIEW)",
    b"UID SEARCH TEXT body", b"SEARCH HEADER Subject deep", b"SORT (SUBJECT) UTF-8 ALL",
    b"THREAD REFERENCES UTF-8 ALL",
]


@pytest.mark.parametrize("path", MIME, ids=ids(MIME))
async def test_mime_session(path: Path, services: Services,
                            caplog: pytest.LogCaptureFixture) -> None:
    data = path.read_bytes()
    commands = b"".join(b"f%d %s\r\n" % (number, command)
                        for number, command in enumerate(MIME_FETCHES))
    script = (IMAP_LOGIN + b"p3 ENABLE IMAP4rev2\r\n" + b"p4 APPEND INBOX ~{%d}\r\n" % len(data)
              + data + b"\r\n" + commands + b"p5 LOGOUT\r\n")
    output = await imap_session(services, script)
    assert re.search(rb"^p4 OK ", output, re.MULTILINE), output[-2000:]
    for number in range(len(MIME_FETCHES)):
        assert re.search(rb"^f%d OK " % number, output, re.MULTILINE), output[-3000:]
    no_tracebacks(caplog)

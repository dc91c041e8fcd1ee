"""Inbound authentication in the SMTP session, over a zone in a dict: where checks run, where
quarantined mail lands without a Junk folder, and the overall time limit."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from postier.config import MailauthSection
from postier.dns import MxRecord
from postier.services import Services
from postier.store.interface import Store
from tests.session.smtp.conversation import connect, inbox, make_tls
from tests.session.smtp.test_mx import send_message
from tests.session.smtp.test_submission import ALICE_PLAIN
from tests.unit.mailauth.zone import Zone

BODY = b"From: ceo@careful.example\r\nSubject: hello\r\n\r\nHi there.\r\n"


def zone() -> Zone:
    return (Zone().add("careful.example", "TXT", "v=spf1 ip4:198.51.100.1 -all")
            .add("_dmarc.careful.example", "TXT", "v=DMARC1; p=quarantine"))


def with_resolver(services: Services, resolver: object, **settings: object) -> Services:
    config = dataclasses.replace(services.config,
                                 mailauth=MailauthSection(**settings))  # type: ignore[arg-type]
    return dataclasses.replace(services, config=config, resolver=resolver)  # type: ignore[arg-type]


async def test_quarantine_without_junk_folder_goes_to_inbox(services: Services,
                                                            users: Store) -> None:
    account = await users.get_account("alice@example.test")
    assert account is not None
    await users.delete_mailbox(account.id, "Junk")
    client = await connect(with_resolver(services, zone()))
    codes = await send_message(client, "ceo@careful.example", ["alice@example.test"], BODY)
    assert codes[-1] == "250 2.0.0"
    await client.quit()
    (message,) = await inbox(users, "alice@example.test")
    assert b"dmarc=fail (p=quarantine dis=quarantine)" in message


async def test_no_checks_when_turned_off_or_on_submission(services: Services, users: Store,
                                                          tmp_path: Path) -> None:
    resolver = zone()
    client = await connect(with_resolver(services, resolver, verify=False))
    await send_message(client, "ceo@careful.example", ["alice@example.test"], BODY)
    await client.quit()
    tls = dataclasses.replace(with_resolver(services, resolver), tls=make_tls(tmp_path))
    client = await connect(tls, "submissions", tls=True)
    assert await client.code(f"AUTH PLAIN {ALICE_PLAIN}") == "235 2.7.0"
    own = b"From: alice@example.test\r\nSubject: out\r\n\r\nHello.\r\n"
    assert (await send_message(client, "alice@example.test", ["bob@example.test"], own))[-1] \
        == "250 2.0.0"
    await client.quit()
    assert resolver.queries == []
    for address in ("alice@example.test", "bob@example.test"):
        (message,) = await inbox(users, address)
        assert b"Authentication-Results" not in message


class HangingZone(Zone):
    """Answers nothing until released: the checks must give up at [mailauth] timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def txt(self, name: str) -> list[bytes]:
        await self.release.wait()
        return []

    async def mx(self, domain: str) -> list[MxRecord]:
        await self.release.wait()
        return []


async def test_checks_that_take_too_long_deliver_with_temperror(services: Services,
                                                                users: Store) -> None:
    resolver = HangingZone()
    client = await connect(with_resolver(services, resolver, timeout=0.2))
    codes = await send_message(client, "ceo@careful.example", ["alice@example.test"], BODY)
    assert codes[-1] == "250 2.0.0"
    await client.quit()
    resolver.release.set()
    (message,) = await inbox(users, "alice@example.test")
    assert b"spf=temperror (checks timed out)" in message

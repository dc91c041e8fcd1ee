"""Domains, accounts, aliases and recipient resolution, against a real store."""

from __future__ import annotations

import pytest

from postier.errors import AlreadyExists, InvalidArgument, NotFound
from postier.types import INBOX, SpecialUse
from tests.contract.bodies import stored_bodies


async def test_new_account_gets_special_use_mailboxes(store) -> None:
    await store.add_domain("Example.TEST")
    account = await store.add_account("Alice@Example.test", "hash", None, 1000)
    assert account.address == "alice@example.test"
    assert account.quota_bytes == 1000
    boxes = {b.name: b for b in await store.list_mailboxes(account.id)}
    assert set(boxes) == {INBOX, "Sent", "Drafts", "Trash", "Junk", "Archive"}
    assert boxes["Sent"].special_use is SpecialUse.SENT
    assert boxes["Trash"].special_use is SpecialUse.TRASH
    assert all(b.subscribed for b in boxes.values())
    assert len({b.uidvalidity for b in boxes.values()}) == len(boxes)
    assert (await store.find_special_use(account.id, SpecialUse.DRAFTS)).name == "Drafts"


async def test_account_errors_are_typed(store) -> None:
    await store.add_domain("example.test")
    with pytest.raises(NotFound, match="domain add"):
        await store.add_account("bob@other.test", "h", None)
    with pytest.raises(InvalidArgument):
        await store.add_account("not an address", "h", None)
    await store.add_account("bob@example.test", "h", None)
    with pytest.raises(AlreadyExists):
        await store.add_account("BOB@example.test", "h", None)
    with pytest.raises(AlreadyExists):
        await store.add_domain("EXAMPLE.test")
    with pytest.raises(InvalidArgument, match="still has"):
        await store.delete_domain("example.test")


async def test_credentials_and_password_change(store) -> None:
    await store.add_domain("example.test")
    account = await store.add_account("carol@example.test", "old", "scram-old")
    await store.set_password("Carol@example.test", "new", "scram-new")
    credentials = await store.get_credentials("CAROL@EXAMPLE.TEST")
    assert credentials.account_id == account.id
    assert (credentials.password_hash, credentials.scram_sha256) == ("new", "scram-new")
    assert await store.get_credentials("nobody@example.test") is None
    assert await store.get_credentials("garbage") is None


async def test_resolution_covers_aliases_subaddress_and_catch_all(store) -> None:
    await store.add_domain("example.test")
    alice = await store.add_account("alice@example.test", "h", None)
    bob = await store.add_account("bob@example.test", "h", None)
    await store.add_alias("team@example.test", ["alice@example.test", "bob@example.test",
                                                "friend@remote.test"])
    await store.add_alias("chain@example.test", ["team@example.test"])

    direct = await store.resolve_recipient("Alice@Example.Test")
    assert direct.accounts == (alice.id,) and direct.exists
    tagged = await store.resolve_recipient("alice+lists@example.test")
    assert tagged.accounts == (alice.id,)
    team = await store.resolve_recipient("chain@example.test")
    assert set(team.accounts) == {alice.id, bob.id}
    assert team.remote == ("friend@remote.test",)
    unknown = await store.resolve_recipient("nobody@example.test")
    assert unknown.local_domain and not unknown.exists
    foreign = await store.resolve_recipient("someone@elsewhere.test")
    assert not foreign.local_domain and not foreign.exists

    await store.set_catch_all("example.test", "bob@example.test")
    caught = await store.resolve_recipient("nobody@example.test")
    assert caught.accounts == (bob.id,)
    assert set(await store.addresses_of(alice.id)) == {"alice@example.test", "team@example.test"}


async def test_alias_loops_terminate(store) -> None:
    await store.add_domain("example.test")
    await store.add_alias("a@example.test", ["b@example.test"])
    await store.add_alias("b@example.test", ["a@example.test"])
    assert not (await store.resolve_recipient("a@example.test")).exists


async def test_alias_and_account_names_do_not_collide(store) -> None:
    await store.add_domain("example.test")
    await store.add_account("alice@example.test", "h", None)
    with pytest.raises(AlreadyExists):
        await store.add_alias("alice@example.test", ["x@remote.test"])
    with pytest.raises(InvalidArgument):
        await store.add_alias("self@example.test", ["self@example.test"])
    with pytest.raises(NotFound):
        await store.delete_alias("none@example.test")


async def test_delete_account_removes_its_mail(store) -> None:
    await store.add_domain("example.test")
    account = await store.add_account("dave@example.test", "h", None)
    inbox = await store.get_mailbox(account.id, "inbox")
    await store.append(account.id, inbox.id, b"Subject: x\r\n\r\nonly copy\r\n")
    assert await stored_bodies(store)
    await store.delete_account("dave@example.test")
    assert await store.get_account("dave@example.test") is None
    assert not await stored_bodies(store)

"""The maildrop snapshot: numbering, unique ids, marks; responses; the lock table."""

from __future__ import annotations

import re

import pytest

from postier.pop3.locks import InProcessLocks, LoginHistory
from postier.pop3.maildrop import Maildrop, MessageDeleted, NoSuchMessage
from postier.pop3.responses import Response, err, ok
from postier.types import AccountId, Uid, UidValidity


def test_numbers_sizes_and_unique_ids() -> None:
    drop = Maildrop(UidValidity(1700000000), [(Uid(4), 10), (Uid(8), 20)])
    assert len(drop) == 2 and drop.visible_count == 2 and drop.visible_octets == 30
    first, second = drop.visible()
    assert (first.number, first.uid, first.unique_id) == (1, 4, "1700000000.4")
    assert (second.number, second.size) == (2, 20)
    # RFC 1939 §7: 1 to 70 characters in the range 0x21 to 0x7E.
    assert re.fullmatch(r"[\x21-\x7e]{1,70}", Maildrop(UidValidity(2**32 - 1),
                        [(Uid(2**32 - 1), 1)]).get(1).unique_id)


def test_marks() -> None:
    drop = Maildrop(UidValidity(1), [(Uid(1), 10), (Uid(2), 20), (Uid(3), 30)])
    drop.delete(2)
    drop.mark_retrieved(1)
    drop.mark_retrieved(2)
    assert drop.visible_count == 2 and drop.visible_octets == 40
    assert [m.number for m in drop.visible()] == [1, 3]
    with pytest.raises(MessageDeleted):
        drop.get(2)
    with pytest.raises(MessageDeleted):
        drop.delete(2)
    for number in (0, 4, -1):
        with pytest.raises(NoSuchMessage):
            drop.get(number)
    assert drop.deleted_uids == (2,) and drop.retrieved_uids == (1, 2)
    drop.reset()
    assert drop.deleted_uids == () and drop.visible_count == 3


def test_responses() -> None:
    assert ok().to_bytes() == b"+OK\r\n"
    assert err("in use", "IN-USE").to_bytes() == b"-ERR [IN-USE] in use\r\n"
    assert ok("x", ("a", ".b", "")).to_bytes() == b"+OK x\r\na\r\n..b\r\n\r\n.\r\n"
    assert ok("x", ()).to_bytes() == b"+OK x\r\n.\r\n"
    assert err("evil\r\n+OK injected").to_bytes() == b"-ERR evil+OK injected\r\n"
    assert len(err("x" * 2000).to_bytes()) == 512
    with pytest.raises(ValueError):
        Response(True, "a\nb")


async def test_in_process_locks() -> None:
    locks = InProcessLocks()
    alice, bob = AccountId(1), AccountId(2)
    lease = await locks.try_acquire(alice)
    assert lease is not None and lease.account == alice
    assert await locks.try_acquire(alice) is None
    other = await locks.try_acquire(bob)
    assert other is not None
    await lease.release()
    await lease.release()  # idempotent: must not free a later owner's lock
    again = await locks.try_acquire(alice)
    assert again is not None
    await lease.release()
    assert locks.is_locked(alice)
    await again.release()
    assert not locks.is_locked(alice)


def test_login_history() -> None:
    history = LoginHistory(60)
    alice = AccountId(1)
    assert history.too_soon(alice, 1000.0) == 0
    history.record(alice, 1000.0)
    assert history.too_soon(alice, 1030.0) == 30.0
    assert history.too_soon(alice, 1060.0) == 0
    disabled = LoginHistory(0)
    disabled.record(alice, 1000.0)
    assert disabled.too_soon(alice, 1000.0) == 0

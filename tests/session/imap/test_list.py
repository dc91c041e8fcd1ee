"""LIST (patterns, LIST-EXTENDED, SPECIAL-USE, LIST-STATUS) and LSUB."""

from __future__ import annotations

from postier.store.interface import Store
from tests.session.imap.client import ImapClient, deliver


def names(lines: list[str]) -> list[str]:
    return [line.rsplit(" ", 1)[1] for line in lines if line.startswith("* LIST ")]


async def test_list_all_with_attributes(client: ImapClient) -> None:
    lines = await client.ok('LIST "" "*"')
    assert lines[:-1] == [
        '* LIST (\\HasNoChildren) "/" INBOX',
        '* LIST (\\HasNoChildren \\Archive) "/" Archive',
        '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        '* LIST (\\HasNoChildren \\Junk) "/" Junk',
        '* LIST (\\HasNoChildren \\Sent) "/" Sent',
        '* LIST (\\HasNoChildren \\Trash) "/" Trash',
    ]


async def test_list_delimiter(client: ImapClient) -> None:
    assert (await client.ok('LIST "" ""'))[0] == '* LIST (\\Noselect) "/" ""'


async def test_percent_stops_at_the_separator_and_reference(client: ImapClient) -> None:
    await client.ok("CREATE Work/Clients/Acme")
    assert "Work" in names(await client.ok('LIST "" %'))
    assert "Work/Clients" not in names(await client.ok('LIST "" %'))
    lines = await client.ok('LIST "" "Work/%"')
    assert lines[0] == '* LIST (\\HasChildren) "/" Work/Clients'
    assert names(await client.ok('LIST "Work/" "*"')) == ["Work/Clients", "Work/Clients/Acme"]
    assert names(await client.ok('LIST "" "Work*"')) == ["Work", "Work/Clients",
                                                          "Work/Clients/Acme"]


async def test_inbox_is_case_insensitive(client: ImapClient) -> None:
    assert names(await client.ok('LIST "" inbox')) == ["INBOX"]
    await client.ok("SELECT inbox")


async def test_list_extended_selection_and_return(client: ImapClient) -> None:
    await client.ok("CREATE Lists/Python")
    await client.ok("SUBSCRIBE Lists/Python")
    await client.ok("SUBSCRIBE Ghost")
    lines = await client.ok('LIST (SUBSCRIBED) "" "*"')
    listed = {line.rsplit(" ", 1)[1]: line for line in lines[:-1]}
    assert "\\Subscribed" in listed["Lists/Python"]
    assert "\\NonExistent" in listed["Ghost"]
    assert "INBOX" in listed and "Lists" not in listed
    lines = await client.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert '* LIST (\\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))' in lines
    lines = await client.ok('LIST "" "*" RETURN (SUBSCRIBED CHILDREN)')
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX' in lines
    assert '* LIST (\\HasChildren) "/" Lists' in lines


async def test_list_special_use_selection(client: ImapClient) -> None:
    lines = await client.ok('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)')
    assert names(lines) == ["Archive", "Drafts", "Junk", "Sent", "Trash"]


async def test_list_status(client: ImapClient, users: Store) -> None:
    await deliver(users)
    lines = await client.ok('LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN))')
    assert lines[:-1] == ['* LIST (\\HasNoChildren) "/" INBOX',
                          "* STATUS INBOX (MESSAGES 1 UNSEEN 1)"]


async def test_list_rejects_unknown_options(client: ImapClient) -> None:
    assert (await client.command('LIST (BOGUS) "" "*"'))[-1].startswith("a2 BAD")


async def test_lsub_lists_unsubscribed_parents_as_noselect(client: ImapClient) -> None:
    await client.ok("CREATE Lists/Python")
    await client.ok("SUBSCRIBE Lists/Python")
    lines = await client.ok('LSUB "" "*"')
    assert '* LSUB () "/" Lists/Python' in lines and '* LSUB () "/" INBOX' in lines
    assert not any(line.endswith('"/" Lists') for line in lines)  # "*" reaches the child itself
    lines = await client.ok('LSUB "" "%"')
    assert '* LSUB (\\Noselect) "/" Lists' in lines
    assert not any("Lists/Python" in line for line in lines)

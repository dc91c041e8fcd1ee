"""Webmail actions over HTTP: flags, moves, folders, conversations, forward, drafts,
autocomplete — each checked against the store, and seen by IMAP-level state."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from postier.types import FLAGGED, SEEN, SpecialUse
from tests.browser.webclient import WebClient, deliver, message
from tests.harness import RunningServer

ALICE = ("alice@example.test", "alice-password")


@pytest.fixture
async def alice(server: RunningServer) -> AsyncIterator[WebClient]:
    async with WebClient(f"http://127.0.0.1:{server.port('http')}") as client:
        await client.login(*ALICE)
        yield client


async def account_id(server: RunningServer) -> int:
    account = await server.store.get_account(ALICE[0])
    assert account is not None
    return int(account.id)


async def folder(server: RunningServer, use: SpecialUse | None) -> int:
    account = await account_id(server)
    if use is None:
        return int((await server.store.get_mailbox(account, "INBOX")).id)  # type: ignore[arg-type]
    found = await server.store.find_special_use(account, use)  # type: ignore[arg-type]
    assert found is not None
    return int(found.id)


async def subjects_in(server: RunningServer, mailbox: int) -> list[str]:
    account = await account_id(server)
    out = []
    for record in await server.store.get_messages(account, mailbox):  # type: ignore[arg-type]
        data = await server.store.read_message(account, record)  # type: ignore[arg-type]
        out.append(re.search(rb"Subject: ([^\r\n]*)", data).group(1).decode())  # type: ignore[union-attr]
    return out


async def test_flags_star_toggle_and_read(server: RunningServer, alice: WebClient) -> None:
    uid = await deliver(server.store, ALICE[0], message())
    inbox = await folder(server, None)
    await alice.post(f"/mail/{inbox}/actions", {"toggle_star": str(uid)}, fetch=True)
    await alice.post(f"/mail/{inbox}/actions", {"uid": str(uid), "action": "read"}, fetch=True)
    account = await account_id(server)
    (record,) = await server.store.get_messages(account, inbox)  # type: ignore[arg-type]
    assert {FLAGGED, SEEN} <= record.flags
    await alice.post(f"/mail/{inbox}/actions", {"toggle_star": str(uid)}, fetch=True)
    (record,) = await server.store.get_messages(account, inbox)  # type: ignore[arg-type]
    assert FLAGGED not in record.flags
    response = await alice.post(f"/mail/{inbox}/actions", {"action": "read"}, fetch=True)
    assert response.status_code == 400 and "Select at least one" in response.json()["error"]


async def test_delete_moves_to_trash_then_deletes_for_good(server: RunningServer,
                                                           alice: WebClient) -> None:
    uid = await deliver(server.store, ALICE[0], message(subject="Old news"))
    inbox, trash = await folder(server, None), await folder(server, SpecialUse.TRASH)
    response = await alice.post(f"/mail/{inbox}/actions", {"uid": str(uid), "action": "delete",
                                                           "next": f"/mail/{inbox}"})
    assert response.status_code == 303 and response.headers["location"] == f"/mail/{inbox}"
    assert await subjects_in(server, trash) == ["Old news"]
    page = await alice.http.get(f"/mail/{trash}")
    assert "Empty Trash" in page.text
    trash_uid = re.search(rf'href="/mail/{trash}/(\d+)', page.text).group(1)  # type: ignore[union-attr]
    await alice.post(f"/mail/{trash}/actions", {"uid": trash_uid, "action": "delete"})
    assert await subjects_in(server, trash) == []
    await deliver(server.store, ALICE[0], message(subject="x"))
    response = await alice.post(f"/mail/{inbox}/empty", {})
    assert response.status_code == 403  # only Trash and Junk can be emptied
    assert await subjects_in(server, inbox) == ["x"]


async def test_folders_create_rename_delete(server: RunningServer, alice: WebClient) -> None:
    response = await alice.post("/folders/create", {"name": "Projects"})
    assert response.status_code == 303
    account = await account_id(server)
    projects = await server.store.get_mailbox(account, "Projects")  # type: ignore[arg-type]
    response = await alice.post("/folders/create", {"name": "2025", "parent": str(projects.id)})
    assert response.status_code == 303
    await server.store.get_mailbox(account, "Projects/2025")  # type: ignore[arg-type]
    duplicate = await alice.post("/folders/create", {"name": "Projects"})
    assert duplicate.status_code == 409
    child = await server.store.get_mailbox(account, "Projects/2025")  # type: ignore[arg-type]
    await alice.post("/folders/rename", {"mailbox": str(child.id), "name": "Archive 2025"})
    await server.store.get_mailbox(account, "Projects/Archive 2025")  # type: ignore[arg-type]
    inbox = await folder(server, None)
    refused = await alice.post("/folders/rename", {"mailbox": str(inbox), "name": "Other"})
    assert refused.status_code == 403 and "standard folder" in refused.text
    refused = await alice.post("/folders/delete", {"mailbox": str(projects.id)})
    assert refused.status_code == 400 and "child" in refused.text
    await alice.post("/folders/delete", {"mailbox": str(child.id)})
    await alice.post("/folders/delete", {"mailbox": str(projects.id)})
    names = [m.name for m in await server.store.list_mailboxes(account)]  # type: ignore[arg-type]
    assert "Projects" not in names and "Projects/Archive 2025" not in names
    page = await alice.http.get("/folders")
    assert "Inbox" in page.text and "standard folder" in page.text


async def test_conversation_view_groups_a_thread(server: RunningServer, alice: WebClient) -> None:
    await deliver(server.store, ALICE[0], message(subject="Plan", message_id="<root@x>"))
    await deliver(server.store, ALICE[0], message(subject="Re: Plan", message_id="<r1@x>",
                                                  extra="In-Reply-To: <root@x>\r\n"
                                                        "References: <root@x>\r\n"))
    await deliver(server.store, ALICE[0], message(subject="Other", message_id="<o@x>"))
    inbox = await folder(server, None)
    page = await alice.http.get(f"/mail/{inbox}?view=threads")
    rows = re.findall(r'<span class="subject">([^<]*)</span>', page.text)
    assert rows == ["Other", "Re: Plan"]
    assert 'aria-label="2 messages"' in page.text
    message_page = await alice.http.get(f"/mail/{inbox}/2")
    assert "Conversation (2 messages)" in message_page.text


async def test_forward_keeps_attachments_and_reply_all(server: RunningServer,
                                                       alice: WebClient) -> None:
    data = (b"From: Dee <dee@example.org>\r\nTo: alice@example.test, carl@example.org\r\n"
            b"Cc: bob@example.test\r\nSubject: Photos\r\nMessage-ID: <p@example.org>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nSee the photo.\r\n--b\r\n"
            b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=pic.png\r\n\r\niVBORw0KGgo=\r\n--b--\r\n")
    uid = await deliver(server.store, ALICE[0], data)
    inbox = await folder(server, None)
    page = (await alice.http.get(f"/compose?mode=replyall&mailbox={inbox}&uid={uid}")).text
    assert 'value="Dee &lt;dee@example.org&gt;"' in page
    assert "carl@example.org" in page and "bob@example.test" in page
    assert 'id="compose-to"' in page and "alice@example.test, " not in page
    page = (await alice.http.get(f"/compose?mode=forward&mailbox={inbox}&uid={uid}")).text
    assert 'value="Fwd: Photos"' in page and "pic.png" in page
    assert re.search(r'name="keep" value="2" checked', page)
    response = await alice.post("/compose", [
        ("action", "send"), ("to", "bob@example.test"), ("subject", "Fwd: Photos"),
        ("body", "Look"), ("source", f"{inbox}:{uid}"), ("keep", "2")])
    assert response.status_code == 303
    bob = await server.store.get_account("bob@example.test")
    assert bob is not None
    bob_inbox = await server.store.get_mailbox(bob.id, "INBOX")
    (forwarded,) = await server.store.get_messages(bob.id, bob_inbox.id)
    sent = await server.store.read_message(bob.id, forwarded)
    assert b'filename="pic.png"' in sent and b"iVBORw0KGgo=" in sent


async def test_draft_round_trip_over_http(server: RunningServer, alice: WebClient) -> None:
    response = await alice.post("/compose", {
        "action": "save", "to": '"Doe, Jane" <jane@example.org>, bad address', "subject": "Later",
        "body": "\n\nunfinished"}, files=[("attachments", ("a.txt", b"A\n", "text/plain"))])
    assert response.status_code == 303
    drafts = await folder(server, SpecialUse.DRAFTS)
    location = response.headers["location"]
    assert location.startswith(f"/compose?mode=draft&mailbox={drafts}&uid=")
    page = (await alice.http.get(location)).text
    assert "Draft saved." in page and "is not an email address" in page
    assert 'value="&#34;Doe, Jane&#34; &lt;jane@example.org&gt;"' in page
    assert ">\n\n\nunfinished\n</textarea>" in page  # the leading blank lines survive
    assert "a.txt" in page
    draft_uid = location.rsplit("=", 1)[1]
    response = await alice.post("/compose", [
        ("action", "save"), ("to", "jane@example.org"), ("subject", "Later"),
        ("body", "more"), ("source", f"{drafts}:{draft_uid}"), ("draft_uid", draft_uid),
        ("keep", "2")])
    assert response.status_code == 303
    assert await subjects_in(server, drafts) == ["Later"]  # replaced, not added


async def test_contacts_autocomplete_from_correspondents(server: RunningServer,
                                                         alice: WebClient) -> None:
    await deliver(server.store, ALICE[0], message(sender="Zelda Fitz <zelda@example.org>"))
    found = (await alice.http.get("/api/contacts", params={"q": "zel"})).json()
    assert found == [{"name": "Zelda Fitz", "address": "zelda@example.org"}]
    assert (await alice.http.get("/api/contacts", params={"q": "alice"})).json() == []
    sent = await alice.post("/compose", {"action": "send", "to": "Bobby <bob@example.test>",
                                         "subject": "s", "body": "b"})
    assert sent.headers["location"].startswith("/mail/")  # sent, not saved as a draft
    found = (await alice.http.get("/api/contacts", params={"q": "bobb"})).json()
    assert found == [{"name": "Bobby", "address": "bob@example.test"}]


async def test_open_redirects_are_refused(server: RunningServer, alice: WebClient) -> None:
    uid = await deliver(server.store, ALICE[0], message())
    inbox = await folder(server, None)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = await alice.post(f"/mail/{inbox}/actions",
                                    {"uid": str(uid), "action": "read", "next": target})
        assert response.headers["location"] == f"/mail/{inbox}"
    page = await alice.http.get("/login?next=https://evil.example/")
    assert page.status_code == 303 and page.headers["location"] == "/mail"

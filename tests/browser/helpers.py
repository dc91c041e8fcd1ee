"""What the browser tests do over and over: open a context, log in, wait for the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.harness import RunningServer

ALICE = ("alice@example.test", "alice-password")
BOB = ("bob@example.test", "bob-password")


def base_url(server: RunningServer) -> str:
    return f"http://127.0.0.1:{server.port('http')}"


async def logged_in(browser: Any, server: RunningServer, user: tuple[str, str],
                    **context_options: Any) -> Any:
    """A new browser context (its own cookies) with ``user`` logged in; returns the page."""
    context = await browser.new_context(base_url=base_url(server), **context_options)
    # Nothing may leave the machine: any request to another host fails loudly in the test.
    await context.route("**/*", lambda route: route.continue_()
                        if route.request.url.startswith(base_url(server)) else route.abort())
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto("/login")
    await page.fill("#username", user[0])
    await page.fill("#password", user[1])
    await page.click("button[type=submit]")
    await page.wait_for_url("**/mail/*")
    await ready(page)
    return page


async def ready(page: Any) -> None:
    """The page's scripts have run (after a navigation, before using shortcuts)."""
    await page.wait_for_selector("body[data-ready]")


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


def row(page: Any, subject: str) -> Any:
    """The list row link of the message with this subject."""
    return page.locator(".message-row .row-link", has_text=subject)

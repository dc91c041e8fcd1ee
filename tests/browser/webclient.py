"""An HTTP client for the webmail (httpx), used by the HTTP-level tests: logs in like a browser
(login token, session cookie, CSRF token from the page) and sends forms like one."""

from __future__ import annotations

import re
import ssl
from typing import Any

import httpx

from postier.store.interface import DeliveryTarget, Store
from postier.types import INBOX, AccountId, Flag

_CSRF = re.compile(r'data-csrf="([^"]*)"')
_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


class WebClient:
    def __init__(self, base_url: str, *, verify: ssl.SSLContext | bool = True) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False, verify=verify,
                                      headers={"Origin": base_url}, timeout=20)
        self.csrf = ""

    async def __aenter__(self) -> WebClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def login_response(self, username: str, password: str,
                             token: str | None = None) -> httpx.Response:
        page = await self.http.get("/login")
        found = _LOGIN_TOKEN.search(page.text)
        assert found is not None
        return await self.http.post("/login", data={
            "login_token": found.group(1) if token is None else token,
            "username": username, "password": password, "next": "/mail"})

    async def login(self, username: str, password: str) -> None:
        response = await self.login_response(username, password)
        assert response.status_code == 303, response.text
        await self.refresh_csrf()

    async def refresh_csrf(self) -> None:
        page = await self.http.get("/folders")
        found = _CSRF.search(page.text)
        assert found is not None and found.group(1), page.text[:500]
        self.csrf = found.group(1)

    async def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]],
                   *, with_csrf: bool = True, fetch: bool = False,
                   files: Any = None) -> httpx.Response:
        fields: list[tuple[str, str]] = list(data.items()) if isinstance(data, dict) else \
            list(data)
        if with_csrf:
            fields.append(("csrf", self.csrf))
        headers = {"X-Requested-With": "fetch"} if fetch else {}
        if files is not None:
            return await self.http.post(path, data=dict(_group(fields)), files=files,
                                        headers=headers)
        return await self.http.post(path, data=dict(_group(fields)), headers=headers)

    async def inbox_id(self) -> int:
        response = await self.http.get("/mail")
        assert response.status_code == 303
        return int(response.headers["location"].rsplit("/", 1)[1])


def _group(fields: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    grouped: dict[str, str | list[str]] = {}
    for name, value in fields:
        if name in grouped:
            existing = grouped[name]
            grouped[name] = [*existing, value] if isinstance(existing, list) else [existing,
                                                                                   value]
        else:
            grouped[name] = value
    return grouped


async def deliver(store: Store, address: str, data: bytes,
                  flags: frozenset[Flag] = frozenset()) -> int:
    """Put a message into the account's INBOX; returns its UID."""
    account = await store.get_account(address)
    assert account is not None
    (result,) = await store.deliver(data, [DeliveryTarget(AccountId(account.id), INBOX,
                                                          flags=flags)])
    assert result.record is not None, result.error
    return int(result.record.uid)


def message(subject: str = "Hello", body: str = "Just a test.", *, sender: str =
            "Carol <carol@example.org>", to: str = "alice@example.test",
            message_id: str = "<m1@example.org>", extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 06 May 2024 07:08:09 +0000\r\nMessage-ID: {message_id}\r\n{extra}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()

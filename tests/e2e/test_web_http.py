"""The webmail over real sockets, at the HTTP level: login and its throttling, cookies, CSRF,
headers, other accounts' ids, downloads and upload limits."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from postier.types import SEEN
from tests.browser.webclient import WebClient, deliver, message
from tests.harness import RunningServer, start_server

ALICE = ("alice@example.test", "alice-password")
BOB = ("bob@example.test", "bob-password")


def base(server: RunningServer, listener: str = "http") -> str:
    scheme = "https" if listener == "https" else "http"
    return f"{scheme}://127.0.0.1:{server.port(listener)}"


@pytest.fixture
async def alice(server: RunningServer) -> AsyncIterator[WebClient]:
    async with WebClient(base(server)) as client:
        await client.login(*ALICE)
        yield client


async def test_pages_carry_a_strict_csp_and_security_headers(server: RunningServer) -> None:
    async with WebClient(base(server)) as client:
        for path in ("/login", "/static/app.js", "/nothing-here"):
            response = await client.http.get(path)
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "script-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
            assert "form-action 'self'" in csp and "base-uri 'none'" in csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "same-origin"
        login = await client.http.get("/login")
        assert "no-store" in login.headers["cache-control"]


async def test_session_cookie_flags_over_http(server: RunningServer) -> None:
    async with WebClient(base(server)) as client:
        response = await client.login_response(*ALICE)
        assert response.status_code == 303 and response.headers["location"] == "/mail"
        cookie = next(c for c in response.headers.get_list("set-cookie")
                      if c.startswith("postier_session="))
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert "secure" not in flags  # plain HTTP: a Secure cookie would never come back


async def test_session_cookie_over_https_is_secure_and_host_only(server: RunningServer) -> None:
    async with WebClient(base(server, "https"), verify=server.client_tls()) as client:
        response = await client.login_response(*ALICE)
        assert response.status_code == 303
        cookie = next(c for c in response.headers.get_list("set-cookie")
                      if c.startswith("__Host-postier_session="))
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert {"httponly", "secure", "samesite=lax", "path=/"} <= set(flags)
        assert not any(f.startswith("domain=") for f in flags)
        page = await client.http.get("/mail", follow_redirects=True)
        assert page.status_code == 200
        assert page.headers["strict-transport-security"].startswith("max-age=")
    async with WebClient(base(server)) as plain:  # a TLS session is not valid over HTTP
        plain.http.cookies.set("postier_session", cookie.split(";")[0].split("=", 1)[1])
        assert (await plain.http.get("/mail")).status_code == 303


async def test_failed_logins_are_throttled(server: RunningServer) -> None:
    """Same throttle as IMAP/SMTP: free failures, then a doubling delay, right or wrong."""
    async with WebClient(base(server)) as client:
        for _ in range(3):
            response = await client.login_response("alice@example.test", "wrong")
            assert response.status_code == 401
            assert "Wrong address or password" in response.text
        started = time.monotonic()
        for _ in range(3):
            assert (await client.login_response("alice@example.test", "wrong")).status_code == 401
        throttled = time.monotonic() - started
        assert throttled >= 0 + 0.05 + 0.1 - 0.01  # the 4th waits 0, then 0.05 doubling (harness)
        started = time.monotonic()
        assert (await client.login_response(*ALICE)).status_code == 303
        assert time.monotonic() - started >= 0.18  # the right password waits too


async def test_login_needs_its_form_token(server: RunningServer) -> None:
    async with WebClient(base(server)) as client:
        response = await client.login_response(*ALICE, token="forged")
        assert response.status_code == 403
        assert "Reload the page" in response.text
        assert not any(c.startswith("postier_session=")
                       for c in response.headers.get_list("set-cookie"))


async def test_logout_ends_the_session(alice: WebClient) -> None:
    assert (await alice.http.get("/folders")).status_code == 200
    response = await alice.post("/logout", {})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    response = await alice.http.get("/folders")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert (await alice.http.get("/events", headers={"X-Requested-With": "fetch"})) \
        .status_code == 401


async def test_state_changes_need_the_csrf_token(server: RunningServer,
                                                 alice: WebClient) -> None:
    uid = await deliver(server.store, ALICE[0], message())
    inbox = await alice.inbox_id()
    action = {"uid": str(uid), "action": "star"}
    assert (await alice.post(f"/mail/{inbox}/actions", action, with_csrf=False)).status_code \
        == 403
    forged = await alice.post(f"/mail/{inbox}/actions", [*action.items(), ("csrf", "forged")],
                              with_csrf=False)
    assert forged.status_code == 403
    assert "not sent from this site" in forged.text
    ok = await alice.post(f"/mail/{inbox}/actions", action, fetch=True)
    assert ok.status_code == 200 and ok.json()["ok"] is True


async def test_every_post_route_refuses_a_missing_token(server: RunningServer,
                                                        alice: WebClient) -> None:
    from postier.web.routes import auth, compose, mailboxes, messages, settings

    inbox = await alice.inbox_id()
    posts = [route.path for module in (auth, compose, mailboxes, messages, settings)
             for route in module.ROUTES if "POST" in (getattr(route, "methods", None) or ())]
    assert len(posts) >= 8
    for path in posts:
        if path == "/login":
            continue  # protected by its own login token, tested above
        url = path.replace("{mailbox:int}", str(inbox))
        response = await alice.post(url, {"uid": "1", "action": "read", "name": "x",
                                          "mailbox": str(inbox)}, with_csrf=False)
        assert response.status_code == 403, (path, response.status_code)


async def test_cross_site_posts_are_refused(server: RunningServer, alice: WebClient) -> None:
    inbox = await alice.inbox_id()
    response = await alice.http.post(f"/mail/{inbox}/actions",
                                     data={"uid": "1", "action": "read", "csrf": alice.csrf},
                                     headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "another site" in response.text
    response = await alice.http.post(f"/mail/{inbox}/actions",
                                     data={"uid": "1", "action": "read", "csrf": alice.csrf},
                                     headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


async def test_other_accounts_ids_are_not_found(server: RunningServer, alice: WebClient) -> None:
    bob_uid = await deliver(server.store, BOB[0], message(to=BOB[0]))
    bob = await server.store.get_account(BOB[0])
    assert bob is not None
    bob_inbox = (await server.store.get_mailbox(bob.id, "INBOX")).id
    inbox = await alice.inbox_id()
    missing = await alice.http.get("/mail/999999")
    assert missing.status_code == 404
    for path in (f"/mail/{bob_inbox}", f"/mail/{bob_inbox}/list", f"/mail/{bob_inbox}/{bob_uid}",
                 f"/mail/{bob_inbox}/{bob_uid}/body", f"/mail/{bob_inbox}/{bob_uid}/source",
                 f"/mail/{bob_inbox}/{bob_uid}/part/1", f"/mail/{inbox}/{bob_uid}",
                 f"/compose?mode=reply&mailbox={bob_inbox}&uid={bob_uid}",
                 f"/mail/{2**70}", f"/mail/{inbox}/{2**40}"):
        response = await alice.http.get(path)
        assert response.status_code == 404, path
        assert bob_uid == 1 or "bob" not in response.text.lower()
        assert response.text == missing.text or path.startswith("/compose") \
            or "/mail/" in path  # same page, no hint of existence
    for action in ("read", "delete", "move"):
        response = await alice.post(f"/mail/{bob_inbox}/actions",
                                    {"uid": str(bob_uid), "action": action,
                                     "destination": str(inbox)})
        assert response.status_code == 404
    response = await alice.post(f"/mail/{inbox}/actions",
                                {"uid": "1", "action": "move", "destination": str(bob_inbox)})
    assert response.status_code == 404
    assert len(await server.store.get_messages(bob.id, bob_inbox)) == 1


ATTACHMENT = (b"From: Mallory <m@evil.example>\r\nTo: alice@example.test\r\nSubject: files\r\n"
              b"Message-ID: <files@evil.example>\r\nMIME-Version: 1.0\r\n"
              b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
              b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
              b'--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment;'
              b' filename="../../../etc/pa\\"ss\r\n wd.html"\r\n\r\n'
              b"<script>alert(1)</script>\r\n"
              b"--b\r\nContent-Type: application/x-msdownload; name=\"C:\\\\x\\\\evil\xe2\x80\xae"
              b"fdp.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--b--\r\n")


async def test_attachment_downloads_are_safe(server: RunningServer, alice: WebClient) -> None:
    uid = await deliver(server.store, ALICE[0], ATTACHMENT)
    inbox = await alice.inbox_id()
    page = await alice.http.get(f"/mail/{inbox}/{uid}")
    links = re.findall(rf'href="(/mail/{inbox}/{uid}/part/[0-9.]+)"', page.text)
    assert len(links) == 2
    html = await alice.http.get(links[0])
    assert html.status_code == 200
    disposition = html.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "/" not in disposition.split("filename*=")[0] and ".." not in disposition
    assert "\r" not in disposition and "\n" not in disposition
    assert html.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in html.headers["content-security-policy"]
    assert html.headers["content-type"].startswith("text/html")
    exe = await alice.http.get(links[1])
    assert exe.content == b"MZ"
    assert exe.headers["content-type"] == "application/x-msdownload"
    assert "\u202e" not in exe.headers["content-disposition"]
    assert "%E2%80%AE" not in exe.headers["content-disposition"]
    assert (await alice.http.get(f"/mail/{inbox}/{uid}/part/9")).status_code == 404
    assert (await alice.http.get(f"/mail/{inbox}/{uid}/part/..%2F1")).status_code == 404


async def test_html_body_is_a_sandboxed_document(server: RunningServer, alice: WebClient) -> None:
    evil = (b"From: m@evil.example\r\nTo: alice@example.test\r\nSubject: hi\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n"
            b"<p onclick=alert(1)>Hello<script>parent.document.title='owned'</script>"
            b"<img src=https://evil.example/t.gif><form action=https://evil.example>"
            b"<input name=pw></form></p>\r\n")
    uid = await deliver(server.store, ALICE[0], evil)
    inbox = await alice.inbox_id()
    page = await alice.http.get(f"/mail/{inbox}/{uid}")
    assert re.search(r'<iframe[^>]+sandbox="allow-popups allow-popups-to-escape-sandbox"',
                     page.text)
    assert "allow-scripts" not in page.text and "allow-same-origin" not in page.text
    assert "1 remote image blocked" in page.text
    body = await alice.http.get(f"/mail/{inbox}/{uid}/body")
    csp = body.headers["content-security-policy"]
    assert csp.startswith("sandbox allow-popups")
    assert "default-src 'none'" in csp and "img-src data:;" in csp
    assert "script" not in body.text.lower() and "onclick" not in body.text
    assert "<form" not in body.text and "evil.example" not in body.text
    shown = await alice.http.get(f"/mail/{inbox}/{uid}/body?images=1")
    assert "img-src data: https: http:" in shown.headers["content-security-policy"]
    assert "https://evil.example/t.gif" in shown.text
    source = await alice.http.get(f"/mail/{inbox}/{uid}/source")
    assert source.headers["content-type"].startswith("text/plain")
    assert "sandbox" in source.headers["content-security-policy"]


@pytest.fixture
async def small_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    running = await start_server(tmp_path / "small", extra='[limits]\nmax_message_size = "64K"\n')
    try:
        yield running
    finally:
        await running.stop()


async def test_oversized_uploads_get_413(small_server: RunningServer) -> None:
    async with WebClient(base(small_server)) as client:
        await client.login(*ALICE)
        big = b"x" * (2 * 1024 * 1024)
        response = await client.post("/compose", {"action": "send", "to": BOB[0],
                                                  "subject": "big", "body": "hi"},
                                     files=[("attachments", ("big.bin", big, "application/x"))])
        assert response.status_code == 413
        assert "too large" in response.text and "at most" in response.text
        # Under the request limit but too large once base64-encoded for the message limit:
        medium = b"y" * (60 * 1024)
        response = await client.post("/compose", {"action": "send", "to": BOB[0],
                                                  "subject": "m", "body": "hi"},
                                     files=[("attachments", ("m.bin", medium, "application/x"))])
        assert response.status_code == 413
        assert "once encoded" in response.text
        # Other forms have a small limit of their own.
        response = await client.http.post("/folders/create", content=b"name=" + b"a" * 2_000_000,
                                          headers={"content-type":
                                                   "application/x-www-form-urlencoded"})
        assert response.status_code == 413


async def test_sending_goes_through_submission(server: RunningServer, alice: WebClient) -> None:
    response = await alice.post("/compose", {
        "action": "send", "from": "bob@example.test",  # not hers: ignored, she sends as herself
        "to": "Bob <bob@example.test>", "bcc": "carol@example.test", "subject": "Hi Bob",
        "body": "Line one\nLine two"})
    assert response.status_code == 303, response.text
    bob = await server.store.get_account(BOB[0])
    alice_account = await server.store.get_account(ALICE[0])
    assert bob is not None and alice_account is not None
    bob_inbox = await server.store.get_mailbox(bob.id, "INBOX")
    (received,) = await server.store.get_messages(bob.id, bob_inbox.id)
    data = await server.store.read_message(bob.id, received)
    assert b"From: alice@example.test" in data
    assert b"Subject: Hi Bob" in data
    assert b"with HTTP" in data  # the Received field of the submission path
    assert b"Bcc" not in data and b"carol" not in data
    sent = await server.store.find_special_use(alice_account.id, __import__(
        "postier.types", fromlist=["SpecialUse"]).SpecialUse.SENT)
    assert sent is not None
    (copy,) = await server.store.get_messages(alice_account.id, sent.id)
    assert SEEN in copy.flags
    assert b"Bcc: carol@example.test" in await server.store.read_message(alice_account.id, copy)
    # The refused recipient (no such local user) is reported, the rest was sent.
    page = await alice.http.get(response.headers["location"])
    assert "Message sent." in page.text and "carol@example.test" in page.text


async def test_live_events_report_new_mail(server: RunningServer, alice: WebClient) -> None:
    inbox = await alice.inbox_id()
    async with alice.http.stream("GET", "/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        assert await anext(lines) == "retry: 2000"
        started = time.monotonic()
        uid = await deliver(server.store, ALICE[0], message(subject="live"))
        while True:
            line = await anext(lines)
            if line.startswith("data:") and '"added"' in line:
                break
        assert time.monotonic() - started < 1.0
        assert f'"mailbox": {inbox}' in line and f'"uid": {uid}' in line


async def test_reconnecting_event_stream_is_told_to_resync(alice: WebClient) -> None:
    async with alice.http.stream("GET", "/events", headers={"Last-Event-ID": "x-1"}) as stream:
        lines = stream.aiter_lines()
        seen = [await anext(lines) for _ in range(5)]  # retry, blank, id, event, data
        assert any('"resync"' in line for line in seen)


async def test_setup_page_shows_the_running_listeners(server: RunningServer,
                                                      alice: WebClient) -> None:
    page = (await alice.http.get("/setup")).text
    assert "mail.example.test" in page
    for listener in ("imaps", "imap", "pop3s", "submissions", "submission"):
        assert f"<code>{server.port(listener)}</code>" in page
    assert "IMAP or POP3?" in page and "alice@example.test" in page


async def test_search_by_subject_sender_and_body(server: RunningServer, alice: WebClient) -> None:
    await deliver(server.store, ALICE[0], message(subject="Budget 2025", body="numbers",
                                                  message_id="<s1@x>"))
    await deliver(server.store, ALICE[0], message(subject="Holidays", sender="zoe@example.org",
                                                  body="the flamingo budget", message_id="<s2@x>"))
    inbox = await alice.inbox_id()

    async def subjects(query: str, field: str) -> list[str]:
        page = await alice.http.get(f"/mail/{inbox}", params={"q": query, "field": field})
        return re.findall(r'<span class="subject">([^<]*)</span>', page.text)

    assert await subjects("budget", "subject") == ["Budget 2025"]
    assert await subjects("flamingo", "body") == ["Holidays"]
    assert await subjects("zoe", "from") == ["Holidays"]
    assert sorted(await subjects("budget", "all")) == ["Budget 2025", "Holidays"]
    assert await subjects("nothing-like-this", "all") == []


async def test_not_logged_in_pages_redirect_and_scripts_get_401(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=base(server)) as client:
        response = await client.get("/mail/1/2?x=1")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/mail/1/2%3Fx%3D1"
        response = await client.get("/mail/1/list", headers={"X-Requested-With": "fetch"})
        assert response.status_code == 401 and "error" in response.json()
        response = await client.get("/api/contacts?q=a")
        assert response.status_code == 401


async def test_inline_images_are_embedded_in_the_frame(server: RunningServer,
                                                       alice: WebClient) -> None:
    related = (b"From: a@example.org\r\nTo: alice@example.test\r\nSubject: logo\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
               b"--r\r\nContent-Type: text/html\r\n\r\n<p>Our logo: <img src=\"cid:logo@x\">"
               b"</p>\r\n--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n")
    uid = await deliver(server.store, ALICE[0], related)
    inbox = await alice.inbox_id()
    body = await alice.http.get(f"/mail/{inbox}/{uid}/body")
    assert '<img src="data:image/png;base64,iVBORw0KGgo=">' in body.text
    page = await alice.http.get(f"/mail/{inbox}/{uid}")
    assert "remote image" not in page.text  # nothing was blocked: the image is the message's

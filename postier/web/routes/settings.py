"""The client setup page: what to type into a mail program, from the listeners actually running.

The ports come from ``DATA_DIR/run/listeners.json``, which the server writes once every
listener is bound (so port 0 in a test shows the real port); before that, or when it cannot be
read, from ``[listen]`` in the configuration. The server name is ``[server] hostname``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postier.config import Config
from postier.web.context import web_context
from postier.web.folders import folder_list
from postier.web.pages import render, require_session

__all__ = ["ROUTES", "ServerSetting", "client_settings"]

_KINDS = {"imaps": ("IMAP", "SSL/TLS"), "imap": ("IMAP", "STARTTLS"),
          "pop3s": ("POP3", "SSL/TLS"), "pop3": ("POP3", "STARTTLS"),
          "submissions": ("SMTP", "SSL/TLS"), "submission": ("SMTP", "STARTTLS")}
_ORDER = list(_KINDS)


@dataclass(frozen=True, slots=True)
class ServerSetting:
    protocol: str  # IMAP, POP3, SMTP
    host: str
    port: int
    security: str  # SSL/TLS, STARTTLS, none


def _running(config: Config) -> list[tuple[str, int, str]] | None:
    try:
        data = json.loads((config.data_dir / "run" / "listeners.json").read_text())
        return [(str(e["name"]), int(e["port"]), str(e["tls"])) for e in data["listeners"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def client_settings(config: Config) -> list[ServerSetting]:
    running = _running(config)
    if running is None:
        running = [(name, address.port, "configured") for name in _KINDS
                   for address in config.listen.addresses(name)]
    seen: set[tuple[str, int]] = set()
    settings = []
    for name, port, tls in sorted(running, key=lambda r: _ORDER.index(r[0])
                                  if r[0] in _ORDER else 99):
        if name not in _KINDS or (name, port) in seen:
            continue
        seen.add((name, port))
        protocol, security = _KINDS[name]
        if tls == "none":  # a STARTTLS listener without a certificate
            security = "none"
        settings.append(ServerSetting(protocol, config.server.hostname, port, security))
    return settings


async def setup(request: Request) -> Response:
    session = require_session(request)
    context = web_context(request)
    settings = client_settings(context.services.config)
    folders = await folder_list(context.services.store, session.principal.account_id)
    return render(request, "setup.html", session, settings=settings, folders=folders,
                  current=None,
                  imap=[s for s in settings if s.protocol == "IMAP"],
                  pop3=[s for s in settings if s.protocol == "POP3"],
                  smtp=[s for s in settings if s.protocol == "SMTP"])


ROUTES = [Route("/setup", setup)]

"""What every protocol session gets from the composition root (``server.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from postier.auth import Authenticator
from postier.config import Config
from postier.mailauth.verify import MailAuthResolver
from postier.net.connection import Connection
from postier.net.tls import TlsManager
from postier.store.interface import Store

__all__ = ["ConnectionHandler", "Services"]

ConnectionHandler = Callable[[Connection], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Services:
    config: Config
    store: Store
    authenticator: Authenticator
    tls: TlsManager | None
    # DNS for inbound mail authentication (SPF, DKIM, DMARC on the MX listener); None turns
    # those checks off (in-process callers and tests without DNS).
    resolver: MailAuthResolver | None = None

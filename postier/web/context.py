"""What every web route gets: the shared services, the session store, templates, and the
submission function the composition root hands in.

The webmail must send through the same path as SMTP submission (policy, delivery, queue,
DKIM at queue time), but protocols do not import each other (tests/test_layering.py); so
``server.py`` passes ``smtp.submit.submit_message`` in as a ``Submitter``, and the webmail
sees its result through the small structural types below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import jinja2
from starlette.requests import Request

from postier.services import Services
from postier.types import Principal
from postier.web.contacts import ContactBook
from postier.web.sessions import SessionStore

__all__ = ["ReplyView", "SubmitOutcome", "Submitter", "WebContext", "web_context"]


class ReplyView(Protocol):
    @property
    def code(self) -> int: ...
    @property
    def lines(self) -> tuple[str, ...]: ...


class SubmitOutcome(Protocol):
    @property
    def accepted(self) -> bool: ...
    @property
    def reply(self) -> ReplyView: ...
    @property
    def refused(self) -> Mapping[str, ReplyView]: ...


class Submitter(Protocol):
    async def __call__(self, principal: Principal, sender: str, recipients: Sequence[str],
                       data: bytes, *, client_ip: str, tls: bool) -> SubmitOutcome: ...


@dataclass
class WebContext:
    services: Services
    submit: Submitter
    templates: jinja2.Environment
    sessions: SessionStore = field(default_factory=SessionStore)
    contacts: ContactBook = field(default_factory=ContactBook)

    @property
    def max_message_size(self) -> int:
        return self.services.config.limits.max_message_size


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context

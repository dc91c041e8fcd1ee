"""A session-like driver for the POP3 machine, shared by the machine's unit tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from postier.pop3 import responses as r
from postier.pop3.events import (
    ConnectionClosed,
    Event,
    FlushOutput,
    NeedData,
    PasswordLogin,
    ProtocolConfig,
    Retrieve,
    SaslLogin,
    State,
    TlsHandshakeRequired,
    Update,
)
from postier.pop3.maildrop import Maildrop
from postier.pop3.protocol import Pop3ServerProtocol
from postier.pop3.wire import wire_size
from postier.types import Uid, UidValidity

MESSAGES = {
    Uid(3): b"Subject: one\r\n\r\nfirst\r\n.hidden dot\r\n",
    Uid(7): b"Subject: two\n\nbare LF\nlines\n",
    Uid(9): b"Subject: three\r\n\r\nno final newline",
}


def maildrop() -> Maildrop:
    return Maildrop(UidValidity(42), [(uid, wire_size(body)) for uid, body in MESSAGES.items()])


class Client:
    """Drives the machine like a session: logins succeed, RETR streams MESSAGES, QUIT updates."""

    def __init__(self, decide: Callable[[Event], bool] | None = None, **config: Any) -> None:
        config.setdefault("tls_active", True)
        self.protocol = Pop3ServerProtocol(ProtocolConfig(**config))
        self.decide = decide or (lambda event: True)
        self.events: list[Event] = []
        self.greeting = self.send(b"")

    def send(self, data: bytes) -> str:
        if data:
            self.protocol.receive_data(data)
        out = b""
        while True:
            event = self.protocol.next_event()
            if not isinstance(event, NeedData | FlushOutput):
                self.events.append(event)
            if isinstance(event, NeedData | TlsHandshakeRequired | ConnectionClosed
                          | SaslLogin):
                return (out + self.protocol.data_to_send()).decode()
            if isinstance(event, FlushOutput):
                out += self.protocol.data_to_send()
                continue
            accepted = self.decide(event)
            match event:
                case PasswordLogin() if accepted:
                    self.protocol.login_succeeded(maildrop())
                case PasswordLogin():
                    self.protocol.login_failed(r.err("invalid credentials", "AUTH"))
                case Retrieve(message=message) if accepted:
                    out += b"".join(self.protocol.send_message(MESSAGES[message.uid]))
                case Retrieve():
                    self.protocol.retrieve_failed(r.err("gone"))
                case Update():
                    self.protocol.update_done(None if accepted else r.err("no", "SYS/TEMP"))

    def login(self) -> None:
        assert self.send(b"USER alice\r\nPASS pw\r\n").startswith("+OK send PASS\r\n+OK maildrop")
        assert self.protocol.state is State.TRANSACTION

    @property
    def state(self) -> State:
        return self.protocol.state

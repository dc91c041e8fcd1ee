"""Local submission: a message from inside Postier (webmail, bounces) through the same policy
and delivery code as an SMTP transaction.

How this works: ``submit_message`` plays the part of one SMTP transaction without a socket. The
sender and recipients are parsed with the SMTP grammar (commands.py), so they are exactly as
strict as on the wire; the data is checked against the size limit and for bare CR or LF like a
DATA body (wire.py); then policy.py decides (SUBMISSION rules for a user, LOCAL rules — any
sender, any recipient — for Postier itself when ``principal`` is None) and delivery.py stores.
The result says what an SMTP client would have heard: one reply for the message and the
refusal of each refused recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from postier.services import Services
from postier.smtp import delivery
from postier.smtp import replies as r
from postier.smtp.commands import (
    Command,
    CommandError,
    MailFrom,
    PathError,
    RcptTo,
    parse_command,
)
from postier.smtp.errors import command_reply, to_reply
from postier.smtp.policy import Mode, Policy, Route
from postier.smtp.replies import Reply
from postier.smtp.wire import MessageBody
from postier.types import Principal

__all__ = ["SubmitResult", "submit_message"]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    reply: Reply  # 250 with the queue id, or why the message was not taken
    queue_id: str | None = None
    refused: dict[str, Reply] = field(default_factory=dict)  # recipient → refusal

    @property
    def accepted(self) -> bool:
        return self.reply.is_positive


async def submit_message(
    services: Services,
    principal: Principal | None,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    *,
    client: delivery.ClientInfo | None = None,
) -> SubmitResult:
    """Deliver ``data`` (CRLF line endings) from ``sender`` ("" for the null sender) to
    ``recipients``. ``client`` describes where it came from for the Received field (the web
    client's address, say); by default it is a local submission."""
    config = services.config
    hostname = config.server.hostname
    policy = Policy(services.store, Mode.SUBMISSION if principal else Mode.LOCAL, hostname)
    body = MessageBody(config.limits.max_message_size)
    body.append(data)
    body.finish()
    if body.too_big:
        return SubmitResult(r.MESSAGE_TOO_BIG)
    if body.bare_line_ending:
        return SubmitResult(r.BARE_LINE_ENDING)
    utf8 = not (sender.isascii() and all(a.isascii() for a in recipients))
    try:
        mail = _parse_mail(sender, utf8)
        refusal = await policy.check_sender(mail, principal)
        if refusal is not None:
            return SubmitResult(refusal)
        routes, refused = await _route(policy, principal, recipients, len(data), utf8)
        if len(recipients) > config.limits.max_recipients:
            return SubmitResult(r.TOO_MANY_RECIPIENTS, refused=refused)
        if not routes:
            return SubmitResult(r.NO_VALID_RECIPIENTS, refused=refused)
        queue_id = delivery.new_queue_id()
        reply = await delivery.deliver(
            services.store, mail, routes, data, client or delivery.ClientInfo(None, None, None),
            hostname=hostname, principal=principal, queue_id=queue_id)
    except CommandError as error:
        return SubmitResult(command_reply(error))
    except Exception as exc:
        return SubmitResult(to_reply(exc))
    return SubmitResult(reply, queue_id if reply.is_positive else None, refused)


async def _route(policy: Policy, principal: Principal | None, recipients: Sequence[str],
                 size: int, utf8: bool) -> tuple[list[Route], dict[str, Reply]]:
    routes: list[Route] = []
    refused: dict[str, Reply] = {}
    for address in recipients:
        try:
            rcpt = _parse_rcpt(address, utf8)
        except CommandError as error:
            refused[address] = command_reply(error)
            continue
        route = await policy.route_recipient(rcpt, principal, size)
        if isinstance(route, Reply):
            refused[address] = route
        else:
            routes.append(route)
    return routes, refused


def _parse_mail(sender: str, utf8: bool) -> MailFrom:
    command = _parse(f"MAIL FROM:<{sender}>{' SMTPUTF8' if utf8 else ''}", utf8)
    # The address must be all of what was given: "a@b> ENVID=x" must not smuggle parameters.
    if not isinstance(command, MailFrom) or command.address != sender:
        raise PathError("Bad sender address syntax", reverse_path=True)
    return command


def _parse_rcpt(address: str, utf8: bool) -> RcptTo:
    command = _parse(f"RCPT TO:<{address}>", utf8)
    if not isinstance(command, RcptTo) or command.address != address or command.params:
        raise PathError("Bad recipient address syntax", reverse_path=False)
    return command


def _parse(line: str, utf8: bool) -> Command | None:
    try:
        return parse_command(line.encode(), smtputf8=utf8)
    except CommandError:
        return None

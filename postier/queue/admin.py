"""``postier queue list|show|retry|delete``: the outbound queue for administrators.

How this works: ``add_commands`` registers the subcommands on the CLI's parser; each opens the
store through the CLI's ``with_store`` and prints plain text. A running server sees ``retry`` at
its next poll (``[queue] poll_interval``), and a message deleted while being delivered is only
missed by its outcome, which is then dropped. The ``format_*`` functions are pure, so the
output is tested without a store.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from postier.errors import InvalidArgument
from postier.queue.model import QueuedMessage, QueuedRecipient, QueueId, RecipientState
from postier.store.interface import Store

__all__ = ["add_commands", "format_age", "format_listing", "format_message"]

T = TypeVar("T")
WithStore = Callable[[argparse.Namespace, Callable[[Store], Awaitable[Any]]], Any]


def add_commands(queue: argparse.ArgumentParser, with_store: WithStore) -> None:
    sub = queue.add_subparsers(title="queue commands", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="messages waiting for delivery, with each recipient")
    listing.add_argument("--all", action="store_true",
                         help="include finished messages still kept for delivery status")
    listing.set_defaults(run=lambda args: _cmd_list(args, with_store))
    show = sub.add_parser("show", help="everything known about one queued message")
    show.add_argument("id")
    show.set_defaults(run=lambda args: _cmd_show(args, with_store))
    retry = sub.add_parser("retry", help="try a message's undelivered recipients now")
    retry.add_argument("id")
    retry.set_defaults(run=lambda args: _cmd_retry(args, with_store))
    delete = sub.add_parser("delete", help="remove a message from the queue (no bounce is sent)")
    delete.add_argument("id")
    delete.set_defaults(run=lambda args: _cmd_delete(args, with_store))


def _queue_id(text: str) -> QueueId:
    if not text.isdigit():
        raise InvalidArgument(f"{text!r} is not a queue id; 'postier queue list' shows them")
    return QueueId(int(text))


def _cmd_list(args: argparse.Namespace, with_store: WithStore) -> int:
    messages: list[QueuedMessage] = with_store(args, lambda s: s.list_queue())
    if not args.all:
        messages = [m for m in messages if any(not r.state.is_final for r in m.recipients)]
    print(format_listing(messages, datetime.now(UTC)))
    return 0


def _cmd_show(args: argparse.Namespace, with_store: WithStore) -> int:
    queue_id = _queue_id(args.id)
    message: QueuedMessage = with_store(args, lambda s: s.get_queued(queue_id))
    print(format_message(message, datetime.now(UTC)))
    return 0


def _cmd_retry(args: argparse.Namespace, with_store: WithStore) -> int:
    queue_id = _queue_id(args.id)
    count: int = with_store(args, lambda s: s.retry_now(queue_id, datetime.now(UTC)))
    if count:
        print(f"message {queue_id}: {count} recipient(s) will be tried at the next queue run")
    else:
        print(f"message {queue_id}: every recipient is already delivered or failed")
    return 0


def _cmd_delete(args: argparse.Namespace, with_store: WithStore) -> int:
    queue_id = _queue_id(args.id)
    with_store(args, lambda s: s.delete_queued(queue_id))
    print(f"deleted message {queue_id} from the queue")
    return 0


def format_age(seconds: float) -> str:
    """Compact durations for listings: 45s, 12m, 3h, 2d."""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _when(moment: datetime, now: datetime) -> str:
    delta = (moment - now).total_seconds()
    return "now" if delta <= 0 else f"in {format_age(delta)}"


def _recipient_line(recipient: QueuedRecipient, now: datetime) -> str:
    state = recipient.state
    parts = [f"{recipient.address}  {state.value}"]
    if state in (RecipientState.PENDING, RecipientState.DEFERRED):
        if recipient.lease_until is not None and recipient.lease_until > now:
            parts.append("being delivered")
        else:
            parts.append(f"next attempt {_when(recipient.next_attempt, now)}")
        if recipient.attempts:
            parts.append(f"{recipient.attempts} attempt(s)")
    detail = recipient.remote_reply if state is RecipientState.DELIVERED else recipient.last_error
    line = ", ".join(parts)
    return f"{line}: {detail}" if detail else line


def format_listing(messages: list[QueuedMessage], now: datetime) -> str:
    if not messages:
        return "the queue is empty"
    lines = []
    for message in messages:
        sender = message.envelope.sender or "(bounce, null sender)"
        lines.append(f"{message.id}  {format_age((now - message.created_at).total_seconds())} "
                     f"old  from <{sender}>  {message.size} bytes")
        lines += [f"    {_recipient_line(r, now)}" for r in message.recipients]
    waiting = sum(1 for m in messages for r in m.recipients if not r.state.is_final)
    lines.append(f"{len(messages)} message(s), {waiting} recipient(s) waiting")
    return "\n".join(lines)


def format_message(message: QueuedMessage, now: datetime) -> str:
    envelope = message.envelope
    lines = [
        f"id:          {message.id}",
        f"queued:      {message.created_at:%Y-%m-%d %H:%M:%S %Z} "
        f"({format_age((now - message.created_at).total_seconds())} ago)",
        f"sender:      <{envelope.sender}>" + ("  (a bounce: never bounced)"
                                               if not envelope.sender else ""),
        f"size:        {message.size} bytes",
    ]
    if message.message_id:
        lines.append(f"message-id:  <{message.message_id}>")
    extras = [f"{name}={value}" for name, value in (
        ("ENVID", envelope.envid), ("RET", envelope.ret), ("BODY", envelope.body_type)) if value]
    if envelope.smtputf8:
        extras.append("SMTPUTF8")
    if extras:
        lines.append(f"parameters:  {' '.join(extras)}")
    for recipient in message.recipients:
        lines += ["", f"recipient:   <{recipient.address}>",
                  f"  state:     {recipient.state.value}"
                  + (f" ({recipient.status})" if recipient.status else ""),
                  f"  attempts:  {recipient.attempts}"]
        if not recipient.state.is_final:
            lines.append(f"  next:      {recipient.next_attempt:%Y-%m-%d %H:%M:%S %Z} "
                         f"({_when(recipient.next_attempt, now)})")
        if recipient.last_attempt is not None:
            lines.append(f"  last try:  {recipient.last_attempt:%Y-%m-%d %H:%M:%S %Z}")
        if recipient.remote_mta:
            lines.append(f"  server:    {recipient.remote_mta}")
        if recipient.remote_reply:
            lines.append(f"  reply:     {recipient.remote_reply}")
        if recipient.last_error and recipient.last_error != recipient.remote_reply:
            lines.append(f"  error:     {recipient.last_error}")
        if recipient.notify:
            lines.append(f"  notify:    {','.join(recipient.notify)}")
        if recipient.orcpt:
            lines.append(f"  orcpt:     {recipient.orcpt}")
        if recipient.notice is not None:
            lines.append(f"  dsn due:   {recipient.notice.value}")
    return "\n".join(lines)

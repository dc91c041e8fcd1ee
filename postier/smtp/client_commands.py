"""The lines and octets an SMTP client sends, built from a MailTransaction. Pure functions.

How this works: ``mail_line`` and ``rcpt_line`` render MAIL and RCPT with exactly the ESMTP
parameters the server's EHLO offered (RFC 5321 §4.1.1.11: never send a parameter the server did
not announce); ``refusal`` says when a message must not be sent to this server at all;
``dot_stuff`` frames the data for DATA (RFC 5321 §4.5.2); ``result_of`` reads a reply as a
recipient's outcome (2xx delivered, 5xx failed, anything else deferred).
"""

from __future__ import annotations

import base64
import re

from postier.smtp.client_events import (
    MailTransaction,
    Outcome,
    OutgoingRecipient,
    RecipientResult,
)
from postier.smtp.client_replies import Extensions, RemoteReply

__all__ = ["REPLY_LABELS", "b64", "dot_stuff", "mail_line", "needs_smtputf8",
           "normalize_line_endings", "rcpt_line", "refusal", "result_of", "xtext_encode"]

_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")

# What a reply answers, and how to name it in a reason ("timeout waiting for <label>").
REPLY_LABELS = {
    "greeting": "the greeting", "EHLO": "the reply to EHLO", "HELO": "the reply to HELO",
    "STARTTLS": "the reply to STARTTLS", "AUTH": "the reply to AUTH",
    "AUTH_USER": "the reply to AUTH LOGIN", "AUTH_PASS": "the reply to AUTH LOGIN",
    "MAIL": "the reply to MAIL FROM", "RCPT": "the reply to RCPT TO", "DATA": "the reply to DATA",
    "BODY": "the reply to the end of the message data", "DISCARD": "the reply to an empty DATA",
    "BDAT": "the reply to BDAT", "RSET": "the reply to RSET", "QUIT": "the reply to QUIT",
}


def normalize_line_endings(body: bytes) -> bytes:
    """Bare CR or LF → CRLF, so no lenient server ever sees an end of data we did not mean
    (SMTP smuggling), and DKIM signs what is sent."""
    if body.count(b"\n") == body.count(b"\r\n") == body.count(b"\r"):
        return body
    return _LINE_ENDINGS.sub(b"\r\n", body)


def dot_stuff(body: bytes) -> bytes:
    """RFC 5321 §4.5.2: double a leading dot on every line; end with CRLF . CRLF."""
    body = normalize_line_endings(body)
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    stuffed = body.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


def xtext_encode(text: str) -> str:
    """RFC 3461 §4: "+", "=" and octets outside 33-126 become "+XX"."""
    return "".join(chr(b) if 33 <= b <= 126 and b not in (0x2B, 0x3D) else f"+{b:02X}"
                   for b in text.encode("utf-8"))


def needs_smtputf8(mail: MailTransaction) -> bool:
    return mail.smtputf8 or not mail.sender.isascii() or any(
        not r.address.isascii() for r in mail.recipients)


def refusal(ext: Extensions, mail: MailTransaction) -> tuple[str, str] | None:
    """(status, reason) when ``mail`` must not go to a server with ``ext``, else None."""
    if needs_smtputf8(mail) and "SMTPUTF8" not in ext:
        return "5.6.7", ("the remote server does not support SMTPUTF8, which this message "
                         "needs (RFC 6531)")
    if mail.body_type == "BINARYMIME" and not ("BINARYMIME" in ext and "CHUNKING" in ext):
        return "5.6.3", ("the remote server does not accept binary MIME (BINARYMIME and "
                         "CHUNKING, RFC 3030), and Postier does not convert it")
    limit = ext.size_limit
    if limit is not None and len(mail.body) > limit:
        return "5.3.4", (f"the message ({len(mail.body)} octets) is larger than the remote "
                         f"server's limit ({limit} octets)")
    return None


def mail_line(ext: Extensions, mail: MailTransaction) -> str:
    params: list[str] = []
    if "SIZE" in ext:
        params.append(f"SIZE={len(mail.body)}")
    if mail.body_type == "BINARYMIME":
        params.append("BODY=BINARYMIME")
    elif "8BITMIME" in ext and (mail.body_type == "8BITMIME" or not mail.body.isascii()):
        params.append("BODY=8BITMIME")
    if needs_smtputf8(mail):
        params.append("SMTPUTF8")
    if "DSN" in ext:
        if mail.ret:
            params.append(f"RET={mail.ret}")
        if mail.envid:
            params.append(f"ENVID={xtext_encode(mail.envid)}")
    return f"MAIL FROM:<{mail.sender}>" + "".join(" " + p for p in params)


def rcpt_line(ext: Extensions, recipient: OutgoingRecipient) -> str:
    params: list[str] = []
    if "DSN" in ext:
        if recipient.notify:
            params.append("NOTIFY=" + ",".join(recipient.notify))
        if recipient.orcpt:
            kind, _, address = recipient.orcpt.partition(";")
            params.append(f"ORCPT={kind};{xtext_encode(address)}")
    return f"RCPT TO:<{recipient.address}>" + "".join(" " + p for p in params)


def result_of(address: str, reply: RemoteReply) -> RecipientResult:
    if reply.code // 100 == 2:
        outcome = Outcome.DELIVERED
    elif reply.is_permanent:
        outcome = Outcome.FAILED
    else:
        outcome = Outcome.DEFERRED  # 4xx, and a stray 3xx: try again rather than guess
    status = reply.status
    if outcome is Outcome.DEFERRED and not status.startswith("4"):
        status = "4.5.0"
    return RecipientResult(address, outcome, status, str(reply), reply)


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")

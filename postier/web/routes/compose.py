"""Compose, reply, forward, drafts, and sending through the SMTP submission path.

Sending: the form becomes RFC 5322 bytes (mime/compose.py) and goes to the ``Submitter`` the
server handed in — ``smtp.submit.submit_message``: the submission policy (the sender must be the
user's own address or alias), local delivery, and the outbound queue (DKIM signing happens when
the queue sends). Only once it is accepted is the copy (with Bcc) stored in Sent as read. When
nothing could be sent the message is saved as a draft instead, so nothing typed is lost.

Uploads: one multipart/form-data request, at most ``[limits] max_message_size`` of attachments
(the guard answers 413 beyond it before reading); base64 grows them by a third, and a message
too large once encoded is refused with the same clear 413.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from postier.errors import InvalidArgument, MailError, NotFound
from postier.mime.compose import (
    Outgoing,
    OutgoingAttachment,
    build_message,
    new_message_id,
    parse_recipients,
)
from postier.types import ANSWERED, DRAFT, SEEN, FlagOp, Principal, SpecialUse, UidSet
from postier.web.context import WebContext, web_context
from postier.web.drafting import Draft, kept_attachments, prefill
from postier.web.filenames import safe_filename, safe_media_type
from postier.web.folders import folder_list, mailbox_by_id, special_folder
from postier.web.message_view import load_message
from postier.web.pages import form_str, read_form, redirect, render, require_session
from postier.web.security import RequestTooLarge
from postier.web.sessions import WebSession

__all__ = ["ROUTES"]

_MAX_FILES = 50


def _pair(form: FormData, name: str) -> tuple[int, int] | None:
    mailbox, _, uid = form_str(form, name).partition(":")
    if mailbox.isdigit() and uid.isdigit() and len(mailbox) < 19 and len(uid) < 11:
        return int(mailbox), int(uid)
    return None


def _draft_from_form(form: FormData) -> Draft:
    draft_uid = form_str(form, "draft_uid")
    return Draft(
        sender=form_str(form, "from"), to=form_str(form, "to"), cc=form_str(form, "cc"),
        bcc=form_str(form, "bcc"), subject=form_str(form, "subject"),
        text=form_str(form, "body"), in_reply_to=form_str(form, "in_reply_to"),
        references=form_str(form, "references"), source=_pair(form, "source"),
        answering=_pair(form, "answering"),
        draft_uid=int(draft_uid) if draft_uid.isdigit() and len(draft_uid) < 11 else None,
        kept={tuple(int(n) for n in value.split(".")) for value in form.getlist("keep")
              if isinstance(value, str) and value.replace(".", "").isdigit()
              and len(value) < 40 and ".." not in value and not value.startswith(".")
              and not value.endswith(".")},
    )


async def _page(request: Request, session: WebSession, draft: Draft, *, error: str = "",
                status: int = 200) -> Response:
    context = web_context(request)
    store = context.services.store
    account = session.principal.account_id
    if draft.source is not None and not draft.available:  # re-shown after an error
        try:
            mailbox = await mailbox_by_id(store, account, draft.source[0])
            loaded = await load_message(store, account, mailbox, draft.source[1])
            draft.available = list(loaded.item.summary.attachments)
        except NotFound:
            draft.source, draft.kept = None, set()
    own = await store.addresses_of(account)
    folders = await folder_list(store, account)
    return render(request, "compose.html", session, status=status, draft=draft, error=error,
                  senders=own or [session.principal.address], folders=folders, current=None,
                  max_size=context.max_message_size)


async def compose_form(request: Request) -> Response:
    session = require_session(request)
    context = web_context(request)
    store = context.services.store
    account = session.principal.account_id
    params = request.query_params
    mode = params.get("mode", "")
    draft = Draft(to=params.get("to", "")[:2000])
    if mode in ("reply", "replyall", "forward", "draft"):
        mailbox_id, uid = params.get("mailbox", ""), params.get("uid", "")
        if not (mailbox_id.isdigit() and uid.isdigit()):
            raise NotFound("no such message")
        mailbox = await mailbox_by_id(store, account, int(mailbox_id))
        own = await store.addresses_of(account)
        draft = await prefill(store, account, mode, mailbox, int(uid), own)
    return await _page(request, session, draft)


async def _uploads(form: FormData, limit: int) -> list[OutgoingAttachment]:
    found = []
    total = 0
    for value in form.getlist("attachments"):
        if not isinstance(value, UploadFile) or not value.filename:
            continue
        data = await value.read()
        total += len(data)
        if total > limit:
            raise RequestTooLarge(
                f"The attachments are too large: this server accepts messages up to "
                f"{limit / (1024 * 1024):.1f} MB in total.")
        found.append(OutgoingAttachment(safe_filename(value.filename),
                                        safe_media_type(value.content_type
                                                        or "application/octet-stream"), data))
    return found


async def _build(context: WebContext, principal: Principal, draft: Draft, form: FormData,
                 *, strict: bool) -> tuple[Outgoing, list[str]]:
    """The message of the form; ``strict``: invalid addresses are an error, not dropped."""
    store = context.services.store
    account = principal.account_id
    own = await store.addresses_of(account) or [principal.address]
    sender = next((a for a in own if a.lower() == draft.sender.strip().lower()), own[0])
    problems: list[str] = []
    lists = []
    for label, text in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        good, bad = parse_recipients(text)
        problems += [f"{label}: “{piece}” is not an email address." for piece in bad]
        lists.append(tuple(good))
    if strict and problems:
        raise InvalidArgument(" ".join(problems))
    attachments = []
    if draft.source is not None and draft.kept:
        source = await mailbox_by_id(store, account, draft.source[0])
        attachments += await kept_attachments(store, account, source, draft.source[1],
                                              draft.kept)
    attachments += await _uploads(form, context.max_message_size)
    references = tuple(r.strip("<>") for r in draft.references.split() if r.strip("<>"))[:50]
    outgoing = Outgoing(
        sender=("", sender), date=datetime.now(UTC),
        message_id=new_message_id(sender.rpartition("@")[2]),
        to=lists[0], cc=lists[1], bcc=lists[2], subject=draft.subject[:998], text=draft.text,
        attachments=tuple(attachments),
        in_reply_to=draft.in_reply_to.strip("<> ") or None, references=references)
    return outgoing, problems


async def _save_draft(context: WebContext, principal: Principal, draft: Draft,
                      outgoing: Outgoing) -> int:
    store = context.services.store
    account = principal.account_id
    drafts = await special_folder(store, account, SpecialUse.DRAFTS)
    appended = await store.append(account, drafts.id, build_message(outgoing, include_bcc=True),
                                  frozenset({DRAFT, SEEN}))
    await _forget_old_draft(context, principal, draft)
    return int(appended.record.uid)


async def _forget_old_draft(context: WebContext, principal: Principal, draft: Draft) -> None:
    if draft.draft_uid is None or draft.source is None:
        return
    store = context.services.store
    drafts = await store.find_special_use(principal.account_id, SpecialUse.DRAFTS)
    if drafts is not None and drafts.id == draft.source[0]:
        await store.remove(principal.account_id, drafts.id, UidSet.of([draft.draft_uid]))


async def send(request: Request) -> Response:
    session = require_session(request)
    context = web_context(request)
    form = await read_form(request, session, max_files=_MAX_FILES,
                           max_part_size=context.max_message_size)
    draft = _draft_from_form(form)
    principal = session.principal
    if form_str(form, "action") == "save":
        outgoing, problems = await _build(context, principal, draft, form, strict=False)
        uid = await _save_draft(context, principal, draft, outgoing)
        session.flash("Draft saved." + (" " + " ".join(problems) if problems else ""))
        return redirect(f"/compose?mode=draft&mailbox={await _drafts_id(context, principal)}"
                        f"&uid={uid}")
    try:
        outgoing, _ = await _build(context, principal, draft, form, strict=True)
    except InvalidArgument as exc:
        note = " Attach your files again." if form.getlist("attachments") else ""
        return await _page(request, session, draft, error=str(exc) + note, status=400)
    if not outgoing.recipients():
        return await _page(request, session, draft, status=400,
                           error="Add at least one recipient.")
    data = build_message(outgoing, include_bcc=False)
    if len(data) > context.max_message_size:
        raise RequestTooLarge(
            f"The message is {len(data) / 1048576:.1f} MB once encoded; this server sends "
            f"messages up to {context.max_message_size / 1048576:.1f} MB. Remove an "
            "attachment or send it separately.")
    outcome = await context.submit(principal, outgoing.sender[1], outgoing.recipients(), data,
                                   client_ip=request.client.host if request.client else "",
                                   tls=request.url.scheme == "https")
    refusals = [f"{address}: {' '.join(reply.lines)}" for address, reply in
                outcome.refused.items()]
    if not outcome.accepted:
        uid = await _save_draft(context, principal, draft, outgoing)
        session.flash("Not sent: " + " ".join(outcome.reply.lines) + ". "
                      + " ".join(refusals) + " The message was saved as a draft.", "error")
        return redirect(f"/compose?mode=draft&mailbox={await _drafts_id(context, principal)}"
                        f"&uid={uid}")
    await _after_send(context, principal, draft, outgoing)
    session.flash("Message sent." + (" Some recipients were refused: " + "; ".join(refusals)
                                     if refusals else ""), "warning" if refusals else "info")
    sent = await special_folder(context.services.store, principal.account_id, SpecialUse.SENT)
    return redirect(f"/mail/{sent.id}")


async def _after_send(context: WebContext, principal: Principal, draft: Draft,
                      outgoing: Outgoing) -> None:
    store = context.services.store
    account = principal.account_id
    sent = await special_folder(store, account, SpecialUse.SENT)
    await store.append(account, sent.id, build_message(outgoing, include_bcc=True),
                       frozenset({SEEN}))
    await _forget_old_draft(context, principal, draft)
    if draft.answering is not None:
        try:
            mailbox = await mailbox_by_id(store, account, draft.answering[0])
            await store.set_flags(account, mailbox.id, UidSet.of([draft.answering[1]]),
                                  FlagOp.ADD, frozenset({ANSWERED}))
        except MailError:
            pass  # the original was moved or deleted meanwhile
    context.contacts.remember(account, [*outgoing.to, *outgoing.cc, *outgoing.bcc])


async def _drafts_id(context: WebContext, principal: Principal) -> int:
    drafts = await special_folder(context.services.store, principal.account_id,
                                  SpecialUse.DRAFTS)
    return int(drafts.id)


async def contacts(request: Request) -> Response:
    session = require_session(request)
    context = web_context(request)
    store = context.services.store
    account = session.principal.account_id
    found = await context.contacts.suggest(store, account, await store.addresses_of(account),
                                           request.query_params.get("q", "")[:100])
    return JSONResponse([{"name": name, "address": address} for name, address in found])


ROUTES = [
    Route("/compose", compose_form, methods=["GET"]),
    Route("/compose", send, methods=["POST"]),
    Route("/api/contacts", contacts),
]

"""The reading pane and everything served from one message: its sanitized HTML document, raw
source, .eml download and attachments.

Mail content never runs in the webmail's origin. The HTML body is a separate document
(``/body``) with its own CSP ``sandbox`` policy, shown in an ``<iframe sandbox>`` without
allow-scripts or allow-same-origin; raw source and attachments are served with
``default-src 'none'; sandbox``, nosniff, and (attachments, .eml) as downloads with a cleaned
file name.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from postier.errors import NotFound
from postier.mime import decode_body, resolve
from postier.web import bodies
from postier.web.context import web_context
from postier.web.filenames import content_disposition, safe_filename, safe_media_type
from postier.web.folders import mailbox_by_id
from postier.web.message_view import load_detail, load_message
from postier.web.pages import render, require_session
from postier.web.sanitize import sanitize_html
from postier.web.security import DOWNLOAD_CSP, frame_csp
from postier.web.views import ListQuery, mail_view

__all__ = ["ROUTES"]

_FRAME_STYLE = (
    "html{color-scheme:light}body{margin:16px;font:15px/1.55 system-ui,-apple-system,"
    "'Segoe UI',Roboto,sans-serif;color:#1b1f24;background:#fff;overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}table{max-width:100%}pre{white-space:pre-wrap}"
    "a{color:#1d4ed8}blockquote{margin:0 0 0 .8em;padding-left:.8em;border-left:3px solid "
    "#d0d7de;color:#57606a}"
)


def _ids(request: Request) -> tuple[int, int]:
    return request.path_params["mailbox"], request.path_params["uid"]


async def show(request: Request) -> Response:
    session = require_session(request)
    store = web_context(request).services.store
    account = session.principal.account_id
    mailbox_id, uid = _ids(request)
    view = await mail_view(store, account, mailbox_id, ListQuery.from_params(request.query_params))
    detail = await load_detail(store, account, view.mailbox, uid,
                               prefer_text=request.query_params.get("format") == "text",
                               images=request.query_params.get("images") == "1")
    return render(request, "mail.html", session, view=view, message=detail,
                  folders=view.folders)


async def body(request: Request) -> Response:
    """The sanitized HTML body as a document of its own, for the sandboxed frame."""
    session = require_session(request)
    store = web_context(request).services.store
    account = session.principal.account_id
    mailbox_id, uid = _ids(request)
    mailbox = await mailbox_by_id(store, account, mailbox_id)
    loaded = await load_message(store, account, mailbox, uid)
    found = bodies.find_bodies(loaded.tree)
    if found.html is None:
        raise NotFound("This message has no HTML body.")
    images = request.query_params.get("images") == "1"
    clean = sanitize_html(bodies.html_source(loaded.data, found.html),
                          allow_remote_images=images,
                          inline_images=bodies.inline_images(loaded.data, found))
    document = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                f"<style>{_FRAME_STYLE}</style></head><body>{clean.html}</body></html>")
    return HTMLResponse(document, headers={
        "content-security-policy": frame_csp(images),
        "x-frame-options": "SAMEORIGIN",
        "cross-origin-resource-policy": "same-origin",
    })


async def source(request: Request) -> Response:
    session = require_session(request)
    store = web_context(request).services.store
    account = session.principal.account_id
    mailbox_id, uid = _ids(request)
    mailbox = await mailbox_by_id(store, account, mailbox_id)
    loaded = await load_message(store, account, mailbox, uid)
    download = request.query_params.get("download") == "1"
    headers = {"content-security-policy": DOWNLOAD_CSP}
    if download:
        name = safe_filename(f"{loaded.item.subject[:80]}.eml", "message.eml")
        headers["content-disposition"] = content_disposition(name)
        return Response(loaded.data, media_type="message/rfc822", headers=headers)
    text = loaded.data.decode("utf-8", "replace")
    return Response(text, media_type="text/plain; charset=utf-8", headers=headers)


def _part_path(raw: str) -> tuple[int, ...]:
    try:
        path = tuple(int(piece) for piece in raw.split("."))
    except ValueError:
        raise NotFound("no such attachment") from None
    if not path or len(path) > 20 or any(not 0 < n < 10_000 for n in path):
        raise NotFound("no such attachment")
    return path


async def attachment(request: Request) -> Response:
    session = require_session(request)
    store = web_context(request).services.store
    account = session.principal.account_id
    mailbox_id, uid = _ids(request)
    mailbox = await mailbox_by_id(store, account, mailbox_id)
    loaded = await load_message(store, account, mailbox, uid)
    path = _part_path(request.path_params["part"])
    part = resolve(loaded.tree, path)
    if part is None or part.children:
        raise NotFound("This attachment does not exist.")
    listed = next((a for a in loaded.item.summary.attachments if a.path == path), None)
    name = listed.filename if listed is not None and listed.filename else (
        part.disposition_params.get("filename") or part.params.get("name") or "attachment")
    data = decode_body(loaded.data, part)
    if data is None:
        data = loaded.data[part.body_start:part.end]
    return Response(data, media_type=safe_media_type(part.content_type), headers={
        "content-disposition": content_disposition(name),
        "content-security-policy": DOWNLOAD_CSP,
    })


ROUTES = [
    Route("/mail/{mailbox:int}/{uid:int}", show),
    Route("/mail/{mailbox:int}/{uid:int}/body", body),
    Route("/mail/{mailbox:int}/{uid:int}/source", source),
    Route("/mail/{mailbox:int}/{uid:int}/part/{part}", attachment),
]

"""The mail screen's list side: message lists, bulk actions, folders and their management."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from postier.errors import InvalidArgument, NotFound, PermissionDenied
from postier.store.interface import Store
from postier.types import (
    FLAGGED,
    INBOX,
    SEEN,
    AccountId,
    FlagOp,
    Mailbox,
    SpecialUse,
    UidSet,
)
from postier.web.context import web_context
from postier.web.folders import (
    display_name,
    folder_list,
    mailbox_by_id,
    protected,
    special_folder,
)
from postier.web.listing import MAX_UID
from postier.web.pages import (
    form_int,
    form_ints,
    form_str,
    is_fetch,
    local_url,
    read_form,
    redirect,
    render,
    require_session,
)
from postier.web.sessions import WebSession
from postier.web.views import ListQuery, mail_view

__all__ = ["ROUTES", "apply_action"]

_FLAG_ACTIONS = {
    "read": (FlagOp.ADD, SEEN), "unread": (FlagOp.REMOVE, SEEN),
    "star": (FlagOp.ADD, FLAGGED), "unstar": (FlagOp.REMOVE, FLAGGED),
}


async def inbox(request: Request) -> Response:
    session = require_session(request)
    store = web_context(request).services.store
    mailbox = await store.get_mailbox(session.principal.account_id, INBOX)
    return redirect(f"/mail/{mailbox.id}")


async def message_list(request: Request) -> Response:
    session = require_session(request)
    store = web_context(request).services.store
    query = ListQuery.from_params(request.query_params)
    view = await mail_view(store, session.principal.account_id,
                           request.path_params["mailbox"], query)
    return render(request, "mail.html", session, view=view, message=None, folders=view.folders)


async def list_fragment(request: Request) -> Response:
    """The list alone, for the live refresh."""
    session = require_session(request)
    store = web_context(request).services.store
    query = ListQuery.from_params(request.query_params)
    view = await mail_view(store, session.principal.account_id,
                           request.path_params["mailbox"], query)
    selected = request.query_params.get("selected", "")
    return render(request, "_list.html", session, view=view,
                  selected=int(selected) if selected.isdigit() else None)


async def folder_nav(request: Request) -> Response:
    session = require_session(request)
    store = web_context(request).services.store
    folders = await folder_list(store, session.principal.account_id)
    current = request.query_params.get("current", "")
    return render(request, "_folders.html", session, folders=folders,
                  current=int(current) if current.isdigit() else None)


async def apply_action(store: Store, account: AccountId, mailbox: Mailbox, uids: list[int],
                       action: str, destination: int | None) -> str:
    """Run one list or message action; returns what to tell the user."""
    wanted = UidSet.of(u for u in uids if 0 < u <= MAX_UID)
    if not wanted:
        raise InvalidArgument("Select at least one message first.")
    count = len(wanted)
    noun = "message" if count == 1 else "messages"
    if action == "toggle_star":
        records = await store.get_messages(account, mailbox.id, wanted)
        if not records:
            raise NotFound("That message no longer exists.")
        action = "unstar" if FLAGGED in records[0].flags else "star"
    if action in _FLAG_ACTIONS:
        op, flag = _FLAG_ACTIONS[action]
        await store.set_flags(account, mailbox.id, wanted, op, frozenset({flag}))
        return ""
    if action == "delete" and mailbox.special_use in (SpecialUse.TRASH, SpecialUse.JUNK):
        removed = await store.remove(account, mailbox.id, wanted)
        return f"{len(removed)} {noun} deleted for good."
    if action in ("delete", "archive", "move"):
        if action == "delete":
            target = await special_folder(store, account, SpecialUse.TRASH)
        elif action == "archive":
            target = await special_folder(store, account, SpecialUse.ARCHIVE)
        else:
            if destination is None:
                raise InvalidArgument("Choose a folder to move to.")
            target = await mailbox_by_id(store, account, destination)
        if target.id == mailbox.id:
            return f"Already in {display_name(target.name)}."
        result = await store.move(account, mailbox.id, wanted, target.id)
        moved = len(result.source_uids)
        return (f"{moved} {'message' if moved == 1 else 'messages'} moved to "
                f"{display_name(target.name)}.")
    raise InvalidArgument(f"Unknown action {action[:40]!r}.")


def _selected(form: FormData) -> tuple[list[int], str]:
    toggle = form_str(form, "toggle_star")
    if toggle:  # the star button of one row
        uid = int(toggle) if toggle.isdigit() and len(toggle) < 11 else 0
        return [uid], "toggle_star"
    return form_ints(form, "uid"), form_str(form, "action")


async def actions(request: Request) -> Response:
    session = require_session(request)
    form = await read_form(request, session)
    store = web_context(request).services.store
    account = session.principal.account_id
    mailbox = await mailbox_by_id(store, account, request.path_params["mailbox"])
    uids, action = _selected(form)
    destination = form_str(form, "destination")
    note = await apply_action(store, account, mailbox, uids, action,
                              int(destination) if destination.isdigit() else None)
    return _done(request, session, form, note, f"/mail/{mailbox.id}")


def _done(request: Request, session: WebSession, form: FormData, note: str,
          default: str) -> Response:
    if is_fetch(request):
        return JSONResponse({"ok": True, "message": note})
    if note:
        session.flash(note)
    return redirect(local_url(form_str(form, "next"), default))


async def empty_folder(request: Request) -> Response:
    session = require_session(request)
    form = await read_form(request, session)
    store = web_context(request).services.store
    account = session.principal.account_id
    mailbox = await mailbox_by_id(store, account, request.path_params["mailbox"])
    if mailbox.special_use not in (SpecialUse.TRASH, SpecialUse.JUNK):
        raise PermissionDenied("Only Trash and Junk can be emptied.")
    removed = await store.remove(account, mailbox.id, UidSet.span(1, mailbox.uidnext - 1))
    return _done(request, session, form, f"{mailbox.name} emptied: {len(removed)} messages "
                 "deleted for good.", f"/mail/{mailbox.id}")


async def manage_folders(request: Request) -> Response:
    session = require_session(request)
    store = web_context(request).services.store
    folders = await folder_list(store, session.principal.account_id)
    return render(request, "folders.html", session, folders=folders, current=None)


def _folder_name(form: FormData, key: str) -> str:
    name = " ".join(form_str(form, key).split())
    if not name or len(name) > 200:
        raise InvalidArgument("A folder name needs 1 to 200 characters.")
    return name


async def create_folder(request: Request) -> Response:
    session = require_session(request)
    form = await read_form(request, session)
    store = web_context(request).services.store
    account = session.principal.account_id
    name = _folder_name(form, "name")
    parent = form_str(form, "parent")
    if parent.isdigit():
        name = f"{(await mailbox_by_id(store, account, int(parent))).name}/{name}"
    created = await store.create_mailbox(account, name)
    await store.set_subscribed(account, created.name, True)
    return _done(request, session, form, f"Folder {created.name} created.", "/folders")


async def _own_folder(request: Request, session: WebSession, form: FormData) -> Mailbox:
    store = web_context(request).services.store
    mailbox = await mailbox_by_id(store, session.principal.account_id, form_int(form, "mailbox"))
    if protected(mailbox):
        raise PermissionDenied(f"{mailbox.name} is a standard folder and stays as it is.")
    return mailbox


async def rename_folder(request: Request) -> Response:
    session = require_session(request)
    form = await read_form(request, session)
    mailbox = await _own_folder(request, session, form)
    new_name = _folder_name(form, "name")
    parent, _, _ = mailbox.name.rpartition("/")
    if "/" not in new_name and parent:
        new_name = f"{parent}/{new_name}"
    store = web_context(request).services.store
    await store.rename_mailbox(session.principal.account_id, mailbox.name, new_name)
    return _done(request, session, form, f"Folder renamed to {new_name}.", "/folders")


async def delete_folder(request: Request) -> Response:
    session = require_session(request)
    form = await read_form(request, session)
    mailbox = await _own_folder(request, session, form)
    store = web_context(request).services.store
    try:
        await store.delete_mailbox(session.principal.account_id, mailbox.name)
    except NotFound:
        pass
    return _done(request, session, form, f"Folder {mailbox.name} deleted.", "/folders")


ROUTES = [
    Route("/mail", inbox),
    Route("/mail/{mailbox:int}", message_list),
    Route("/mail/{mailbox:int}/list", list_fragment),
    Route("/mail/{mailbox:int}/actions", actions, methods=["POST"]),
    Route("/mail/{mailbox:int}/empty", empty_folder, methods=["POST"]),
    Route("/folders", manage_folders),
    Route("/folders/nav", folder_nav),
    Route("/folders/create", create_folder, methods=["POST"]),
    Route("/folders/rename", rename_folder, methods=["POST"]),
    Route("/folders/delete", delete_folder, methods=["POST"]),
]

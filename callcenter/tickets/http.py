"""Tickets over HTTP: create, read, list (filters, paging, full text), transition, assign,
confirm, comment, attach; intake from web, app, mini-program and public-account forms.

Roles: agents and supervisors see every ticket; a department sees only the tickets
dispatched to it.

Every field that leaves here (tickets, their history entries and comments, in lists and
detail views alike) goes through the catalogue-driven `Redactor` of the caller's role
(GB/T 44192 8): the grade of each column in config/catalog.toml and the role's action for
that grade in config/protection.toml say whether it is shown in clear, masked by its kind
(free text and the JSON columns: the phone and ID-card numbers inside masked) or left out
(`hide`: the key is absent). Each read that shows sensitive fields in clear is one row of the
data access log, in the same transaction, naming those fields (`ticket_history.note` and the
like for the history and comments).

A citizen's ID-card number is stored encrypted (the app's `CIPHER`). A ticket's detail view
shows it masked (or not at all, when the role's action for its grade is `hide`), and each
such decryption is written to the data access log (action `read`) in the same transaction;
only an auditor (or admin) stating a purpose gets the full number, from
`GET /api/tickets/{id}/id_card?purpose=...`, logged as `decrypt`.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.api.auth import Principal, redactor_for, require
from callcenter.api.described import body, described
from callcenter.api.errors import ApiError
from callcenter.api.keys import ATTACHMENTS, CIPHER, OUTBOUND, SETTINGS, TICKET_DB
from callcenter.api.params import MAX_ID, Int, Number, Query, query
from callcenter.data import audit
from callcenter.data.protection import Action, Redactor
from callcenter.data.redaction import read_in_clear, shown
from callcenter.masking import mask_id_card
from callcenter.outbound import survey_store as surveys
from callcenter.storage.schema import EmergencyLink, Ticket, TicketAttachment
from callcenter.tickets import actions as act
from callcenter.tickets import service as store
from callcenter.tickets.knowledge import REQUEST_TYPES
from callcenter.tickets.lifecycle import allowed_actions
from callcenter.tickets.model import Actor, Role, Status
from callcenter.tickets.schemas import (
    COMMENT_COLUMNS,
    DETAIL_COLUMNS,
    HISTORY_KEYS,
    LIST_COLUMNS,
    MAX_PAGE,
    Assign,
    Comment,
    Confirm,
    Intake,
    Transition,
    hides_id_card,
    id_card_shown,
    intake_of,
    parse_action,
    stored,
    values_of,
    view,
)
from callcenter.tickets.settings import TicketSettings


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/tickets", create),
        web.get("/api/tickets", listing),
        web.get("/api/tickets/vocabulary", vocabulary),
        web.get("/api/tickets/{id}", read),
        web.post("/api/tickets/{id}/transition", transition),
        web.post("/api/tickets/{id}/assign", assign),
        web.post("/api/tickets/{id}/confirm", confirm),
        web.post("/api/tickets/{id}/comments", comment),
        web.post("/api/tickets/{id}/attachments", attach),
        web.get("/api/tickets/{id}/id_card", reveal_id_card),
        web.post("/api/intake/{channel}", intake),
    ]


def actor_of(who: Principal) -> Actor:
    return Actor(who.name, Role(who.role), who.department or None)


def _now() -> datetime:
    return datetime.now(UTC)


def _ticket_id(request: web.Request) -> int:
    """The ticket id of the path; a number no integer column holds is no ticket (404)."""
    try:
        tid = int(request.match_info["id"])
    except ValueError as exc:
        raise ApiError(404, "ticket.not_found", "ticket ids are numbers") from exc
    if not 1 <= tid <= MAX_ID:
        raise ApiError(404, "ticket.not_found", f"ticket ids are 1 to {MAX_ID}")
    return tid


def _detail(
    row: Ticket, redact: Redactor, request: web.Request, settings: TicketSettings | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The detail view, and what it read: `id_card` when the number was decrypted, then the
    sensitive columns shown in clear."""
    cipher = request.app.get(CIPHER)
    identity = id_card_shown(row, redact, cipher)
    values = values_of(row, LIST_COLUMNS + DETAIL_COLUMNS, cipher, None)
    out = view(
        row,
        redact,
        detail=True,
        settings=settings,
        identity=identity,
        phone=str(values["caller_number"]),
    )
    read = ["id_card"] if identity["id_card_status"] == "ok" else []
    return out, read + read_in_clear(redact, "tickets", values)


def _history(s: Session, tid: int, redact: Redactor) -> tuple[list[dict[str, object]], list[str]]:
    """The ticket's history entries as the role sees them, and the fields read in clear
    (`ticket_history.note`, ...)."""
    entries: list[dict[str, object]] = []
    read: dict[str, None] = {}
    for h in store.history(s, tid):
        values = {column: stored(h, column, "ticket_history") for _, column in HISTORY_KEYS}
        seen = shown(redact, "ticket_history", values)
        entries.append({key: seen[column] for key, column in HISTORY_KEYS if column in seen})
        read.update(dict.fromkeys(read_in_clear(redact, "ticket_history", values)))
    return entries, [f"ticket_history.{c}" for c in read]


def _comments(s: Session, tid: int, redact: Redactor) -> tuple[list[dict[str, object]], list[str]]:
    """The ticket's comments as the role sees them, and the fields read in clear."""
    entries: list[dict[str, object]] = []
    read: dict[str, None] = {}
    for c in store.comments(s, tid):
        values = {column: stored(c, column, "ticket_comments") for column in COMMENT_COLUMNS}
        entries.append(shown(redact, "ticket_comments", values))
        read.update(dict.fromkeys(read_in_clear(redact, "ticket_comments", values)))
    return entries, [f"ticket_comments.{c}" for c in read]


def _log_view(s: Session, who: Principal, request: web.Request, tid: int, read: list[str]) -> None:
    """One access-log row for a detail view that decrypted the ID number or showed sensitive
    fields in clear; nothing when it did neither."""
    if read:
        audit.record_access(
            s,
            who.name,
            who.role,
            "read",
            "tickets",
            str(tid),
            read,
            "ticket view (ID number masked)" if "id_card" in read else "ticket view",
            request.remote or "",
        )


def _visible(row: Ticket, who: Principal) -> None:
    if who.role == "department" and row.department != who.department:
        raise ApiError(404, "ticket.not_found", f"no ticket {row.id}")  # not even its existence


async def _run(request: web.Request, work: Any) -> Any:
    db = request.app[TICKET_DB]
    return await asyncio.to_thread(db.transaction, work)


async def _create(request: web.Request, channel: str, asked: Intake) -> web.Response:
    who = require(request, "agent", "supervisor")
    data = intake_of(asked, channel)
    settings = request.app[SETTINGS]
    cipher = request.app.get(CIPHER)
    entered = data.id_card.strip().upper()
    redact = redactor_for(request, who)

    def work(s: Session) -> tuple[store.Created, dict[str, Any]]:
        made = store.create(s, settings, data, actor_of(who), _now(), cipher=cipher)
        if made.linked:  # an earlier ticket: what it holds is read back (and logged)
            out, read = _detail(made.ticket, redact, request)
            _log_view(s, who, request, made.ticket.id, read)
            return made, out
        # a new ticket shows what the agent just sent, masked: nothing is decrypted
        identity: dict[str, str] | None = None
        if hides_id_card(redact):
            identity = {"id_card_status": "hidden"}
        elif entered:
            identity = {"id_card": mask_id_card(entered), "id_card_status": "ok"}
        phone = data.caller_number.strip()
        return made, view(made.ticket, redact, detail=True, identity=identity, phone=phone)

    made, out = await _run(request, work)
    out["linked"] = made.linked
    if made.linked:
        out["similarity"] = round(made.similarity, 3)
    return web.json_response(out, status=200 if made.linked else 201)


@described(
    "Create a ticket (linked to an open one when it repeats)",
    roles="agent, supervisor",
    ok=201,
    body=Intake,
)
async def create(request: web.Request) -> web.Response:
    asked = await body(request, Intake)
    return await _create(request, asked.channel, asked)


FORM_CHANNELS = ("web", "app", "miniprogram", "wechat")


@described(
    "Form intake from web, app, mini-program, public account (the body's channel is the path's)",
    roles="channel backend token (agent)",
    ok=201,
    body=Intake,
    path={"channel": {"enum": list(FORM_CHANNELS)}},
)
async def intake(request: web.Request) -> web.Response:
    """Forms from the web site, app, mini-program and public account (GB/T 44190 6.2.2): the
    channel's backend calls with its own agent token; everything lands in one ticket flow."""
    channel = request.match_info["channel"]
    if channel not in FORM_CHANNELS:
        raise ApiError(404, "api.not_found", f"channels: {', '.join(FORM_CHANNELS)}")
    return await _create(request, channel, await body(request, Intake))


class ListingQuery(Query):
    """The ticket list's filters and page (a department user sees its own department's)."""

    error_id = "api.invalid"
    page: Annotated[int, Int(1, MAX_PAGE)] = 1
    per_page: Annotated[int, Int(1, 200)] = 20
    from_: Annotated[float | None, Number()] = Field(
        None, alias="from", description="created at or after (epoch seconds)"
    )
    to: Annotated[float | None, Number()] = Field(
        None, description="created before (epoch seconds)"
    )
    status: str = ""
    department: str = ""
    request_type: str = ""
    channel: str = ""
    caller_number: str = ""
    did: str = ""
    call_id: str = ""
    due: str = Field("", description="overdue: only tickets past their deadline")
    q: str = Field("", description="full text")


@described(
    "List tickets: filters, paging, full text (q)",
    roles="agent, supervisor, department (own only)",
    query=ListingQuery,
)
async def listing(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    q = query(request, ListingQuery)
    page, per_page = q.page, q.per_page
    created_from, created_to = q.from_, q.to
    if not all(math.isfinite(t) for t in (created_from or 0.0, created_to or 0.0)):
        raise ApiError(400, "api.invalid", "from and to must be finite numbers")
    filters = store.Filters(
        status=q.status,
        department=who.department if who.role == "department" else q.department,
        request_type=q.request_type,
        channel=q.channel,
        caller_number="" if who.role == "department" else q.caller_number,
        did=q.did,
        call_id=q.call_id,
        created_from=created_from,
        created_to=created_to,
        overdue_at=_now().timestamp() if q.due == "overdue" else None,
        q=q.q,
    )
    if who.role == "department" and not who.department:
        raise ApiError(403, "api.forbidden", "this department token names no department")
    redact = redactor_for(request, who)
    cipher = request.app.get(CIPHER)
    # numbers and titles in clear: a sensitive read, on record
    read = [
        c
        for c in redact.fields_read("tickets", LIST_COLUMNS)
        if redact.action("tickets", c) is Action.CLEAR
    ]

    def work(s: Session) -> tuple[int, list[Ticket]]:
        total, rows = store.search(s, filters, page, per_page, cipher)
        if rows and read:
            audit.record_access(
                s,
                who.name,
                who.role,
                "read",
                "tickets",
                "",
                read,
                "ticket list: " + ",".join(str(r.id) for r in rows),
                request.remote or "",
            )
        return total, rows

    total, rows = await _run(request, work)
    return web.json_response(
        {
            "total": total,
            "total_capped": total > store.COUNT_CAP,
            "page": page,
            "per_page": per_page,
            "tickets": [
                view(r, redact, settings=request.app[SETTINGS], cipher=cipher) for r in rows
            ],
        }
    )


@described("A ticket with history, comments, allowed actions")
async def read(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    tid = _ticket_id(request)
    redact = redactor_for(request, who)

    def work(s: Session) -> dict[str, Any]:
        row = store.get(s, tid)
        _visible(row, who)
        out, read = _detail(row, redact, request, request.app[SETTINGS])
        out["history"], history_read = _history(s, tid, redact)
        out["comments"], comments_read = _comments(s, tid, redact)
        _log_view(s, who, request, tid, read + history_read + comments_read)
        out["allowed_actions"] = list(allowed_actions(store.state_of(row), Role(who.role)))
        out["emergency"] = [
            shown(
                redact,
                "emergency_links",
                {c: getattr(x, c) for c in ("line", "mode", "actor", "target", "status", "at")},
            )
            for x in (
                s.scalars(
                    select(EmergencyLink)
                    .where(EmergencyLink.call_id == row.call_id)
                    .order_by(EmergencyLink.id)
                )
                if row.call_id
                else ()
            )
        ]
        out["survey"] = surveys.of_ticket(s, tid)
        return out

    return web.json_response(await _run(request, work))


async def _transition(
    request: web.Request, action: act.Action, version: int | None
) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    tid = _ticket_id(request)
    settings = request.app[SETTINGS]
    redact = redactor_for(request, who)

    def work(s: Session) -> dict[str, Any]:
        _visible(store.get(s, tid), who)
        row, entry = store.transition(s, settings, tid, action, actor_of(who), _now(), version)
        if entry.to_status is Status.CLOSED and OUTBOUND in request.app:  # 办结 -> 回访
            surveys.schedule(s, row, request.app[OUTBOUND], time.time(), request.app.get(CIPHER))
        out, read = _detail(row, redact, request)
        _log_view(s, who, request, tid, read)
        seen = shown(
            redact,
            "ticket_history",
            {"seq": entry.seq, "action": entry.action, "to_status": entry.to_status},
        )
        out["history_entry"] = {
            key: seen[column]
            for key, column in (("seq", "seq"), ("action", "action"), ("to", "to_status"))
            if column in seen
        }
        return out

    return web.json_response(await _run(request, work))


@described("Apply a lifecycle action", body=Transition)
async def transition(request: web.Request) -> web.Response:
    asked = await body(request, Transition)
    return await _transition(request, parse_action(asked), asked.expected_version)


@described("Dispatch (or re-dispatch) to a department", body=Assign)
async def assign(request: web.Request) -> web.Response:
    """Dispatch to a department (or re-dispatch one a department gave back)."""
    asked = await body(request, Assign)
    department, note = asked.department, asked.note
    tid = _ticket_id(request)

    def returned(s: Any) -> bool:
        return store.state_of(store.get(s, tid)).returns > 0

    again = await _run(request, returned)
    action: act.Action = (
        act.Redispatch(department, note) if again else act.Dispatch(department, note)
    )
    return await _transition(request, action, asked.expected_version)


@described("Request types, topics and departments with their display names")
async def vocabulary(request: web.Request) -> web.Response:
    """The words a ticket form offers, each with its display name: request types, topics
    and departments, as the knowledge base configures them."""
    require(request, "agent", "supervisor", "department")
    kb = request.app[SETTINGS].knowledge
    return web.json_response(
        {
            "request_types": list(REQUEST_TYPES),
            "default_type": kb.default_type,
            "topics": [{"id": t.id, "name": t.name, "department": t.department} for t in kb.topics],
            "departments": [{"id": d.id, "name": d.name} for d in kb.departments.values()],
        }
    )


@described("Confirm or edit the classifier's proposal", roles="agent, supervisor", body=Confirm)
async def confirm(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor")
    asked = await body(request, Confirm)
    tid = _ticket_id(request)
    request_type, topic, department = asked.request_type, asked.topic, asked.department
    redact = redactor_for(request, who)

    def work(s: Session) -> dict[str, Any]:
        row = store.confirm(s, tid, actor_of(who), request_type, topic, department)
        out, read = _detail(row, redact, request)
        _log_view(s, who, request, tid, read)
        return out

    return web.json_response(await _run(request, work))


class PurposeQuery(Query):
    insists = ("purpose",)
    purpose: str = Field("", description="why the number is read (up to 500 characters)")


@described(
    "The full ID-card number for a stated purpose (logged as decrypt)",
    roles="auditor, admin",
    query=PurposeQuery,
)
async def reveal_id_card(request: web.Request) -> web.Response:
    """The full ID-card number, for an auditor (or admin) who states why; logged as
    `decrypt` with the purpose before the number leaves."""
    who = require(request, "auditor")
    purpose = query(request, PurposeQuery).purpose.strip()
    if not purpose:
        raise ApiError(400, "data.purpose_required", "state the purpose: ?purpose=...")
    if len(purpose) > 500:
        raise ApiError(400, "api.invalid", "'purpose' is longer than 500 characters")
    tid = _ticket_id(request)
    cipher = request.app.get(CIPHER)

    def work(s: Session) -> dict[str, Any]:
        row = store.get(s, tid)
        if not row.id_card:
            raise ApiError(404, "data.no_id_card", f"ticket {tid} holds no ID-card number")
        if cipher is None:
            raise ApiError(503, "data.no_key", "no data encryption key is configured")
        plain = cipher.decrypt(row.id_card)  # Undecryptable: a 422
        audit.record_access(
            s,
            who.name,
            who.role,
            "decrypt",
            "tickets",
            str(tid),
            ("id_card",),
            purpose,
            request.remote or "",
        )
        return {"id": tid, "id_card": plain}

    body = await _run(request, work)
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@described("Comment", ok=201, body=Comment)
async def comment(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    text = (await body(request, Comment)).text
    tid = _ticket_id(request)

    def work(s: Any) -> None:
        _visible(store.get(s, tid), who)
        store.comment(s, tid, actor_of(who), text, _now())

    await _run(request, work)
    return web.json_response({"ok": True}, status=201)


class AttachQuery(Query):
    insists = ("name",)
    name: str = Field("", description="the file's name (no /, up to 200 characters)")


@described(
    "Attach a file (raw body, ?name=): stored whole up to tickets.toml [attachments] max_bytes "
    "and the user's quota_bytes_per_user, else 413 and nothing stored",
    ok=201,
    query=AttachQuery,
    extra={"requestBody": {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def attach(request: web.Request) -> web.Response:
    """Raw body upload: `?name=photo.jpg`, Content-Type kept; stored whole by content hash.

    The body is streamed to a temporary file under the attachments root while it is hashed,
    and only moved into place (and its row written) once all of it arrived within
    `[attachments] max_bytes` of tickets.toml and the user's `quota_bytes_per_user`: a
    refused upload (no right, unknown ticket, too big, over quota) leaves no file and no row."""
    who = require(request, "agent", "supervisor", "department")
    tid = _ticket_id(request)
    name = query(request, AttachQuery).name.strip()
    if not name or "/" in name or len(name) > 200:
        raise ApiError(400, "api.invalid", "'name' (a file name) is required")
    limits = request.app[SETTINGS].attachments
    declared = request.content_length
    if declared is not None and declared > limits.max_bytes:
        raise _too_large(limits.max_bytes)

    def room(s: Session) -> int:
        """What the user may still store, once the ticket is checked."""
        _visible(store.get(s, tid), who)
        return limits.quota_bytes_per_user - _stored_by(s, who.name)

    left = await _run(request, room)
    if declared is not None and declared > left:
        raise _over_quota(limits.quota_bytes_per_user)
    root = request.app[ATTACHMENTS]
    temp, size, digest = await _receive(request, root, limits.max_bytes)
    try:
        if size == 0:
            raise ApiError(400, "api.invalid", "an attachment needs at least 1 byte")
        rel = f"{digest[:2]}/{digest}"

        def work(s: Session) -> int:
            _visible(store.get(s, tid), who)
            if _stored_by(s, who.name) + size > limits.quota_bytes_per_user:
                raise _over_quota(limits.quota_bytes_per_user)
            row = TicketAttachment(
                ticket_id=tid,
                at=time.time(),
                actor=who.name,
                name=name,
                content_type=request.content_type,
                size=size,
                sha256=digest,
                path=rel,
            )
            s.add(row)
            s.flush()
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():  # the same content stored before: one file for both
                temp.replace(target)
            return row.id

        attachment_id = await _run(request, work)
    finally:
        temp.unlink(missing_ok=True)
    return web.json_response({"id": attachment_id, "sha256": digest, "size": size}, status=201)


def _stored_by(s: Session, actor: str) -> int:
    """The bytes of attachments an API user has stored (their quota's use)."""
    used = s.scalar(
        select(func.coalesce(func.sum(TicketAttachment.size), 0)).where(
            TicketAttachment.actor == actor
        )
    )
    return int(used or 0)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, "attachment.too_large", f"an attachment may be at most {limit} bytes; none stored"
    )


def _over_quota(quota: int) -> ApiError:
    return ApiError(
        413,
        "attachment.quota_exceeded",
        f"this upload would pass your attachment quota of {quota} bytes; none stored",
    )


async def _receive(request: web.Request, root: Path, limit: int) -> tuple[Path, int, str]:
    """The request body streamed into a temporary file under `root/.incoming` while hashed:
    (file, size, SHA-256). More than `limit` bytes: the file is removed and 413 raised."""
    incoming = root / ".incoming"
    await asyncio.to_thread(incoming.mkdir, parents=True, exist_ok=True)
    fd, name = await asyncio.to_thread(tempfile.mkstemp, dir=incoming)
    temp = Path(name)
    hasher = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.content.iter_chunked(256 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                hasher.update(chunk)
                await asyncio.to_thread(out.write, chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, size, hasher.hexdigest()

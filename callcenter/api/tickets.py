"""Tickets over HTTP: create, read, list (filters, paging, full text), transition, assign,
confirm, comment, attach; intake from web, app, mini-program and public-account forms.

Roles: agents and supervisors see every ticket; a department sees only the tickets
dispatched to it, with citizens' phone and ID numbers masked.

A citizen's ID-card number is stored encrypted (the app's `CIPHER`). A ticket's detail view
shows it masked, and each such decryption is written to the data access log (action `read`)
in the same transaction; only an auditor (or admin) stating a purpose gets the full number,
from `GET /api/tickets/{id}/id_card?purpose=...`, logged as `decrypt`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.api.auth import Principal, require
from callcenter.api.errors import ApiError, json_body
from callcenter.data import audit
from callcenter.data.crypto import FieldCipher, Undecryptable
from callcenter.data.grades import Grade
from callcenter.data.protection import (
    Action,
    MaskingPolicy,
    load_policy,
    mask_address,
    mask_name,
)
from callcenter.masking import mask_id_card, mask_phone, mask_text
from callcenter.outbound.settings import OutboundSettings
from callcenter.storage import surveys
from callcenter.storage import tickets as store
from callcenter.storage.database import Database
from callcenter.storage.schema import EmergencyLink, Ticket, TicketAttachment
from callcenter.tickets import actions as act
from callcenter.tickets.calendar import warning
from callcenter.tickets.lifecycle import allowed_actions
from callcenter.tickets.model import Actor, CallbackOutcome, Rating, Role, Status
from callcenter.tickets.settings import TicketSettings

TICKET_DB: web.AppKey[Database] = web.AppKey("ticket_db", Database)
SETTINGS: web.AppKey[TicketSettings] = web.AppKey("ticket_settings", TicketSettings)
OUTBOUND: web.AppKey[OutboundSettings] = web.AppKey("outbound", OutboundSettings)
ATTACHMENTS: web.AppKey[Path] = web.AppKey("attachments", Path)
CIPHER: web.AppKey[FieldCipher] = web.AppKey("field_cipher", FieldCipher)
CONFIG_DIR: web.AppKey[Path] = web.AppKey("data_config_dir", Path)
SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config"

# What a detail view shows of the citizen, and what a list shows: in clear, each is a
# sensitive read on record (GB/T 44192 8); masked, it is not.
PERSONAL_DETAIL = ("caller_number", "caller_name", "address", "title", "content")
PERSONAL_LIST = ("caller_number", "title")


def masks_personal(request: web.Request, who: Principal) -> bool:
    """Whether the caller's role sees citizens' sensitive data masked: the masking policy of
    protection.toml for the grade of the ticket's personal fields (the catalogue's
    `sensitive`)."""
    path = request.app.get(CONFIG_DIR, SHIPPED_CONFIG) / "protection.toml"
    return _policy(path, path.stat().st_mtime).action(who.role, Grade.SENSITIVE) != Action.CLEAR


@functools.lru_cache(maxsize=4)
def _policy(path: Path, mtime: float) -> MaskingPolicy:
    return load_policy(path)


ACTIONS: dict[str, type[Any]] = {
    cls.name: cls
    for cls in (
        act.Dispatch,
        act.AcceptHandling,
        act.Return,
        act.Redispatch,
        act.Reply,
        act.RejectReply,
        act.Approve,
        act.Close,
        act.Revisit,
        act.Evaluate,
        act.Supervise,
        act.Reopen,
    )
}
ENUMS: dict[str, type[Any]] = {"outcome": CallbackOutcome, "rating": Rating}
MAX_ATTACHMENT = 20 * 1024 * 1024


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/tickets", create),
        web.get("/api/tickets", listing),
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
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise ApiError(404, "ticket.not_found", "ticket ids are numbers") from exc


def _text(body: dict[str, object], key: str, required: bool = False, limit: int = 4000) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ApiError(400, "api.invalid", f"'{key}' must be a string")
    if required and not value.strip():
        raise ApiError(400, "api.invalid", f"'{key}' is required")
    if len(value) > limit:
        raise ApiError(400, "api.invalid", f"'{key}' is longer than {limit} characters")
    return value


def due_status(row: Ticket, settings: TicketSettings | None, now: datetime) -> str:
    """预警: normal / due_soon / overdue while the ticket is open ("" once it is finished)."""
    if settings is None or row.deadline is None or not Status(row.status).is_open:
        return ""
    created = datetime.fromtimestamp(row.created_at, UTC)
    due = datetime.fromtimestamp(row.deadline, UTC)
    return warning(settings.deadlines, created, due, now).value


def view(
    row: Ticket,
    masked: bool,
    detail: bool = False,
    settings: TicketSettings | None = None,
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ticket as JSON, its citizen's data masked or not (`masks_personal`); `detail` adds
    the content and the rest, `identity` the masked ID-card number (see `shown_id_card`:
    never the full number here)."""
    body: dict[str, Any] = {
        "id": row.id,
        "number": row.number,
        "channel": row.channel,
        "status": row.status,
        "request_type": row.request_type,
        "topic": row.topic,
        "department": row.department,
        "title": mask_text(row.title) if masked else row.title,
        "caller_number": mask_phone(row.caller_number) if masked else row.caller_number,
        "did": row.did,
        "hotline": row.hotline,
        "created_at": row.created_at,
        "deadline": row.deadline,
        "due_status": due_status(row, settings, _now()),
        "version": row.version,
        "repeats": row.repeats,
        "confirmed": bool(row.confirmed),
    }
    if detail:
        body.update(
            {
                "content": mask_text(row.content) if masked else row.content,
                "caller_name": mask_name(row.caller_name) if masked else row.caller_name,
                "address": mask_address(row.address) if masked else row.address,
                "call_id": row.call_id,
                "agent_id": row.agent_id,
                "skill": row.skill,
                "region": row.region,
                "ivr_path": row.ivr_path,
                "proposal": json.loads(row.proposal),
                "state": json.loads(row.state),
                "closed_at": row.closed_at,
                "enterprise_code": row.enterprise_code,
                "enterprise_name": row.enterprise_name,
                "grid": row.grid,
                "received_at": row.received_at,
            }
        )
        body.update(identity or {"id_card": "", "id_card_status": "none"})
    return body


def shown_id_card(s: Session, row: Ticket, who: Principal, request: web.Request) -> dict[str, str]:
    """The ticket's ID-card number masked for display, with `id_card_status` none, ok,
    no_key (no cipher configured) or undecryptable. The detail view is a sensitive read when
    it decrypts the number or shows the citizen's data in clear: one access-log row, in the
    caller's transaction, lists what was read."""
    masked = masks_personal(request, who)
    fields = [] if masked else [f for f in PERSONAL_DETAIL if getattr(row, f)]
    identity = {"id_card": "", "id_card_status": "none"}
    if row.id_card:
        cipher = request.app.get(CIPHER)
        if cipher is None:
            identity["id_card_status"] = "no_key"
        else:
            try:
                identity = {
                    "id_card": mask_id_card(cipher.decrypt(row.id_card)),
                    "id_card_status": "ok",
                }
                fields.insert(0, "id_card")
            except Undecryptable:
                identity["id_card_status"] = "undecryptable"
    if fields:
        audit.record_access(
            s,
            who.name,
            who.role,
            "read",
            "tickets",
            str(row.id),
            fields,
            "ticket view (ID number masked)" if "id_card" in fields else "ticket view",
            request.remote or "",
        )
    return identity


def _visible(row: Ticket, who: Principal) -> None:
    if who.role == "department" and row.department != who.department:
        raise ApiError(404, "ticket.not_found", f"no ticket {row.id}")  # not even its existence


async def _run(request: web.Request, work: Any) -> Any:
    db = request.app[TICKET_DB]
    return await asyncio.to_thread(db.transaction, work)


def _intake(body: dict[str, object], channel: str) -> store.Intake:
    call_id = _text(body, "call_id", limit=64) or None
    return store.Intake(
        channel=channel,
        content=_text(body, "content", required=call_id is None),
        caller_number=_text(body, "caller_number", limit=32),
        caller_name=_text(body, "caller_name", limit=64),
        title=_text(body, "title", limit=200),
        address=_text(body, "address", limit=200),
        call_id=call_id,
        did=_text(body, "did", limit=32),
        request_type=_text(body, "request_type", limit=16),
        department=_text(body, "department", limit=64),
        urgent=body.get("urgent") is True,
        id_card=_text(body, "id_card", limit=32),
        enterprise_code=_text(body, "enterprise_code", limit=18),
        enterprise_name=_text(body, "enterprise_name", limit=128),
        grid=_text(body, "grid", limit=32),
    )


async def _create(request: web.Request, channel: str, body: dict[str, object]) -> web.Response:
    who = require(request, "agent", "supervisor")
    data = _intake(body, channel)
    settings = request.app[SETTINGS]
    cipher = request.app.get(CIPHER)
    entered = data.id_card.strip().upper()

    def work(s: Session) -> tuple[store.Created, dict[str, str] | None]:
        made = store.create(s, settings, data, actor_of(who), _now(), cipher=cipher)
        if made.linked:  # an earlier ticket: what it holds is read back (and logged)
            return made, shown_id_card(s, made.ticket, who, request)
        # a new ticket shows what the agent just sent, masked: nothing is decrypted
        return made, {"id_card": mask_id_card(entered), "id_card_status": "ok"} if entered else None

    try:
        made, identity = await _run(request, work)
    except store.NoDataKey as exc:
        raise ApiError(503, exc.error_id, str(exc)) from exc
    out = view(made.ticket, masks_personal(request, who), detail=True, identity=identity)
    out["linked"] = made.linked
    if made.linked:
        out["similarity"] = round(made.similarity, 3)
    return web.json_response(out, status=200 if made.linked else 201)


async def create(request: web.Request) -> web.Response:
    body = await json_body(request)
    channel = body.get("channel", "phone")
    if channel not in store.CHANNELS:
        raise ApiError(400, "api.invalid", f"channel must be one of {', '.join(store.CHANNELS)}")
    return await _create(request, str(channel), body)


async def intake(request: web.Request) -> web.Response:
    """Forms from the web site, app, mini-program and public account (GB/T 44190 6.2.2): the
    channel's backend calls with its own agent token; everything lands in one ticket flow."""
    channel = request.match_info["channel"]
    if channel not in ("web", "app", "miniprogram", "wechat"):
        raise ApiError(404, "api.not_found", "channels: web, app, miniprogram, wechat")
    return await _create(request, channel, await json_body(request))


async def listing(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    q = request.query
    try:
        page = max(1, int(q.get("page", "1")))
        per_page = min(200, max(1, int(q.get("per_page", "20"))))
        created_from = float(q["from"]) if "from" in q else None
        created_to = float(q["to"]) if "to" in q else None
    except ValueError as exc:
        raise ApiError(400, "api.invalid", "page, per_page, from, to must be numbers") from exc
    filters = store.Filters(
        status=q.get("status", ""),
        department=who.department if who.role == "department" else q.get("department", ""),
        request_type=q.get("request_type", ""),
        channel=q.get("channel", ""),
        caller_number="" if who.role == "department" else q.get("caller_number", ""),
        did=q.get("did", ""),
        call_id=q.get("call_id", ""),
        created_from=created_from,
        created_to=created_to,
        overdue_at=_now().timestamp() if q.get("due") == "overdue" else None,
        q=q.get("q", ""),
    )
    if who.role == "department" and not who.department:
        raise ApiError(403, "api.forbidden", "this department token names no department")
    masked = masks_personal(request, who)

    def work(s: Session) -> tuple[int, list[Ticket]]:
        total, rows = store.search(s, filters, page, per_page)
        if rows and not masked:  # numbers and titles in clear: a sensitive read, on record
            audit.record_access(
                s,
                who.name,
                who.role,
                "read",
                "tickets",
                "",
                PERSONAL_LIST,
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
            "tickets": [view(r, masked, settings=request.app[SETTINGS]) for r in rows],
        }
    )


async def read(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    tid = _ticket_id(request)

    def work(s: Any) -> dict[str, Any]:
        row = store.get(s, tid)
        _visible(row, who)
        identity = shown_id_card(s, row, who, request)
        out = view(
            row,
            masks_personal(request, who),
            detail=True,
            settings=request.app[SETTINGS],
            identity=identity,
        )
        out["history"] = [
            {
                "seq": h.seq,
                "action": h.action,
                "actor": h.actor,
                "role": h.role,
                "at": h.at,
                "from": h.from_status,
                "to": h.to_status,
                "note": h.note,
                "details": json.loads(h.details),
            }
            for h in store.history(s, tid)
        ]
        out["comments"] = [
            {"at": c.at, "actor": c.actor, "role": c.role, "text": c.text}
            for c in store.comments(s, tid)
        ]
        out["allowed_actions"] = list(allowed_actions(store.state_of(row), Role(who.role)))
        out["emergency"] = [
            {
                "line": x.line,
                "mode": x.mode,
                "actor": x.actor,
                "target": x.target,
                "status": x.status,
                "at": x.at,
            }
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


def parse_action(body: dict[str, object]) -> act.Action:
    name = body.get("action")
    cls = ACTIONS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ApiError(400, "api.invalid", f"'action' must be one of {', '.join(ACTIONS)}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in body:
            continue
        value = body[f.name]
        if not isinstance(value, str):
            raise ApiError(400, "api.invalid", f"'{f.name}' must be a string")
        if f.name in ENUMS:
            try:
                value = ENUMS[f.name](value)
            except ValueError as exc:
                allowed = ", ".join(m.value for m in ENUMS[f.name])
                raise ApiError(400, "api.invalid", f"'{f.name}' must be one of {allowed}") from exc
        kwargs[f.name] = value
    try:
        action: act.Action = cls(**kwargs)
    except TypeError as exc:
        missing = [f.name for f in fields(cls) if f.name not in kwargs]
        raise ApiError(400, "api.invalid", f"{name} needs: {', '.join(missing)}") from exc
    return action


async def _transition(request: web.Request, action: act.Action, version: object) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    if version is not None and not isinstance(version, int):
        raise ApiError(400, "api.invalid", "'expected_version' must be an integer")
    tid = _ticket_id(request)
    settings = request.app[SETTINGS]

    def work(s: Any) -> dict[str, Any]:
        _visible(store.get(s, tid), who)
        row, entry = store.transition(s, settings, tid, action, actor_of(who), _now(), version)
        if entry.to_status is Status.CLOSED and OUTBOUND in request.app:
            surveys.schedule(s, row, request.app[OUTBOUND], time.time())  # 办结 -> 回访
        identity = shown_id_card(s, row, who, request)
        out = view(row, masks_personal(request, who), detail=True, identity=identity)
        out["history_entry"] = {"seq": entry.seq, "action": entry.action, "to": entry.to_status}
        return out

    return web.json_response(await _run(request, work))


async def transition(request: web.Request) -> web.Response:
    body = await json_body(request)
    return await _transition(request, parse_action(body), body.get("expected_version"))


async def assign(request: web.Request) -> web.Response:
    """Dispatch to a department (or re-dispatch one a department gave back)."""
    body = await json_body(request)
    department = _text(body, "department", required=True, limit=64)
    note = _text(body, "note")
    tid = _ticket_id(request)

    def returned(s: Any) -> bool:
        return store.state_of(store.get(s, tid)).returns > 0

    again = await _run(request, returned)
    action: act.Action = (
        act.Redispatch(department, note) if again else act.Dispatch(department, note)
    )
    return await _transition(request, action, body.get("expected_version"))


async def confirm(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor")
    body = await json_body(request)
    tid = _ticket_id(request)
    request_type = _text(body, "request_type", limit=16)
    topic = _text(body, "topic", limit=64)
    department = _text(body, "department", limit=64)

    def work(s: Session) -> dict[str, Any]:
        row = store.confirm(s, tid, actor_of(who), request_type, topic, department)
        identity = shown_id_card(s, row, who, request)
        return view(row, masks_personal(request, who), detail=True, identity=identity)

    return web.json_response(await _run(request, work))


async def reveal_id_card(request: web.Request) -> web.Response:
    """The full ID-card number, for an auditor (or admin) who states why; logged as
    `decrypt` with the purpose before the number leaves."""
    who = require(request, "auditor")
    purpose = request.query.get("purpose", "").strip()
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
        try:
            plain = cipher.decrypt(row.id_card)
        except Undecryptable as exc:
            raise ApiError(422, exc.error_id, str(exc)) from exc
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


async def comment(request: web.Request) -> web.Response:
    who = require(request, "agent", "supervisor", "department")
    body = await json_body(request)
    text = _text(body, "text", required=True)
    tid = _ticket_id(request)

    def work(s: Any) -> None:
        _visible(store.get(s, tid), who)
        store.comment(s, tid, actor_of(who), text, _now())

    await _run(request, work)
    return web.json_response({"ok": True}, status=201)


async def attach(request: web.Request) -> web.Response:
    """Raw body upload: `?name=photo.jpg`, Content-Type kept; stored by content hash."""
    who = require(request, "agent", "supervisor", "department")
    tid = _ticket_id(request)
    name = request.query.get("name", "").strip()
    if not name or "/" in name or len(name) > 200:
        raise ApiError(400, "api.invalid", "'name' (a file name) is required")
    data = await request.content.read(MAX_ATTACHMENT + 1)
    if not data or len(data) > MAX_ATTACHMENT:
        raise ApiError(400, "api.invalid", f"attachment must be 1 byte to {MAX_ATTACHMENT} bytes")
    digest = hashlib.sha256(data).hexdigest()
    rel = f"{digest[:2]}/{digest}"
    path = request.app[ATTACHMENTS] / rel

    def save() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(data)

    def work(s: Any) -> int:
        _visible(store.get(s, tid), who)
        row = TicketAttachment(
            ticket_id=tid,
            at=time.time(),
            actor=who.name,
            name=name,
            content_type=request.content_type,
            size=len(data),
            sha256=digest,
            path=rel,
        )
        s.add(row)
        s.flush()
        return row.id

    await asyncio.to_thread(save)
    attachment_id = await _run(request, work)
    return web.json_response({"id": attachment_id, "sha256": digest, "size": len(data)}, status=201)

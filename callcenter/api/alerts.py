"""Early warnings (预警) over HTTP: the list, one warning with its evidence (the tickets behind
it masked by the caller's role, reads in clear on record), and what a supervisor does about
it: acknowledge (确认), supervise one of its tickets (督办), request a special report (专报).
Database work runs in a worker thread (asyncio.to_thread)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.alerts import store
from callcenter.api.auth import Principal, require
from callcenter.api.described import Body, body, described
from callcenter.api.keys import CIPHER, CONFIG_DIR, SETTINGS, TICKET_DB
from callcenter.api.params import MAX_ID, Int, OneOf, Query, path_id, query
from callcenter.data import audit
from callcenter.data.catalog import load_annotations
from callcenter.data.crypto import clear_or_empty
from callcenter.data.protection import Redactor, load_policy
from callcenter.storage.schema import Ticket
from callcenter.tickets.model import Actor, Role

T = TypeVar("T")
VIEWERS = ("supervisor", "auditor", "department")  # and admin
ACTORS = ("supervisor",)  # and admin
EVIDENCE_COLUMNS = ("id", "number", "created_at", "caller_number", "title", "address", "grid")
VIEWER_ROLES = "supervisor, auditor, department"


class Supervision(Body):
    error_id: ClassVar[str] = "api.bad_parameter"
    note: str = Field("", max_length=4000)
    ticket_id: int | None = Field(None, ge=1, le=MAX_ID, description="one of its tickets")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/alerts", listing),
        web.get("/api/alerts/{id}", detail),
        web.post("/api/alerts/{id}/ack", acknowledge),
        web.post("/api/alerts/{id}/supervise", supervise),
        web.post("/api/alerts/{id}/report", report),
    ]


async def _run(request: web.Request, work: Callable[[Session], T]) -> T:
    return await asyncio.to_thread(request.app[TICKET_DB].transaction, work)


def _id(request: web.Request) -> int:
    return path_id(request)


def _redactor(request: web.Request, who: Principal) -> Redactor:
    config = request.app[CONFIG_DIR]
    return Redactor(
        load_policy(config / "protection.toml"), load_annotations(config / "catalog.toml"), who.role
    )


class ListingQuery(Query):
    state: Annotated[str, OneOf(store.STATES)] = ""
    limit: Annotated[int, Int(1, 500, clamp=True)] = 100


@described(
    "Early warnings, newest first (?state=open|acknowledged|escalated|closed)",
    roles=VIEWER_ROLES,
    query=ListingQuery,
)
async def listing(request: web.Request) -> web.Response:
    require(request, *VIEWERS)
    q = query(request, ListingQuery)
    state, limit = q.state, q.limit

    def work(s: Session) -> list[dict[str, Any]]:
        out = []
        for row in store.listing(s, state, limit):
            item = store.view(row)
            evidence = json.loads(row.evidence)
            item["tickets"] = len(evidence.get("ticket_ids", []))
            item["count"] = evidence.get("count", evidence.get("callers"))
            out.append(item)
        return out

    return web.json_response({"warnings": await _run(request, work)})


@described("One warning with its evidence (tickets masked by role)", roles=VIEWER_ROLES)
async def detail(request: web.Request) -> web.Response:
    who = require(request, *VIEWERS)
    warning_id = _id(request)
    redactor = _redactor(request, who)
    cipher = request.app.get(CIPHER)

    def evidence(r: Any) -> dict[str, object]:
        """A ticket behind the warning, its number decrypted for the redactor to mask."""
        values: dict[str, object] = dict(zip(EVIDENCE_COLUMNS, r, strict=True))
        values["caller_number"] = clear_or_empty(cipher, str(values["caller_number"] or ""))
        return redactor.row("tickets", values)

    def work(s: Session) -> dict[str, Any]:
        row = store.get(s, warning_id)
        found = store.view(row)
        found["evidence"] = json.loads(row.evidence)
        ids = store.ticket_ids(s, warning_id)
        columns = [getattr(Ticket, c) for c in EVIDENCE_COLUMNS]
        rows = s.execute(select(*columns).where(Ticket.id.in_(ids[:200])).order_by(Ticket.id))
        found["tickets"] = [evidence(r) for r in rows]
        found["ticket_count"] = len(ids)
        read = redactor.fields_read("tickets", EVIDENCE_COLUMNS)
        if read and found["tickets"]:
            audit.record_access(
                s,
                who.name,
                who.role,
                "read",
                "warnings",
                str(warning_id),
                read,
                purpose="预警证据",
                remote=request.remote or "",
            )
        return found

    return web.json_response(await _run(request, work))


def _now() -> float:
    return datetime.now(UTC).timestamp()


@described("Acknowledge (确认)", roles="supervisor")
async def acknowledge(request: web.Request) -> web.Response:
    who = require(request, *ACTORS)
    warning_id = _id(request)
    found = await _run(
        request, lambda s: store.view(store.acknowledge(s, warning_id, who.name, _now()))
    )
    return web.json_response(found)


@described("督办 one of its tickets", roles="supervisor", body=Supervision, body_required=False)
async def supervise(request: web.Request) -> web.Response:
    who = require(request, *ACTORS)
    warning_id = _id(request)
    asked = await body(request, Supervision)
    note, raw = asked.note, asked.ticket_id
    settings = request.app[SETTINGS]
    role = Role.ADMIN if who.role == "admin" else Role.SUPERVISOR
    actor = Actor(who.name, role)

    def work(s: Session) -> dict[str, Any]:
        row = store.supervise(s, settings, warning_id, actor, note, _now(), raw)
        return store.view(row)

    return web.json_response(await _run(request, work))


@described(
    "Request a special report (专报): a report_runs row, state requested",
    roles="supervisor",
    ok=201,
)
async def report(request: web.Request) -> web.Response:
    who = require(request, *ACTORS)
    warning_id = _id(request)
    found = await _run(
        request, lambda s: store.view(store.request_report(s, warning_id, who.name, _now()))
    )
    return web.json_response(found, status=201)

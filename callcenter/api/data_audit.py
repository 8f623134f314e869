"""The data access log over HTTP (GB/T 44192 8): `GET /api/data/access-log` for supervisors,
admins and auditors, filtered by actor, action, dataset, since, until, paged by limit and
offset, newest first. Reading the log is not itself logged (it holds no personal data)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from callcenter.api.auth import require
from callcenter.api.described import described
from callcenter.api.keys import TICKET_DB
from callcenter.data import audit


def routes() -> list[web.RouteDef]:
    return [web.get("/api/data/access-log", access_log)]


@described(
    "The sensitive-data access log, newest first",
    roles="supervisor, auditor",
    query=(
        ("actor", "string"),
        ("action", "string"),
        ("dataset", "string"),
        ("since", "number"),
        ("until", "number"),
        ("limit", "integer"),
        ("offset", "integer"),
    ),
)
async def access_log(request: web.Request) -> web.Response:
    require(request, "supervisor", "auditor")
    q = audit.parse_query(request.query)
    db = request.app[TICKET_DB]

    def work(s: Session) -> list[dict[str, Any]]:
        return audit.query_access(
            s, q.actor, q.action, q.dataset, q.since, q.until, q.limit, q.offset
        )

    rows = await asyncio.to_thread(db.transaction, work)
    return web.json_response({"limit": q.limit, "offset": q.offset, "entries": rows})

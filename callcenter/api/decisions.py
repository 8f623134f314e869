"""GET /api/calls/{call_id}/explain: a call's story from the decision log and its record."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.api.auth import require
from callcenter.api.console import AUDIT_DB
from callcenter.api.described import described
from callcenter.api.errors import ApiError
from callcenter.api.keys import CIPHER
from callcenter.decisions.recorder import DecisionRecorder
from callcenter.decisions.service import explain

DECISIONS: web.AppKey[DecisionRecorder] = web.AppKey("decisions", DecisionRecorder)


@described(
    "A call's story from the decision log and its record (number masked): arrival and priority "
    "sources, each offer with the candidates and why that agent, each time it could not be "
    "offered and why, cancels, requeues, widening, connect, leave; and why it waited while an "
    "agent was free",
    roles="supervisor",
)
async def explain_call(request: web.Request) -> web.Response:
    """The call's story in plain lines (seconds from its arrival) and, when it waited, why."""
    require(request, "supervisor")
    call_id = request.match_info["call_id"]
    recorder = request.app.get(DECISIONS)
    log = recorder.log if recorder is not None else None
    directory = log.directory if log is not None else None
    zone = log.zone if log is not None else ZoneInfo("UTC")
    skills = {a.id: a.skills for a in recorder.config.agents} if recorder is not None else {}
    database = request.app.get(AUDIT_DB)
    story = await asyncio.to_thread(
        explain, directory, zone, call_id, database, request.app.get(CIPHER), skills
    )
    if story is None:
        where = "the calls table or the decision log" if log else "the calls table (log off)"
        raise ApiError(404, "call.unknown", f"no call {call_id!r} in {where}")
    return web.json_response(story.as_json(), headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/calls/{call_id}/explain", explain_call)]
